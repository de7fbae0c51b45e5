"""The scheduler: walks the flow graph, launches ready tasks, records what they did.

It owns the run: the only write connection to the metadata database (through
``RunRecorder``), the queue of ready tasks, the join barriers, retries, ``@catch``
fallbacks, timeouts and the local resource budget. Executors only run attempts.
Resume plugs in through ``Origin``: tasks of steps upstream of the resume point are
cloned from the origin run instead of executed.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .._errors import RunFailedError, RunInterruptedError
from ..cards import preload_renderers
from ..client._task_records import CONTROL_TASK_TYPE
from ..flow import (
    FLOW_DECORATORS_ATTRIBUTE,
    UNCATCHABLE_TYPES,
    FlowGraph,
    FlowSpec,
    Parallel,
    ProjectInfo,
    StepDecorator,
    StepNode,
)
from ..flow._configs import resolved_configs
from ..flow._unbounded import UBF_CONTROL, UBF_TASK
from ._console import QUIET_TASK_LINES_ABOVE, RunConsole
from ._executor import Attempt, Executor, Finished, LogLine
from ._model import ArtifactRef, BranchInput, ErrorInfo, FlowSetup, Frame, Manifest, TaskSpec
from ._pypi import PythonEnv, step_environment
from ._recorder import FinishedTask, RunRecorder, StartedTask
from ._resources import ResourceBudget
from ._resume import TaskKey
from ._task import (
    SchedulerFailed,
    TaskAbandoned,
    TaskCrashed,
    TaskKilled,
    TimeoutException,
    caught_crash,
    failure,
)

TIMEOUT_GRACE_SECONDS = 2.0


@dataclass
class RunOptions:
    max_workers: int = 16
    max_num_splits: int = 100
    tags: list[str] = field(default_factory=list)
    with_decorators: list[StepDecorator] = field(default_factory=list)
    user: str = ""
    project: ProjectInfo | None = None  # the run's @project and branch
    # values of the top-level options that extension flow decorators add (flow_init)
    flow_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    """Scheduler-side state of one task (all its attempts)."""

    step: str
    task_id: str
    frames: tuple[Frame, ...]
    parents: list[str]
    inherited: dict[str, ArtifactRef]
    branches: list[BranchInput] = field(default_factory=list)
    iteration: int = 0
    exec_id: int | None = None
    attempt: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    namespace: dict[str, ArtifactRef] = field(default_factory=dict)
    num_splits: int | None = None
    switch_target: str | None = None
    fallback_used: bool = False
    fallback: ErrorInfo | None = None  # set for @catch's fallback attempt
    gang: Gang | None = None  # the @parallel gang this task is one node of
    ubf_control: bool = False  # the control task of an unbounded foreach (counts its items)
    unbounded: bool = False  # a split whose foreach went over an UnboundedForeachInput

    @property
    def key(self) -> TaskKey:
        """Identity of the task across runs of the same flow (used by resume)."""
        return (self.step, tuple((f.step, f.index) for f in self.frames), self.iteration)


@dataclass(eq=False)
class Gang:
    """The tasks of one ``@parallel`` step, started, stopped and retried together
    (members[0], node 0, is the control task). Members that succeed are held back
    until all have, so a gang that is retried leaves no half-recorded success."""

    members: list[Task]
    finished: list[tuple[Task, FinishedTask]] = field(default_factory=list)
    failed_task: str | None = None  # pathspec of the member whose failure stops the rest

    @property
    def control_task_id(self) -> str:
        return self.members[0].task_id

    def parallel(self, task: Task) -> Parallel:
        node_index = task.frames[-1].index
        assert node_index is not None  # (None only in an unbounded foreach's control task)
        return Parallel(main_ip=PARALLEL_MAIN_IP, num_nodes=len(self.members),
                        node_index=node_index, control_task_id=self.control_task_id)


PARALLEL_MAIN_IP = "127.0.0.1"  # local gangs share the machine


def parallel_env(info: Parallel) -> dict[str, str]:
    """The variables Metaflow sets in each task of a gang (read by the libraries that
    start distributed training from them)."""
    return {"MF_PARALLEL_MAIN_IP": info.main_ip, "MF_PARALLEL_NUM_NODES": str(info.num_nodes),
            "MF_PARALLEL_NODE_INDEX": str(info.node_index),
            "MF_PARALLEL_CONTROL_TASK_ID": str(info.control_task_id)}


SEGFAULT_LINE = "Task failed with a segmentation fault."  # Metaflow's words, in stderr


def _exit_error(attempt: Attempt, event: Finished, timed_out: bool) -> ErrorInfo:
    """The error of an attempt whose process ended without reporting a result."""
    text = event.exit_description
    text = text[:1].upper() + text[1:]
    text = text if text.endswith(".") else text + "."
    if timed_out:
        return failure(TimeoutException, text)
    if attempt.killed_reason:
        return failure(TaskKilled, text)
    if _segfaulted(event):
        return failure(TaskCrashed, f"{text[:-1]} (a segmentation fault).")
    return failure(TaskCrashed, text)


def _segfaulted(event: Finished) -> bool:
    return event.manifest is None and "signal SIGSEGV" in event.exit_description


def _note_segfault(attempt: Attempt) -> None:
    """Say in the task's stderr log that it segfaulted, as Metaflow does."""
    if attempt.stderr and not attempt.stderr.endswith(b"\n"):
        attempt.stderr += b"\n"
    attempt.stderr += SEGFAULT_LINE.encode() + b"\n"


