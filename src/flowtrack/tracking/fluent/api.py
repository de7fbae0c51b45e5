"""MLflow's fluent tracking API (``flowtrack.start_run``, ``log_metric``...): the
active experiment, the stack of active runs (per thread, as in MLflow), and the
buffered writes to the store the tracking URI names.

Tracking URIs: unset means the project's store (``FLOWTRACK_*``, like flows); a
directory means an embedded store there (``metadata.db`` and ``blobs/``); a
database URL (``sqlite:///...``, ``postgresql://...``) means that metadata database
with the configured blob store.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._config import settings
from ..._util import now_ms, task_tracking_sink
from ..artifacts import files as _files
from ..entities.records import Experiment, Run, RunData, RunInfo, RunStatus, ViewType
from ..entities.validation import (
    INT64_MAX,
    INT64_MIN,
    check_int,
    check_key,
    check_metric_value,
    check_param_value,
    check_tag_value,
)
from ..errors import InvalidParameterError, TrackingError
from ..store.tracking_store import DEFAULT_EXPERIMENT_ID, TrackingStore, open_store
from .buffer import LogBuffer

_tracking_uri: str | None = None
_experiment_id: str | None = None
_stores: dict[str, tuple[TrackingStore, LogBuffer]] = {}
_stores_lock = threading.Lock()
_local = threading.local()
_last_run_id: str | None = None


# -- where things go ---------------------------------------------------------------------
def set_tracking_uri(uri: str | Path | None) -> None:
    """Log to ``uri`` from now on: a directory, a database URL, or None for the default."""
    global _tracking_uri, _experiment_id
    _tracking_uri = None if uri is None else str(uri)
    _experiment_id = None


def get_tracking_uri() -> str:
    uri = _tracking_uri or os.environ.get("FLOWTRACK_TRACKING_URI") \
        or os.environ.get("MLFLOW_TRACKING_URI")
    return uri or settings().metadata_url


def tracking_store() -> tuple[TrackingStore, LogBuffer]:
    """The store (and its write buffer) of the current tracking URI."""
    return store_for(get_tracking_uri())


def store_for(uri: str) -> tuple[TrackingStore, LogBuffer]:
    """The store (and write buffer) a tracking URI names, opened once per process."""
    with _stores_lock:
        found = _stores.get(uri)
        if found is None:
            store = _open_store(uri)
            found = _stores[uri] = (store, LogBuffer(store))
        return found


def _open_store(uri: str) -> Any:
    if uri.startswith(("http://", "https://")):
        from ..remote.rest_store import RestTrackingStore

        return RestTrackingStore(uri)
    return open_store(uri)


def _store() -> TrackingStore:
    store, buffer = tracking_store()
    buffer.flush()  # reads see everything this process logged
    return store


# -- experiments ---------------------------------------------------------------------------
def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active (created if the name is new) and return it."""
    global _experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterError("set_experiment needs exactly one of experiment_name and "
                                    "experiment_id.")
    store = _store()
    if experiment_name is not None:
        found = store.experiment_id_for_name(experiment_name)
        assert found is not None
        experiment_id = found
    experiment = store.get_experiment(str(experiment_id))
    _experiment_id = experiment.experiment_id
    return experiment


def _current_experiment_id() -> str:
    if _experiment_id is not None:
        return _experiment_id
    name = os.environ.get("FLOWTRACK_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        return str(_store().experiment_id_for_name(name))
    return os.environ.get("MLFLOW_EXPERIMENT_ID") or DEFAULT_EXPERIMENT_ID


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: dict[str, Any] | None = None) -> str:
    return _store().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _store().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _store().get_experiment_by_name(name)


def search_experiments(view_type: int = ViewType.ACTIVE_ONLY, max_results: int | None = None,
                       filter_string: str | None = None,
                       order_by: Sequence[str] | None = None) -> list[Experiment]:
    from ..entities.memory_search import filter_experiments

    found = filter_experiments(_store().search_experiments(view_type), filter_string, order_by)
    return found[:max_results] if max_results is not None else found


