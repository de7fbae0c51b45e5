"""Metaflow's client objects over the lineage graph: Flow, Run, Step, Task, DataArtifact.

Objects are cheap handles built from a pathspec (``Run('Flow/123')``) or reached
from a parent (``run['train'].task.data.model``). Values load lazily from the blob
store only when ``.data`` is touched. Runs are filtered by the current namespace
(``namespace('user:alice')``; ``namespace(None)`` sees everything).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from .._config import settings
from .._errors import NotFoundError
from ..flow import PARAMETERS_STEP
from ..lineage import SUCCESS_STATES, LineageGraph, Node
from . import _lineage
from ._backend import backend
from ._code import CODE_PROPERTY, MetaflowCode
from ._liveness import effective_status

_UNSET = object()
RUN_PAGE_SIZE = 100  # runs are read page by page, so latest_run stays cheap
_namespace: Any = _UNSET


def default_namespace() -> str:
    """Switch back to (and return) the default namespace, ``user:<you>``."""
    global _namespace
    _namespace = f"user:{settings().user}"
    return _namespace


def namespace(ns: str | None) -> str | None:
    """Set the namespace runs are looked up in; ``None`` means all runs."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    return default_namespace() if _namespace is _UNSET else _namespace


def _time(ms: Any) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)


def _split(pathspec: str, parts: int, what: str) -> list[str]:
    pieces = [p for p in str(pathspec).split("/") if p]
    if len(pieces) != parts:
        example = "/".join(["FlowName", "RUN_ID", "step", "TASK_ID"][:parts])
        raise NotFoundError(f"{what} pathspec {pathspec!r} is malformed; expected {example!r}.")
    return pieces


class MetaflowObject:
    """Common behaviour: identity, pathspec, iteration over children."""


    def __init__(self, pathspec: str) -> None:
        self.pathspec = pathspec
        self.id = pathspec.rsplit("/", 1)[-1]

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.pathspec == other.pathspec  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))


