"""Lineage questions asked from the client: who produced a value, who read it, what a
task read and wrote, and the graph around a run (through ``MetadataStore``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..lineage import (
    TASK_TYPE,
    LineageGraph,
    LineageSubgraphQueryOptions,
    MetadataStore,
    Node,
    TypeKind,
    events,
    executions,
)
from ..lineage._subgraph import INPUT_TYPES, OUTPUT_TYPES
from ._backend import backend

if TYPE_CHECKING:
    from ._objects import DataArtifact, Task


def _linked(column: Any, value: int, kinds: tuple[int, ...], target: Any) -> list[int]:
    with backend().session() as s:
        return list(s.conn.execute(select(target).where(column == value,
                                                        events.c.type.in_(kinds))).scalars())


def _tasks(execution_ids: list[int]) -> list[Task]:
    from ._objects import Task

    with backend().session() as s:
        task_type = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
        nodes = s.nodes("execution", executions.c.id.in_(execution_ids),
                        executions.c.type_id == task_type)
    return [Task(n.name or "", _node=n) for n in nodes]


def _artifacts(artifact_ids: list[int]) -> list[DataArtifact]:
    from ._objects import DataArtifact

    return [DataArtifact(n.name or "", _node=n) for n in backend().artifacts(artifact_ids)
            if (n.name or "").count("/") == 4]


def producer(artifact: Node) -> Task | None:
    found = _tasks(_linked(events.c.artifact_id, artifact.id, OUTPUT_TYPES,
                           events.c.execution_id))
    return found[0] if found else None


def consumers(artifact: Node) -> list[Task]:
    return _tasks(_linked(events.c.artifact_id, artifact.id, INPUT_TYPES, events.c.execution_id))


def lineage_execution_id(task: Node) -> int:
    """The execution whose events describe this task: itself, or for a task reused by a
    resumed run, the original task (a reuse reads and writes nothing new)."""
    origin = task.properties.get("origin_task")
    if not origin:
        return task.id
    with backend().session() as s:
        task_type = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
        found = s.conn.execute(select(executions.c.id).where(
            executions.c.type_id == task_type, executions.c.name == origin)).scalar()
    return int(found) if found is not None else task.id


def task_inputs(task: Node) -> list[DataArtifact]:
    return _artifacts(_linked(events.c.execution_id, lineage_execution_id(task), INPUT_TYPES,
                              events.c.artifact_id))


def task_outputs(task: Node) -> list[DataArtifact]:
    return _artifacts(_linked(events.c.execution_id, lineage_execution_id(task), OUTPUT_TYPES,
                              events.c.artifact_id))


def subgraph(artifact_ids: list[int], execution_ids: list[int], upstream: bool | None = True,
             depth: int = 10) -> LineageGraph:
    """The lineage graph within ``depth`` events of the given nodes; ``upstream`` True
    walks toward sources, False toward consumers, None both ways."""
    direction = LineageSubgraphQueryOptions.Direction
    way = (direction.BIDIRECTIONAL if upstream is None
           else direction.UPSTREAM if upstream else direction.DOWNSTREAM)
    store = MetadataStore(backend().db.url)
    return store.get_lineage_subgraph(LineageSubgraphQueryOptions(
        starting_artifacts=artifact_ids, starting_executions=execution_ids,
        max_num_hops=depth, direction=way))
