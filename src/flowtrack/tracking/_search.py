"""Searching runs: a parsed ``search_runs`` filter and ``order_by`` (``_search_parser``)
compiled to SQL over the Run contexts, their properties and ``latest_metrics``.

Every user value becomes a bound parameter and every key a bound property name, so
no filter can inject SQL. Each comparison reads one value per run through a
correlated subquery on an indexed key ((context, name) for properties, (run, key)
for latest metrics), which keeps a filtered, ordered search over 10 000 runs to a
few tens of milliseconds.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from ..lineage import LineageSession, Node, context_properties, contexts, latest_metrics
from ..lineage import parent_contexts as parents
from ._entities import ViewType
from ._search_parser import And, Comparison, Not, Or, OrderBy, parse_filter, parse_order_by
from ._search_parser import Node as FilterNode
from ._store import DELETED_TIME, PARAM_PREFIX, TAG_PREFIX
from .errors import InvalidParameterError

MAX_RESULTS_LIMIT = 50_000

# attribute -> (property name, stored as a custom property?, value column)
_ATTRIBUTE_PROPERTIES = {
    "run_name": ("run_name", True, "string_value"),
    "status": ("status", False, "string_value"),
    "user_id": ("user", False, "string_value"),
    "start_time": ("start_time", False, "int_value"),
    "end_time": ("end_time", False, "int_value"),
}


def search_run_nodes(s: LineageSession, run_type: int, experiment_pks: Sequence[int],
                     filter_string: str, view_type: int, max_results: int,
                     order_by: Sequence[str] | None, page_token: str | None,
                     default_experiment_pk: int | None = None
                     ) -> tuple[list[Node], str | None]:
    """One page of Run contexts matching the search, and the next page's token."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) \
            or not 0 < max_results <= MAX_RESULTS_LIMIT:
        raise InvalidParameterError(f"max_results must be an integer from 1 to "
                                    f"{MAX_RESULTS_LIMIT}; got {max_results!r}.")
    where: list[Any] = [contexts.c.type_id == run_type,
                        contexts.c.id.in_(select(parents.c.context_id).where(
                            parents.c.parent_context_id.in_(list(experiment_pks)))),
                        _lifecycle(view_type)]
    tree = parse_filter(filter_string or "")
    if tree is not None:
        where.append(_compile(tree, _Target(s.conn.dialect.name, default_experiment_pk)))
    offset = offset_of(page_token)
    ordering = _ordering(parse_order_by(list(order_by or [])))
    found = s.nodes("context", *where, order_by=ordering, limit=max_results + 1, offset=offset)
    token = token_for(offset + max_results) if len(found) > max_results else None
    return found[:max_results], token


# -- filters -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Target:
    """What compiling depends on besides the filter."""

    dialect: str
    default_experiment_pk: int | None  # the context id behind experiment id "0"


def _compile(node: FilterNode, target: _Target) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_compile(p, target) for p in node.parts))
    if isinstance(node, Or):
        return or_(*(_compile(p, target) for p in node.parts))
    if isinstance(node, Not):
        return not_(_compile(node.part, target))
    return _comparison(node, target)


def _comparison(c: Comparison, target: _Target) -> ColumnElement[bool]:
    if c.entity == "attributes" and c.key == "lifecycle_stage":
        stage = case((_deleted(), "deleted"), else_="active")
        return _apply(stage, c.op, c.value, target.dialect)
    if c.entity == "attributes" and c.key == "experiment_id":
        return _experiment_comparison(c, target)
    if c.entity == "datasets":
        raise InvalidParameterError(
            f"Filtering on datasets ({c.entity}.{c.key}) is not supported yet; filter on "
            "metrics, params, tags or attributes.")
    return _apply(_value_of(c.entity, c.key), c.op, c.value, target.dialect)


def _value_of(entity: str, key: str) -> Any:
    """The SQL expression for one run's value of ``entity.key`` (NULL when absent)."""
    if entity == "metrics":
        return (select(latest_metrics.c.value)
                .where(latest_metrics.c.run_id == contexts.c.id, latest_metrics.c.key == key)
                .scalar_subquery())
    if entity == "params":
        return _property(PARAM_PREFIX + key, True, "string_value")
    if entity == "tags":
        return _property(TAG_PREFIX + key, True, "string_value")
    if key == "run_id":
        return contexts.c.external_id
    if key == "duration":  # NULL until the run ends
        return _property(*_ATTRIBUTE_PROPERTIES["end_time"]) - \
            _property(*_ATTRIBUTE_PROPERTIES["start_time"])
    if key in _ATTRIBUTE_PROPERTIES:
        return _property(*_ATTRIBUTE_PROPERTIES[key])
    raise InvalidParameterError(f"Runs cannot be searched or sorted by attributes.{key}; use "
                                f"one of run_id, experiment_id, lifecycle_stage, "
                                f"{', '.join(_ATTRIBUTE_PROPERTIES)}.")


