"""The task entry point: run one attempt of one step and return its manifest.

Every executor calls ``run_task`` (the local executor in a forked child, Ray in a
worker). It attaches lazy artifact sources to a fresh flow instance, runs the step
under its timeout, checks the transition against the graph, persists every value
assigned to ``self`` into the blob store, and reports outputs, the artifacts really
read, and the transition taken. It never touches the metadata database. It also
names the failures that are not an exception of the step (a timeout, a crash...), for
the records of both the task and the scheduler.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from .._errors import ArtifactError, StepError
from .._util import (
    artifact_read_observers,
    now_ms,
    set_task_tracking_sink,
    short_repr,
    type_name,
)
from ..cards import CardComponentCollector, RenderedCard, TaskView, card_graph, render_task_cards
from ..client import Run, Task
from ..client._data import TaskException, exception_type
from ..flow import UNCATCHABLE_TYPES, ArtifactSource, FlowSpec, Inputs, StepNode, current
from ..flow._unbounded import UBF_CONTROL, is_unbounded
from ..store import BlobStore, EncodeError
from ._model import ArtifactRef, ErrorInfo, Frame, Manifest, OutputRecord, TaskSpec
from ._previews import rich_preview
from ._pypi import resolved_versions
from ._secrets import apply_secrets
from ._step_hooks import (
    exception_handled,
    make_default_transition,
    run_control_task,
    run_finished_hooks,
    run_flow_inits,
    run_step_body,
)
from ._tracking_sink import TaskTrackingSink

# -- failures and their recorded types ----------------------------------------------
# A failure is recorded (``task.exception``, the @catch variable) as Metaflow records
# it: the exception's class as ``module.Name`` (``exception_type``). Failures that are
# not an exception raised in the step have these classes, named as Metaflow's where
# Metaflow has one, so a check ported from Metaflow (``ex.type.endswith(...)``) holds.


class TimeoutException(Exception):
    """Raised inside a step that ran past its @timeout (Metaflow's name); also the
    type recorded for an attempt killed because it overran its @timeout."""

    RECORDED_TYPE = "metaflow.plugins.timeout_decorator.TimeoutException"


class FailureHandledByCatch(Exception):
    """What @catch stores when every attempt's process died without reporting (a
    crash, ``os._exit``, a signal); see ``caught_crash``."""

    RECORDED_TYPE = "metaflow.plugins.catch_decorator.FailureHandledByCatch"


class TaskCrashed(Exception):
    """Recorded for a task whose process ended without reporting a result."""


class TaskKilled(Exception):
    """Recorded for a task whose process flowtrack stopped (the run was stopped)."""


class TaskAbandoned(Exception):
    """Recorded for a task whose retry never ran because the run stopped."""


class SchedulerFailed(Exception):
    """Recorded for the tasks running when the run's scheduler failed."""


class SchedulerDied(Exception):
    """Recorded for the tasks left running by a scheduler that died without a word
    (kill -9, a lost machine), once the next scheduler on the store notices."""


def failure(cls: type[BaseException], message: str) -> ErrorInfo:
    """The record of a failure that has no exception (and so no traceback)."""
    return ErrorInfo(exception_type(cls), message)


def caught_crash(attempts: int, last: ErrorInfo) -> ErrorInfo:
    """What @catch stores after ``attempts`` attempts whose process died: an attempt
    killed for its @timeout stays a TimeoutException (Metaflow raises that in the
    step); anything else is FailureHandledByCatch, in Metaflow's words and then what
    flowtrack saw of the last attempt."""
    if last.type == exception_type(TimeoutException):
        return last
    seen = last.message[:1].lower() + last.message[1:]
    return failure(FailureHandledByCatch,
                   f"Task execution kept failing over {attempts} attempts. Your code did not "
                   "raise an exception. Something in the execution environment caused the "
                   f"failure ({seen.rstrip('.')}).")


# earlier name of what @catch stores; also read back from artifacts stored under it
CaughtException = TaskException


