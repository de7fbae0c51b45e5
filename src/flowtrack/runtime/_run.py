"""Starting and resuming runs: the runtime's entry points used by the CLI.

``start_run`` and ``resume_run`` open the store and database, choose a run id,
record the parameters (reading ``IncludeFile`` contents) and the flow's code
package, and drive a ``Scheduler`` with the chosen executor (local or Ray). They
return the run id or raise a ``FlowtrackError`` whose message the CLI prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exists

from .._config import settings
from .._errors import FlowtrackError, NotFoundError, ParameterError
from .._util import short_repr, type_name
from ..flow import FlowGraph, FlowSpec, IncludeFile
from ..lineage import (
    EXPERIMENT_TYPE,
    RUN_TYPE,
    TASK_TYPE,
    Database,
    LineageSession,
    Node,
    TypeKind,
    associations,
    contexts,
    executions,
)
from ..store import BlobStore, EncodeError
from ._code import CodeInfo, package_flow_code
from ._console import RunConsole
from ._executor import Executor
from ._local import LocalExecutor
from ._model import ArtifactRef, OutputRecord
from ._ray import RayExecutor
from ._recorder import RunRecorder, run_display_params, script_path
from ._resume import Origin
from ._scheduler import RunOptions, Scheduler, python_envs

EXECUTORS = ("local", "ray")


@dataclass
class RunRequest:
    flow_cls: type[FlowSpec]
    options: RunOptions
    run_id_file: str | None = None
    quiet: bool = False
    executor: str = "local"  # "local" or "ray"
    ray_address: str | None = None  # the cluster for "ray" (None: RAY_ADDRESS or a new one)


STALE_TEMPORARY_SECONDS = 24 * 3600


def _open_backends() -> tuple[Database, BlobStore]:
    cfg = settings()
    store = BlobStore(cfg.store_url, fsync=cfg.fsync, verify_reads=cfg.verify_reads)
    store.backend.remove_stale_temporaries(STALE_TEMPORARY_SECONDS)
    return Database.open(cfg.metadata_url), store


def _new_run_id() -> str:
    return str(time.time_ns() // 1000)


def _write_run_id(path: str | None, run_id: str) -> None:
    if not path:
        return
    try:
        Path(path).write_text(run_id)
    except OSError as exc:
        raise ParameterError(f"Cannot write the run id to --run-id-file {path!r}: "
                             f"{exc.strerror}. Give a path in an existing, writable "
                             "directory.") from None


def parameter_outputs(flow_cls: type[FlowSpec], values: dict[str, Any], store: BlobStore,
                      only: set[str] | None = None
                      ) -> tuple[dict[str, OutputRecord], set[str], dict[str, Any]]:
    """Encode parameter values (reading IncludeFiles); returns records, dataset names, display.
    ``only`` limits it to those attribute names (default: every parameter)."""
    outputs, datasets, display = {}, set(), {}
    for param in flow_cls._parameters():
        if only is not None and param.attr_name not in only:
            continue
        value = values.get(param.attr_name)
        if isinstance(param, IncludeFile) and value is not None:
            display[param.name] = value
            value = _read_include(param, value)
            datasets.add(param.attr_name)
        else:
            display[param.name] = value
        try:
            ref = store.put_value(value)
        except EncodeError as exc:
            raise ParameterError(f"Parameter '{param.name}' value cannot be stored: {exc}") from None
        outputs[param.attr_name] = OutputRecord(
            ref.digest, ref.size, ref.inline, type_name(value), short_repr(value))
    return outputs, datasets, display


def constant_outputs(flow_cls: type[FlowSpec], store: BlobStore,
                     console: RunConsole) -> dict[str, OutputRecord]:
    """The flow's class-level constants, stored once per run (as Metaflow does), so
    every task's data has them; one that cannot be stored is left out, with a note."""
    outputs = {}
    for name, value in sorted(flow_cls._constants().items()):
        try:
            ref = store.put_value(value)
        except EncodeError as exc:
            console.info(f"Class-level constant '{name}' is not stored with the run ({exc}); "
                         f"steps still read it from the class.")
            continue
        outputs[name] = OutputRecord(ref.digest, ref.size, ref.inline, type_name(value),
                                     short_repr(value))
    return outputs


def _read_include(param: IncludeFile, path: str) -> Any:
    try:
        data = Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise ParameterError(f"IncludeFile '--{param.name}': file {path!r} does not exist. Pass "
                             f"the path of an existing file with --{param.name} PATH.") from None
    except OSError as exc:
        raise ParameterError(f"IncludeFile '--{param.name}': cannot read {path!r}: "
                             f"{exc.strerror}.") from None
    return param.decode_content(data, path)


