"""Recording a flow run in the lineage graph (the scheduler's only writer).

A flow is an ``Experiment`` context, a run a ``Run`` context under it, a task a
``Task`` execution associated with the run, each value a ``Value`` artifact (an
IncludeFile a ``Dataset`` artifact) attributed to the run, with OUTPUT events from
the task that wrote it and INPUT events to every task that really read it. Each
task also keeps ``artifacts``: the name -> artifact id map of everything visible to
it, which is what the client reads. Writes are grouped and committed at most a few
times a second, so a 1000-task foreach costs a handful of transactions.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .._util import now_ms
from ..cards._client import CARDS_PROPERTY
from ..client import CODE_PROPERTY
from ..client._liveness import (
    HEARTBEAT_PROPERTY,
    HEARTBEAT_SECONDS,
    SCHEDULER_PID_PROPERTY,
    scheduler_gone,
)
from ..client._tags import PROJECT_BRANCH_PROPERTY, PROJECT_PROPERTY
from ..flow import PARAMETERS_STEP, ProjectInfo
from ..lineage import (
    CARD_PROPERTIES,
    CARD_TYPE,
    DATASET_TYPE,
    EXPERIMENT_PROPERTIES,
    EXPERIMENT_TYPE,
    FILE_PROPERTIES,
    FILE_TYPE,
    RUN_PROPERTIES,
    RUN_TYPE,
    TASK_PROPERTIES,
    TASK_TYPE,
    VALUE_PROPERTIES,
    VALUE_TYPE,
    ArtifactState,
    Database,
    EventType,
    ExecutionState,
    ExecutionUpdate,
    LineageSession,
    NewArtifact,
    NewExecution,
    Node,
    TypeKind,
    contexts,
    executions,
)
from ..store import BlobStore
from ..tracking.errors import InvalidParameterError
from ..tracking.recording import (
    insert_model_artifact,
    record_file,
    record_input,
    write_points,
)
from ._executor import Attempt
from ._model import ArtifactRef, ErrorInfo, Frame, Manifest, TaskTracking
from ._task import SchedulerDied, failure

LOG_INLINE_LIMIT = 2048
CONSTANTS_PROPERTY = "constants"  # on the _parameters task: which outputs are constants
COMMIT_INTERVAL = 0.25




@dataclass
class StartedTask:
    """A task whose first attempt was just launched."""

    step: str
    task_id: str
    attempt: Attempt
    frames: tuple[Frame, ...]
    parents: list[str]
    iteration: int
    resources: dict[str, Any] | None = None  # what @resources asked for
    metadata: dict[str, Any] | None = None  # more task metadata (e.g. a @parallel gang's)


@dataclass
class FinishedTask:
    """The final attempt of a task, as the scheduler hands it over for recording."""

    exec_id: int
    attempt: Attempt
    manifest: Manifest | None
    error: ErrorInfo | None
    inherited: dict[str, ArtifactRef]
    history: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return self.manifest is not None and self.manifest.ok


class RunRecorder:
    """Writes one run's contexts, executions, artifacts and events."""

    def __init__(self, db: Database, store: BlobStore) -> None:
        self.session = LineageSession(db, write=True)
        self.store = store
        self._last_commit = self._last_heartbeat = time.monotonic()
        s = self.session
        self.experiment_type = s.type_id(TypeKind.CONTEXT, EXPERIMENT_TYPE, EXPERIMENT_PROPERTIES)
        self.run_type = s.type_id(TypeKind.CONTEXT, RUN_TYPE, RUN_PROPERTIES)
        self.task_type = s.type_id(TypeKind.EXECUTION, TASK_TYPE, TASK_PROPERTIES)
        self.value_type = s.type_id(TypeKind.ARTIFACT, VALUE_TYPE, VALUE_PROPERTIES)
        self.dataset_type = s.type_id(TypeKind.ARTIFACT, DATASET_TYPE, VALUE_PROPERTIES)
        self.card_type = s.type_id(TypeKind.ARTIFACT, CARD_TYPE, CARD_PROPERTIES)
        self.run_context: int | None = None
        self.parameter_ids: dict[str, int | None] = {}
        self.flow_name = ""
        self.tracking_run_id = ""  # the run context's external id
        self.file_type = s.type_id(TypeKind.ARTIFACT, FILE_TYPE, FILE_PROPERTIES)
        self._run_params: dict[str, str] = {}  # tracking params recorded on the run
        self.run_id = ""
        s.commit()

    # -- run --------------------------------------------------------------------
    def start_run(self, flow_name: str, run_id: str, user: str, tags: list[str],
                  origin_run_id: str | None, script: str,
                  graph: list[dict[str, Any]] | None = None,
                  code: dict[str, Any] | None = None, executor: str = "local",
                  commit: bool = True, project: ProjectInfo | None = None) -> int:
        """Record a new run (``graph``: its steps and edges, for the UI's DAG;
        ``code``: its stored code package; ``project``: its ``@project`` branch, whose
        names become system tags); ``commit=False`` leaves the transaction open for the
        run's parameters."""
        s = self.session
        experiment, _ = s.get_or_create_context(self.experiment_type, flow_name,
                                                properties={"kind": "flow"})
        props = {"flow_name": flow_name, "run_id": run_id, "user": user, "status": "RUNNING",
                 "start_time": now_ms(), "tags": sorted(set(tags)), "origin_run_id": origin_run_id,
                 "script": script, "python_version": platform.python_version(),
                 "host": platform.node(), "kind": "flow"}
        pathspec = f"{flow_name}/{run_id}"
        # the tracking view: run name and MLflow's system tags; Metaflow tags as tags
        custom: dict[str, Any] = {"run_name": pathspec, "tag:mlflow.runName": pathspec,
                  "tag:flowtrack.pathspec": pathspec, "tag:mlflow.user": user,
                  "tag:mlflow.source.name": script, "tag:mlflow.source.type": "FLOW",
                  **{f"tag:{t}": "" for t in sorted(set(tags))}}
        if graph is not None:
            custom["graph"] = graph
        if code is not None:
            custom[CODE_PROPERTY] = code
        custom["executor"] = executor
        if project is not None:
            custom[PROJECT_PROPERTY] = project.project_name
            custom[PROJECT_BRANCH_PROPERTY] = project.branch_name
            custom["tag:flowtrack.project"] = project.project_name
            custom["tag:flowtrack.project_branch"] = project.branch_name
        # liveness: readers tell a run whose scheduler died from one still going
        custom[SCHEDULER_PID_PROPERTY] = os.getpid()
        custom[HEARTBEAT_PROPERTY] = props["start_time"]
        ctx, created = s.get_or_create_context(self.run_type, pathspec, props, custom,
                                               parent_ids=[experiment])
        if not created:
            raise ValueError(f"run {flow_name}/{run_id} already exists")
        self.tracking_run_id = uuid.uuid4().hex
        s.set_external_id("context", ctx, self.tracking_run_id)
        self.run_context, self.flow_name, self.run_id = ctx, flow_name, run_id
        if commit:
            s.commit()
        return ctx

    def finish_run(self, status: str, params: dict[str, Any] | None = None) -> None:
        assert self.run_context is not None
        self.session.set_properties("context", self.run_context,
                                    {"status": status, "end_time": now_ms()},
                                    None if params is None else self._params_custom(params))
        self.session.commit()

    def set_run_params(self, params: dict[str, Any]) -> None:
        assert self.run_context is not None
        self.session.set_properties("context", self.run_context,
                                    custom=self._params_custom(params))

    def _params_custom(self, params: dict[str, Any]) -> dict[str, Any]:
        """The run's Parameters, for the client (``params``) and as tracking params."""
        texts = {k: v if isinstance(v, str) else json.dumps(v, default=str)
                 for k, v in params.items()}
        self._run_params.update(texts)
        return {"params": params, **{f"param:{k}": v for k, v in texts.items()}}

    # -- tasks ------------------------------------------------------------------
    def pathspec(self, step: str, task_id: str) -> str:
        return f"{self.flow_name}/{self.run_id}/{step}/{task_id}"

    def tasks_started(self, started: list[StartedTask]) -> list[int]:
        """Record newly launched tasks as RUNNING executions; return their ids."""
        assert self.run_context is not None
        now = now_ms()
        new = []
        for t in started:
            a = t.attempt
            props = {"flow_name": self.flow_name, "run_id": self.run_id, "step_name": t.step,
                     "task_id": t.task_id, "attempt": a.spec.attempt, "state": "running",
                     "started_at": now, "pid": a.pid, "host": a.host, "executor": a.executor}
            custom: dict[str, Any] = {"frames": [f.to_json() for f in t.frames],
                                      "parents": t.parents}
            if t.iteration:
                custom["iteration"] = t.iteration
            if t.resources:
                custom["resources"] = t.resources
            if t.metadata:
                custom.update(t.metadata)
            new.append(NewExecution(self.task_type, self.pathspec(t.step, t.task_id),
                                    int(ExecutionState.RUNNING), props, custom,
                                    [self.run_context]))
        return self.session.insert_executions(new)

    def attempt_started(self, exec_id: int, attempt: Attempt) -> None:
        self.session.update_execution(exec_id, properties={
            "attempt": attempt.spec.attempt, "pid": attempt.pid, "host": attempt.host,
            "executor": attempt.executor, "state": "running"})

    def tasks_finished(self, finished: list[FinishedTask]) -> list[dict[str, ArtifactRef]]:
        """Record the final attempts of tasks; return each task's visible namespace."""
        outputs = [(i, name, out) for i, f in enumerate(finished) if f.ok
                   for name, out in f.manifest.outputs.items()]  # type: ignore[union-attr]
        assert self.run_context is not None
        ids = self.session.insert_artifacts(
            [self._value_artifact(finished[i].attempt.spec.step, finished[i].attempt.spec.task_id,
                                  name, out) for i, name, out in outputs], [self.run_context])
        events = [(art_id, finished[i].exec_id, int(EventType.OUTPUT), name)
                  for art_id, (i, name, _) in zip(ids, outputs)]
        events += [(a, f.exec_id, int(EventType.INPUT), None) for f in finished if f.manifest
                   for a in sorted(f.manifest.reads)]
        events += self._card_events(finished)
        self.session.insert_events(events)
        namespaces = []
        for f in finished:
            ns = dict(f.inherited)
            if f.ok:
                ns.update(f.manifest.merged)  # type: ignore[union-attr]
            namespaces.append(ns)
        for art_id, (i, name, out) in zip(ids, outputs):
            namespaces[i][name] = ArtifactRef(art_id, out.digest, out.size, out.inline)
        self.session.update_executions([self._finish_update(f, ns)
                                        for f, ns in zip(finished, namespaces)])
        for f in finished:
            if f.manifest is not None and f.manifest.tracking:
                self._record_tracking(f.exec_id, f.manifest.tracking)
        return namespaces

    def _card_events(self, finished: list[FinishedTask]) -> list[tuple[int, int, int, str]]:
        """Each rendered card is a ``Card`` artifact, an OUTPUT of its task (named
        ``card:<type>``), so lineage shows which task produced which report."""
        cards = [(f, c, c.digest, i) for f in finished if f.manifest is not None
                 for i, c in enumerate(f.manifest.cards) if c.digest]
        if not cards:
            return []
        assert self.run_context is not None
        ids = self.session.insert_artifacts([NewArtifact(
            type_id=self.card_type,
            # by position too: two cards of a task may be alike
            name=f"{self.pathspec(f.attempt.spec.step, f.attempt.spec.task_id)}/card/{i}/{digest}",
            uri=value_uri(digest), state=int(ArtifactState.LIVE),
            properties={"card_type": c.card_type, "card_id": c.card_id or "",
                        "hash": c.card_hash, "digest": digest, "size": c.size})
            for f, c, digest, i in cards], [self.run_context])
        return [(art_id, f.exec_id, int(EventType.OUTPUT), f"card:{c.card_type}")
                for art_id, (f, c, _, _) in zip(ids, cards)]

    def _record_tracking(self, exec_id: int, logged: TaskTracking) -> None:
        """What a step logged through the tracking API, on the flow run (a task's
        param that conflicts with the run's stays on the task, nothing is lost)."""
        assert self.run_context is not None
        s, run = self.session, self.run_context
        write_points(s, run, [(k, v, ts, step, exec_id) for k, v, ts, step in logged.points])
        fresh = {k: v for k, v in logged.params.items() if k not in self._run_params}
        clashing = {k: v for k, v in logged.params.items()
                    if k in self._run_params and self._run_params[k] != v}
        self._run_params.update(fresh)
        custom = {f"param:{k}": v for k, v in fresh.items()}
        custom.update({f"tag:{k}": v for k, v in logged.tags.items()})
        if custom:
            s.set_properties("context", run, custom=custom)
        if clashing:
            s.set_properties("execution", exec_id,
                             custom={f"param:{k}": v for k, v in clashing.items()})
        clashes = []
        for path, digest, size in logged.files:
            try:
                with s.conn.begin_nested():
                    record_file(s, self.file_type, run, self.tracking_run_id, path, digest,
                                size, exec_id)
            except InvalidParameterError as exc:  # a file/directory clash between tasks
                clashes.append(str(exc))
        if clashes:  # the task keeps what could not be filed on the run
            s.set_properties("execution", exec_id, custom={"file_clashes": clashes})
        for path, flavor in logged.models:
            insert_model_artifact(s, run, self.tracking_run_id, path, flavor, exec_id)
        for dataset, context in logged.inputs:
            record_input(s, run, dataset, context, exec_id)

    def _finish_update(self, f: FinishedTask, namespace: dict[str, ArtifactRef]) -> ExecutionUpdate:
        a = f.attempt
        props: dict[str, Any] = {"state": "completed" if f.ok else "failed",
                                 "finished_at": now_ms(), "attempt": a.spec.attempt,
                                 "pid": a.pid, "host": a.host, "executor": a.executor}
        # parameters are part of every task's data, as in Metaflow
        visible = {**self.parameter_ids, **{n: r.id for n, r in namespace.items()}}
        custom: dict[str, Any] = {"artifacts": visible}
        custom.update(self._log_properties("stdout", f.attempt.stdout))
        custom.update(self._log_properties("stderr", f.attempt.stderr))
        for stream, times in f.attempt.line_times.items():  # when each line was printed
            custom[f"{stream}_times"] = times
        if f.error is not None:  # NUL cannot be stored as text (an exception may hold one)
            custom.update(error_type=f.error.type,
                          error_message=f.error.message.replace("\x00", "\\x00"),
                          error_traceback=f.error.traceback.replace("\x00", "\\x00"))
        if f.manifest is not None:
            if f.manifest.cards:
                custom[CARDS_PROPERTY] = [c.to_json() for c in f.manifest.cards]
            if f.manifest.caught:
                custom["caught_exception"] = True
            if f.ok and f.manifest.num_splits is not None:
                custom["num_splits"] = f.manifest.num_splits
            if f.ok and f.manifest.unbounded:
                custom["unbounded_foreach"] = True
            if f.ok and f.manifest.switch_target is not None:
                custom["switch_target"] = f.manifest.switch_target
        if len(f.history) > 1:
            custom["attempts"] = f.history
        custom.update(a.placement)  # where a cluster ran it (ray_node_id, ...)
        if a.spec.python_env is not None:
            custom["requirements"] = list(a.spec.python_env.requirements)
            if f.manifest is not None and f.manifest.packages:
                custom["packages"] = f.manifest.packages
        state = ExecutionState.COMPLETE if f.ok else ExecutionState.FAILED
        return ExecutionUpdate(f.exec_id, int(state), props, custom)

    def task_cloned(self, step: str, task_id: str, origin: Node, frames: tuple[Frame, ...],
                    parents: list[str], iteration: int) -> int:
        """Record a task reused from the origin run (by reference, no blob copies)."""
        assert self.run_context is not None
        props = {k: v for k, v in origin.properties.items() if k in TASK_PROPERTIES}
        props.update(flow_name=self.flow_name, run_id=self.run_id, step_name=step, task_id=task_id,
                     origin_run_id=origin.properties.get("run_id"), origin_task=origin.name,
                     state="completed")
        custom = {k: v for k, v in origin.custom_properties.items()}
        custom.update(frames=[f.to_json() for f in frames], parents=parents)
        if iteration:
            custom["iteration"] = iteration
        return self.session.insert_execution(self.task_type, self.pathspec(step, task_id),
                                             int(ExecutionState.CACHED), props, custom,
                                             [self.run_context])

    def _value_artifact(self, step: str, task_id: str, name: str, out: Any,
                        type_id: int | None = None) -> NewArtifact:
        return NewArtifact(
            type_id=type_id or self.value_type, name=f"{self.pathspec(step, task_id)}/{name}",
            uri=value_uri(out.digest), state=int(ArtifactState.LIVE),
            properties={"digest": out.digest, "size": out.size, "python_type": out.python_type,
                        "preview": out.preview, "artifact_name": name, "inline": out.inline},
            custom_properties={"rich_preview": rich} if (rich := getattr(
                out, "rich_preview", None)) else {})

    def _log_properties(self, stream: str, data: bytearray) -> dict[str, Any]:
        if not data:
            return {}
        if len(data) <= LOG_INLINE_LIMIT:
            return {stream: bytes(data)}
        return {f"{stream}_digest": self.store.put_bytes(bytes(data))}

    # -- parameters -------------------------------------------------------------
    def record_parameters(self, outputs: dict[str, Any], datasets: set[str],
                          reused: dict[str, ArtifactRef] | None = None,
                          constants: set[str] | None = None) -> dict[str, ArtifactRef]:
        """Record the run's parameters (and class-level ``constants``, named in the
        task's ``constants`` property) as the ``_parameters`` task: new values in
        ``outputs`` become its output artifacts, ``reused`` ones (a resumed run's) are
        referenced as they are. Returns the refs of all of them."""
        assert self.run_context is not None
        state = ExecutionState.CACHED if reused and not outputs else ExecutionState.COMPLETE
        now = now_ms()
        exec_id = self.session.insert_execution(
            self.task_type, self.pathspec(PARAMETERS_STEP, "0"), int(state),
            {"flow_name": self.flow_name, "run_id": self.run_id, "step_name": PARAMETERS_STEP,
             "task_id": "0", "state": "completed", "started_at": now, "finished_at": now},
            {}, [self.run_context])
        names = list(outputs)
        new = [self._value_artifact(PARAMETERS_STEP, "0", n, outputs[n],
                                    self.dataset_type if n in datasets else None) for n in names]
        ids = self.session.insert_artifacts(new, [self.run_context])
        self.session.insert_events([(i, exec_id, int(EventType.OUTPUT), n)
                                    for i, n in zip(ids, names)])
        refs = dict(reused or {})
        refs.update({n: ArtifactRef(i, outputs[n].digest, outputs[n].size, outputs[n].inline)
                     for n, i in zip(names, ids)})
        self.parameter_ids = {n: r.id for n, r in refs.items()}
        self.session.set_properties("execution", exec_id,
                                    custom={"artifacts": self.parameter_ids,
                                            CONSTANTS_PROPERTY: sorted(constants or ())})
        return refs

    # -- transactions -----------------------------------------------------------
    def maybe_commit(self, force: bool = False) -> None:
        """Commit what waits, at most every COMMIT_INTERVAL (unless ``force``); the run's
        heartbeat goes with it every HEARTBEAT_SECONDS."""
        now = time.monotonic()
        if self.run_context is not None and now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self.session.set_properties("context", self.run_context,
                                        custom={HEARTBEAT_PROPERTY: now_ms()})
            self._last_heartbeat = now
            force = True
        if force or now - self._last_commit >= COMMIT_INTERVAL:
            self.session.commit()
            self._last_commit = time.monotonic()

    def release_write_lock(self) -> None:
        """Commit what waits, so the scheduler holds no write transaction (SQLite's
        write lock). Called before a task process is forked: SQLite keeps its record of
        the locks the process's connections hold in memory, a forked child inherits it,
        and a child forked in the middle of a write transaction could never write to
        the store itself (``Run(...).add_tag`` in a step failed with "database is
        locked" after 30 s). Called too before the scheduler waits for events, so it
        never sits on the lock while nothing happens."""
        if self.session.conn.in_transaction():
            self.maybe_commit(force=True)

    # -- runs that stopped without saying so -----------------------------------------
    def mark_stopped(self, run_context: int, status: str, error: ErrorInfo) -> None:
        """End a run and fail its tasks still recorded as running, in one transaction
        (after a scheduler fault, or for a run whose scheduler died)."""
        s, now = self.session, now_ms()
        running = s.executions_in_context(
            run_context, executions.c.last_known_state == int(ExecutionState.RUNNING))
        s.update_executions([ExecutionUpdate(
            e.id, int(ExecutionState.FAILED), {"state": "failed", "finished_at": now},
            {"error_type": error.type, "error_message": error.message}) for e in running])
        s.set_properties("context", run_context, {"status": status, "end_time": now})
        s.commit()

    def reap_dead_runs(self) -> list[str]:
        """Write FAILED on this store's runs whose scheduler died (see ``_liveness``);
        returns their names."""
        s = self.session
        candidates = s.nodes("context", contexts.c.type_id == self.run_type,
                             s.property_filter("context", "status", "RUNNING"))
        dead = [n for n in candidates if scheduler_gone(n.properties, n.custom_properties)]
        for node in dead:
            self.mark_stopped(node.id, "FAILED", failure(
                SchedulerDied, "The run's scheduler stopped (killed, or its machine was "
                "lost) while this task ran; continue the run with `resume`."))
        return [n.name or "" for n in dead]

    def close(self) -> None:
        self.session.close()


def value_uri(digest: str) -> str:
    """A stored value's URI: its content digest, so equal values share one URI
    (``MetadataStore.get_artifacts_by_uri`` finds every artifact holding it)."""
    return f"blake3:{digest}"


def run_display_params(values: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as shown on the run (JSON-safe, long values shortened)."""
    out = {}
    for name, value in values.items():
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            out[name] = repr(value)[:500]
            continue
        out[name] = value if len(text) <= 500 else f"<{type(value).__name__}>"
    return out


def script_path() -> str:
    return sys.argv[0] if sys.argv else ""
