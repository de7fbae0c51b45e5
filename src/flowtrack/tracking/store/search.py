"""Searching runs: a parsed ``search_runs`` filter and ``order_by`` (``entities/filter_grammar``)
compiled to SQL over the Run contexts, their properties and ``latest_metrics``.

Every user value and key is a bound parameter, so no filter can inject SQL. With the
NOTs pushed down onto the comparisons, the comparisons of one AND or OR group on one
stored key (a metric, param, tag, run id or run property) become one indexed scan of
that key's rows, giving the runs that pass them all or any (an OR looks each run up
once, in a union of its scans); the other comparisons (IS NULL, lifecycle_stage,
experiment_id, duration) read each run's value through a correlated subquery, as
``order_by`` does. Long lists of terms are parenthesized as balanced trees (SQLite
nests a flat ``a AND b AND ...`` one level per operator, and at most 1000 deep), and
groups may nest ``MAX_NESTING`` deep. 500 ORed terms over 10 000 runs take tens of
milliseconds.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, not_, or_, select, true, union_all
from sqlalchemy.sql.elements import ColumnElement, Grouping

from ...lineage import LineageSession, Node, context_properties, contexts, latest_metrics
from ...lineage import parent_contexts as parents
from ..entities.filter_grammar import (
    And,
    Comparison,
    Not,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
    push_negations,
)
from ..entities.filter_grammar import Node as FilterNode
from ..entities.records import ViewType
from ..errors import InvalidParameterError
from .run_lineage import DELETED_TIME, PARAM_PREFIX, TAG_PREFIX

MAX_RESULTS_LIMIT = 50_000
# AND and OR groups in one another: the SQL nests as deep, and the parser of SQLite 3.40
# (a fixed stack of 100) overflowed at 29 levels in the worst filters tried
MAX_NESTING = 24
_FANOUT = 16  # terms of one SQL AND or OR list before they are parenthesized in groups
_UNION = 100  # key scans per UNION ALL (SQLite allows 500 SELECTs in one)

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
        where.append(_filter(tree, _Target(s.conn.dialect.name, default_experiment_pk)))
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


def _filter(tree: FilterNode, target: _Target) -> ColumnElement[bool]:
    """The condition a run must meet to match the parsed filter ``tree``."""
    tree = push_negations(tree)
    levels = _nesting(tree)
    if levels > MAX_NESTING:
        raise InvalidParameterError(
            f"The filter nests AND and OR groups {levels} levels deep, more than the "
            f"{MAX_NESTING} levels a search allows. Flatten it: "
            "a AND (b AND c) is a AND b AND c, a OR (b OR c) is a OR b OR c, and ORed "
            "equalities on one param, tag or string attribute are an IN list.")
    return _compile(tree, target)


def _nesting(node: FilterNode) -> int:
    """How many AND and OR groups ``node`` nests in one another."""
    if isinstance(node, (And, Or)):
        return 1 + max(_nesting(p) for p in node.parts)
    return 0


def _compile(node: FilterNode, target: _Target) -> ColumnElement[bool]:
    """The condition ``node`` (whose NOTs are all on comparisons) puts on a run."""
    if isinstance(node, And):
        return _combined(node.parts, and_, target)
    if isinstance(node, Or):
        return _combined(node.parts, or_, target)
    return _combined((node,), and_, target)


Combine = Callable[..., ColumnElement[bool]]  # and_ or or_


def _combined(parts: Sequence[FilterNode], combine: Combine, target: _Target
              ) -> ColumnElement[bool]:
    """``combine`` of ``parts``: the comparisons on one stored key as one scan of that
    key's rows, each other part tested on every run."""
    by_key: dict[tuple[str, str], list[FilterNode]] = {}
    tested: list[ColumnElement[bool]] = []
    for part in parts:
        leaf = part.part if isinstance(part, Not) else part
        if isinstance(part, (And, Or)):
            continue  # compiled last, below
        if isinstance(leaf, Comparison) and _scannable(leaf):
            by_key.setdefault((leaf.entity, leaf.key), []).append(part)
        else:
            tested.append(_tested(part, target))
    scans: list[Any] = [_runs_passing(group, combine, target) for group in by_key.values()]
    if combine is or_ and len(scans) > 1:  # one lookup per run in each union
        scans = [union_all(*scans[i:i + _UNION]) for i in range(0, len(scans), _UNION)]
    groups = sorted((p for p in parts if isinstance(p, (And, Or))), key=_nesting)
    return _balanced(combine, [*(contexts.c.id.in_(scan) for scan in scans), *tested,
                               *(_compile(g, target) for g in groups)])