class TaskSource(ArtifactSource):
    """Lazy, read-recording access to a namespace of artifact references."""

    def __init__(self, step_name: str, namespace: dict[str, ArtifactRef],
                 parameters: dict[str, ArtifactRef], frames: tuple[Frame, ...],
                 store: BlobStore, reads: set[int], cache: dict[str, Any]) -> None:
        self.step_name = step_name
        self._namespace = namespace
        self._parameters = parameters
        self._frames = frames
        self._store = store
        self._reads = reads
        self._cache = cache  # shared by all sources of a task, keyed by digest

    def names(self) -> Iterable[str]:
        return [n for n in self._namespace if not n.startswith("_")]

    def _load_ref(self, ref: ArtifactRef) -> Any:
        if ref.id is not None:
            self._reads.add(ref.id)
        if ref.digest not in self._cache:
            self._cache[ref.digest] = self._store.get_value(ref.blob)
        return self._cache[ref.digest]

    def load(self, name: str) -> Any:
        return self._load_ref(self._namespace[name])

    def digest(self, name: str) -> str | None:
        ref = self._namespace.get(name)
        return ref.digest if ref else None

    def parameter(self, name: str) -> Any:
        return self._load_ref(self._parameters[name])

    def foreach_input(self) -> Any:
        frame = self._innermost_foreach()
        return None if frame is None else self._item(frame)

    def foreach_index(self) -> int | None:
        frame = self._innermost_foreach()
        return None if frame is None else frame.index

    def foreach_frames(self) -> list[tuple[int | None, int | None, Any]]:
        # an unbounded foreach's size is not shown to steps (Metaflow shows None)
        return [(f.index, None if f.unbounded else f.num_splits, self._item(f))
                for f in self._frames if f.kind == "foreach"]

    def _innermost_foreach(self) -> Frame | None:
        return next((f for f in reversed(self._frames) if f.kind == "foreach"), None)

    def _item(self, frame: Frame) -> Any:
        if frame.items is None:  # a @parallel gang: the input is the node index (as Metaflow)
            return frame.index
        if frame.index is None:  # an unbounded foreach's control task: the whole input
            return self._load_ref(frame.items)
        return foreach_item(self._load_ref(frame.items), frame.index)


def foreach_item(items: Any, index: int) -> Any:
    try:
        return items[index]
    except (TypeError, KeyError):
        return list(items)[index]


_previous_alarm_handler: Any = None


