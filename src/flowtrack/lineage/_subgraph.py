"""Walking lineage: from starting artifacts or executions along events, hop by hop.

One hop crosses one event (artifact -> execution or execution -> artifact).
Upstream walks against the data flow (an artifact to the execution that output
it, an execution to the artifacts it read); downstream walks with it; both walks
both ways. Each hop is one query over the frontier, so a walk costs
``max_num_hops`` queries however large the graph. ``direction_of`` reads the
direction as callers write it: an enum member, MLMD's number or the name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from ._api import LineageSubgraphQueryOptions
from ._records import LineageSession
from ._schema import EventType, events
from .errors import InvalidArgumentError

INPUT_TYPES = (int(EventType.INPUT), int(EventType.DECLARED_INPUT), int(EventType.INTERNAL_INPUT))
OUTPUT_TYPES = (int(EventType.OUTPUT), int(EventType.DECLARED_OUTPUT),
                int(EventType.INTERNAL_OUTPUT), int(EventType.PENDING_OUTPUT))
Direction = LineageSubgraphQueryOptions.Direction
UPSTREAM, DOWNSTREAM, BIDIRECTIONAL = (int(d) for d in Direction)
_BY_NAME = {d.name: int(d) for d in Direction}


def direction_of(value: object) -> int:
    """The walk direction ``value`` names: a ``Direction`` member, MLMD's number for it
    (its proto enum's: 1, 2, 3) or its name in any case; InvalidArgumentError for
    anything else."""
    if isinstance(value, str) and value.isascii() and value.upper() in _BY_NAME:
        return _BY_NAME[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in _BY_NAME.values():
        return int(value)
    raise InvalidArgumentError(
        f"direction must be a LineageSubgraphQueryOptions.Direction member, its name "
        f"({', '.join(map(repr, _BY_NAME))}, in any case) or MLMD's number for it "
        f"({', '.join(map(str, _BY_NAME.values()))}); got {value!r}.")


@dataclass
class Walk:
    """What a walk reached: node ids and the ids of the events it crossed."""

    artifact_ids: set[int] = field(default_factory=set)
    execution_ids: set[int] = field(default_factory=set)
    event_ids: set[int] = field(default_factory=set)


def walk(session: LineageSession, artifact_ids: set[int], execution_ids: set[int],
         max_num_hops: int, direction: int) -> Walk:
    """Breadth-first walk of at most ``max_num_hops`` events from the start nodes."""
    result = Walk(set(artifact_ids), set(execution_ids))
    frontier_a, frontier_e = set(artifact_ids), set(execution_ids)
    for _ in range(max_num_hops):
        if not frontier_a and not frontier_e:
            break
        rows = session.conn.execute(_hop_query(frontier_a, frontier_e, direction)).all()
        next_a: set[int] = set()
        next_e: set[int] = set()
        for event_id, artifact_id, execution_id in rows:
            result.event_ids.add(event_id)
            if artifact_id in frontier_a and execution_id not in result.execution_ids:
                next_e.add(execution_id)
            if execution_id in frontier_e and artifact_id not in result.artifact_ids:
                next_a.add(artifact_id)
        result.artifact_ids |= next_a
        result.execution_ids |= next_e
        frontier_a, frontier_e = next_a, next_e
    return result


def _hop_query(frontier_a: set[int], frontier_e: set[int], direction: int):  # type: ignore[no-untyped-def]
    """Events leaving the frontier in the walk's direction."""
    clauses = []
    if frontier_a:
        # from an artifact: upstream to its producer, downstream to its readers
        kinds = _types(direction, up=OUTPUT_TYPES, down=INPUT_TYPES)
        clauses.append(events.c.artifact_id.in_(sorted(frontier_a)) & events.c.type.in_(kinds))
    if frontier_e:
        # from an execution: upstream to what it read, downstream to what it wrote
        kinds = _types(direction, up=INPUT_TYPES, down=OUTPUT_TYPES)
        clauses.append(events.c.execution_id.in_(sorted(frontier_e)) & events.c.type.in_(kinds))
    return select(events.c.id, events.c.artifact_id, events.c.execution_id).where(or_(*clauses))


def _types(direction: int, up: tuple[int, ...], down: tuple[int, ...]) -> tuple[int, ...]:
    if direction == UPSTREAM:
        return up
    if direction == DOWNSTREAM:
        return down
    return up + down
