"""``flowtrack lineage``: print the lineage graph around a run, task or value.

Text is a tree for people (walking from the starting node toward sources, or
toward consumers with ``--downstream``); JSON and Graphviz dot are for tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click

from .._errors import NotFoundError
from ..client import DataArtifact, Run, Task, lineage_graph, namespace
from ..lineage import Event, LineageGraph


def lineage_of(spec: str, upstream: bool, depth: int) -> tuple[LineageGraph, list[str]]:
    """The graph around what ``spec`` names (a pathspec or an artifact id), and the
    keys of the nodes the text tree starts from."""
    namespace(None)
    parts = [p for p in spec.split("/") if p]
    if spec.isdigit():
        graph = lineage_graph([int(spec)], [], upstream, depth)
        if not any(a.id == int(spec) for a in graph.artifacts):
            raise NotFoundError(f"There is no artifact with id {spec} in this store.")
        return graph, [_key("artifact", int(spec))]
    if len(parts) == 2:
        run = Run(spec)
        graph = run.lineage(upstream=upstream, depth=depth)
        tasks = [t for step in run for t in step]  # a reused task's lineage is its origin's
        own = sorted({t.lineage_id for t in tasks}, reverse=upstream)
        return graph, [_key("execution", i) for i in own]
    if len(parts) == 4:
        task = Task(spec)
        return (task.lineage(upstream=upstream, depth=depth),
                [_key("execution", task.lineage_id)])
    if len(parts) == 5:
        artifact = DataArtifact(spec)
        graph = artifact.lineage(upstream=upstream, depth=depth)
        return graph, [_key("artifact", artifact.lineage_id)]
    raise NotFoundError(f"{spec!r} is neither a pathspec (Flow/RUN, Flow/RUN/step/TASK, "
                        "Flow/RUN/step/TASK/artifact) nor an artifact id.")


def _key(kind: str, node_id: int | None) -> str:
    return f"{kind[0]}{node_id}"


def _is_input(event: Event) -> bool:
    return event.type.name.endswith("INPUT")  # type: ignore[attr-defined]


def _label(node: Any, kind: str) -> str:
    if kind == "artifact":
        return f"{node.name or node.uri or node.id} [{node.type}]"
    state = getattr(node.last_known_state, "name", node.last_known_state)
    return f"{node.name or node.id} [{node.type}, {state}]"


def render_json(graph: LineageGraph) -> str:
    nodes = [{"id": _key("artifact", a.id), "kind": "artifact", "name": a.name, "type": a.type,
              "uri": a.uri} for a in graph.artifacts]
    nodes += [{"id": _key("execution", e.id), "kind": "execution", "name": e.name,
               "type": e.type, "state": getattr(e.last_known_state, "name", None)}
              for e in graph.executions]
    edges = [_edge(ev) for ev in graph.events]
    contexts = [{"id": _key("context", c.id), "name": c.name, "type": c.type}
                for c in graph.contexts]
    return json.dumps({"nodes": nodes, "edges": edges, "contexts": contexts}, indent=2)


def _edge(event: Event) -> dict[str, str]:
    artifact, execution = _key("artifact", event.artifact_id), _key("execution",
                                                                     event.execution_id)
    source, target = (artifact, execution) if _is_input(event) else (execution, artifact)
    return {"source": source, "target": target, "type": event.type.name}  # type: ignore[attr-defined]


def render_dot(graph: LineageGraph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for a in graph.artifacts:
        lines.append(f"  {_key('artifact', a.id)} [shape=ellipse, label={json.dumps(_label(a, 'artifact'))}];")
    for e in graph.executions:
        lines.append(f"  {_key('execution', e.id)} [shape=box, label={json.dumps(_label(e, 'execution'))}];")
    for ev in graph.events:
        edge = _edge(ev)
        lines.append(f"  {edge['source']} -> {edge['target']} [label={json.dumps(edge['type'])}];")
    lines.append("}")
    return "\n".join(lines)


def render_text(graph: LineageGraph, roots: list[str], upstream: bool) -> str:
    names = {_key("artifact", a.id): _label(a, "artifact") for a in graph.artifacts}
    names.update({_key("execution", e.id): _label(e, "execution") for e in graph.executions})
    children: dict[str, list[str]] = {}
    for ev in graph.events:
        edge = _edge(ev)
        parent, child = ((edge["target"], edge["source"]) if upstream
                         else (edge["source"], edge["target"]))
        children.setdefault(parent, []).append(child)
    out: list[str] = []
    seen: set[str] = set()
    arrow = "<- " if upstream else "-> "
    for root in roots:
        out.extend(_tree(root, names, children, seen, "", arrow))
    return "\n".join(out) if out else "(no lineage recorded)"


def _tree(node: str, names: dict[str, str], children: dict[str, list[str]], seen: set[str],
          indent: str, arrow_text: str) -> Iterator[str]:
    arrow = arrow_text if indent else ""
    label = names.get(node, node)
    if node in seen:
        yield f"{indent}{arrow}{label} (shown above)"
        return
    seen.add(node)
    yield f"{indent}{arrow}{label}"
    for child in sorted(set(children.get(node, [])), key=lambda k: names.get(k, k)):
        yield from _tree(child, names, children, seen, indent + "  ", arrow_text)


@click.command("lineage")
@click.argument("spec", metavar="PATHSPEC_OR_ARTIFACT")
@click.option("--upstream/--downstream", default=True, show_default=True,
              help="Walk toward what it was made from, or toward what used it.")
@click.option("--depth", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many events to cross.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text",
              show_default=True, help="Text tree, JSON nodes and edges, or Graphviz dot.")
def lineage_command(spec: str, upstream: bool, depth: int, fmt: str) -> None:
    """Print the lineage graph around a run, task or value.

    PATHSPEC_OR_ARTIFACT is Flow/RUN, Flow/RUN/step/TASK, Flow/RUN/step/TASK/artifact
    or the id of any artifact in the store.
    """
    graph, roots = lineage_of(spec, upstream, depth)
    if fmt == "json":
        click.echo(render_json(graph))
    elif fmt == "dot":
        click.echo(render_dot(graph))
    else:
        click.echo(render_text(graph, roots, upstream))
