"""Edges of the lineage graph for ``MetadataStore``: events, context links, parent
contexts, and deleting nodes without breaking lineage (unless cascading)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .._util import now_ms
from ._api import Event, ParentContext
from ._records import LineageSession, insert_returning_ids
from ._schema import (
    NODE_TABLES,
    PROPERTY_TABLES,
    EventType,
    associations,
    attributions,
    event_paths,
    events,
    latest_metrics,
    metrics,
    parent_contexts,
)
from .errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)


def _exists(s: LineageSession, kind: str, node_id: int | None) -> bool:
    if node_id is None:
        return False
    table = NODE_TABLES[kind]
    return s.conn.execute(select(table.c.id).where(table.c.id == node_id)).first() is not None


def _require(s: LineageSession, kind: str, ids: set[Any], what: str) -> None:
    """Raise InvalidArgumentError naming the first id in ``ids`` with no such node."""
    table = NODE_TABLES[kind]
    wanted = sorted(i for i in ids if i is not None)
    found = set(s.conn.execute(select(table.c.id).where(table.c.id.in_(wanted))).scalars())
    missing = [i for i in sorted(ids, key=str) if i not in found]
    if missing:
        raise InvalidArgumentError(f"{what} names {kind} id {missing[0]}, which does not exist.")


def insert_events(s: LineageSession, new_events: Sequence[Event], checked: bool = False) -> None:
    """Insert events in one statement; ``checked`` when their nodes are known to exist."""
    if not new_events:
        return
    if any(EventType(e.type) == EventType.UNKNOWN for e in new_events):
        raise InvalidArgumentError("Event.type must be set (e.g. Event.Type.INPUT).")
    if not checked:
        _require(s, "artifact", {e.artifact_id for e in new_events}, "An event")
        _require(s, "execution", {e.execution_id for e in new_events}, "An event")
    now = now_ms()
    rows = [{"artifact_id": e.artifact_id, "execution_id": e.execution_id, "type": int(e.type),
             "milliseconds_since_epoch": e.milliseconds_since_epoch or now} for e in new_events]
    try:
        with s.conn.begin_nested():
            ids = insert_returning_ids(s.conn, events, rows)
    except IntegrityError:
        raise AlreadyExistsError(
            "An event of the same type between the same artifact and execution already exists "
            f"(events: {[(e.artifact_id, e.execution_id, EventType(e.type).name) for e in new_events][:5]})."
        ) from None
    steps = [{"event_id": event_id, "position": i, "is_index_step": isinstance(p, int),
              "step_index": p if isinstance(p, int) else None,
              "step_key": p if isinstance(p, str) else None}
             for event_id, e in zip(ids, new_events) for i, p in enumerate(e.path)]
    if steps:
        s.conn.execute(insert(event_paths), steps)


def link_nodes(s: LineageSession, table: Any, kind: str, pairs: Sequence[tuple[int, int]],
          checked: bool = False) -> None:
    """Link (context id, node id) pairs; links that exist already are kept as they are."""
    if not pairs:
        return
    if not checked:
        _require(s, "context", {c for c, _ in pairs}, "A link")
        _require(s, kind, {n for _, n in pairs}, "A link")
    column = table.c[f"{kind}_id"]
    contexts_named = sorted({c for c, _ in pairs})
    present = set(s.conn.execute(select(table.c.context_id, column).where(
        table.c.context_id.in_(contexts_named), column.in_(sorted({n for _, n in pairs})))).all())
    rows = [{"context_id": c, f"{kind}_id": n} for c, n in dict.fromkeys(pairs)
            if (c, n) not in present]
    if rows:
        s.conn.execute(insert(table), rows)


def insert_parent(s: LineageSession, link: ParentContext) -> None:
    for context_id in (link.child_id, link.parent_id):
        if not _exists(s, "context", context_id):
            raise InvalidArgumentError(f"ParentContext names context {context_id}, which does "
                                       "not exist.")
    if link.child_id == link.parent_id or _is_ancestor(s, link.child_id, link.parent_id):
        raise InvalidArgumentError(f"Making context {link.parent_id} a parent of "
                                   f"{link.child_id} would create a cycle.")
    try:
        with s.conn.begin_nested():
            s.conn.execute(insert(parent_contexts), {"context_id": link.child_id,
                                                     "parent_context_id": link.parent_id})
    except IntegrityError:
        raise AlreadyExistsError(f"Context {link.parent_id} is already a parent of "
                                 f"{link.child_id}.") from None


def _is_ancestor(s: LineageSession, candidate: int, context_id: int) -> bool:
    """Whether ``candidate`` is already an ancestor of ``context_id``."""
    frontier, seen = [context_id], set()
    while frontier:
        current = frontier.pop()
        if current == candidate:
            return True
        if current in seen:
            continue
        seen.add(current)
        frontier.extend(s.conn.execute(select(parent_contexts.c.parent_context_id).where(
            parent_contexts.c.context_id == current)).scalars())
    return False


def delete_nodes(session: LineageSession, kind: str, ids: Sequence[int], cascade: bool) -> None:
    """Delete nodes of ``kind`` (see MetadataStore.delete_artifacts) in the session's
    transaction."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return
    table = NODE_TABLES[kind]
    present = set(session.conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars())
    missing = [i for i in ids if i not in present]
    if missing:
        raise NotFoundError(f"No {kind}(s) with id {', '.join(map(str, missing))}; nothing "
                            "was deleted.")
    blocking, dependents = _dependents(kind, ids)
    if not cascade:
        for what, query in blocking:
            if session.conn.execute(query.limit(1)).first() is not None:
                raise FailedPreconditionError(
                    f"Deleting {kind}(s) {', '.join(map(str, ids))} would break lineage: "
                    f"they still have {what}. Pass cascade=True to delete those links "
                    "with them.")
    for _, query in blocking + dependents:
        link_table = query.get_final_froms()[0]
        session.conn.execute(delete(link_table).where(query.whereclause))
    if kind == "execution":  # a run's metric history outlives the task that logged it
        session.conn.execute(update(metrics).where(metrics.c.execution_id.in_(ids))
                             .values(execution_id=None))
    props = PROPERTY_TABLES[kind]
    session.conn.execute(delete(props).where(props.c[f"{kind}_id"].in_(ids)))
    session.conn.execute(delete(table).where(table.c.id.in_(ids)))


Links = list[tuple[str, Any]]


def _dependents(kind: str, ids: list[int]) -> tuple[Links, Links]:
    """Links referring to the nodes, as (description, select over the link table):
    those that refuse a plain delete, and those that simply go with the nodes."""
    if kind == "artifact":
        return ([("events", select(events).where(events.c.artifact_id.in_(ids)))],
                [("attributions",
                  select(attributions).where(attributions.c.artifact_id.in_(ids)))])
    if kind == "execution":
        return ([("events", select(events).where(events.c.execution_id.in_(ids)))],
                [("associations",
                  select(associations).where(associations.c.execution_id.in_(ids)))])
    return ([("attributed artifacts",
              select(attributions).where(attributions.c.context_id.in_(ids))),
             ("associated executions",
              select(associations).where(associations.c.context_id.in_(ids))),
             ("parent or child contexts", select(parent_contexts).where(or_(
                 parent_contexts.c.context_id.in_(ids),
                 parent_contexts.c.parent_context_id.in_(ids))))],
            [("metric history", select(metrics).where(metrics.c.run_id.in_(ids))),
             ("latest metrics", select(latest_metrics).where(latest_metrics.c.run_id.in_(ids)))])