def _property(name: str, custom: bool, column: str) -> Any:
    p = context_properties.alias()
    return (select(p.c[column])
            .where(p.c.context_id == contexts.c.id, p.c.name == name,
                   p.c.is_custom_property == custom)
            .scalar_subquery())


def _apply(expr: Any, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    if op == "IS NULL":
        return expr.is_(None)
    if op == "IS NOT NULL":
        return expr.is_not(None)
    if op == "IN":
        return expr.in_(list(value))
    if op == "NOT IN":  # NULL (no value) for a run without it, so NOT keeps excluding it
        return expr.not_in(list(value))  # type: ignore[no-any-return]
    if op == "LIKE":
        return _like(expr, value, dialect, case_sensitive=True)
    if op == "ILIKE":
        return _like(expr, value, dialect, case_sensitive=False)
    comparisons = {"=": expr.__eq__, "!=": expr.__ne__, "<": expr.__lt__, "<=": expr.__le__,
                   ">": expr.__gt__, ">=": expr.__ge__}
    return comparisons[op](value)  # type: ignore[no-any-return]


def _like(expr: Any, pattern: str, dialect: str, case_sensitive: bool) -> ColumnElement[bool]:
    """MLflow's LIKE is case-sensitive, ILIKE not; ``%`` and ``_`` are the only
    wildcards and a backslash is an ordinary character."""
    if dialect == "sqlite":
        if case_sensitive:  # SQLite's LIKE ignores case; GLOB does not
            return expr.op("GLOB", is_comparison=True)(  # type: ignore[no-any-return]
                _like_to_glob(pattern))
        # unicode_lower: see lineage/_db.py (SQLite's own lower() folds ASCII only)
        return func.unicode_lower(expr).op("GLOB", is_comparison=True)(  # type: ignore[no-any-return]
            _like_to_glob(pattern.lower()))
    literal_backslashes = pattern.replace("\\", "\\\\")  # PostgreSQL's default LIKE escape
    if case_sensitive:
        return expr.like(literal_backslashes)  # type: ignore[no-any-return]
    return expr.ilike(literal_backslashes)  # type: ignore[no-any-return]


def _like_to_glob(pattern: str) -> str:
    special = {"*": "[*]", "?": "[?]", "[": "[[]", "%": "*", "_": "?"}
    return "".join(special.get(ch, ch) for ch in pattern)


def _deleted() -> Any:
    p = context_properties.alias()
    return exists().where(p.c.context_id == contexts.c.id, p.c.name == DELETED_TIME,
                          p.c.is_custom_property.is_(True))


def _lifecycle(view_type: int) -> Any:
    try:
        stages = ViewType.stages(view_type)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None
    if stages == ("active",):
        return not_(_deleted())
    if stages == ("deleted",):
        return _deleted()
    return true()  # every run


def _experiment_comparison(c: Comparison, target: _Target) -> ColumnElement[bool]:
    experiment = (select(parents.c.parent_context_id).where(parents.c.context_id == contexts.c.id)
                  .limit(1).scalar_subquery())
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if not all(isinstance(v, str) and v.isdigit() for v in values):
        raise InvalidParameterError(f"attributes.experiment_id takes experiment ids such as "
                                    f"'3'; got {c.value!r}.")
    if c.op not in ("=", "!=", "IN", "NOT IN"):
        raise InvalidParameterError("attributes.experiment_id supports =, !=, IN and NOT IN.")
    default = target.default_experiment_pk
    numbers = tuple(default if v == "0" and default is not None else int(v)  # type: ignore[arg-type]
                    for v in values)
    return _apply(experiment, c.op, numbers if c.op in ("IN", "NOT IN") else numbers[0], "")


# -- ordering and pages --------------------------------------------------------------------
def _ordering(clauses: list[OrderBy]) -> list[Any]:
    """ORDER BY terms: the requested ones with missing values last, then MLflow's
    tie-breakers (newest first, then run id)."""
    terms: list[Any] = []
    keys = set()
    for clause in clauses:
        if clause.entity == "attributes" and clause.key in ("lifecycle_stage", "experiment_id"):
            raise InvalidParameterError(f"Runs cannot be sorted by attributes.{clause.key}.")
        expr = _value_of(clause.entity, clause.key)
        terms += [expr.is_(None), expr.asc() if clause.ascending else expr.desc()]
        keys.add((clause.entity, clause.key))
    if ("attributes", "start_time") not in keys:
        start = _value_of("attributes", "start_time")
        terms += [start.desc()]
    terms.append(contexts.c.external_id.asc())
    return terms


MAX_OFFSET = 2**31 - 1  # what a SQL OFFSET takes on every database


def offset_of(page_token: str | None) -> int:
    """The offset an (offset-only) page token names; 0 for none."""
    if not page_token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(page_token.encode()))["offset"]
        if isinstance(offset, int) and 0 <= offset <= MAX_OFFSET:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise InvalidParameterError(f"Invalid page_token {page_token[:40]!r}: pass the token a "
                                "previous search returned, or none for the first page.")


def token_for(offset: int) -> str:
    """The page token of the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()