# -- runs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActiveRun(Run):
    """The run ``start_run`` returns: a ``Run`` that is also a context manager ending the
    run, FAILED if the block raised (KILLED on Ctrl-C), FINISHED otherwise."""

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if any(h.run.info.run_id == self.info.run_id for h in _stack()):
            end_run(status)


@dataclass
class _Handle:
    """An active run and where its writes go, so logging needs no lookups."""

    run: ActiveRun
    store: TrackingStore | None  # None inside a flow's step (see _task_handle)
    buffer: Any  # a LogBuffer, or the task's TaskTrackingSink
    pk: int  # the run's context id
    params: dict[str, str]  # params logged so far, for the write-once check


def _stack() -> list[_Handle]:
    if not hasattr(_local, "runs"):
        _local.runs = []
    return _local.runs  # type: ignore[no-any-return]


def start_run(run_id: str | None = None, experiment_id: str | None = None,
              run_name: str | None = None, nested: bool = False,
              tags: dict[str, Any] | None = None, description: str | None = None,
              parent_run_id: str | None = None) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active one."""
    global _last_run_id
    stack = _stack()
    if stack and not nested:
        raise InvalidParameterError(
            f"Run with UUID {stack[-1].run.info.run_id} is already active. To start a nested "
            "run, call start_run with nested=True; to start a new run, first end the current "
            "one with end_run().")
    store, buffer = tracking_store()
    buffer.flush()
    if run_id is not None:
        store.update_run_info(run_id, status=RunStatus.RUNNING)
        run = store.get_run(run_id)
    else:
        all_tags = _default_tags()
        all_tags.update(tags or {})
        parent = parent_run_id or (stack[-1].run.info.run_id if stack and nested else None)
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        if description:
            all_tags["mlflow.note.content"] = description
        run = store.create_run(str(experiment_id or _current_experiment_id()),
                               settings().user, now_ms(), all_tags, run_name)
    active = ActiveRun(run.info, run.data, run.inputs)
    stack.append(_Handle(active, store, buffer, store.run_pk(run.info.run_id),
                         dict(run.data.params)))
    _last_run_id = active.info.run_id
    return active


def _default_tags() -> dict[str, str]:
    source = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "<console>"
    return {"mlflow.user": settings().user, "mlflow.source.name": source,
            "mlflow.source.type": "LOCAL"}


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (if any) after writing everything logged to it."""
    stack = _stack()
    if not stack:
        return
    handle = stack.pop()
    assert handle.store is not None  # only a step's handle has none, never on the stack
    run_id = handle.run.info.run_id
    try:
        handle.buffer.flush()
    except Exception as exc:
        _end_run_unwritten(handle, exc)
    handle.store.update_run_info(run_id, status=status, end_time=now_ms())


def flush_async_logging() -> None:
    """Write every metric point, param and tag this process logged and still holds
    (MLflow's name). Raises, keeping them for the next try, if the store cannot take
    them, e.g. while its disk is full."""
    for _store_of_uri, buffer in list(_stores.values()):
        buffer.flush()


def _end_run_unwritten(handle: _Handle, exc: Exception) -> None:
    """What was logged could not be written: the run ends FAILED (if the store takes even
    that), never FINISHED without its data, and the user learns what happened."""
    assert handle.store is not None
    run_id = handle.run.info.run_id
    waiting = handle.buffer.pending_points(handle.pk)
    try:
        handle.store.update_run_info(run_id, status=RunStatus.FAILED, end_time=now_ms())
        marked = "The run is marked FAILED."
    except Exception:  # noqa: BLE001 - the store is failing; the first error is the news
        marked = "The run could not even be marked FAILED, so it still reads RUNNING."
    kept = (f" {waiting} metric point(s) are kept in memory and written when the store "
            "takes them again (call flowtrack.flush_async_logging() to retry, e.g. after freeing "
            "disk space); they are lost if this process exits first." if waiting else "")
    raise TrackingError(f"Could not write what was logged to run {run_id}: "
                        f"{_one_line(exc)}. {marked}{kept}") from exc


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@atexit.register
def _end_runs_at_exit() -> None:
    """Like MLflow: runs still active when the interpreter exits end as FINISHED
    (registered after the log writer's exit hook, so it runs before it)."""
    stack = _stack()
    while stack:
        end_run(RunStatus.FINISHED)