def _arm_timeout(seconds: float | None, step_name: str) -> None:
    """Raise TimeoutException in the step after ``seconds`` (main thread only; the
    executor's own deadline kills the process otherwise)."""
    global _previous_alarm_handler
    if not seconds or threading.current_thread() is not threading.main_thread():
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise TimeoutException(f"Step '{step_name}' timed out: it exceeded its @timeout of "
                               f"{seconds:g} s.")

    _previous_alarm_handler = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm_timeout() -> None:
    global _previous_alarm_handler
    if _previous_alarm_handler is None:
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, _previous_alarm_handler)
    _previous_alarm_handler = None


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_traceback(exc: BaseException) -> str:
    """The traceback without flowtrack's own frames, so it starts in the user's step."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _error_info(exc: BaseException) -> ErrorInfo:
    return ErrorInfo(type=exception_type(type(exc)), message=str(exc),
                     traceback=_user_traceback(exc))


def run_task(spec: TaskSpec, flow_cls: type[FlowSpec], store: BlobStore) -> Manifest:
    """Run one attempt of ``spec`` and return its manifest (never raises).

    The process's environment, ``current`` and alarm handler are restored afterwards,
    so an executor may run many tasks in one worker process.
    """
    saved_env = dict(os.environ)
    reads: set[int] = set()
    artifact_read_observers.append(reads.add)  # values read through the client
    sink = TaskTrackingSink(spec.tracking_run_id, store)
    set_task_tracking_sink(sink)  # flowtrack.log_metric & co. in the step
    try:
        try:
            manifest = _run_task(spec, flow_cls, store)
        except Exception as exc:  # noqa: BLE001 - a fault of flowtrack's, not the step's
            # still a manifest, so what the step logged (metric points...) is recorded
            sys.stderr.write(_user_traceback(exc))
            manifest = Manifest(ok=False, started_ms=now_ms(), error=_error_info(exc))
            manifest.finished_ms = now_ms()
        manifest.reads |= reads
        manifest.tracking = sink.logged or None
        if spec.python_env is not None:
            manifest.packages = resolved_versions(spec.python_env)
        return manifest
    finally:
        set_task_tracking_sink(None)
        artifact_read_observers.remove(reads.add)
        _disarm_timeout()
        current._clear()
        os.environ.clear()
        os.environ.update(saved_env)


def _run_task(spec: TaskSpec, flow_cls: type[FlowSpec], store: BlobStore) -> Manifest:
    manifest = Manifest(ok=False, started_ms=now_ms())
    node = flow_cls._graph[spec.step]
    current._set(flow_name=spec.flow_name, run_id=spec.run_id, step_name=spec.step,
                 task_id=spec.task_id, retry_count=spec.attempt, origin_run_id=spec.origin_run_id,
                 namespace=f"user:{spec.user}", username=spec.user, tags=set(spec.tags),
                 parameter_names=sorted(spec.parameters), project=spec.project,
                 parallel=spec.parallel, objects=_client_objects)
    os.environ.update(spec.env)
    # after the step's environment: @environment may set FLOWTRACK_CARD_NO_WARNING
    current._set_cards(CardComponentCollector(spec.cards))
    cache: dict[str, Any] = {}
    flow = flow_cls(use_cli=False)
    flow._current_step = spec.step
    flow._source = TaskSource(spec.step, spec.namespace, spec.parameters, spec.frames, store,
                              manifest.reads, cache)
    try:
        if spec.fallback_error is not None:
            raise _Fallback(spec.fallback_error)
        if spec.secrets:
            apply_secrets(spec.secrets)  # in the task only: the values are never recorded
        run_flow_inits(flow, spec)
        if spec.ubf_context == UBF_CONTROL:
            manifest.num_splits = run_control_task(flow, node, spec)
        else:
            _run_step(flow, node, spec, manifest, store, cache)
            _decide_transition(flow, node, spec, manifest)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes the manifest's error
        _disarm_timeout()
        if not _handled_by_decorator(flow, node, spec, manifest, exc):
            if not _caught(flow, node, spec, manifest, exc):
                manifest.finished_ms = now_ms()
                run_finished_hooks(flow, node, spec, ok=False)
                return manifest
    try:
        manifest.outputs = _persist_outputs(flow, spec, store)
    except (ArtifactError, _StorageFailure) as exc:
        manifest.error = exc.info if isinstance(exc, _StorageFailure) else _error_info(exc)
        sys.stderr.write(f"{manifest.error}\n")
        manifest.finished_ms = now_ms()
        run_finished_hooks(flow, node, spec, ok=False)
        return manifest
    manifest.merged = {name: _branch_ns(spec, pos)[name] for name, pos in flow._merged.items()
                       if name not in manifest.outputs}
    manifest.ok = True
    if spec.cards:
        manifest.cards = _render_cards(flow, spec, manifest, store)
    manifest.finished_ms = now_ms()
    run_finished_hooks(flow, node, spec, ok=True)
    return manifest


def _handled_by_decorator(flow: FlowSpec, node: StepNode, spec: TaskSpec, manifest: Manifest,
                          exc: BaseException) -> bool:
    """Whether an extension decorator's ``task_exception`` took the step's failure: the
    task then succeeds, going where the step's ``self.next`` would have gone."""
    if isinstance(exc, _Fallback) or not isinstance(exc, Exception):
        return False
    if not exception_handled(flow, node, spec, exc):
        return False
    if node.name != "end" and flow._transition is None:
        make_default_transition(flow, node)
    _decide_transition(flow, node, spec, manifest)
    return True


def _caught(flow: FlowSpec, node: StepNode, spec: TaskSpec, manifest: Manifest,
            exc: BaseException) -> bool:
    """Record the failure in the manifest; True if ``@catch`` keeps the task going."""
    info = exc.info if isinstance(exc, _Fallback) else _error_info(exc)
    manifest.error = info
    if (spec.catch_var is not None and spec.is_last_attempt
            and node.type not in UNCATCHABLE_TYPES):
        if spec.catch_print and not isinstance(exc, _Fallback):
            sys.stderr.write(info.traceback)
        object.__setattr__(flow, spec.catch_var,
                           TaskException(info.type, info.message, info.traceback))
        manifest.caught = True
        return True
    sys.stderr.write(info.traceback)
    return False