class Metaflow:
    """The root of the store: every flow in it."""

    @property
    def flows(self) -> list[Flow]:
        return [Flow(n.name or "", _node=n) for n in backend().flows()]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None) -> None:
        super().__init__(str(pathspec).strip("/"))
        node = _node or backend().flow(self.pathspec)
        if node is None:
            raise NotFoundError(f"Flow '{self.pathspec}' does not exist in this store "
                                f"({settings().home}); the flows here are: "
                                f"{', '.join(f.id for f in Metaflow()) or 'none'}.")
        self._node = node

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace carrying all ``tags``, newest first."""
        offset = 0
        while True:
            page = backend().runs(self._node.id, RUN_PAGE_SIZE, offset)
            for node in page:
                run = Run(node.name or "", _node=node, _check_namespace=False)
                if run._in_namespace() and all(t in run.tags for t in tags):
                    yield run
            if len(page) < RUN_PAGE_SIZE:
                return
            offset += RUN_PAGE_SIZE

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.pathspec}/{run_id}")

    @property
    def latest_run(self) -> Run | None:
        return next(self.runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)

    @property
    def created_at(self) -> datetime | None:
        return _time(self._node.create_time_since_epoch)


# a task's custom properties that Task.metadata_dict shows besides its properties
_TASK_METADATA_KEYS = ("num_splits", "switch_target", "iteration", "error_type", "resources",
                       "ray_node_id", "ray_worker_pid", "ray_resources", "requirements",
                       "packages")


class Run(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None,
                 _check_namespace: bool = True) -> None:
        flow, run_id = _split(pathspec, 2, "Run")
        super().__init__(f"{flow}/{run_id}")
        node = _node or backend().run(flow, run_id)
        if node is None:
            raise NotFoundError(f"Run '{self.pathspec}' does not exist in this store.")
        self._node = node
        if _check_namespace and not self._in_namespace():
            raise NotFoundError(f"Run '{self.pathspec}' is not in namespace {get_namespace()!r}. "
                                "Call namespace(None) to see runs of every user.")

    def _refresh(self) -> Node:
        node = backend().run(*self.path_components)
        if node is None:
            raise NotFoundError(f"Run '{self.pathspec}' no longer exists in this store.")
        self._node = node
        return node

    def _in_namespace(self) -> bool:
        ns = get_namespace()
        return ns is None or ns in self.tags

    @property
    def flow_name(self) -> str:
        return self.path_components[0]

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset(self._node.properties.get("tags") or [])

    @property
    def system_tags(self) -> frozenset[str]:
        p = self._node.properties
        tags = {f"user:{p.get('user')}", f"python_version:{p.get('python_version')}"}
        if p.get("origin_run_id"):
            tags.add(f"origin_run_id:{p['origin_run_id']}")
        return frozenset(tags)

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    def add_tag(self, tag: str) -> None:
        self.add_tags([tag])

    def add_tags(self, tags: list[str]) -> None:
        backend().set_run_tags(self._node.id, list(self.user_tags | set(tags)))
        self._refresh()

    def remove_tag(self, tag: str) -> None:
        self.remove_tags([tag])

    def remove_tags(self, tags: list[str]) -> None:
        backend().set_run_tags(self._node.id, list(self.user_tags - set(tags)))
        self._refresh()

    @property
    def status(self) -> str:
        """RUNNING, FINISHED, FAILED or KILLED; a run whose scheduler died without saying
        so (killed -9, its host lost) reads FAILED (see ``_liveness``)."""
        node = self._refresh()
        return effective_status(node.properties, node.custom_properties)

    @property
    def created_at(self) -> datetime | None:
        return _time(self._node.properties.get("start_time"))

    @property
    def finished_at(self) -> datetime | None:
        return _time(self._refresh().properties.get("end_time"))

    @property
    def end_task(self) -> Task | None:
        tasks = backend().tasks(self._node, "end")
        return Task(tasks[-1].name or "", _node=tasks[-1]) if tasks else None

    @property
    def finished(self) -> bool:
        end = self.end_task
        return end is not None and end.finished

    @property
    def successful(self) -> bool:
        end = self.end_task
        return end is not None and end.successful

    @property
    def data(self) -> Any:
        end = self.end_task
        return end.data if end is not None else None

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameter values, keyed by the attribute name used in the flow."""
        node = next((t for t in backend().tasks(self._node, PARAMETERS_STEP)), None)
        if node is None:
            return {}
        task = Task(node.name or "", _node=node)
        return {a.id: a.data for a in task}

    @property
    def origin_run_id(self) -> str | None:
        return self._node.properties.get("origin_run_id")

    @property
    def code(self) -> MetaflowCode | None:
        """The code package the run ran (the flow file and the Python files beside it
        that it imported), or None for a flow that was not defined in a file."""
        info = self._node.custom_properties.get(CODE_PROPERTY)
        if not info:
            return None
        return MetaflowCode(self.pathspec, info, backend().load_bytes)

    def lineage(self, upstream: bool | None = True, depth: int = 10) -> LineageGraph:
        """The lineage graph around this run's tasks: ``upstream=True`` walks to what
        they were made from (across runs and flows), ``False`` to what used their
        results, ``None`` both ways; ``depth`` counts events crossed."""
        task_ids = [_lineage.lineage_execution_id(t) for t in backend().tasks(self._node)]
        return _lineage.subgraph([], task_ids, upstream, depth)

    def steps(self) -> Iterator[Step]:
        """Steps that ran, most recent first (like Metaflow)."""
        first_seen: dict[str, int] = {}
        for task in backend().tasks(self._node):
            step = str(task.properties.get("step_name"))
            if step != PARAMETERS_STEP:
                first_seen.setdefault(step, task.id)
        for step in sorted(first_seen, key=first_seen.__getitem__, reverse=True):
            yield Step(f"{self.pathspec}/{step}", _run=self)

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if not backend().tasks(self._node, step):
            raise NotFoundError(f"Run '{self.pathspec}' has no step '{step}' (no task of it ran).")
        return Step(f"{self.pathspec}/{step}", _run=self)

    def __contains__(self, step: object) -> bool:
        return bool(backend().tasks(self._node, str(step)))


