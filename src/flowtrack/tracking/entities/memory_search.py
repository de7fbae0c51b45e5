"""Searching small collections in memory with MLflow's simple grammars: experiments
(``name``, ``creation_time``, ``last_update_time``, ``tags.<key>``) and MLflow 3's
logged models (``name``, ``model_id``, ``status``, ``source_run_id``, times,
``params.<key>``, ``tags.<key>``, ``metrics.<key>``); clauses joined by AND. A store
holds hundreds of these, not millions, so no SQL is needed."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterError
from .records import Experiment

_CLAUSE = re.compile(
    r"""\s*(?:attributes?\.)?(?P<field>(?:[a-z]+\.)?(?:`[^`]+`|[\w.\-/:]+))
        \s*(?P<op>!=|>=|<=|=|<|>|(?:NOT\s+)?I?LIKE\b)
        \s*(?P<value>'(?:[^']|'')*'|"(?:[^"]|"")*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*""",
    re.IGNORECASE | re.VERBOSE)
_PREFIXES = {"tag": "tags", "tags": "tags", "param": "params", "params": "params",
             "metric": "metrics", "metrics": "metrics"}


@dataclass(frozen=True)
class Grammar:
    """What one kind of object can be filtered and ordered by."""

    what: str  # "experiment", "logged model"
    attributes: Mapping[str, Callable[[Any], Any]]
    keyed: Mapping[str, Callable[[Any, str], Any]]  # "tags" -> getter(obj, key)
    example: str
    default_order: str


EXPERIMENTS = Grammar(
    "experiment",
    {"name": lambda e: e.name, "creation_time": lambda e: e.creation_time,
     "last_update_time": lambda e: e.last_update_time,
     "experiment_id": lambda e: int(e.experiment_id)},
    {"tags": lambda e, k: e.tags.get(k)},
    "\"name LIKE 'exp%'\", \"tags.team = 'ml'\" or \"creation_time > 1700000000000\"",
    "last_update_time DESC")

LOGGED_MODELS = Grammar(
    "logged model",
    {"name": lambda m: m.name, "model_id": lambda m: m.model_id,
     "model_type": lambda m: m.model_type, "status": lambda m: m.status,
     "source_run_id": lambda m: m.source_run_id,
     "creation_timestamp": lambda m: m.creation_timestamp,
     "creation_time": lambda m: m.creation_timestamp,
     "last_updated_timestamp": lambda m: m.last_updated_timestamp},
    {"tags": lambda m, k: m.tags.get(k), "params": lambda m, k: m.params.get(k),
     "metrics": lambda m, k: _latest_value(m.metrics, k)},
    "\"name = 'model'\", \"params.alpha = '0.5'\" or \"metrics.acc > 0.9\"",
    "creation_timestamp DESC")


def _latest_value(points: Sequence[Any], key: str) -> float | None:
    latest = max((p for p in points if p.key == key), key=lambda p: (p.step, p.timestamp),
                 default=None)
    return None if latest is None else float(latest.value)


def filter_experiments(experiments: list[Experiment], filter_string: str | None,
                       order_by: Sequence[str] | None) -> list[Experiment]:
    return search(EXPERIMENTS, experiments, filter_string, order_by)


def search(grammar: Grammar, items: Sequence[Any], filter_string: str | None,
           order_by: Sequence[str] | None) -> list[Any]:
    """The items matching ``filter_string``, sorted by ``order_by``."""
    tests = _parse(grammar, filter_string or "")
    found = [item for item in items if all(test(item) for test in tests)]
    for clause in reversed(list(order_by or [grammar.default_order])):
        field, _, direction = clause.strip().partition(" ")
        getter = _getter(grammar, field.removeprefix("attributes."), clause)
        if direction.strip().upper() not in ("", "ASC", "DESC"):
            raise InvalidParameterError(f"Invalid order_by clause {clause!r} for "
                                        f"{grammar.what}s: end it with ASC or DESC.")
        found.sort(key=lambda item: _sortable(getter(item)),
                   reverse=direction.strip().upper() == "DESC")
    return found


def _sortable(value: Any) -> tuple[int, Any]:
    """Missing values sort first (last when descending); numbers before strings."""
    if value is None:
        return (0, 0)
    return (1, value) if isinstance(value, (int, float)) else (2, str(value))


def _getter(grammar: Grammar, field: str, clause: str) -> Callable[[Any], Any]:
    prefix, dot, key = field.partition(".")
    if dot and prefix.lower() in _PREFIXES and _PREFIXES[prefix.lower()] in grammar.keyed:
        keyed = grammar.keyed[_PREFIXES[prefix.lower()]]
        name = key.strip("`")
        return lambda item: keyed(item, name)
    attribute = grammar.attributes.get(field.lower())
    if attribute is None:
        fields = ", ".join([*grammar.attributes, *(f"{k}.<key>" for k in grammar.keyed)])
        raise InvalidParameterError(f"Invalid {grammar.what} search clause {clause!r}: "
                                    f"{field!r} is not one of {fields}.")
    return attribute


def _parse(grammar: Grammar, text: str) -> list[Callable[[Any], bool]]:
    if not text.strip():
        return []
    tests = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise InvalidParameterError(
                f"Invalid {grammar.what} filter clause {part!r}: expected e.g. "
                f"{grammar.example}, joined by AND.")
        getter = _getter(grammar, match["field"], part)
        tests.append(_test(getter, " ".join(match["op"].upper().split()), match["value"]))
    return tests


def _test(getter: Callable[[Any], Any], op: str, raw: str) -> Callable[[Any], bool]:
    value: Any
    if raw[0] in "'\"":
        value = raw[1:-1].replace(raw[0] * 2, raw[0])
    else:
        value = float(raw) if any(c in raw for c in ".eE") else int(raw)
    return lambda item: _compare(getter(item), op, value)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if op.endswith("LIKE"):
        pattern = fnmatch.translate(str(expected).replace("%", "*").replace("_", "?"))
        flags = re.IGNORECASE if "ILIKE" in op else 0
        matched = re.match(pattern, str(actual), flags) is not None
        return not matched if op.startswith("NOT") else matched
    if isinstance(expected, str) != isinstance(actual, str):
        raise InvalidParameterError(f"Cannot compare {actual!r} with {expected!r}: names, "
                                    "params and tags take quoted strings, times and metrics "
                                    "take numbers.")
    operations = {"=": actual == expected, "!=": actual != expected, "<": actual < expected,
                  "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}
    return operations[op]