def _client_objects(kind: str) -> Any:
    """``current.task`` / ``current.run``: the client's view of the running task (the
    client waits briefly for the scheduler to have recorded it)."""
    if kind == "run":
        return Run(f"{current.flow_name}/{current.run_id}", _namespace_check=False)
    return Task(str(current.pathspec), _namespace_check=False)


def _render_cards(flow: FlowSpec, spec: TaskSpec, manifest: Manifest,
                  store: BlobStore) -> list[RenderedCard]:
    """The step's cards, rendered now that its artifacts are stored; a fault here is
    reported in the task's output and costs the cards, never the task."""
    pathspec = f"{spec.flow_name}/{spec.run_id}/{spec.step}/{spec.task_id}"
    names = [*spec.parameters, *spec.namespace, *manifest.merged, *manifest.outputs]
    task = TaskView(flow, pathspec, [n for n in names if not n.startswith("_")], spec.attempt,
                    datetime.fromtimestamp(manifest.started_ms / 1000, timezone.utc))
    try:
        return render_task_cards(spec.cards, current.card, flow, task,
                                 card_graph(type(flow)), store)
    except Exception as exc:  # noqa: BLE001 - flowtrack's fault: keep the task's result
        sys.stderr.write(f"[@card] cards of {pathspec} were not rendered: {exc!r}\n")
        return []


class _StorageFailure(Exception):
    """The blob store could not take an artifact (disk full, no permission...): the
    task fails with that OS error, named as it is, and the artifact it was storing."""

    def __init__(self, name: str, step: str, error: OSError) -> None:
        reason = error.strerror or str(error)
        message = (f"[Errno {error.errno}] {reason}, while storing artifact '{name}' of step "
                   f"'{step}' in the blob store. Free space (or fix the store's permissions) "
                   "and continue with `resume`." if error.errno else
                   f"{reason}, while storing artifact '{name}' of step '{step}' in the blob "
                   "store.")
        super().__init__(message)
        self.info = ErrorInfo(type=exception_type(type(error)), message=message)