class Step(MetaflowObject):

    def __init__(self, pathspec: str, _run: Run | None = None) -> None:
        flow, run_id, step = _split(pathspec, 3, "Step")
        super().__init__(f"{flow}/{run_id}/{step}")
        self._run = _run or Run(f"{flow}/{run_id}")

    def tasks(self) -> Iterator[Task]:
        for node in backend().tasks(self._run._node, self.id):
            yield Task(node.name or "", _node=node)

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}")

    @property
    def task(self) -> Task | None:
        return next(self.tasks(), None)

    @property
    def created_at(self) -> datetime | None:
        task = self.task
        return task.created_at if task else None

    @property
    def finished_at(self) -> datetime | None:
        times = [t.finished_at for t in self.tasks()]
        return None if not times or None in times else max(t for t in times if t)


class Task(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None) -> None:
        _split(pathspec, 4, "Task")
        super().__init__(str(pathspec).strip("/"))
        node = _node
        if node is None:
            Run("/".join(self.path_components[:2]))  # raises if outside the namespace
            node = backend().task(self.pathspec)
        if node is None:
            raise NotFoundError(f"Task '{self.pathspec}' does not exist in this store.")
        self._node = node

    def _refresh(self) -> Node:
        node = backend().task(self.pathspec)
        if node is None:
            raise NotFoundError(f"Task '{self.pathspec}' no longer exists in this store.")
        self._node = node
        return node

    @property
    def step_name(self) -> str:
        return self.path_components[2]

    def _artifact_nodes(self) -> dict[str, Node]:
        ids = self._refresh().custom_properties.get("artifacts") or {}
        by_id = {n.id: n for n in backend().artifacts(list(ids.values()))}
        return {name: by_id[i] for name, i in ids.items() if i in by_id}

    @property
    def artifacts(self) -> list[DataArtifact]:
        return list(self)

    def __iter__(self) -> Iterator[DataArtifact]:
        for name, node in sorted(self._artifact_nodes().items()):
            yield DataArtifact(f"{self.pathspec}/{name}", _node=node)

    def __getitem__(self, name: str) -> DataArtifact:
        node = self._artifact_nodes().get(name)
        if node is None:
            raise NotFoundError(f"Task '{self.pathspec}' has no artifact '{name}'.")
        return DataArtifact(f"{self.pathspec}/{name}", _node=node)

    def __contains__(self, name: object) -> bool:
        return name in self._artifact_nodes()

    @property
    def data(self) -> MetaflowData:
        return MetaflowData(self)

    @property
    def finished(self) -> bool:
        return self._refresh().properties.get("state") in ("completed", "failed")

    @property
    def successful(self) -> bool:
        return self._refresh().state in SUCCESS_STATES

    @property
    def state(self) -> str:
        return str(self._refresh().properties.get("state"))

    @property
    def created_at(self) -> datetime | None:
        return _time(self._node.properties.get("started_at") or self._node.create_time_since_epoch)

    @property
    def finished_at(self) -> datetime | None:
        return _time(self._refresh().properties.get("finished_at"))

    @property
    def current_attempt(self) -> int:
        return int(self._node.properties.get("attempt") or 0)

    @property
    def index(self) -> int | None:
        frames = self._node.custom_properties.get("frames") or []
        foreach = [f for f in frames if f[0] == "foreach"]
        return int(foreach[-1][2]) if foreach else None

    @property
    def origin_pathspec(self) -> str | None:
        return self._node.properties.get("origin_task")

    @property
    def parent_task_pathspecs(self) -> list[str]:
        run = "/".join(self.path_components[:2])
        parents = self._node.custom_properties.get("parents") or []
        return [t.pathspec for t in self._find_tasks(run, parents)]

    def _find_tasks(self, run: str, task_ids: list[str]) -> list[Task]:
        run_obj = Run(run, _check_namespace=False)
        return [t for t in (Task(n.name or "", _node=n) for n in backend().tasks(run_obj._node))
                if t.id in task_ids]

    @property
    def lineage_id(self) -> int:
        """The id of the execution describing this task in the lineage graph (for a task
        reused by a resumed run, the original task's), for ``MetadataStore`` calls."""
        return _lineage.lineage_execution_id(self._node)

    @property
    def inputs(self) -> list[DataArtifact]:
        """The artifacts this task really read (its own run's, or other runs' through
        the client), not those it merely inherited."""
        return _lineage.task_inputs(self._node)

    @property
    def outputs(self) -> list[DataArtifact]:
        """The artifacts this task wrote."""
        return _lineage.task_outputs(self._node)

    def lineage(self, upstream: bool | None = True, depth: int = 10) -> LineageGraph:
        """The lineage graph around this task (see ``Run.lineage``)."""
        return _lineage.subgraph([], [_lineage.lineage_execution_id(self._node)], upstream,
                                 depth)

    @property
    def metadata_dict(self) -> dict[str, Any]:
        node = self._refresh()
        meta = {k: v for k, v in node.properties.items() if v is not None}
        meta.update({k: v for k, v in node.custom_properties.items()
                     if k in _TASK_METADATA_KEYS})
        return meta

    def _log(self, stream: str) -> str:
        node = self._refresh()
        inline = node.custom_properties.get(stream)
        if inline is not None:
            return bytes(inline).decode("utf-8", "replace")
        digest = node.custom_properties.get(f"{stream}_digest")
        return backend().load_bytes(digest).decode("utf-8", "replace") if digest else ""

    @property
    def stdout(self) -> str:
        return self._log("stdout")

    @property
    def stderr(self) -> str:
        return self._log("stderr")

    @property
    def exception(self) -> TaskException | None:
        """The error that failed (or was caught in) this task; None if there was none."""
        custom = self._refresh().custom_properties
        if not custom.get("error_type"):
            return None
        return TaskException(custom["error_type"], custom.get("error_message", ""),
                             custom.get("error_traceback", ""))


