"""Reading MLflow REST requests: a ``Fields`` view over a request's JSON body (POST,
PATCH, DELETE) or query string (GET) whose getters check each field and answer a
clear 400 (``INVALID_PARAMETER_VALUE``) when one is missing or mistyped.

MLflow's clients write proto3 JSON, so an int64 may arrive as a number or a decimal
string, a double as a number or as "NaN"/"Infinity", and a repeated field of a GET
as the same query parameter several times; the getters accept all of these.

Every JSON a client sends (a body, or a field holding JSON text such as
``model_json``) is read by ``loads_json``, which also refuses values nested more than
``MAX_JSON_DEPTH`` levels deep: no request needs that, and deeper values would
exhaust Python's recursion limit wherever they are handled.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ..tracking.errors import InvalidParameterError
from ..tracking.service import check_int

_SPECIAL_DOUBLES = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf,
                    "inf": math.inf, "-inf": -math.inf}
MAX_JSON_DEPTH = 100  # arrays and objects; MLflow's requests nest a handful


class MalformedRequestError(InvalidParameterError):
    """The body is not JSON, or not a JSON object."""

    error_code = "MALFORMED_REQUEST"


def loads_json(raw: str | bytes, what: str, fix: str,
               error: type[InvalidParameterError] = InvalidParameterError) -> Any:
    """The JSON value ``raw`` holds; ``error`` naming ``what`` (and saying ``fix``) when
    it is not valid JSON or is nested deeper than ``MAX_JSON_DEPTH``."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise error(_too_deep(what, fix)) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise error(f"{what} is not valid JSON ({exc}). {fix}") from None
    if _count_openers(raw) > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise error(_too_deep(what, fix))
    return value


def _too_deep(what: str, fix: str) -> str:
    return (f"{what} nests arrays or objects more than {MAX_JSON_DEPTH} levels deep, "
            f"which no request needs. {fix}")


def _count_openers(raw: str | bytes) -> int:
    """An upper bound of the nesting depth (the cheap check most requests stop at)."""
    if isinstance(raw, bytes):
        return raw.count(b"[") + raw.count(b"{")
    return raw.count("[") + raw.count("{")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` deep (level by level,
    without recursion)."""
    level = [value] if type(value) in (dict, list) else []
    for _ in range(limit):
        level = [item for container in level
                 for item in (container.values() if type(container) is dict else container)
                 if type(item) in (dict, list)]
        if not level:
            return False
    return True


_SEND_AN_OBJECT = "Send a JSON object with Content-Type: application/json."


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object a request body holds ({} for an empty body)."""
    if not raw.strip():
        return {}
    value = loads_json(raw, "The request body", _SEND_AN_OBJECT, MalformedRequestError)
    if not isinstance(value, dict):
        raise MalformedRequestError(f"The request body must be a JSON object; got "
                                    f"{type(value).__name__}. {_SEND_AN_OBJECT}")
    if _SURROGATE_ESCAPE.search(raw):  # rare: check that every string is real Unicode
        _check_unicode(value)
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_unicode(value: Any) -> None:
    """Refuse strings holding lone UTF-16 surrogates (``"\\ud800"`` in JSON): no
    database can store them."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedRequestError(f"The request holds a string with a lone UTF-16 "
                                        f"surrogate ({value[:40]!r}); send valid Unicode.") from None
    elif isinstance(value, list):
        for item in value:
            _check_unicode(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key)
            _check_unicode(item)


class Fields:
    """One request's fields; ``lists`` holds every value of repeated query params."""

    def __init__(self, values: Mapping[str, Any], lists: Mapping[str, list[str]] | None = None
                 ) -> None:
        self.values = dict(values)
        self.lists = dict(lists or {})

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None, required: bool = False) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _missing(name)
            return default
        if not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)  # ids sent as numbers
            raise InvalidParameterError(f"Field {name!r} must be a string; got {value!r}.")
        return value

    def required(self, name: str) -> str:
        return str(self.text(name, required=True))

    def required_string(self, name: str) -> str:
        """A required field that must be a JSON string (no number taken for it), with
        MLflow's message for a value of another type."""
        value = self.values.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidParameterError(
                f"Invalid value {json.dumps(value)} for parameter '{name}' supplied:  Hint: "
                f"Value was of type '{type(value).__name__}'. See the API docs for more "
                "information about request parameters.")
        return self.required(name)

    def integer(self, name: str, default: int | None = None, required: bool = False) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _missing(name)
            return default
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise InvalidParameterError(f"Field {name!r} must be an integer; got "
                                            f"{value!r}.") from None
        return check_int(value, f"Field {name!r}")

    def double(self, name: str, required: bool = False) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _missing(name)
            return None
        return as_double(value, name)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidParameterError(f"Field {name!r} must be true or false; got {value!r}.")

    def repeated(self, name: str) -> list[Any]:
        """A repeated field: a JSON array, or every value of a repeated query param."""
        if name in self.lists:
            return list(self.lists[name])
        value = self.values.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidParameterError(f"Field {name!r} must be a list; got {value!r}.")
        return value

    def texts(self, name: str) -> list[str]:
        items = self.repeated(name)
        for item in items:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise InvalidParameterError(f"Field {name!r} must be a list of strings; got "
                                            f"{item!r} in it.")
        return [str(i) for i in items]

    def objects(self, name: str) -> list[Fields]:
        """A repeated message field, each element as ``Fields``."""
        found = []
        for item in self.repeated(name):
            if not isinstance(item, dict):
                raise InvalidParameterError(f"Field {name!r} must be a list of objects; got "
                                            f"{item!r} in it.")
            found.append(Fields(item))
        return found

    def message(self, name: str) -> Fields:
        value = self.values.get(name)
        if value is None:
            return Fields({})
        if not isinstance(value, dict):
            raise InvalidParameterError(f"Field {name!r} must be an object; got {value!r}.")
        return Fields(value)

    def key_values(self, name: str) -> dict[str, str]:
        """A list of ``{"key": ..., "value": ...}`` (tags, params) as a dict."""
        pairs: dict[str, str] = {}
        for item in self.objects(name):
            key = item.required("key")
            pairs[key] = item.text("value", default="")
        return pairs


def as_double(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise InvalidParameterError(f"Field {name!r} must be a number; got {value!r}.")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise InvalidParameterError(f"Field {name!r} is beyond the range of a double: "
                                        f"{str(value)[:40]}...") from None
    if isinstance(value, str):
        special = _SPECIAL_DOUBLES.get(value.strip().lower())
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidParameterError(f"Field {name!r} must be a number; got {value!r}.")


def _missing(name: str) -> InvalidParameterError:
    return InvalidParameterError(f"Missing value for required parameter {name!r}. See the "
                                 "MLflow REST API documentation for the request's fields.")