def _scannable(c: Comparison) -> bool:
    """Whether the runs passing ``c`` can be read from the rows of its key (IS NULL
    passes runs that have no row)."""
    stored = c.entity in ("metrics", "params", "tags") or (
        c.entity == "attributes" and (c.key == "run_id" or c.key in _ATTRIBUTE_PROPERTIES))
    return stored and c.op != "IS NULL"


def _runs_passing(parts: list[FilterNode], combine: Combine, target: _Target) -> Any:
    """The ids of the runs whose value of the parts' one key passes ``combine`` of
    them, from one scan of that key's rows."""
    first = parts[0].part if isinstance(parts[0], Not) else parts[0]
    assert isinstance(first, Comparison)
    source = _source(first.entity, first.key)
    assert source is not None
    tests = [not_(_test(source.value, p.part, target)) if isinstance(p, Not)
             else _test(source.value, p, target) for p in parts]
    return select(source.run).where(*source.where, _balanced(combine, tests))


def _test(value: Any, part: FilterNode, target: _Target) -> ColumnElement[bool]:
    assert isinstance(part, Comparison)
    return _apply(value, part.op, part.value, target.dialect)


def _tested(part: FilterNode, target: _Target) -> ColumnElement[bool]:
    """A comparison, or a negated one, tested on each run."""
    if isinstance(part, Not):
        return not_(_tested(part.part, target))
    assert isinstance(part, Comparison)
    return _comparison(part, target)


class _Parenthesized(Grouping[bool]):
    """Parentheses SQLAlchemy keeps: ``and_`` and ``or_`` splice the terms of a clause
    list of their own operator into theirs, and a plain Grouping passes its clause's
    operator on, so it is spliced too."""

    inherit_cache = True
    operator = None


def _balanced(combine: Combine, terms: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """``combine`` of ``terms`` in parenthesized groups of at most ``_FANOUT`` terms, so
    the SQL nests log(n) levels deep for n terms, not n. The last term (the most deeply
    nested group) stays outside the groups, so nesting adds no more parentheses."""
    head = terms[:-1]
    while len(head) >= _FANOUT:
        head = [_Parenthesized(combine(*head[i:i + _FANOUT]))
                for i in range(0, len(head), _FANOUT)]
    return combine(*head, *terms[-1:])


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


@dataclass(frozen=True)
class _Source:
    """Where runs keep one key's value: in ``value``, of the rows ``where`` selects, at
    most one row per run, whose ``run`` column holds the run's context id."""

    run: Any
    value: Any
    where: tuple[Any, ...] = ()


def _source(entity: str, key: str) -> _Source | None:
    """Where runs keep ``entity.key``; None for datasets and for the attributes made
    from several rows (duration, lifecycle_stage, experiment_id)."""
    if entity == "metrics":
        return _Source(latest_metrics.c.run_id, latest_metrics.c.value,
                       (latest_metrics.c.key == key,))
    if entity in ("params", "tags"):
        prefix = PARAM_PREFIX if entity == "params" else TAG_PREFIX
        return _property_source(prefix + key, True, "string_value")
    if entity == "attributes" and key == "run_id":
        run = contexts.alias()
        return _Source(run.c.id, run.c.external_id)
    if entity == "attributes" and key in _ATTRIBUTE_PROPERTIES:
        return _property_source(*_ATTRIBUTE_PROPERTIES[key])
    return None


def _property_source(name: str, custom: bool, column: str) -> _Source:
    p = context_properties.alias()
    return _Source(p.c.context_id, p.c[column],
                   (p.c.name == name, p.c.is_custom_property == custom))


def _value_of(entity: str, key: str) -> Any:
    """The SQL expression for one run's value of ``entity.key`` (NULL when absent)."""
    if entity == "attributes" and key == "run_id":
        return contexts.c.external_id
    if entity == "attributes" and key == "duration":  # NULL until the run ends
        return _value_of(entity, "end_time") - _value_of(entity, "start_time")
    source = _source(entity, key)
    if source is None:
        raise InvalidParameterError(f"Runs cannot be searched or sorted by attributes.{key}; "
                                    f"use one of run_id, experiment_id, lifecycle_stage, "
                                    f"{', '.join(_ATTRIBUTE_PROPERTIES)}.")
    return (select(source.value).where(*source.where, source.run == contexts.c.id)
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
