"""What the UI shows of a flow run: its DAG laid out in layers with each step's state
and task count, a timeline of its tasks, and one task's details (state, attempts,
pid and host, output values with their recorded previews, stdout and stderr).
A task is addressed by its execution id (``node_id`` parses one from a URL).

All of it is read from the lineage graph the runtime recorded: the run's ``graph``
property (steps and edges), its ``Task`` executions and their OUTPUT events. Values
are never loaded or unpickled: a value shows its type, size and the preview string
the runtime stored when it wrote the value.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..cards._client import CARDS_PROPERTY
from ..lineage import CARD_TYPE, TASK_TYPE, EventType, Node, TypeKind, events, executions
from ..tracking.errors import ResourceDoesNotExistError
from ..tracking.service import TrackingStore
from ._lineage_view import node_id
from ._reading import DamagedArtifactError, read_blob

IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif")
LOG_LIMIT = 1_000_000  # characters of a log shown in the page (the tail beyond it is cut)
NODE_WIDTH, NODE_HEIGHT, GAP_X, GAP_Y = 170, 46, 40, 50


@dataclass
class StepBox:
    name: str
    kind: str
    doc: str
    x: int
    y: int
    tasks: int = 0
    state: str = "pending"  # pending, running, completed, failed


@dataclass
class FlowRunView:
    steps: list[StepBox]
    edges: list[tuple[int, int, int, int]]  # x1, y1, x2, y2 of each arrow
    width: int
    height: int
    tasks: list[dict[str, Any]] = field(default_factory=list)
    start: int = 0
    span: int = 1


def flow_run_view(store: TrackingStore, run_id: str) -> FlowRunView | None:
    """The DAG, tasks and timeline of a flow run; None for a plain tracking run."""
    with store.read() as s:
        run = store.run_node(s, run_id)
        graph = run.custom_properties.get("graph")
        task_type = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
        if not isinstance(graph, list) or task_type is None:
            return None
        tasks = s.executions_in_context(run.id, executions.c.type_id == task_type)
    rows = [_task_row(t) for t in tasks if t.properties.get("step_name") != "_parameters"]
    view = _layout(graph)
    by_step = {box.name: box for box in view.steps}
    states: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        states[row["step"]][row["state"]] += 1
    for name, counts in states.items():
        if name in by_step:
            by_step[name].tasks = sum(counts.values())
            by_step[name].state = _step_state(counts)
    started = [r["started_at"] for r in rows if r["started_at"]]
    ended = [r["finished_at"] or r["started_at"] for r in rows if r["started_at"]]
    view.tasks = sorted(rows, key=lambda r: (r["started_at"] or 0, r["step"], r["task_id"]))
    if started:
        view.start = min(started)
        view.span = max(max(ended) - view.start, 1)
    return view


def _step_state(counts: Counter[str]) -> str:
    if counts.get("failed"):
        return "failed"
    if counts.get("running"):
        return "running"
    return "completed" if counts else "pending"


def _task_row(task: Node) -> dict[str, Any]:
    p = task.properties
    state = str(p.get("state") or "").lower() or "running"
    return {"id": task.id, "step": p.get("step_name"), "task_id": p.get("task_id"),
            "attempt": p.get("attempt"), "state": state, "pid": p.get("pid"),
            "host": p.get("host"), "started_at": p.get("started_at"),
            "finished_at": p.get("finished_at"),
            "duration_ms": (p["finished_at"] - p["started_at"])
            if p.get("finished_at") and p.get("started_at") else None}


def _layout(graph: list[dict[str, Any]]) -> FlowRunView:
    """Steps in layers by their longest path from start; edges as straight arrows."""
    names = [step["name"] for step in graph]
    layer = dict.fromkeys(names, 0)
    for _ in names:  # longest path by relaxation (a DAG: settles in len(names) rounds)
        for step in graph:
            for target in step.get("next", []):
                if target in layer:
                    layer[target] = max(layer[target], layer[step["name"]] + 1)
    columns: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for step in graph:
        columns[layer[step["name"]]].append(step)
    widest = max((len(c) for c in columns.values()), default=1)
    boxes: dict[str, StepBox] = {}
    for depth, steps in columns.items():
        offset = (widest - len(steps)) * (NODE_WIDTH + GAP_X) // 2
        for i, step in enumerate(steps):
            boxes[step["name"]] = StepBox(
                step["name"], step.get("type", ""), step.get("doc", ""),
                x=10 + offset + i * (NODE_WIDTH + GAP_X), y=10 + depth * (NODE_HEIGHT + GAP_Y))
    edges = [(a.x + NODE_WIDTH // 2, a.y + NODE_HEIGHT, b.x + NODE_WIDTH // 2, b.y)
             for step in graph for a in [boxes[step["name"]]]
             for b in (boxes[t] for t in step.get("next", []) if t in boxes)]
    return FlowRunView(list(boxes.values()), edges, 20 + widest * (NODE_WIDTH + GAP_X),
                       20 + (max(columns, default=0) + 1) * (NODE_HEIGHT + GAP_Y))


def task_view(store: TrackingStore, task_pk: int | str) -> dict[str, Any]:
    """One task: its properties, output values (name, type, size, preview) and logs."""
    task_pk = node_id(task_pk, "task")
    with store.read() as s:
        task_type = s.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
        found = s.nodes_by_ids("execution", [task_pk])
        if not found or found[0].type_id != task_type:
            raise ResourceDoesNotExistError(f"No task with id {task_pk}.")
        task = found[0]
        artifact_ids = list(s.conn.execute(select(events.c.artifact_id).where(
            events.c.execution_id == task_pk, events.c.type == int(EventType.OUTPUT))).scalars())
        card_type = s.find_type_id(TypeKind.ARTIFACT, CARD_TYPE)
        outputs = [a for a in s.nodes_by_ids("artifact", artifact_ids) if a.type_id != card_type]
    values = sorted(({"name": a.properties.get("artifact_name") or a.name,
                      "type": a.properties.get("python_type"), "size": a.properties.get("size"),
                      "preview": a.properties.get("preview"),
                      "rich": _rich(a.custom_properties.get("rich_preview"))} for a in outputs),
                    key=lambda v: str(v["name"]))
    return {"task": _task_row(task), "pathspec": task.name, "values": values,
            "cards": _cards(task),
            "stdout": _log(store, task, "stdout"), "stderr": _log(store, task, "stderr")}


def _cards(task: Node) -> list[dict[str, Any]]:
    """The task's cards (rendered or failed), as recorded on it."""
    return [{"type": c.get("type"), "id": c.get("id"), "hash": c.get("hash"),
             "error": c.get("error"), "size": c.get("size")}
            for c in task.custom_properties.get(CARDS_PROPERTY) or [] if isinstance(c, dict)]