def active_run() -> ActiveRun | None:
    """The active run; inside a flow's step, the flow run."""
    stack = _stack()
    if stack:
        return stack[-1].run
    sink = task_tracking_sink()
    return _task_handle(sink).run if sink is not None else None


def last_active_run() -> Run | None:
    active = active_run()
    if active is not None:
        return get_run(active.info.run_id)
    return get_run(_last_run_id) if _last_run_id else None


def get_run(run_id: str) -> Run:
    return _store().get_run(run_id)


def delete_run(run_id: str) -> None:
    _store().set_run_lifecycle(run_id, deleted=True)


def _active_or_new_run() -> ActiveRun:
    """The active run; like MLflow, logging without one starts one."""
    return active_run() or start_run()


def _handle(run_id: str | None = None) -> _Handle:
    """Where a log call goes: the active run (started if none), or ``run_id``."""
    stack = _stack()
    if run_id is None:
        if not stack:
            sink = task_tracking_sink()
            if sink is not None:  # inside a flow's step: log to the flow run
                return _task_handle(sink)
            start_run()
        return stack[-1]
    for handle in stack:
        if handle.run.info.run_id == run_id:
            return handle
    store, buffer = tracking_store()
    run = store.get_run(run_id)
    return _Handle(ActiveRun(run.info, run.data, run.inputs), store, buffer,
                   store.run_pk(run_id), dict(run.data.params))


def _task_handle(sink: Any) -> _Handle:
    """The flow run a step logs to; writes go to the task's manifest via ``sink``."""
    info = RunInfo(run_id=sink.run_id, experiment_id="", run_name="", user_id="",
                   status=RunStatus.RUNNING, start_time=None, end_time=None, artifact_uri="",
                   lifecycle_stage="active")
    handle: _Handle | None = getattr(_local, "task_handle", None)
    if handle is None or handle.buffer is not sink:
        handle = _local.task_handle = _Handle(ActiveRun(info, RunData()), None, sink, 0, {})
    return handle


_checked_keys: set[str] = set()  # metric keys already validated (the hot path)


# -- logging -------------------------------------------------------------------------------
def log_metric(key: str, value: float, step: int | None = None,
               timestamp: int | None = None, run_id: str | None = None) -> None:
    """Log one point of metric ``key`` (buffered; written within a second)."""
    handle = _handle(run_id)
    if key not in _checked_keys:
        _checked_keys.add(check_key(key, "metric"))
    if type(value) is not float:
        value = check_metric_value(key, value)
    if step is None:
        step = 0
    elif type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
        step = check_int(step, "step")
    if timestamp is None:
        timestamp = now_ms()
    elif type(timestamp) is not int or not INT64_MIN <= timestamp <= INT64_MAX:
        timestamp = check_int(timestamp, "timestamp")
    handle.buffer.add_point(handle.pk, key, value, timestamp, step)


def log_metrics(metrics: dict[str, float], step: int | None = None,
                timestamp: int | None = None, run_id: str | None = None) -> None:
    timestamp = now_ms() if timestamp is None else timestamp
    for key, value in metrics.items():
        log_metric(key, value, step, timestamp, run_id)


def log_param(key: str, value: Any) -> Any:
    """Log a param (write-once: logging another value for the key is an error)."""
    handle = _handle()
    text = check_param_value(check_key(key, "param"), value)
    known = handle.params
    if key in known and known[key] != text:
        raise InvalidParameterError(
            f"Changing param values is not allowed: param {key!r} of run "
            f"{handle.run.info.run_id} was already logged with value {known[key]!r}, not "
            f"{text!r}. Params are write-once; log the new value under another key or in a "
            "new run.")
    known[key] = text
    handle.buffer.add_param(handle.pk, key, text)
    return value


def log_params(params: dict[str, Any]) -> None:
    for key, value in params.items():
        log_param(key, value)


def set_tag(key: str, value: Any) -> None:
    handle = _handle()
    handle.buffer.add_tag(handle.pk, check_key(key, "tag"), check_tag_value(key, value))


