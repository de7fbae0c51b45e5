"""The UI's lineage view: the artifacts and executions within N hops of an artifact,
a task or a run, both upstream and downstream, laid out left to right (inputs to
the left of what read them, outputs to the right of what wrote them). Every node
links to its own page; "one more hop" widens the walk. A graph that crosses flows
(a predict flow's output ← a trained model ← training data) shows as one picture,
since all flows share one lineage graph.

Node ids come from URLs (``node_id``): one that is not a whole number is a 400, one
that names no node (beyond 64 bits too) a 404.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..lineage import (
    TASK_TYPE,
    LineageSession,
    LineageSubgraphQueryOptions,
    MetadataStore,
    TypeKind,
    attributions,
    contexts,
    executions,
)
from ..tracking.errors import InvalidParameterError, ResourceDoesNotExistError
from ..tracking.service import TrackingStore

MAX_HOPS = 20
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
BOX_W, BOX_H, GAP_X, GAP_Y = 220, 44, 70, 16


@dataclass
class LineageNode:
    key: str  # "a<id>" or "e<id>"
    kind: str  # artifact or execution
    node_id: int
    label: str
    type_name: str
    href: str
    x: int = 0
    y: int = 0
    start: bool = False


def lineage_view(store: TrackingStore, artifacts: list[int], executions: list[int],
                 hops: int) -> dict[str, Any]:
    """Nodes with positions, edges as coordinates, and the canvas size."""
    hops = max(1, min(hops, MAX_HOPS))
    graph = MetadataStore(store.db.url).get_lineage_subgraph(LineageSubgraphQueryOptions(
        starting_artifacts=artifacts or None, starting_executions=executions or None,
        max_num_hops=hops, direction=LineageSubgraphQueryOptions.Direction.BIDIRECTIONAL))
    nodes: dict[str, LineageNode] = {}
    for a in graph.artifacts:
        name = (a.properties or {}).get("artifact_name") or a.name or a.uri or str(a.id)
        nodes[f"a{a.id}"] = LineageNode(f"a{a.id}", "artifact", int(a.id or 0), str(name),
                                        str(a.type),
                                        f"/lineage?artifact={a.id}")
    for e in graph.executions:
        nodes[f"e{e.id}"] = LineageNode(f"e{e.id}", "execution", int(e.id or 0),
                                        e.name or str(e.id),
                                        str(e.type), f"/tasks/{e.id}"
                                        if str(e.type) == "Task" else f"/lineage?execution={e.id}")
    edges: list[tuple[str, str]] = []
    for event in graph.events:
        artifact_key, execution_key = f"a{event.artifact_id}", f"e{event.execution_id}"
        if artifact_key in nodes and execution_key in nodes:
            is_input = event.type.name.endswith("INPUT")  # type: ignore[attr-defined]
            edges.append((artifact_key, execution_key) if is_input
                         else (execution_key, artifact_key))
    starts = {f"a{i}" for i in artifacts} | {f"e{i}" for i in executions}
    for key in starts & nodes.keys():
        nodes[key].start = True
    width, height = _layout(nodes, edges, starts)
    lines = [(nodes[s].x + BOX_W, nodes[s].y + BOX_H // 2, nodes[t].x, nodes[t].y + BOX_H // 2)
             for s, t in edges]
    return {"nodes": list(nodes.values()), "edges": lines, "width": width, "height": height,
            "hops": hops}


def _layout(nodes: dict[str, LineageNode], edges: list[tuple[str, str]],
            starts: set[str]) -> tuple[int, int]:
    """Columns by signed distance from the starting nodes (breadth-first both ways)."""
    forward, backward = defaultdict(list), defaultdict(list)
    for source, target in edges:
        forward[source].append(target)
        backward[target].append(source)
    column = {k: 0 for k in starts if k in nodes}
    frontier = list(column)
    while frontier:
        following = []
        for key in frontier:
            for nxt, step in [(t, 1) for t in forward[key]] + [(s, -1) for s in backward[key]]:
                if nxt not in column:
                    column[nxt] = column[key] + step
                    following.append(nxt)
        frontier = following
    for key in nodes:  # unreachable leftovers (should not happen) go last
        column.setdefault(key, max(column.values(), default=0) + 1)
    low = min(column.values(), default=0)
    rows: dict[int, int] = defaultdict(int)
    for key in sorted(nodes, key=lambda k: (column[k], nodes[k].kind, nodes[k].label)):
        c = column[key] - low
        nodes[key].x = 10 + c * (BOX_W + GAP_X)
        nodes[key].y = 10 + rows[c] * (BOX_H + GAP_Y)
        rows[c] += 1
    return (20 + (max(rows, default=0) + 1) * (BOX_W + GAP_X),
            20 + max(rows.values(), default=1) * (BOX_H + GAP_Y))


def starting_points(store: TrackingStore, query: dict[str, str]) -> tuple[list[int], list[int]]:
    """(artifact ids, execution ids) a lineage page starts from: ``artifact=ID``,
    ``execution=ID``, ``run=RUN_ID`` (its tasks) or ``model=NAME&version=N`` (the
    version's Model artifact)."""
    with store.read() as s:
        if query.get("artifact"):
            return [_existing(s, "artifact", query["artifact"])], []
        if query.get("execution"):
            return [], [_existing(s, "execution", query["execution"])]
        if query.get("run"):
            run = store.run_node(s, query["run"])
            task_type = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
            tasks = [] if task_type is None else s.executions_in_context(
                run.id, executions.c.type_id == task_type)
            found = [t.id for t in tasks if t.properties.get("step_name") != "_parameters"]
            if not found:
                raise ResourceDoesNotExistError(f"Run {query['run']} has no tasks to trace.")
            return [], found
        if query.get("model") and query.get("version"):
            name = f"{query['model']}/{query['version']}"
            version = s.conn.execute(select(contexts.c.id).where(contexts.c.name == name)).scalar()
            held = [] if version is None else list(s.conn.execute(
                select(attributions.c.artifact_id).where(attributions.c.context_id == version))
                .scalars())
            if not held:
                raise ResourceDoesNotExistError(f"Model version {name} holds no Model artifact "
                                                "to trace.")
            return held, []
    raise InvalidParameterError("Say where the lineage starts: ?artifact=ID, ?execution=ID, "
                                "?run=RUN_ID or ?model=NAME&version=N.")


def node_id(text: int | str, what: str) -> int:
    """The id of an artifact or execution (``what`` names it in errors) given in a URL."""
    text = str(text).strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        raise InvalidParameterError(f"A {what} id is a whole number; got {text[:40]!r}. Use "
                                    f"the id a link to the {what} shows.")
    number = int(text) if len(text) <= 20 else None  # past 20 digits, past int64 too
    if number is None or not -(2**63) <= number < 2**63:
        shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text)} digits)"
        raise ResourceDoesNotExistError(f"No {what} with id {shown}.")
    return number


def _existing(s: LineageSession, kind: str, text: str) -> int:
    """The id of an artifact or execution that exists (a 404 otherwise)."""
    found = node_id(text, kind)
    if not s.nodes_by_ids(kind, [found]):
        raise ResourceDoesNotExistError(f"No {kind} with id {found}.")
    return found
