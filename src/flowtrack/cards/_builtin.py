"""The card types flowtrack ships: ``default`` (the task's parameters, artifacts and
place in the graph, then the user's components) and ``blank`` (only the user's
components), both editable, and ``taskspec_card`` (the pathspec), as in Metaflow. Also the flow-graph description a
card class receives as ``graph``."""

from __future__ import annotations

from typing import Any

from ._card_types import MetaflowCard
from ._component_html import has_charts
from ._page import DefaultCardInput, blank_card_body, card_page, default_card_body


class DefaultCard(MetaflowCard):
    """The task's data at a glance, followed by any components the step added."""

    type = "default"
    ALLOW_USER_COMPONENTS = True

    def __init__(self, options: dict[str, Any] | None = None,
                 components: list[Any] | None = None, graph: dict[str, Any] | None = None,
                 flow: Any = None, **kwargs: Any) -> None:
        self._components = list(components or [])
        self._graph = graph or {}
        self._flow = flow

    def render(self, task: Any) -> str:
        flow_name, _run_id, step_name, task_id = task.path_components
        parameter_names = set(self._graph.get("parameters", []))
        artifacts = [(name, getattr(self._flow, name)) for name in task.artifact_names()
                     if name not in parameter_names]
        info = DefaultCardInput(
            pathspec=task.pathspec, flow_name=flow_name, step_name=step_name, task_id=task_id,
            attempt=task.current_attempt, started=task.created_at, finished=task.finished_at,
            parameters={n: getattr(self._flow, n) for n in sorted(parameter_names)},
            artifacts=artifacts, graph=self._graph.get("steps", []),
            components=self._components)
        body = default_card_body(info)
        return card_page(f"{task.pathspec} (default card)", body, charts=has_charts(body))


class BlankCard(MetaflowCard):
    """A card with only the components the step adds (``current.card.append``)."""

    type = "blank"
    ALLOW_USER_COMPONENTS = True

    def __init__(self, options: dict[str, Any] | None = None,
                 components: list[Any] | None = None, **kwargs: Any) -> None:
        self._components = list(components or [])

    def render(self, task: Any) -> str:
        body = blank_card_body(self._components)
        return card_page(task.pathspec, body, charts=has_charts(body))


class TaskSpecCard(MetaflowCard):
    """Metaflow's ``taskspec_card``: the task's pathspec as the whole card."""

    type = "taskspec_card"

    def render(self, task: Any) -> str:
        return str(task.pathspec)


def graph_description(flow_cls: Any) -> dict[str, Any]:
    """What a card class gets as ``graph``: the flow's name and docstring, its steps
    in order (name, type, successors, docstring, decorators) and parameter names."""
    graph = flow_cls._graph
    steps = [{"name": n.name, "type": n.type, "next": list(n.out_funcs), "doc": n.doc,
              "decorators": [d.name for d in n.decorators]} for n in graph.sorted_nodes()]
    return {"name": flow_cls.__name__, "doc": graph.doc, "steps": steps,
            "graph_structure": [s["name"] for s in steps],
            "parameters": [p.attr_name for p in flow_cls._parameters()]}
