"""Metaflow's client objects over the lineage graph: Flow, Run, Step, Task, DataArtifact.

Objects are cheap handles built from a pathspec (``Run('Flow/123')``) or reached
from a parent (``run['train'].task.data.model``); ``.parent`` goes back up. Values load
lazily from the blob store only when ``.data`` is touched. Runs are filtered by the
current namespace (``namespace('user:alice')``; ``namespace(None)`` sees everything);
as in Metaflow, ``_namespace_check=False`` skips that for one object and what is
reached from it, a flow is in a namespace when one of its runs is, and steps, tasks
and artifacts carry their run's tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, NamedTuple

from .._config import settings
from .._errors import NotFoundError
from ..flow import PARAMETERS_STEP, current
from ..lineage import SUCCESS_STATES, LineageGraph, Node
from . import _dag, _lineage, _tags
from ._backend import backend
from ._code import CODE_PROPERTY, MetaflowCode
from ._data import MetaflowData, TaskException
from ._liveness import effective_status
from ._task_records import (
    CONTROL_TASK_TYPE,
    NOT_METADATA_PROPERTIES,
    TASK_METADATA_KEYS,
    attempt_numbers,
    line_times,
    own_record,
)

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


def _outside(what: str, pathspec: str) -> NotFoundError:
    return NotFoundError(f"{what} '{pathspec}' is not in namespace {get_namespace()!r}. "
                         "Call namespace(None) to see runs of every user.")


class MetaflowObject:
    """Common behaviour: identity, pathspec, parent, tags, namespace membership."""

    _namespace_check = True  # whether this object, and what is reached from it, checks

    def __init__(self, pathspec: str) -> None:
        self.pathspec = pathspec
        self.id = pathspec.rsplit("/", 1)[-1]

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def parent(self) -> MetaflowObject | None:
        """The object this one belongs to (a Run's Flow, a Step's Run...); None for a Flow."""
        raise NotImplementedError

    @property
    def user_tags(self) -> frozenset[str]:
        raise NotImplementedError

    @property
    def system_tags(self) -> frozenset[str]:
        raise NotImplementedError

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags: those of the run the object belongs to."""
        return self.user_tags | self.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        """For an object of a resumed run, the same object in the run it resumed (for a
        task, the task it was cloned from; None for a task that ran again)."""
        raise NotImplementedError

    def is_in_namespace(self) -> bool:
        """Whether the current namespace includes this object (always, with none)."""
        ns = get_namespace()
        return ns is None or ns in self.tags

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
        """The flows with a run in the current namespace."""
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        for node in backend().flows():
            try:
                yield Flow(node.name or "", _node=node)
            except NotFoundError:  # no run in the namespace
                continue

    def __getitem__(self, name: str) -> Flow:
        return Flow(name)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None,
                 _namespace_check: bool = True) -> None:
        super().__init__(str(pathspec).strip("/"))
        node = _node or backend().flow(self.pathspec)
        if node is None:
            names = ", ".join(n.name or "" for n in backend().flows())
            raise NotFoundError(f"Flow '{self.pathspec}' does not exist in this store "
                                f"({settings().home}); the flows here are: "
                                f"{names or 'none'}.")
        self._node = node
        self._namespace_check = _namespace_check and get_namespace() is not None
        if self._namespace_check and not self.is_in_namespace():
            raise NotFoundError(f"Flow '{self.pathspec}' has no runs in namespace "
                                f"{get_namespace()!r}. Call namespace(None) to see runs "
                                "of every user.")

    def _all_runs(self) -> Iterator[Run]:
        offset = 0
        while True:
            page = backend().runs(self._node.id, RUN_PAGE_SIZE, offset)
            for node in page:
                run = Run(node.name or "", _node=node, _namespace_check=False)
                run._namespace_check = self._namespace_check  # handed on to its children
                yield run
            if len(page) < RUN_PAGE_SIZE:
                return
            offset += RUN_PAGE_SIZE

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace (every run for a flow made with
        ``_namespace_check=False``) carrying all ``tags``, newest first."""
        ns = get_namespace() if self._namespace_check else None
        for run in self._all_runs():
            if (ns is None or ns in run.tags) and all(t in run.tags for t in tags):
                yield run

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.pathspec}/{run_id}", _namespace_check=self._namespace_check)

    def is_in_namespace(self) -> bool:
        """Whether one of its runs is in the current namespace."""
        ns = get_namespace()
        return ns is None or any(ns in run.tags for run in self._all_runs())

    @property
    def parent(self) -> None:
        return None

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset()  # a flow has no tags of its own, as in Metaflow

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset()

    @property
    def origin_pathspec(self) -> None:
        return None

    @property
    def latest_run(self) -> Run | None:
        return next(self.runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)

    @property
    def created_at(self) -> datetime | None:
        return _time(self._node.create_time_since_epoch)




def _user_tags(run: Node) -> frozenset[str]:
    return frozenset(run.properties.get("tags") or [])


def _system_tags(run: Node) -> frozenset[str]:
    return _tags.system_tags(run.properties, run.custom_properties)


class Run(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None,
                 _namespace_check: bool = True) -> None:
        flow, run_id = _split(pathspec, 2, "Run")
        super().__init__(f"{flow}/{run_id}")
        node = _node or backend().run(flow, run_id)
        if node is None:
            raise NotFoundError(f"Run '{self.pathspec}' does not exist in this store.")
        self._node = node
        self._namespace_check = _namespace_check and get_namespace() is not None
        if self._namespace_check and not self.is_in_namespace():
            raise _outside("Run", self.pathspec)

    def _refresh(self) -> Node:
        node = backend().run(*self.path_components)
        if node is None:
            raise NotFoundError(f"Run '{self.pathspec}' no longer exists in this store.")
        self._node = node
        return node

    @property
    def flow_name(self) -> str:
        return self.path_components[0]

    @property
    def parent(self) -> Flow:
        return Flow(self.flow_name, _namespace_check=False)

    @property
    def user_tags(self) -> frozenset[str]:
        return _user_tags(self._node)

    @property
    def system_tags(self) -> frozenset[str]:
        return _system_tags(self._node)

    def add_tag(self, tag: str | Iterable[str]) -> None:
        """Add a tag (or, as in Metaflow, an iterable of tags); see ``replace_tags``."""
        self.replace_tags([], _tags.one_or_many(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        self.replace_tags([], tags)

    def remove_tag(self, tag: str | Iterable[str]) -> None:
        self.replace_tags(_tags.one_or_many(tag), [])

    def remove_tags(self, tags: Iterable[str]) -> None:
        self.replace_tags(tags, [])

    def replace_tag(self, tag_to_remove: str | Iterable[str],
                    tag_to_add: str | Iterable[str]) -> None:
        self.replace_tags(_tags.one_or_many(tag_to_remove), _tags.one_or_many(tag_to_add))

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove, then add user tags, in one transaction; the rules (and
        ``TaggingError``) are Metaflow's, see ``_tags``."""
        remove, add = _tags.check_change(tags_to_remove, tags_to_add)
        tags = backend().update_run_tags(self._node.id, lambda node: _tags.next_user_tags(
            _user_tags(node), _system_tags(node), remove, add))
        # this object shows the tags its own change left (as Metaflow's does), not
        # those of changes other processes make meanwhile
        node = self._refresh()
        self._node = replace(node, properties={**node.properties, "tags": tags})

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
        return Task(tasks[-1].name or "", _node=tasks[-1], _run=self) if tasks else None

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
        task = Task(node.name or "", _node=node, _run=self)
        constants = set(node.custom_properties.get("constants") or ())  # stored beside them
        return {a.id: a.data for a in task if a.id not in constants}

    @property
    def origin_run_id(self) -> str | None:
        return self._node.properties.get("origin_run_id")

    @property
    def origin_pathspec(self) -> str | None:
        origin = self.origin_run_id
        return f"{self.flow_name}/{origin}" if origin else None

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

    def steps(self, *tags: str) -> Iterator[Step]:
        """Steps that ran, most recent first (like Metaflow), carrying all ``tags``
        (a step carries its run's tags)."""
        first_seen: dict[str, int] = {}
        for task in backend().tasks(self._node):
            step = str(task.properties.get("step_name"))
            if step != PARAMETERS_STEP:
                first_seen.setdefault(step, task.id)
        for step in sorted(first_seen, key=first_seen.__getitem__, reverse=True):
            found = Step(f"{self.pathspec}/{step}", _run=self)
            if all(t in found.tags for t in tags):
                yield found

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if not backend().tasks(self._node, step):
            raise NotFoundError(f"Run '{self.pathspec}' has no step '{step}' (no task of it ran).")
        return Step(f"{self.pathspec}/{step}", _run=self)

    def __contains__(self, step: object) -> bool:
        return bool(backend().tasks(self._node, str(step)))