class TaskException:
    """A task's failure: ``type``, ``message`` and the remote ``traceback``."""

    def __init__(self, type: str, message: str, traceback: str) -> None:
        self.type, self.message, self.traceback = type, message, traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def __repr__(self) -> str:
        return f"TaskException({self.type!r}, {self.message!r})"


class DataArtifact(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None) -> None:
        _split(pathspec, 5, "DataArtifact")
        super().__init__(pathspec)
        if _node is None:
            task = Task(pathspec.rsplit("/", 1)[0])
            _node = task._artifact_nodes().get(self.id)
            if _node is None:
                raise NotFoundError(f"Task '{task.pathspec}' has no artifact '{self.id}'.")
        self._node: Node = _node

    @property
    def data(self) -> Any:
        return backend().load_value(self._node)

    @property
    def sha(self) -> str:
        return str(self._node.properties["digest"])

    @property
    def size(self) -> int:
        return int(self._node.properties["size"])

    @property
    def type(self) -> str:
        return str(self._node.properties.get("python_type"))

    @property
    def preview(self) -> str:
        return str(self._node.properties.get("preview", ""))

    @property
    def created_at(self) -> datetime | None:
        return _time(self._node.create_time_since_epoch)

    @property
    def producer_pathspec(self) -> str:
        return (self._node.name or "").rsplit("/", 1)[0]

    @property
    def lineage_id(self) -> int:
        """The id of this value's artifact in the lineage graph (``MetadataStore``)."""
        return self._node.id

    @property
    def producer(self) -> Task | None:
        """The task that wrote this value (for a reused task, the original one)."""
        return _lineage.producer(self._node)

    @property
    def consumers(self) -> list[Task]:
        """The tasks that read this value, in any run of any flow."""
        return _lineage.consumers(self._node)

    def lineage(self, upstream: bool | None = True, depth: int = 10) -> LineageGraph:
        """The lineage graph around this value (see ``Run.lineage``)."""
        return _lineage.subgraph([self._node.id], [], upstream, depth)


class MetaflowData:
    """``task.data``: artifacts as attributes (``task.data.x``)."""

    def __init__(self, task: Task) -> None:
        object.__setattr__(self, "_task", task)
        object.__setattr__(self, "_nodes", task._artifact_nodes())

    def __getattr__(self, name: str) -> Any:
        node = self._nodes.get(name)
        if node is None:
            raise AttributeError(f"Task '{self._task.pathspec}' has no artifact '{name}'; it has "
                                 f"{', '.join(sorted(self._nodes)) or 'none'}.")
        return backend().load_value(node)

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __dir__(self) -> list[str]:
        return sorted(self._nodes)

    def __repr__(self) -> str:
        return f"<data of {self._task.pathspec}: {', '.join(sorted(self._nodes))}>"
