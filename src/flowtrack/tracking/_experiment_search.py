"""``search_experiments``' filter and order: MLflow's small experiment grammar
(``name``, ``creation_time``, ``last_update_time`` and ``tags.<key>`` joined by AND),
evaluated over the experiments in memory (a store holds hundreds, not millions)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from typing import Any

from ._entities import Experiment
from .errors import InvalidParameterError

_CLAUSE = re.compile(
    r"""\s*(?:attributes?\.)?(?P<field>name|creation_time|last_update_time|tags?\.(?:`[^`]+`|[\w.\-/:]+))
        \s*(?P<op>!=|>=|<=|=|<|>|(?:NOT\s+)?I?LIKE\b)
        \s*(?P<value>'(?:[^']|'')*'|"(?:[^"]|"")*"|-?\d+)\s*""",
    re.IGNORECASE | re.VERBOSE)
_ORDER_FIELDS = {"name": "name", "experiment_id": "experiment_id",
                 "creation_time": "creation_time", "last_update_time": "last_update_time"}


def filter_experiments(experiments: list[Experiment], filter_string: str | None,
                       order_by: Sequence[str] | None) -> list[Experiment]:
    tests = _parse(filter_string or "")
    found = [e for e in experiments if all(test(e) for test in tests)]
    for clause in reversed(list(order_by or ["last_update_time DESC"])):
        field, _, direction = clause.strip().partition(" ")
        key = _ORDER_FIELDS.get(field.removeprefix("attributes.").lower())
        if key is None or direction.strip().upper() not in ("", "ASC", "DESC"):
            raise InvalidParameterError(f"Invalid order_by clause {clause!r} for experiments: "
                                        f"use one of {', '.join(_ORDER_FIELDS)}, then ASC or "
                                        "DESC.")
        found.sort(key=_sort_key(key), reverse=direction.strip().upper() == "DESC")
    return found


def _sort_key(key: str) -> Callable[[Experiment], Any]:
    if key == "experiment_id":
        return lambda e: int(e.experiment_id)
    return lambda e: getattr(e, key) or 0


def _parse(text: str) -> list[Callable[[Experiment], bool]]:
    if not text.strip():
        return []
    tests = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise InvalidParameterError(
                f"Invalid experiment filter clause {part!r}: expected e.g. \"name LIKE 'exp%'\","
                " \"tags.team = 'ml'\" or \"creation_time > 1700000000000\", joined by AND.")
        tests.append(_test(match["field"], " ".join(match["op"].upper().split()),
                           match["value"]))
    return tests


def _test(field: str, op: str, raw: str) -> Callable[[Experiment], bool]:
    value: Any = raw[1:-1].replace(raw[0] * 2, raw[0]) if raw[0] in "'\"" else int(raw)
    if field.lower().startswith("tag"):
        key = field.split(".", 1)[1].strip("`")

        def getter(e: Experiment) -> Any:
            return e.tags.get(key)
    else:
        name = field.lower()

        def getter(e: Experiment) -> Any:
            return getattr(e, name)
    return lambda e: _compare(getter(e), op, value)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if op.endswith("LIKE"):
        pattern = fnmatch.translate(str(expected).replace("%", "*").replace("_", "?"))
        flags = re.IGNORECASE if "ILIKE" in op else 0
        matched = re.match(pattern, str(actual), flags) is not None
        return not matched if op.startswith("NOT") else matched
    if isinstance(expected, int) != isinstance(actual, int):
        raise InvalidParameterError(f"Cannot compare {actual!r} with {expected!r}: names and "
                                    "tags take quoted strings, times take numbers.")
    operations = {"=": actual == expected, "!=": actual != expected, "<": actual < expected,
                  "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}
    return operations[op]