@dataclass
class RunParameters:
    """A new run's parameters, encoded and stored as blobs before the run is recorded:
    ``outputs`` are new values, ``reused`` a resumed origin's, ``display`` what the run
    shows as its params."""

    outputs: dict[str, OutputRecord]
    datasets: set[str]
    display: dict[str, Any]
    reused: dict[str, ArtifactRef] | None = None


def start_run(request: RunRequest, values: dict[str, Any]) -> str:
    """Run the flow from start with the given (converted) parameter values."""
    db, store = _open_backends()
    recorder = RunRecorder(db, store)
    flow_cls = request.flow_cls
    outputs, datasets, display = parameter_outputs(flow_cls, values, store)
    parameters = RunParameters(outputs, datasets, run_display_params(display))
    code = package_flow_code(flow_cls, store)
    console = RunConsole(quiet=request.quiet)
    with _connected_executor(request, store, code, console) as executor:
        run_id, refs = _record_new_run(recorder, request, None, code, parameters, console)
        return _drive(request, recorder, executor, console, run_id, refs, None)


def graph_description(flow_cls: type[FlowSpec]) -> list[dict[str, Any]]:
    """The flow's steps in order, with their kind, successors and docstring's first line
    (recorded on the run, so the UI can draw the DAG without the flow's code)."""
    return [{"name": n.name, "type": n.type, "next": list(n.out_funcs),
             "foreach": n.foreach_param, "doc": (n.doc or "").strip().split("\n")[0]}
            for n in FlowGraph(flow_cls).sorted_nodes()]


def _record_new_run(recorder: RunRecorder, request: RunRequest, origin_run_id: str | None,
                    code: CodeInfo | None, parameters: RunParameters, console: RunConsole
                    ) -> tuple[str, dict[str, ArtifactRef]]:
    """Record the run together with its parameters in one transaction, so a run in the
    store always has them (a kill in between leaves no run at all); returns the run id
    and the parameters' artifact refs. Runs of the store whose scheduler died are
    marked FAILED first."""
    flow_cls = request.flow_cls
    for name in recorder.reap_dead_runs():
        console.info(f"Run {name} had lost its scheduler; it is now marked FAILED.")
    for _ in range(5):
        run_id = _new_run_id()
        _write_run_id(request.run_id_file, run_id)  # before recording: a bad path costs nothing
        try:
            recorder.start_run(flow_cls.__name__, run_id, request.options.user,
                               request.options.tags, origin_run_id, script_path(),
                               graph_description(flow_cls),
                               code.to_json() if code is not None else None,
                               request.executor, commit=False, project=request.options.project)
            break
        except ValueError:  # the same microsecond as another run: take the next
            recorder.session.rollback()
            time.sleep(0.001)
    else:
        raise FlowtrackError("Could not allocate a unique run id; try again.")
    constants = constant_outputs(flow_cls, recorder.store, console)
    refs = recorder.record_parameters({**parameters.outputs, **constants}, parameters.datasets,
                                      parameters.reused, constants=set(constants))
    recorder.set_run_params(parameters.display)
    recorder.maybe_commit(force=True)
    # tasks get the parameters; the constants are in every task's data through the record
    return run_id, {name: ref for name, ref in refs.items() if name not in constants}


def _executor(request: RunRequest, store: BlobStore, code: CodeInfo | None,
              console: RunConsole) -> Executor:
    if request.executor == "ray":
        return RayExecutor(request.flow_cls, store, code, request.ray_address, console)
    if request.executor != "local":
        raise ParameterError(f"Unknown executor {request.executor!r}; choose one of "
                             f"{', '.join(EXECUTORS)}.")
    return LocalExecutor(request.flow_cls, store, code)


@contextmanager
def _connected_executor(request: RunRequest, store: BlobStore, code: CodeInfo | None,
                        console: RunConsole) -> Iterator[Executor]:
    """The run's executor, connected and with its @pypi environments ready before the
    run is recorded (so a cluster that cannot be reached or a package that does not
    resolve leaves no failed run behind), and closed after it."""
    executor = _executor(request, store, code, console)
    try:
        executor.prepare_envs(python_envs(request.flow_cls, request.options), console.info)
        yield executor
    finally:
        executor.close()


