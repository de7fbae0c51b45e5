"""Resume: which tasks of an origin run a new run may reuse, and their artifacts.

A task is reused ("cloned") when the origin run has a successful task with the same
identity (step, foreach indices, loop iteration) and, for ``resume STEP``, its step is
not STEP or downstream of it. Clones point at the origin's artifacts by id;
no blob is copied. Everything from the resume step on runs with the current code.
"""

from __future__ import annotations

from typing import Any

from .._errors import FlowtrackError, NotFoundError
from ..flow import PARAMETERS_STEP, FlowGraph
from ..lineage import SUCCESS_STATES, LineageSession, Node
from ._model import ArtifactRef

# (step, (split step, index) per enclosing split, loop iteration); the index is None
# for the control task of an unbounded foreach
TaskKey = tuple[str, tuple[tuple[str, int | None], ...], int]


def task_key(node: Node) -> TaskKey:
    frames = node.custom_properties.get("frames") or []
    return (str(node.properties.get("step_name")),
            tuple((f[1], None if f[2] is None else int(f[2])) for f in frames),
            int(node.custom_properties.get("iteration", 0)))


class Origin:
    """The run being resumed, loaded once at the start of the new run."""

    def __init__(self, session: LineageSession, graph: FlowGraph, run: Node,
                 tasks: list[Node], resume_step: str | None) -> None:
        self.run = run
        self.run_id = str(run.properties.get("run_id"))
        self.graph = graph
        self.tasks = {task_key(t): t for t in tasks if t.state in SUCCESS_STATES}
        self.parameter_task = next((t for t in tasks
                                    if t.properties.get("step_name") == PARAMETERS_STEP), None)
        self.resume_step = resume_step or self._failed_step(tasks)
        # ``resume STEP`` runs STEP and what follows it again; a plain resume reuses
        # every task that succeeded, so the iterations of a loop before the one that
        # failed are reused too (as in Metaflow)
        self.rerun = _downstream(graph, resume_step) if resume_step else set()
        self.refs = _load_refs(session, tasks)

    def _failed_step(self, tasks: list[Node]) -> str | None:
        failed = {t.properties.get("step_name") for t in tasks if t.state not in SUCCESS_STATES}
        for node in self.graph.sorted_nodes():
            if node.name in failed:
                return node.name
        return None

    def can_clone(self, task: Any) -> bool:
        return task.step not in self.rerun and task.key in self.tasks

    def task_for(self, task: Any) -> Node:
        return self.tasks[task.key]

    def namespace_of(self, node: Node) -> dict[str, ArtifactRef]:
        """A task's own visible artifacts (parameters travel separately)."""
        ids = node.custom_properties.get("artifacts") or {}
        parameters = self._parameter_ids()
        return {name: self.refs[i] for name, i in ids.items()
                if i in self.refs and parameters.get(name) != i}

    def _parameter_ids(self) -> dict[str, int]:
        if self.parameter_task is None:
            return {}
        return dict(self.parameter_task.custom_properties.get("artifacts") or {})

    def parameter_refs(self) -> dict[str, ArtifactRef]:
        if self.parameter_task is None:
            raise FlowtrackError(
                f"Run {self.run.name} cannot be resumed: it was stopped while it was starting, "
                "before it recorded its parameters or ran any task, so there is nothing to "
                "reuse. Start a new run with `run` (a plain `resume` skips such runs).")
        # the origin's constants are not reused: the new run stores the code's own
        constants = set(self.parameter_task.custom_properties.get("constants") or ())
        return {n: self.refs[i] for n, i in self._parameter_ids().items()
                if i in self.refs and n not in constants}


def _downstream(graph: FlowGraph, step: str) -> set[str]:
    if step not in graph:
        raise NotFoundError(f"Step '{step}' is not a step of flow {graph.name}; steps are "
                            f"{', '.join(graph.nodes)}.")
    seen, frontier = {step}, [step]
    while frontier:
        for out in graph[frontier.pop()].out_funcs:
            if out not in seen:
                seen.add(out)
                frontier.append(out)
    return seen


def _load_refs(session: LineageSession, tasks: list[Node]) -> dict[int, ArtifactRef]:
    ids = sorted({int(i) for t in tasks for i in (t.custom_properties.get("artifacts") or {}).values()})
    refs = {}
    for node in session.nodes_by_ids("artifact", ids):
        p = node.properties
        refs[node.id] = ArtifactRef(node.id, p["digest"], int(p["size"]), p.get("inline"))
    return refs
