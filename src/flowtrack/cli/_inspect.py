"""Printing a flow's graph and a run's tasks: ``show``, ``logs`` and ``dump``."""

from __future__ import annotations

import pickle
from typing import Any

import click

from .._errors import NotFoundError
from ..client import Run, Task, namespace
from ..flow import FlowGraph


def show_graph(graph: FlowGraph) -> None:
    if graph.doc:
        click.echo(graph.doc + "\n")
    for node in graph.sorted_nodes():
        click.secho(f"Step {node.name}", bold=True)
        if node.doc:
            click.echo("    " + node.doc.replace("\n", "\n    "))
        decos = " ".join(f"@{d.name}" for d in node.decorators)
        if decos:
            click.echo(f"    decorators: {decos}")
        click.echo(f"    => {_transition(node)}\n")


def _transition(node: Any) -> str:
    if node.name == "end":
        return "(end of flow)"
    if node.foreach_param:
        return f"{node.out_funcs[0]} (foreach over '{node.foreach_param}')"
    if node.condition:
        cases = ", ".join(f"{k!r}: {v}" for k, v in node.switch_cases.items())
        return f"switch on '{node.condition}' {{{cases}}}"
    suffix = " (join)" if len(node.out_funcs) == 1 and node.is_join else ""
    return ", ".join(node.out_funcs) + suffix


def resolve_tasks(flow_name: str, pathspec: str) -> list[Task]:
    """Tasks named by RUN_ID/STEP[/TASK_ID] or FLOW/RUN_ID/STEP[/TASK_ID]."""
    namespace(None)
    parts = [p for p in pathspec.split("/") if p]
    if parts and parts[0] == flow_name:
        parts = parts[1:]
    if len(parts) not in (2, 3):
        raise NotFoundError(f"Pathspec {pathspec!r} is malformed; use RUN_ID/STEP or "
                            "RUN_ID/STEP/TASK_ID (optionally prefixed by the flow name).")
    run = Run(f"{flow_name}/{parts[0]}")
    if len(parts) == 3:
        return [Task(f"{run.pathspec}/{parts[1]}/{parts[2]}")]
    return list(run[parts[1]].tasks())


def print_logs(tasks: list[Task], streams: list[str]) -> None:
    for task in tasks:
        for stream in streams:
            text = getattr(task, stream)
            # on stdout, both streams, as Metaflow's `logs` prints them
            if len(tasks) > 1 or len(streams) > 1:
                click.secho(f"--- {task.pathspec} {stream} ---", fg="cyan")
            if text:
                click.echo(text.rstrip("\n"))


def _wanted(task: Task, include: set[str] | None, private: bool) -> list[Any]:
    return [a for a in task if (include is None or a.id in include)
            and (private or not a.id.startswith("_"))]


def dump_to_file(tasks: list[Task], max_value_size: int, include: set[str] | None,
                 private: bool, path: str) -> None:
    """Metaflow's ``dump --file``: a pickled dict ``{"RUN_ID/STEP/TASK_ID": {name:
    value}}`` of the artifacts at most ``max_value_size`` bytes."""
    found = {"/".join(t.path_components[1:]): {a.id: a.data for a in _wanted(t, include, private)
                                               if a.size <= max_value_size}
             for t in tasks}
    with open(path, "wb") as handle:
        pickle.dump(found, handle)
    click.echo(f"Artifacts of {len(found)} task(s) written to {path}.", err=True)


def dump_tasks(tasks: list[Task], max_value_size: int, include: set[str] | None = None,
               private: bool = False) -> None:
    for task in tasks:
        click.secho(f"Task {task.pathspec} ({task.state})", bold=True)
        for artifact in _wanted(task, include, private):
            head = f"  {artifact.id}  [{artifact.type}, {artifact.size} bytes]"
            if artifact.size > max_value_size:
                click.echo(f"{head}  (not shown: larger than --max-value-size {max_value_size})")
                continue
            try:
                text = repr(artifact.data)
            except Exception as exc:  # a class missing here cannot be unpickled
                text = f"<cannot load: {type(exc).__name__}: {exc}>"
            if len(text) > max_value_size:
                text = text[:max_value_size] + "..."
            click.echo(f"{head}  {text}")