def _drive(request: RunRequest, recorder: RunRecorder, executor: Executor, console: RunConsole,
           run_id: str, parameters: dict[str, ArtifactRef], origin: Origin | None) -> str:
    flow_cls = request.flow_cls
    console.info(f"Workflow starting (run-id {run_id}), flow {flow_cls.__name__}, "
                 f"user {request.options.user}, pid {os.getpid()}")
    scheduler = Scheduler(flow_cls, flow_cls._graph, recorder, executor, console,
                          request.options, run_id, parameters, origin)
    try:
        scheduler.run()
    finally:
        recorder.close()
    console.info("Done! See the run with: "
                 f"Run('{flow_cls.__name__}/{run_id}') in Python, or `dump {flow_cls.__name__}/"
                 f"{run_id}/end`.")
    return run_id


def resume_run(request: RunRequest, step: str | None, origin_run_id: str | None) -> str:
    """Resume the origin run (default: this user's latest run of this flow)."""
    db, store = _open_backends()
    flow_cls = request.flow_cls
    graph = flow_cls._graph
    with LineageSession(db) as session:
        run_node = _origin_run(session, flow_cls.__name__, origin_run_id, request.options.user)
        tasks = _run_tasks(session, run_node)
        origin = Origin(session, graph, run_node, tasks, step)
    if origin.resume_step is None and run_node.properties.get("status") == "FINISHED":
        raise FlowtrackError(
            f"Run {run_node.name} finished successfully, so there is no failed step to resume "
            f"from. Name the step to re-run from: `resume STEP` (steps: "
            f"{', '.join(graph.nodes)}).")
    console = RunConsole(quiet=request.quiet)
    # everything that can refuse the origin happens before the new run is recorded
    parameters = _resumed_parameters(flow_cls, origin, store, console)
    recorder = RunRecorder(db, store)
    code = package_flow_code(flow_cls, store)
    with _connected_executor(request, store, code, console) as executor:
        run_id, refs = _record_new_run(recorder, request, origin.run_id, code, parameters,
                                        console)
        where = (f"step '{origin.resume_step}'" if origin.resume_step
                 else "the first unfinished task")
        console.info(f"Resuming run {run_node.name} from {where}.")
        return _drive(request, recorder, executor, console, run_id, refs, origin)


def _resumed_parameters(flow_cls: type[FlowSpec], origin: Origin, store: BlobStore,
                        console: RunConsole) -> RunParameters:
    """The origin's parameter values, plus defaults for parameters added since."""
    reused = origin.parameter_refs()
    added = {p.attr_name: p.default_value() for p in flow_cls._parameters()
             if p.attr_name not in reused}
    outputs, datasets, display = parameter_outputs(flow_cls, added, store, only=set(added))
    if added:
        console.info(f"Parameter(s) {', '.join(sorted(added))} are new since run "
                     f"{origin.run.name}; using their defaults.")
    shown = {**(origin.run.custom_properties.get("params") or {}), **run_display_params(display)}
    return RunParameters(outputs, datasets, shown, reused)


def _origin_run(session: LineageSession, flow_name: str, run_id: str | None, user: str) -> Node:
    run_type = session.find_type_id(TypeKind.CONTEXT, RUN_TYPE)
    if run_type is not None and run_id is not None:
        node = session.node_by_name("context", run_type, f"{flow_name}/{run_id}")
        if node is not None:
            return node
        raise NotFoundError(f"Run {flow_name}/{run_id} does not exist in this store; check "
                            "--origin-run-id (see the run ids with the client: "
                            f"Flow('{flow_name}').runs()).")
    experiment_type = session.find_type_id(TypeKind.CONTEXT, EXPERIMENT_TYPE)
    experiment = (session.node_by_name("context", experiment_type, flow_name)
                  if experiment_type is not None else None)
    if experiment is not None:
        mine = session.property_filter("context", "user", user)
        # runs that never recorded a task (stopped while starting) have nothing to resume
        started = exists().where(associations.c.context_id == contexts.c.id)
        for extra in ([mine], []):  # this user's latest run, else anyone's
            found = session.child_contexts(experiment.id, started, *extra,
                                           order_by=contexts.c.id.desc(), limit=1)
            if found:
                return found[0]
    raise NotFoundError(f"There is no earlier run of {flow_name} in this store to resume. Start "
                        "one with `run`.")


def _run_tasks(session: LineageSession, run_node: Node) -> list[Node]:
    task_type = session.find_type_id(TypeKind.EXECUTION, TASK_TYPE)
    return session.executions_in_context(run_node.id, executions.c.type_id == task_type)