class _Fallback(Exception):
    """Stands for the failure of earlier attempts in @catch's fallback attempt."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(str(info))
        self.info = info


def _branch_ns(spec: TaskSpec, position: int) -> dict[str, ArtifactRef]:
    return spec.branches[position].namespace


def _run_step(flow: FlowSpec, node: StepNode, spec: TaskSpec, manifest: Manifest,
              store: BlobStore, cache: dict[str, Any]) -> None:
    _arm_timeout(spec.timeout_seconds, spec.step)
    collecting = gc.isenabled()
    gc.enable()  # user code may make reference cycles, whatever the executor's setting
    try:
        inputs = None
        if node.is_join:
            sources = [TaskSource(b.step, b.namespace, spec.parameters, b.frames, store,
                                  manifest.reads, cache) for b in spec.branches]
            flow._source = TaskSource(spec.step, {}, spec.parameters, spec.frames, store,
                                      manifest.reads, cache)
            inputs = Inputs(sources)  # type: ignore[arg-type]
            flow._inputs = inputs
        run_step_body(flow, node, spec, inputs)
    finally:
        _disarm_timeout()
        if not collecting:
            gc.disable()


def _decide_transition(flow: FlowSpec, node: StepNode, spec: TaskSpec, manifest: Manifest) -> None:
    transition = flow._transition
    if node.name == "end":
        if transition is not None:
            raise StepError("Step 'end' called self.next(); the end step has no successor.")
        return
    if transition is None and node.parallel_step:
        # a @parallel step goes to its join anyway (Metaflow does not ask its workers
        # to call self.next() either)
        transition = (list(node.out_funcs), None, None, None)
    if transition is None:
        raise StepError(f"Step '{node.name}' finished without calling self.next(); the graph "
                        f"expects a transition to {', '.join(node.out_funcs)}.")
    targets, foreach, condition, num_parallel = transition
    if node.condition:
        _decide_switch(flow, node, targets, condition, manifest)
        return
    if (list(targets) != node.out_funcs or foreach != node.foreach_param
            or (num_parallel is not None) != node.parallel_foreach):
        declared = ("num_parallel=..." if node.parallel_foreach
                    else f"foreach={node.foreach_param!r}")
        raise StepError(f"Step '{node.name}' called self.next() with {targets} (foreach="
                        f"{foreach!r}, num_parallel={num_parallel!r}) but its last statement "
                        f"declares {node.out_funcs} ({declared}); self.next() must be called "
                        "once, as written in the step's last statement.")
    if foreach:
        manifest.num_splits = _count_splits(flow, node.name, foreach, spec.max_num_splits)
        manifest.unbounded = manifest.num_splits is None
    elif num_parallel is not None:
        manifest.num_splits = num_parallel


def _decide_switch(flow: FlowSpec, node: StepNode, targets: Any, condition: str | None,
                   manifest: Manifest) -> None:
    if not isinstance(targets, dict) or condition is None or condition != node.condition:
        raise StepError(f"Step '{node.name}' must call self.next({{...}}, condition="
                        f"'{node.condition}') as its last statement declares.")
    try:
        value = getattr(flow, condition)
    except AttributeError:
        raise StepError(f"Switch step '{node.name}': condition attribute '{condition}' is not "
                        "set; assign it before self.next().") from None
    for key in (value, str(value), str(value).lower()):
        if isinstance(key, str) and key in node.switch_cases:
            manifest.switch_target = node.switch_cases[key]
            return
    raise StepError(f"Switch step '{node.name}': condition '{condition}' is {value!r}, which "
                    f"matches no case; cases are {', '.join(map(repr, node.switch_cases))}.")


def _count_splits(flow: FlowSpec, step: str, attr: str, limit: int) -> int | None:
    """The foreach's number of splits; None for an unbounded foreach, which its
    control task counts (see flow/_unbounded.py)."""
    try:
        items = getattr(flow, attr)
    except AttributeError:
        raise StepError(f"Foreach in step '{step}': attribute '{attr}' is not set; assign the "
                        f"list to self.{attr} before self.next(..., foreach='{attr}').") from None
    if is_unbounded(items):
        return None
    try:
        count = len(items)
    except TypeError:
        raise StepError(f"Foreach in step '{step}': self.{attr} is a {type(items).__name__}, "
                        "which has no length; use a list or tuple.") from None
    if count == 0:
        raise StepError(f"Foreach in step '{step}': self.{attr} is empty, so there is nothing to "
                        "run; make sure the list has at least one item.")
    if count > limit:
        raise StepError(f"Foreach in step '{step}' yields {count} splits, more than the limit "
                        f"--max-num-splits {limit}. Raise it: run with --max-num-splits {count} "
                        f"(or set FLOWTRACK_RUN_MAX_NUM_SPLITS={count}).")
    return count


def _persist_outputs(flow: FlowSpec, spec: TaskSpec, store: BlobStore) -> dict[str, OutputRecord]:
    """Store every public attribute of the flow; a loaded value left unchanged (same
    digest as the artifact it was read from) stays that artifact, not a new one."""
    outputs = {}
    loaded = flow._loaded
    for name, value in list(flow.__dict__.items()):
        if name.startswith("_"):
            continue
        try:
            ref = store.put_value(value)
        except EncodeError as exc:
            raise ArtifactError(
                f"Artifact '{name}' assigned in step '{spec.step}' cannot be stored: its value "
                f"(a {type(value).__name__}) is not picklable ({exc}). Store something picklable "
                f"instead (e.g. the data, not an open file/connection/lambda), or keep it in a "
                f"local variable or an attribute starting with '_' so it is not persisted."
            ) from None
        except OSError as exc:
            raise _StorageFailure(name, spec.step, exc) from exc
        if name in loaded and loaded[name] == ref.digest:
            continue
        outputs[name] = OutputRecord(
            digest=ref.digest, size=ref.size, inline=ref.inline, python_type=type_name(value),
            preview=short_repr(value), rich_preview=rich_preview(value, store))
    return outputs