class Step(MetaflowObject):

    def __init__(self, pathspec: str, _run: Run | None = None,
                 _namespace_check: bool = True) -> None:
        flow, run_id, step = _split(pathspec, 3, "Step")
        super().__init__(f"{flow}/{run_id}/{step}")
        if _run is None:
            _run = Run(f"{flow}/{run_id}", _namespace_check=_namespace_check)
            if step not in _run:
                raise NotFoundError(f"Run '{_run.pathspec}' has no step '{step}' (no task "
                                    "of it ran).")
        self._run = _run
        self._namespace_check = _run._namespace_check

    @property
    def parent(self) -> Run:
        return self._run

    @property
    def user_tags(self) -> frozenset[str]:
        return self._run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self._run.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        run = self._run.origin_pathspec
        return f"{run}/{self.id}" if run else None

    def tasks(self, *tags: str) -> Iterator[Task]:
        """Its tasks in the order they started, carrying all ``tags`` (a task carries
        its run's tags)."""
        if not all(t in self.tags for t in tags):
            return
        for node in backend().tasks(self._run._node, self.id):
            yield Task(node.name or "", _node=node, _run=self._run)

    def control_tasks(self, *tags: str) -> Iterator[Task]:
        """The control tasks of a ``@parallel`` step (node 0 of each gang: the task
        whose metadata ``internal_task_type`` is ``control``), carrying all ``tags``."""
        for task in self.tasks(*tags):
            if task._node.custom_properties.get("internal_task_type") == CONTROL_TASK_TYPE:
                yield task

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}", _run=self._run)

    def _steps(self, names: list[str]) -> Iterator[Step]:
        for name in names:
            if name in self._run:  # a branch a switch did not take, steps after a failure
                yield Step(f"{self._run.pathspec}/{name}", _run=self._run)

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps before this one in the flow's graph (that ran), in the graph's order."""
        return self._steps(_dag.parent_steps(self._run._node, self.id))

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps after this one in the flow's graph (that ran), in the order it names
        them in ``self.next``."""
        return self._steps(_dag.child_steps(self._run._node, self.id))

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


