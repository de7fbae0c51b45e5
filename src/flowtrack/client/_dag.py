"""Which steps and tasks of a run come before and after which.

Two records answer it: the run's graph (``graph``: every step with its successors,
in the flow's topological order from ``start``, recorded when the run starts) and
each task's ``parents`` (the ids of the tasks it followed, in the order a join
received them). Only the steps next to the one asked about are read.
"""

from __future__ import annotations

from typing import Any

from ..lineage import Node
from ._backend import backend


def _graph(run: Node) -> list[dict[str, Any]]:
    return list(run.custom_properties.get("graph") or [])


def parent_steps(run: Node, step: str) -> list[str]:
    """The steps whose successors include ``step``, in the graph's order."""
    return [n["name"] for n in _graph(run) if step in (n.get("next") or [])]


def child_steps(run: Node, step: str) -> list[str]:
    """The successors of ``step``, in the order the step names them."""
    return next((list(n.get("next") or []) for n in _graph(run) if n["name"] == step), [])


def _tasks_of(run: Node, steps: list[str]) -> list[Node]:
    if not _graph(run):  # a run recorded without its graph: look at all its tasks
        return backend().tasks(run)
    return [task for step in dict.fromkeys(steps) for task in backend().tasks(run, step)]


def _task_id(task: Node) -> str:
    return (task.name or "").rsplit("/", 1)[-1]


def parent_tasks(run: Node, task: Node) -> list[Node]:
    """The tasks ``task`` followed, in the order it received them."""
    parents = [str(p) for p in task.custom_properties.get("parents") or []]
    if not parents:
        return []
    step = str(task.properties.get("step_name"))
    by_id = {_task_id(t): t for t in _tasks_of(run, parent_steps(run, step))}
    return [by_id[p] for p in parents if p in by_id]


def child_tasks(run: Node, task: Node) -> list[Node]:
    """The tasks that followed ``task``: by successor step in the order the step names
    them, then in the order they started."""
    me = _task_id(task)
    step = str(task.properties.get("step_name"))
    return [t for t in _tasks_of(run, child_steps(run, step))
            if me in [str(p) for p in t.custom_properties.get("parents") or []]]