def set_tags(tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        set_tag(key, value)


def delete_tag(key: str) -> None:
    _store().delete_tag(_active_or_new_run().info.run_id, key)


# -- files -----------------------------------------------------------------------------------
def _log_file(run_id: str | None, path: str, data: bytes) -> None:
    handle = _handle(run_id)
    if handle.store is None:  # inside a step: the file goes with the task's manifest
        clean = _files.clean_path(path)
        if not clean:
            raise InvalidParameterError("A logged file needs a file name.")
        handle.buffer.add_file(clean, data)
    else:
        _files.log_bytes(handle.store, handle.run.info.run_id, path, data)


def log_artifact(local_path: str | Path, artifact_path: str | None = None,
                 run_id: str | None = None) -> None:
    """Copy a local file into the run, under ``artifact_path`` if given."""
    for target, data in _files.local_file(local_path, artifact_path):
        _log_file(run_id, target, data)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None,
                  run_id: str | None = None) -> None:
    """Copy every file under a local directory into the run."""
    for target, data in _files.local_dir(local_dir, artifact_path):
        _log_file(run_id, target, data)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    _log_file(run_id, artifact_file, text.encode("utf-8"))


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a dict as JSON, or YAML when ``artifact_file`` ends in .yaml or .yml."""
    log_text(_files.dict_text(dictionary, artifact_file), artifact_file, run_id)


def log_figure(figure: Any, artifact_file: str, run_id: str | None = None,
               save_kwargs: dict[str, Any] | None = None) -> None:
    """Log a matplotlib figure as an image (format from the file extension)."""
    import io

    if not hasattr(figure, "savefig"):
        raise InvalidParameterError(f"log_figure takes a matplotlib Figure; got "
                                    f"{type(figure).__name__}.")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(artifact_file).suffix.lstrip(".") or "png",
                   **(save_kwargs or {}))
    _log_file(run_id, artifact_file, buffer.getvalue())


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run = _active_or_new_run()
    base = run.info.artifact_uri
    return f"{base}/{_files.clean_path(artifact_path)}" if artifact_path else base


# -- searching -------------------------------------------------------------------------------
def search_runs(experiment_ids: Sequence[str] | None = None, filter_string: str = "",
                run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 100_000,
                order_by: Sequence[str] | None = None, output_format: str = "pandas",
                search_all_experiments: bool = False,
                experiment_names: Sequence[str] | None = None) -> Any:
    """Runs matching ``filter_string``, as a pandas DataFrame with MLflow's columns
    (``output_format="pandas"``) or a list of Run objects (``"list"``)."""
    if output_format not in ("pandas", "list"):
        raise InvalidParameterError(f"output_format must be 'pandas' or 'list'; got "
                                    f"{output_format!r}.")
    store = _store()
    ids = [str(e) for e in experiment_ids or []]
    for name in experiment_names or []:
        experiment = store.get_experiment_by_name(name)
        if experiment is not None:
            ids.append(experiment.experiment_id)
    if not ids and not experiment_names:
        ids = ([e.experiment_id for e in store.search_experiments(ViewType.ALL)]
               if search_all_experiments else [_current_experiment_id()])
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page, token = store.search_runs(ids, filter_string, run_view_type,
                                        min(max_results - len(runs), 50_000), order_by, token)
        runs += page
        if token is None:
            break
    if output_format == "list":
        return runs
    from ..entities.frames import runs_to_frame

    return runs_to_frame(runs)


# -- datasets ----------------------------------------------------------------------------------
def log_input(dataset: Any, context: str | None = None,
              tags: dict[str, Any] | None = None) -> None:
    """Record a dataset (``flowtrack.data.from_pandas(df, ...)`` or a DataFrame) as an
    input of the active run; in a step, of the task."""
    from ..artifacts.datasets import as_dataset
    from ..artifacts.datasets import log_input as record

    found = as_dataset(dataset)
    handle = _handle()
    if handle.store is None:
        handle.buffer.add_input(found, context)
    else:
        handle.buffer.flush()
        record(handle.store, handle.run.info.run_id, found, context, tags)


# -- registry ----------------------------------------------------------------------------------
def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None) -> Any:
    """Register the model at ``model_uri`` as a new version of ``name``."""
    from ..registry.model_registry import registry_for

    return registry_for(_store()).create_model_version(name, str(model_uri), tags=tags)