class StepPolicy:
    """What a step's decorators (its own and ``--with``) ask of the scheduler."""

    def __init__(self, node: StepNode, extra: list[StepDecorator],
                 pypi_base: dict[str, Any] | None = None) -> None:
        # --with catch cannot apply where the graph forbids @catch (see catch-placement)
        decos = {d.name: d for d in extra
                 if not (d.name == "catch" and node.type in UNCATCHABLE_TYPES)}
        decos.update({d.name: d for d in node.decorators})
        attr = {name: d.attributes for name, d in decos.items()}
        self.retries = int(attr["retry"]["times"]) if "retry" in attr else 0
        self.retry_delay = (60 * float(attr["retry"]["minutes_between_retries"])
                            if "retry" in attr else 0.0)
        self.catch_var = (attr["catch"]["var"] or "_catch_exception") if "catch" in attr else None
        self.catch_print = bool(attr.get("catch", {}).get("print_exception", True))
        self.timeout = decos["timeout"].total_seconds if "timeout" in decos else None  # type: ignore[attr-defined]
        self.env = dict(attr["environment"]["vars"]) if "environment" in attr else {}
        res = attr.get("resources")
        self.cpu = float(res["cpu"]) if res else 0.0
        self.memory = float(res["memory"]) if res else 0.0
        self.resources = dict(res) if res else None
        self.python_env = step_environment(pypi_base, attr.get("pypi"))
        self.cards = _step_cards(node, extra)
        self.secrets = dict(attr["secrets"]) if "secrets" in attr else None


def _step_cards(node: StepNode, extra: list[StepDecorator]) -> list[dict[str, Any]]:
    """The @card attributes of a step: its own cards, then a ``--with card`` one unless
    the step has a card of that type and id already."""
    own = [dict(d.attributes) for d in reversed(node.decorators) if d.name == "card"]
    seen = {(c["type"], c["id"]) for c in own}
    added = [dict(d.attributes) for d in extra
             if d.name == "card" and (d.attributes["type"], d.attributes["id"]) not in seen]
    return own + added


def step_policies(flow_cls: type[FlowSpec], graph: FlowGraph,
                  options: RunOptions) -> dict[str, StepPolicy]:
    pypi_base = getattr(flow_cls, FLOW_DECORATORS_ATTRIBUTE, {}).get("pypi_base")
    return {n.name: StepPolicy(n, options.with_decorators, pypi_base) for n in graph}


def python_envs(flow_cls: type[FlowSpec], options: RunOptions) -> list[PythonEnv]:
    """The distinct environments of the flow's @pypi steps (to build before running)."""
    policies = step_policies(flow_cls, flow_cls._graph, options).values()
    return list({p.python_env.key: p.python_env for p in policies if p.python_env}.values())