def card_html(store: TrackingStore, task_pk: int | str, card_hash: str) -> bytes:
    """The HTML of the task's card ``card_hash``."""
    task_pk = node_id(task_pk, "task")
    with store.read() as s:
        found = s.nodes_by_ids("execution", [task_pk])
    if not found:
        raise ResourceDoesNotExistError(f"No task with id {task_pk}.")
    for card in found[0].custom_properties.get(CARDS_PROPERTY) or []:
        if isinstance(card, dict) and card.get("hash") == card_hash and card.get("digest"):
            return read_blob(store, card["digest"], f"Card {card_hash} of task {task_pk}")
    raise ResourceDoesNotExistError(f"Task {task_pk} has no card {card_hash!r}.")


def _rich(preview: Any) -> dict[str, Any] | None:
    """A recorded rich preview the page can show: a table, or an image of an allowed
    type."""
    if not isinstance(preview, dict):
        return None
    if preview.get("kind") == "table" and isinstance(preview.get("rows"), list):
        return preview
    if preview.get("kind") == "image" and preview.get("media_type") in IMAGE_MEDIA_TYPES:
        return preview
    return None


def preview_image(store: TrackingStore, task_pk: int | str, name: str) -> tuple[bytes, str]:
    """The image a task recorded as the preview of its value ``name``."""
    for value in task_view(store, task_pk)["values"]:
        rich = value["rich"]
        if value["name"] == name and rich and rich["kind"] == "image":
            data = read_blob(store, rich["digest"], f"The image preview of {name!r} of task "
                                                    f"{task_pk}")
            return data, str(rich["media_type"])
    raise ResourceDoesNotExistError(f"Task {task_pk} recorded no image preview of {name!r}.")


def _log(store: TrackingStore, task: Node, stream: str) -> str:
    """A task's log (kept inline, or as a blob); a damaged blob shows as a note, so the
    rest of the task's page still shows."""
    inline = task.custom_properties.get(stream)
    digest = task.custom_properties.get(f"{stream}_digest")
    if inline is not None:
        text = bytes(inline).decode("utf-8", "replace")
    elif not digest:
        text = ""
    else:
        try:
            text = read_blob(store, digest, f"The {stream} of task {task.id}").decode(
                "utf-8", "replace")
        except DamagedArtifactError as exc:
            text = f"[{exc.message}]"
    return text if len(text) <= LOG_LIMIT else text[-LOG_LIMIT:]
