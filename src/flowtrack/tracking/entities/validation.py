"""Checks on what users log (keys, values, names, batch sizes), with MLflow's limits
and error wording, shared by the fluent API, the client and the server."""

from __future__ import annotations

import math
import numbers
import posixpath
import re
from typing import Any

from ..errors import InvalidParameterError

# MLflow allows 250-character keys; flowtrack stores a param or tag under the
# property name "param:<key>" / "tag:<key>" in a 255-character column
MAX_KEY_LENGTH = 248
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
_KEY = re.compile(r"^[/\w.\- :]*$")


def check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidParameterError(f"A {what} key must be a non-empty string; got {key!r}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(f"{what.capitalize()} key {key[:40]!r}... is {len(key)} "
                                    f"characters long; the limit is {MAX_KEY_LENGTH}.")
    if not _KEY.match(key):
        raise InvalidParameterError(
            f"Invalid {what} name {key!r}: names may only contain alphanumerics, underscores "
            "(_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).")
    normalized = posixpath.normpath(key)
    if normalized != key or normalized == "." or normalized.startswith(("..", "/")):
        raise InvalidParameterError(f"Invalid {what} name {key!r}: it must be a normalized "
                                    "path (no '..', no repeated or trailing '/').")
    return key


def _refuse_nul(text: str, what: str) -> None:
    if "\x00" in text:
        raise InvalidParameterError(f"The value of {what} contains a NUL character (\\x00), "
                                    "which databases cannot store as text; remove it.")


def check_param_value(key: str, value: Any) -> str:
    text = str(value)
    _refuse_nul(text, f"param {key!r}")
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidParameterError(f"The value of param {key!r} is {len(text)} characters "
                                    f"long; the limit is {MAX_PARAM_VALUE_LENGTH}.")
    return text


def check_tag_value(key: str, value: Any) -> str:
    text = str(value)
    _refuse_nul(text, f"tag {key!r}")
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidParameterError(f"The value of tag {key!r} is {len(text)} characters "
                                    f"long; the limit is {MAX_TAG_VALUE_LENGTH}.")
    return text


def check_metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise InvalidParameterError(f"Metric {key!r} must be a number; got "
                                    f"{type(value).__name__} {value!r}.")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameterError(f"Metric {key!r} must be a real number; got "
                                    f"{value!r}.") from None


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # steps and timestamps are stored as int64


def check_int(value: Any, what: str) -> int:
    """An integer within int64 (a float with an integer value is accepted)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if not (isinstance(value, float) and value.is_integer()):
            raise InvalidParameterError(f"{what} must be an integer; got {value!r}.")
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidParameterError(f"{what} {number} is outside the 64-bit integer range "
                                    f"[{INT64_MIN}, {INT64_MAX}].")
    return number


def is_nan(value: float) -> bool:
    return math.isnan(value)


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"{what} must be a non-empty string; got {name!r}.")
    if len(name) > 255 or "\x00" in name:
        raise InvalidParameterError(f"{what} {name[:40]!r} must be at most 255 characters and "
                                    "contain no NUL character.")
    return name


def check_batch_sizes(metrics: int, params: int, tags: int) -> None:
    """MLflow's limits on one ``log_batch``: 1000 metrics, 100 params, 100 tags, 1000
    entities in all."""
    if metrics > MAX_METRICS_PER_BATCH or params > MAX_PARAMS_TAGS_PER_BATCH \
            or tags > MAX_PARAMS_TAGS_PER_BATCH or metrics + params + tags > MAX_ENTITIES_PER_BATCH:
        raise InvalidParameterError(
            f"A log_batch call takes at most {MAX_METRICS_PER_BATCH} metrics, "
            f"{MAX_PARAMS_TAGS_PER_BATCH} params and {MAX_PARAMS_TAGS_PER_BATCH} tags "
            f"({MAX_ENTITIES_PER_BATCH} in all); got {metrics}, {params} and {tags}. Split it "
            "into several calls.")