class Scheduler:
    """Runs one flow run to completion (or failure) and records it."""

    def __init__(self, flow_cls: type[FlowSpec], graph: FlowGraph, recorder: RunRecorder,
                 executor: Executor, console: RunConsole, options: RunOptions,
                 run_id: str, parameters: dict[str, ArtifactRef],
                 origin: Any = None) -> None:
        self.flow_cls, self.graph, self.recorder = flow_cls, graph, recorder
        self.executor, self.console, self.options = executor, console, options
        self.run_id, self.parameters, self.origin = run_id, parameters, origin
        self.flow_name = flow_cls.__name__
        self.policies = step_policies(flow_cls, graph, options)
        self.flow_setup = FlowSetup(resolved_configs(), tuple(options.with_decorators))
        if any(p.cards for p in self.policies.values()):
            preload_renderers()  # once here, inherited by every forked task
        self._warn_uncaught_steps()
        self.budget = ResourceBudget(console)
        self.ready: deque[Task] = deque()
        self.running: dict[int, Task] = {}  # id(attempt) -> task
        self.attempts: dict[int, Attempt] = {}
        self.barriers: dict[tuple[Any, ...], dict[int, Task]] = {}
        self.step_totals: dict[str, int] = {}
        self.step_done: dict[str, int] = {}
        self.failures: list[tuple[Task, ErrorInfo]] = []
        self.pending_starts: list[tuple[Task, StartedTask]] = []
        self.delayed: list[tuple[float, Task]] = []  # (monotonic due time, task) retries
        self._next_task_id = 1
        self._interrupted = False
        self._stopping = False  # no more retries: the run is being stopped
        self._stop_requested = False
        self._crash: BaseException | None = None
        self._timed_out: set[int] = set()  # id(attempt) of attempts killed for @timeout

    def _warn_uncaught_steps(self) -> None:
        if not any(d.name == "catch" for d in self.options.with_decorators):
            return
        skipped = [n.name for n in self.graph if n.type in UNCATCHABLE_TYPES]
        if skipped:
            self.console.error(f"--with catch does not apply to foreach/switch step(s) "
                               f"{', '.join(skipped)}; errors there still fail the run.")

    # -- public ------------------------------------------------------------------
    def run(self) -> None:
        """Run the flow; raise RunFailedError (after recording) if it fails."""
        self.ready.append(self._new_task("start", (), [], {}))
        # Ctrl-C and SIGTERM only raise a flag, checked between loop iterations, so a
        # batch of records is never cut in half. (Installing our own handler also
        # covers shells that start background jobs with SIGINT ignored.)
        previous = {sig: signal.signal(sig, self._request_stop)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._loop()
            if self._stop_requested:
                self._interrupted = True
                self.console.error("Interrupted: stopping all running tasks...")
                self._stop_running_tasks()
        except BaseException as exc:  # noqa: BLE001 - a fault in the scheduler itself
            self._crash = exc
            self._salvage()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self._finish()

    def _request_stop(self, _signum: int, _frame: Any) -> None:
        self._stop_requested = True

    def _stop_running_tasks(self) -> None:
        """Kill what runs, record each as failed, and make sure nothing is left RUNNING."""
        self._stopping = True
        self.executor.shutdown()
        try:
            self._drain_events()
        except Exception:  # noqa: BLE001 - a broken executor: record what is left below
            pass
        for key, task in list(self.running.items()):  # did not die in time
            attempt = self.attempts.pop(key)
            del self.running[key]
            error = failure(TaskKilled, "The task did not stop when the run was stopped.")
            if task.exec_id is not None:
                self.recorder.tasks_finished([FinishedTask(task.exec_id, attempt, None, error,
                                                           task.inherited, task.history)])

    def _salvage(self) -> None:
        """After a scheduler fault: keep what was recorded, stop the tasks, mark the run."""
        try:
            self.recorder.maybe_commit(force=True)
        except Exception:  # the fault may have been the database itself
            self.recorder.session.rollback()
        try:
            self._stop_running_tasks()
        except Exception:  # best effort: the tasks are killed even if recording fails
            self.executor.shutdown()

    # -- main loop ---------------------------------------------------------------
    def _loop(self) -> None:
        while (self.ready or self.running or self.delayed) and not self._stop_requested:
            self._release_delayed()
            if not self.failures:
                self._launch_ready()
            idle = not self.running and not self.ready
            wait = 0.05 if self.running or idle else 0
            if wait:
                self.recorder.release_write_lock()
            events = self.executor.poll(wait)
            self._handle(events)
            self._enforce_timeouts()
            self.recorder.maybe_commit()
            if self.failures and not self.running:
                break

    def _release_delayed(self) -> None:
        """Move retries whose minutes_between_retries have passed to the ready queue."""
        now = time.monotonic()
        due = [task for when, task in self.delayed if when <= now]
        self.delayed = [(when, task) for when, task in self.delayed if when > now]
        self.ready.extendleft(reversed(due))

    def _drain_events(self) -> None:
        deadline = time.monotonic() + 5
        while self.running and time.monotonic() < deadline:
            self._handle(self.executor.poll(0.05))

    def _handle(self, events: list[LogLine | Finished]) -> None:
        finals: list[tuple[Task, FinishedTask]] = []
        for event in events:
            if isinstance(event, LogLine):
                self.console.task_line(self._prefix(event.attempt), event.text, event.stream)
            else:
                finals.extend(self._on_finished(event))
        self._flush_starts()  # retries and fallbacks launched above
        if not finals:
            return
        # one batch of writes for everything that finished in this poll
        namespaces = self.recorder.tasks_finished([f for _, f in finals])
        for (task, record), namespace in zip(finals, namespaces):
            task.namespace = namespace
            if record.ok:
                assert record.manifest is not None
                self._succeeded(task, record.attempt, record.manifest)
            else:
                self._failed(task, record.attempt, record.error)

    def _prefix(self, attempt: Attempt) -> str:
        spec = attempt.spec
        # a cluster executor learns the pid only once a worker has started the attempt
        where = f"pid {attempt.pid}" if attempt.pid is not None else f"on {attempt.executor}"
        return f"{spec.run_id}/{spec.step}/{spec.task_id} ({where})"

    # -- launching ---------------------------------------------------------------
    def _new_task(self, step: str, frames: tuple[Frame, ...], parents: list[str],
                  inherited: dict[str, ArtifactRef], branches: list[BranchInput] | None = None,
                  iteration: int = 0) -> Task:
        task = Task(step, str(self._next_task_id), frames, parents, inherited, branches or [],
                    iteration)
        self._next_task_id += 1
        self.step_totals[step] = self.step_totals.get(step, 0) + 1
        return task

    def _launch_ready(self) -> None:
        try:
            self._launch_ready_tasks()
        finally:
            self._flush_starts()

    def _flush_starts(self) -> None:
        if not self.pending_starts:
            return
        started, self.pending_starts = self.pending_starts, []
        ids = self.recorder.tasks_started([s for _, s in started])
        for (task, _), exec_id in zip(started, ids):
            task.exec_id = exec_id

    def _launch_ready_tasks(self) -> None:
        waiting: list[Task] = []  # tasks that do not fit the resource budget yet
        while self.ready and len(self.running) < self.options.max_workers:
            task = self.ready.popleft()
            if task.gang is not None:
                self._launch_gang(task)
                continue
            if self.origin is not None and self.origin.can_clone(task):
                self._clone(task)  # its successors join the end of the queue
                continue
            policy = self.policies[task.step]
            if self.executor.uses_local_budget and not self.budget.acquire(
                    task.step, policy.cpu, policy.memory, bool(self.running)):
                waiting.append(task)
                continue
            self._submit(task)
        self.ready.extendleft(reversed(waiting))

    def _launch_gang(self, first: Task) -> None:
        """Start every queued member of ``first``'s gang at once, whatever --max-workers
        and the resource budget say: a gang's tasks wait for each other, so a part of it
        alone could never finish. On resume, a gang is cloned only as a whole."""
        gang = first.gang
        assert gang is not None
        queued = [first, *(t for t in self.ready if t.gang is gang)]
        for task in queued[1:]:
            self.ready.remove(task)
        if self.origin is not None and all(self.origin.can_clone(t) for t in gang.members):
            for task in queued:
                self._clone(task)
            return
        policy = self.policies[first.step]
        if self.executor.uses_local_budget:
            for task in queued:
                self.budget.acquire(task.step, policy.cpu, policy.memory, others_running=False)
        self._submit_together(queued)

    def _submit(self, task: Task) -> None:
        self._submit_together([task])

    def _submit_together(self, tasks: list[Task]) -> None:
        """Start an attempt of each task; several are a gang's members, which the
        executor must start together (on Ray: one placement group)."""
        attempts = [self._attempt(task) for task in tasks]
        self.recorder.release_write_lock()  # before the fork (see there)
        if len(attempts) == 1:
            self.executor.submit(attempts[0])
        else:
            self.executor.submit_gang(attempts)
        for task, attempt in zip(tasks, attempts):
            self._started(task, attempt)

    def _attempt(self, task: Task) -> Attempt:
        policy = self.policies[task.step]
        parallel = task.gang.parallel(task) if task.gang is not None else None
        spec = TaskSpec(
            flow_name=self.flow_name, run_id=self.run_id, step=task.step, task_id=task.task_id,
            attempt=task.attempt, namespace=task.inherited, parameters=self.parameters,
            frames=task.frames, branches=task.branches,
            max_num_splits=self.options.max_num_splits,
            env={**policy.env, **parallel_env(parallel)} if parallel else policy.env,
            timeout_seconds=policy.timeout, catch_var=policy.catch_var,
            catch_print=policy.catch_print, is_last_attempt=task.attempt >= policy.retries,
            fallback_error=task.fallback, origin_run_id=self.origin.run_id if self.origin else None,
            tags=tuple(self.options.tags), user=self.options.user,
            tracking_run_id=self.recorder.tracking_run_id, python_env=policy.python_env,
            project=self.options.project.to_current() if self.options.project else None,
            parallel=parallel, cards=policy.cards, secrets=policy.secrets,
            max_user_code_retries=policy.retries, flow_options=self.options.flow_options,
            flow_setup=self.flow_setup, ubf_context=_ubf_context(task))
        return Attempt(spec, resources=policy.resources)

    def _started(self, task: Task, attempt: Attempt) -> None:
        policy = self.policies[task.step]
        if policy.timeout:
            self.executor.arm_deadline(attempt, policy.timeout + TIMEOUT_GRACE_SECONDS)
        self.running[id(attempt)] = task
        self.attempts[id(attempt)] = attempt
        if task.exec_id is None:
            self.pending_starts.append((task, StartedTask(task.step, task.task_id, attempt,
                                                          task.frames, task.parents,
                                                          task.iteration, policy.resources,
                                                          _task_metadata(attempt.spec))))
        else:
            self.recorder.attempt_started(task.exec_id, attempt)
        if self._verbose(task.step):
            self.console.task_line(self._prefix(attempt), "Task is starting"
                                   + (f" (retry {task.attempt})." if task.attempt else "."))

    def _verbose(self, step: str) -> bool:
        return self.step_totals.get(step, 0) <= QUIET_TASK_LINES_ABOVE

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for key, task in list(self.running.items()):
            attempt = self.attempts[key]
            if attempt.deadline is not None and now > attempt.deadline and not attempt.killed_reason:
                limit = self.policies[task.step].timeout
                self._timed_out.add(key)
                self.executor.cancel(attempt, f"Step '{task.step}' exceeded its @timeout of "
                                     f"{limit:g} s and was killed.")

    # -- completion --------------------------------------------------------------
    def _on_finished(self, event: Finished) -> list[tuple[Task, FinishedTask]]:
        """Retry or fall back if the policy says so; otherwise return the final record."""
        attempt = event.attempt
        task = self.running.pop(id(attempt))
        self.attempts.pop(id(attempt))
        policy = self.policies[task.step]
        if self.executor.uses_local_budget:
            self.budget.release(policy.cpu, policy.memory)
        manifest = event.manifest
        timed_out = id(attempt) in self._timed_out
        self._timed_out.discard(id(attempt))
        error = (manifest.error if manifest is not None
                 else _exit_error(attempt, event, timed_out))
        if not attempt.killed_reason and _segfaulted(event):
            _note_segfault(attempt)
            self.console.task_line(self._prefix(attempt), SEGFAULT_LINE, "stderr")
        ok = manifest is not None and manifest.ok
        task.history.append({"attempt": task.attempt, "ok": ok, "pid": attempt.pid,
                             **attempt.placement,
                             "error": str(error) if not ok and error else None})
        self._flush_starts()  # the task's execution id is needed from here on
        if task.gang is not None:
            return self._gang_member_finished(task, attempt, manifest, error, ok)
        if not ok and not self._stopping and self._retry(task, policy, manifest, error):
            self._store_failed_attempt_logs(task, attempt)
            return []
        assert task.exec_id is not None
        return [(task, FinishedTask(task.exec_id, attempt, manifest, error, task.inherited,
                                    task.history))]

    def _gang_member_finished(self, task: Task, attempt: Attempt, manifest: Manifest | None,
                              error: ErrorInfo | None, ok: bool) -> list[tuple[Task, FinishedTask]]:
        """Hold a member's result until its whole gang has finished; the first failure
        stops the other members. Then retry the gang as a whole, give crashed members
        @catch's fallback attempt, or hand every result over for recording."""
        gang = task.gang
        assert gang is not None and task.exec_id is not None
        gang.finished.append((task, FinishedTask(task.exec_id, attempt, manifest, error,
                                                 task.inherited, task.history)))
        if not ok and gang.failed_task is None:
            gang.failed_task = f"{self.run_id}/{task.step}/{task.task_id}"
            for key, other in self.running.items():
                if other.gang is gang:
                    self.executor.cancel(self.attempts[key], "Stopped because task "
                                         f"{gang.failed_task} of the same @parallel gang failed.")
        if any(other.gang is gang for other in self.running.values()):
            return []
        finished, gang.finished = gang.finished, []
        failed_task, gang.failed_task = gang.failed_task, None
        if failed_task is None or self._stopping:
            return finished
        policy = self.policies[task.step]
        if all(t.attempt < policy.retries for t, _ in finished):
            self.console.error(f"[{failed_task}] A task of the @parallel gang failed; retrying "
                               f"all {len(gang.members)} tasks of the gang.")
            for member, record in finished:
                self._store_failed_attempt_logs(member, record.attempt)
                member.attempt += 1
            self._requeue([m for m, _ in finished], policy.retry_delay)
            return []
        crashed = [(m, r) for m, r in finished if not (r.manifest and r.manifest.ok)]
        if policy.catch_var and all(r.manifest is None and not m.fallback_used
                                    for m, r in crashed):
            for member, record in crashed:  # @catch records each crash, the flow goes on
                assert record.error is not None
                member.attempt += 1
                member.fallback_used = True
                member.fallback = caught_crash(member.attempt, record.error)
            gang.finished = [(m, r) for m, r in finished if r.manifest and r.manifest.ok]
            self._requeue([m for m, _ in crashed], 0.0)
            return []
        return finished

    def _requeue(self, tasks: list[Task], delay: float) -> None:
        if delay:
            due = time.monotonic() + delay  # one time for all: a gang is released whole
            self.delayed.extend((due, t) for t in tasks)
        else:
            self.ready.extendleft(reversed(tasks))

    def _retry(self, task: Task, policy: StepPolicy, manifest: Manifest | None,
               error: ErrorInfo | None) -> bool:
        prefix = f"{self.run_id}/{task.step}/{task.task_id}"
        if task.attempt < policy.retries:
            wait = f" in {policy.retry_delay:g} s" if policy.retry_delay else ""
            self.console.error(f"[{prefix}] Attempt {task.attempt} failed ({error}); "
                               f"retrying{wait}.")
            task.attempt += 1
            if policy.retry_delay:
                self.delayed.append((time.monotonic() + policy.retry_delay, task))
            else:
                self.ready.appendleft(task)
            return True
        if policy.catch_var and manifest is None and not task.fallback_used:
            # the process died, so @catch could not run in it: a fallback attempt
            # records the failure in the catch variable and lets the flow go on
            assert error is not None
            task.attempt += 1
            task.fallback_used = True
            task.fallback = caught_crash(task.attempt, error)
            self.ready.appendleft(task)
            return True
        return False

    def _store_failed_attempt_logs(self, task: Task, attempt: Attempt) -> None:
        entry = task.history[-1]
        for stream in ("stdout", "stderr"):
            data = getattr(attempt, stream)
            if data:
                entry[f"{stream}_digest"] = self.recorder.store.put_bytes(bytes(data))

    def _succeeded(self, task: Task, attempt: Attempt, manifest: Manifest) -> None:
        task.num_splits, task.switch_target = manifest.num_splits, manifest.switch_target
        task.unbounded = manifest.unbounded
        if manifest.caught:
            self.console.error(f"[{self._prefix(attempt)}] Task failed but @catch stored the "
                               f"exception ({manifest.error}); continuing.")
        elif self._verbose(task.step):
            self.console.task_line(self._prefix(attempt), "Task finished successfully.")
        self._mark_done(task)
        self._schedule_successors(task)

    def _mark_done(self, task: Task) -> None:
        self.step_done[task.step] = self.step_done.get(task.step, 0) + 1
        self.console.progress(task.step, self.step_done[task.step], self.step_totals[task.step])

    def _failed(self, task: Task, attempt: Attempt, error: ErrorInfo | None) -> None:
        info = error or failure(TaskCrashed, "The task failed without reporting why.")
        self.failures.append((task, info))
        if not self._interrupted:
            self.console.error(f"[{self._prefix(attempt)}] Task failed: {info}")
            if self.running:
                self.console.error(f"Waiting for {len(self.running)} running task(s) to finish "
                                   "before stopping (Ctrl-C stops them now).")

    # -- successors --------------------------------------------------------------
    def _schedule_successors(self, task: Task) -> None:
        node = self.graph[task.step]
        if task.ubf_control:
            self._start_mappers(task)
            return
        if node.name == "end":
            return
        if task.unbounded:
            self._start_control(node.out_funcs[0], task)
        elif node.parallel_foreach:
            assert task.num_splits is not None
            self._start_gang(node.out_funcs[0], task, task.num_splits)
        elif node.type == "foreach":
            assert task.num_splits is not None and node.foreach_param
            items = (task.namespace.get(node.foreach_param)
                     or self.parameters[node.foreach_param])  # foreach over a Parameter
            for i in range(task.num_splits):
                frame = Frame("foreach", node.name, i, task.num_splits, task.task_id, items)
                self._to_step(node.out_funcs[0], task, task.frames + (frame,))
        elif node.type == "split":
            for i, target in enumerate(node.out_funcs):
                frame = Frame("split", node.name, i, len(node.out_funcs), task.task_id)
                self._to_step(target, task, task.frames + (frame,))
        elif node.type == "split-switch":
            assert task.switch_target is not None
            self._to_step(task.switch_target, task, task.frames,
                          task.iteration + 1 if task.switch_target == node.name else 0)
        else:
            self._to_step(node.out_funcs[0], task, task.frames)

    def _start_gang(self, step: str, parent: Task, size: int) -> None:
        """Queue the ``size`` tasks of a ``@parallel`` step as one gang; each is one
        split of a foreach over its node index, so the join after it works as usual."""
        gang = Gang([])
        for index in range(size):
            frame = Frame("foreach", parent.step, index, size, parent.task_id)
            member = self._new_task(step, parent.frames + (frame,), [parent.task_id],
                                    parent.namespace)
            member.gang = gang
            gang.members.append(member)
        self.ready.extend(gang.members)

    def _start_control(self, step: str, split: Task) -> None:
        """An unbounded foreach starts with one control task, which counts the items
        (see flow/_unbounded.py)."""
        foreach_param = self.graph[split.step].foreach_param
        assert foreach_param is not None
        items = split.namespace.get(foreach_param) or self.parameters[foreach_param]
        frame = Frame("foreach", split.step, None, 0, split.task_id, items, unbounded=True)
        control = self._new_task(step, split.frames + (frame,), [split.task_id],
                                 split.namespace)
        control.ubf_control = True
        self.ready.append(control)

    def _start_mappers(self, control: Task) -> None:
        """One mapper task per item the control task counted; they are the foreach's
        splits (the join waits for them, not for the control task)."""
        assert control.num_splits is not None
        top = control.frames[-1]
        for index in range(control.num_splits):
            frame = dataclasses.replace(top, index=index, num_splits=control.num_splits)
            self.ready.append(self._new_task(control.step, control.frames[:-1] + (frame,),
                                             control.parents, control.inherited))

    def _to_step(self, step: str, parent: Task, frames: tuple[Frame, ...], iteration: int = 0) -> None:
        child = self.graph[step]
        if not child.is_join:
            self.ready.append(self._new_task(step, frames, [parent.task_id], parent.namespace,
                                         iteration=iteration))
            return
        top = frames[-1]
        key = (step, tuple((f.step, f.index, f.split_task) for f in frames[:-1]), top.split_task)
        arrived = self.barriers.setdefault(key, {})
        assert top.index is not None  # (control tasks of unbounded foreaches join nothing)
        arrived[top.index] = parent
        if len(arrived) < top.num_splits:
            return
        del self.barriers[key]
        inputs = [arrived[i] for i in sorted(arrived)]
        branches = [BranchInput(p.step, p.task_id, p.namespace, p.frames) for p in inputs]
        self.ready.append(self._new_task(step, frames[:-1], [p.task_id for p in inputs], {},
                                     branches))

    # -- resume ------------------------------------------------------------------
    def _clone(self, task: Task) -> None:
        origin_task = self.origin.task_for(task)
        task.exec_id = self.recorder.task_cloned(task.step, task.task_id, origin_task,
                                                 task.frames, task.parents, task.iteration)
        task.namespace = self.origin.namespace_of(origin_task)
        task.num_splits = origin_task.custom_properties.get("num_splits")
        task.unbounded = bool(origin_task.custom_properties.get("unbounded_foreach"))
        task.switch_target = origin_task.custom_properties.get("switch_target")
        if self._verbose(task.step):
            self.console.info(f"[{self.run_id}/{task.step}/{task.task_id}] Cloned from "
                              f"{origin_task.name}.")
        self._mark_done(task)
        self._schedule_successors(task)

    # -- end ---------------------------------------------------------------------
    def _abandon_queued_tasks(self) -> None:
        """Drop tasks that will not run now; a task already started (waiting for a
        retry) is recorded as failed, so no task is left RUNNING."""
        queued = [*self.ready, *(t for _, t in self.delayed)]
        self.ready.clear()
        self.delayed.clear()
        for task in queued:
            self.step_totals[task.step] -= 1
            if task.exec_id is None:
                continue
            error = failure(TaskAbandoned, "The run stopped before this task's retry.")
            attempt = Attempt(TaskSpec(self.flow_name, self.run_id, task.step, task.task_id,
                                       task.attempt, task.inherited, self.parameters))
            try:
                self.recorder.tasks_finished([FinishedTask(task.exec_id, attempt, None, error,
                                                           task.inherited, task.history)])
            except Exception:  # noqa: BLE001 - after a database fault, best effort only
                break

    def _mark_crashed(self) -> None:
        """After a scheduler fault: the run FAILED and no task left running, in one
        transaction; if the store refuses even that (a full disk), readers still see
        the run as dead once its heartbeat stops (see client._liveness)."""
        assert self.recorder.run_context is not None
        error = failure(SchedulerFailed, f"The run's scheduler stopped on an internal "
                        f"error ({type(self._crash).__name__}) while this task ran; "
                        "continue the run with `resume`.")
        try:
            self.recorder.session.rollback()  # whatever half-written batch the fault left
            self.recorder.mark_stopped(self.recorder.run_context, "FAILED", error)
        except Exception:  # noqa: BLE001 - the original fault is what matters
            self.console.error("Could not record the run as FAILED either; it will read "
                               "FAILED once its heartbeat is stale.")

    def _finish(self) -> None:
        self._abandon_queued_tasks()
        self.console.close()
        if self._crash is not None:
            self._mark_crashed()
            exc = self._crash
            raise RunFailedError(
                f"The scheduler of run {self.flow_name}/{self.run_id} stopped on an internal "
                f"error ({type(exc).__name__}: {exc}). Running tasks were stopped and finished "
                "tasks are saved; continue with `resume`. Rerun with --traceback to see where "
                "it happened.") from exc
        if self._interrupted:
            self.recorder.finish_run("KILLED")
            raise RunInterruptedError(
                f"Run {self.flow_name}/{self.run_id} was interrupted; completed tasks are saved. "
                "Continue it with `resume`.")
        if self.failures:
            self.recorder.finish_run("FAILED")
            task, info = self.failures[0]
            raise RunFailedError(
                f"Step '{task.step}' (task {self.flow_name}/{self.run_id}/{task.step}/"
                f"{task.task_id}) failed: {str(info).rstrip('.')}. Fix the step and continue with `resume`; "
                "see the task's output with `logs`.")
        self.recorder.finish_run("FINISHED")


def _ubf_context(task: Task) -> str | None:
    """The task's role in an unbounded foreach (what decorator hooks get)."""
    if task.ubf_control:
        return UBF_CONTROL
    return UBF_TASK if task.frames and task.frames[-1].unbounded else None


def _task_metadata(spec: TaskSpec) -> dict[str, Any] | None:
    """Metadata under Metaflow's names: an unbounded foreach's control task says so
    (what ``Step.control_tasks()`` finds), and so does a gang member (below)."""
    if spec.ubf_context == UBF_CONTROL:
        return {"internal_task_type": CONTROL_TASK_TYPE}
    return _gang_metadata(spec.parallel)


def _gang_metadata(parallel: Parallel | None) -> dict[str, Any] | None:
    """A gang member's task metadata, under Metaflow's names: the gang's size, and
    for node 0 that it is the control task (what ``Step.control_tasks()`` finds)."""
    if parallel is None:
        return None
    meta: dict[str, Any] = {"parallel-world-size": parallel.num_nodes,
                            "parallel-node-index": parallel.node_index}
    if parallel.node_index == 0:
        meta["internal_task_type"] = CONTROL_TASK_TYPE
    return meta