class Metadata(NamedTuple):
    """One recorded fact about a task (Metaflow's ``Metadata``): ``created_at`` is when
    it was recorded, in ms since the epoch; ``type`` is the name again."""

    name: str
    value: Any
    created_at: int
    type: str
    task: Task


class Task(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None,
                 _namespace_check: bool = True, _run: Run | None = None) -> None:
        _split(pathspec, 4, "Task")
        super().__init__(str(pathspec).strip("/"))
        self._run_object = _run
        node = _node
        if node is None:
            if _run is None:  # raises if the run is outside the namespace
                self._run_object = Run("/".join(self.path_components[:2]),
                                       _namespace_check=_namespace_check)
            node = backend().task(self.pathspec)
            if node is None and self.pathspec == current.pathspec:
                node = own_record(self.pathspec)
        if node is None:
            raise NotFoundError(f"Task '{self.pathspec}' does not exist in this store.")
        self._node = node
        self._namespace_check = (_run._namespace_check if _run is not None
                                 else _namespace_check and get_namespace() is not None)

    def _parent_run(self) -> Run:
        if self._run_object is None:
            self._run_object = Run("/".join(self.path_components[:2]), _namespace_check=False)
        return self._run_object

    @property
    def parent(self) -> Step:
        return Step("/".join(self.path_components[:3]), _run=self._parent_run())

    @property
    def user_tags(self) -> frozenset[str]:
        return self._parent_run().user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self._parent_run().system_tags

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
            yield DataArtifact(f"{self.pathspec}/{name}", _node=node, _task=self)

    def __getitem__(self, name: str) -> DataArtifact:
        node = self._artifact_nodes().get(name)
        if node is None:
            raise NotFoundError(f"Task '{self.pathspec}' has no artifact '{name}'.")
        return DataArtifact(f"{self.pathspec}/{name}", _node=node, _task=self)

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

    def _tasks(self, nodes: list[Node]) -> Iterator[Task]:
        for node in nodes:  # not checked against the namespace, as in Metaflow
            yield Task(node.name or "", _node=node, _run=self._parent_run())

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks this one followed (several for a join), in the order it got them."""
        return self._tasks(_dag.parent_tasks(self._parent_run()._node, self._node))

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that followed this one, step by step in the order ``self.next``
        names the steps, then in the order they started."""
        return self._tasks(_dag.child_tasks(self._parent_run()._node, self._node))

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        return (task.pathspec for task in self.parent_tasks)

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        return (task.pathspec for task in self.child_tasks)

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
    def metadata(self) -> list[Metadata]:
        """What was recorded about the task, one ``Metadata`` per name: its properties
        (values keep their types) and, where they apply, the keys of
        ``TASK_METADATA_KEYS``."""
        node = self._refresh()
        # (a clone's origin is given under Metaflow's names, origin-run-id/-task-id)
        meta = {k: v for k, v in node.properties.items()
                if v is not None and k not in NOT_METADATA_PROPERTIES}
        meta.update({k: v for k, v in node.custom_properties.items()
                     if k in TASK_METADATA_KEYS})
        meta.update(self._metaflow_origin(node))
        run_python = self._parent_run()._node.properties.get("python_version")
        if run_python:  # Metaflow records the interpreter's version on every task
            meta.setdefault("python_version", run_python)
        when = node.last_update_time_since_epoch
        found = [Metadata(name, value, when, name, self) for name, value in meta.items()]
        # one "attempt" entry per attempt, its number as a string (as Metaflow records
        # them); the last is the final attempt, so metadata_dict shows that one
        found += [Metadata("attempt", str(n), when, "attempt", self)
                  for n in attempt_numbers(node)]
        return found

    def _metaflow_origin(self, node: Node) -> dict[str, str]:
        """Metaflow's resume records under its names: every task has ``origin-run-id``
        (the run its run resumed, the string ``'None'`` for a fresh run, as Metaflow
        writes it); a task cloned from the origin also has ``origin-task-id``."""
        origin_task = node.properties.get("origin_task")
        if origin_task:
            return {"origin-run-id": str(node.properties.get("origin_run_id")),
                    "origin-task-id": str(origin_task).rsplit("/", 1)[-1]}
        run = self.parent.parent if self.parent is not None else None
        return {"origin-run-id": str(getattr(run, "origin_run_id", None))}

    @property
    def metadata_dict(self) -> dict[str, Any]:
        """``{name: value}`` of ``metadata``, the newest value of each name."""
        return {m.name: m.value for m in sorted(self.metadata, key=lambda m: m.created_at)}

    def _log(self, stream: str) -> bytes:
        node = self._refresh()
        inline = node.custom_properties.get(stream)
        if inline is not None:
            return bytes(inline)
        digest = node.custom_properties.get(f"{stream}_digest")
        return backend().load_bytes(digest) if digest else b""

    @property
    def stdout(self) -> str:
        return self._log("stdout").decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self._log("stderr").decode("utf-8", "replace")

    def loglines(self, stream: str, as_unicode: bool = True
                 ) -> Iterator[tuple[datetime | None, Any]]:
        """``(time, line)`` for each line of ``stream`` (``'stdout'`` or ``'stderr'``),
        without its newline; bytes with ``as_unicode=False``. The time is when the
        runtime read the line from the task (lines read together share it); a last line
        without a newline, and the lines of runs recorded before flowtrack kept these
        times, carry the task's finish time."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        lines = self._log(stream).split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        times = self._refresh().custom_properties.get(f"{stream}_times") or []
        stamps = line_times(times, len(lines), self.finished_at or self.created_at)
        for when, line in zip(stamps, lines):
            yield when, line.decode("utf-8", "replace") if as_unicode else line

    @property
    def exception(self) -> TaskException | None:
        """The error that failed (or was caught in) this task; None if there was none."""
        custom = self._refresh().custom_properties
        # a failure @catch handled is in the catch variable, not the task (as Metaflow)
        if not custom.get("error_type") or custom.get("caught_exception"):
            return None
        return TaskException(custom["error_type"], custom.get("error_message", ""),
                             custom.get("error_traceback", ""))


class DataArtifact(MetaflowObject):

    def __init__(self, pathspec: str, _node: Node | None = None,
                 _namespace_check: bool = True, _task: Task | None = None) -> None:
        _split(pathspec, 5, "DataArtifact")
        super().__init__(pathspec)
        self._task = _task
        if _node is None:
            task = self._task = Task(pathspec.rsplit("/", 1)[0],
                                     _namespace_check=_namespace_check)
            _node = task._artifact_nodes().get(self.id)
            if _node is None:
                raise NotFoundError(f"Task '{task.pathspec}' has no artifact '{self.id}'.")
        self._node: Node = _node
        self._namespace_check = _namespace_check and get_namespace() is not None

    @property
    def parent(self) -> Task:
        if self._task is None:
            self._task = Task(self.pathspec.rsplit("/", 1)[0], _namespace_check=False)
        return self._task

    @property
    def user_tags(self) -> frozenset[str]:
        return self.parent.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.parent.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        task = self.parent.origin_pathspec
        return f"{task}/{self.id}" if task else None

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
