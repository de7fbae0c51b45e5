"""MLflow's tracking endpoints (experiments, runs, metrics, run artifacts listing) over
the tracking store; request and response fields as in MLflow's REST API reference.

MLflow 2's ``log-model`` appends to a run's ``mlflow.log-model.history`` tag, which any
client may also set to any string: a value that is not a JSON list of objects is
ignored (and replaced) when the next model is logged, never an error.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from .._util import now_ms
from ..tracking import Dataset, Metric, ViewType
from ..tracking.errors import InvalidParameterError, ResourceDoesNotExistError
from ..tracking.service import (
    check_batch_sizes,
    clean_path,
    encode_columns,
    filter_experiments,
    list_files,
    offset_of,
    proto_double,
    record_model,
    token_for,
)
from . import _json
from ._context import ServerContext
from ._requests import Fields, as_double, loads_json
from ._routes import route

_VIEW_TYPES = {"ACTIVE_ONLY": ViewType.ACTIVE_ONLY, "DELETED_ONLY": ViewType.DELETED_ONLY,
               "ALL": ViewType.ALL}
MAX_HISTORY_PAGE = 25_000  # points per metrics/get-history page unless asked for fewer
MODEL_HISTORY_TAG = "mlflow.log-model.history"
log = logging.getLogger("flowtrack.server")


def view_type(f: Fields, name: str) -> int:
    value = f.values.get(name)
    if value in (None, ""):
        return ViewType.ACTIVE_ONLY
    if isinstance(value, str) and value.upper() in _VIEW_TYPES:
        return _VIEW_TYPES[value.upper()]
    if isinstance(value, int) and value in _VIEW_TYPES.values():
        return value
    if isinstance(value, str) and value.isdigit() and int(value) in _VIEW_TYPES.values():
        return int(value)
    raise InvalidParameterError(f"{name} must be one of ACTIVE_ONLY, DELETED_ONLY, ALL; got "
                                f"{value!r}.")


def page(items: list[Any], f: Fields, default_size: int) -> tuple[list[Any], str | None]:
    """One page of an in-memory result list, by an offset token."""
    size = f.integer("max_results", default_size)
    if size <= 0:
        raise InvalidParameterError(f"max_results must be positive; got {size}.")
    start = offset_of(f.text("page_token"))
    end = start + size
    return items[start:end], (token_for(end) if end < len(items) else None)


def paged(key: str, items: list[Any], token: str | None) -> dict[str, Any]:
    return {key: items, "next_page_token": token} if token else {key: items}


# -- experiments -------------------------------------------------------------------------
@route("POST", path="experiments/create")
def create_experiment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"experiment_id": ctx.store.create_experiment(
        f.required_string("name"), _resolved_location(f.text("artifact_location")),
        f.key_values("tags"))}


def _resolved_location(location: str | None) -> str | None:
    """An experiment's artifact location as MLflow's server keeps it: a relative local
    path made absolute against the server's working directory, anything else as given.
    (flowtrack keeps runs' files in its blob store whatever the location says.)"""
    if not location or "://" in location or location.startswith(("mlflow-artifacts:",
                                                                  "file:")):
        return location
    return location if os.path.isabs(location) else os.path.abspath(location)


@route("GET", path="experiments/get")
def get_experiment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"experiment": _json.experiment(ctx.store.get_experiment(
        f.required("experiment_id")))}


@route("GET", path="experiments/get-by-name")
def get_experiment_by_name(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    name = f.required("experiment_name")
    found = ctx.store.get_experiment_by_name(name)
    if found is None:
        raise ResourceDoesNotExistError(f"Could not find experiment with name '{name}'")
    return {"experiment": _json.experiment(found)}


@route("GET", "POST", path="experiments/search")
def search_experiments(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    found = filter_experiments(ctx.store.search_experiments(view_type(f, "view_type")),
                               f.text("filter"), f.texts("order_by"))
    items, token = page(found, f, 1000)
    return paged("experiments", [_json.experiment(e) for e in items], token)


@route("POST", path="experiments/delete")
def delete_experiment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.set_experiment_lifecycle(f.required("experiment_id"), deleted=True)
    return {}


@route("POST", path="experiments/restore")
def restore_experiment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.set_experiment_lifecycle(f.required("experiment_id"), deleted=False)
    return {}


@route("POST", path="experiments/update")
def update_experiment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    if f.has("new_name"):
        ctx.store.rename_experiment(f.required("experiment_id"), f.required("new_name"))
    return {}


@route("POST", path="experiments/set-experiment-tag")
def set_experiment_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.set_experiment_tag(f.required("experiment_id"), f.required("key"),
                                 f.text("value", ""))
    return {}


@route("POST", path="experiments/delete-experiment-tag")
def delete_experiment_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.delete_experiment_tag(f.required("experiment_id"), f.required("key"))
    return {}


# -- runs ----------------------------------------------------------------------------------
def run_json(ctx: ServerContext, run_id: str) -> dict[str, Any]:
    run = ctx.store.get_run(run_id)
    latest = ctx.store.latest_points([run_id])[run_id]
    outputs = [{"model_id": m, "step": step}
               for m, step in ctx.logged_models.run_output_steps(run_id)]
    return _json.run_with_latest(run, {m.key: m for m in latest}, outputs)


def _run_id(f: Fields) -> str:
    run_id = f.text("run_id") or f.text("run_uuid")
    if not run_id:
        raise InvalidParameterError("Missing value for required parameter 'run_id'.")
    return str(run_id)


@route("POST", path="runs/create")
def create_run(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    tags = f.key_values("tags")
    user = f.text("user_id") or tags.get("mlflow.user") or ""
    run = ctx.store.create_run(f.text("experiment_id", "0"), user,
                               f.integer("start_time") or now_ms(), tags, f.text("run_name"))
    return {"run": run_json(ctx, run.info.run_id)}


@route("GET", path="runs/get")
def get_run(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"run": run_json(ctx, _run_id(f))}


@route("POST", path="runs/update")
def update_run(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    run_id = _run_id(f)
    ctx.store.update_run_info(run_id, status=f.text("status"), end_time=f.integer("end_time"),
                              run_name=f.text("run_name"))
    return {"run_info": run_json(ctx, run_id)["info"]}


@route("POST", path="runs/delete")
def delete_run(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.set_run_lifecycle(_run_id(f), deleted=True)
    return {}


@route("POST", path="runs/restore")
def restore_run(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.set_run_lifecycle(_run_id(f), deleted=False)
    return {}


@route("POST", "GET", path="runs/search")
def search_runs(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    runs, token = ctx.store.search_runs(
        f.texts("experiment_ids"), f.text("filter", ""), view_type(f, "run_view_type"),
        f.integer("max_results", 1000), f.texts("order_by"), f.text("page_token"))
    latest = ctx.store.latest_points([r.info.run_id for r in runs])
    found = [_json.run_with_latest(r, {m.key: m for m in latest[r.info.run_id]}, [])
             for r in runs]
    return paged("runs", found, token)


# -- logging -------------------------------------------------------------------------------
def _metric(f: Fields) -> Metric:
    return Metric(f.required("key"), as_double(f.values.get("value"), "value"),
                  f.integer("timestamp", required=True), f.integer("step", 0) or 0)


def _metrics(items: list[Any]) -> list[Metric]:
    """log-batch's metrics; the usual JSON types take a fast path (a request may carry
    1000), anything else the checked one with its precise error."""
    found = []
    for item in items:
        if type(item) is dict:
            key, value = item.get("key"), item.get("value")
            timestamp, step = item.get("timestamp"), item.get("step", 0)
            if type(key) is str and type(value) is float and type(timestamp) is int \
                    and type(step) is int:
                found.append(Metric(key, value, timestamp, step))
                continue
        found.append(_metric(Fields(item) if isinstance(item, dict) else _not_object(item)))
    return found


def _not_object(item: Any) -> Fields:
    raise InvalidParameterError(f"Field 'metrics' must be a list of objects; got {item!r} in "
                                "it.")


@route("POST", path="runs/log-metric")
def log_metric(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    run_id, metric = _run_id(f), _metric(f)
    ctx.store.log_batch(run_id, [metric])
    model_id = f.text("model_id")
    if model_id:  # MLflow 3: the point is the model's too
        ctx.logged_models.log_metrics(model_id, [metric], run_id, f.text("dataset_name"),
                                      f.text("dataset_digest"))
    return {}


@route("POST", path="runs/log-parameter")
def log_param(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.log_batch(_run_id(f), params={f.required("key"): f.text("value", "")})
    return {}


@route("POST", path="runs/set-tag")
def set_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.log_batch(_run_id(f), tags={f.required("key"): f.text("value", "")})
    return {}


@route("POST", path="runs/delete-tag")
def delete_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.store.delete_tag(_run_id(f), f.required("key"))
    return {}


@route("POST", path="runs/log-batch")
def log_batch(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    metrics = _metrics(f.repeated("metrics"))
    params = f.objects("params")
    tags = f.key_values("tags")
    check_batch_sizes(len(metrics), len(params), len(tags))
    param_values: dict[str, str] = {}
    for p in params:
        key, value = p.required("key"), p.text("value", "")
        if param_values.get(key, value) != value:
            raise InvalidParameterError(f"A log-batch request names param {key!r} twice with "
                                        "different values.")
        param_values[key] = value
    run_id = _run_id(f)
    ctx.store.log_batch(run_id, metrics, param_values, tags)
    _log_model_metrics(ctx, run_id, f.repeated("metrics"))
    return {}


def _log_model_metrics(ctx: ServerContext, run_id: str, items: list[Any]) -> None:
    """The points of a log-batch that name a logged model, recorded for it too."""
    by_model: dict[tuple[str, str | None, str | None], list[Metric]] = {}
    for item in items:
        if isinstance(item, dict) and item.get("model_id"):
            m = Fields(item)
            where = (m.required("model_id"), m.text("dataset_name"), m.text("dataset_digest"))
            by_model.setdefault(where, []).append(_metric(m))
    for (model_id, dataset_name, dataset_digest), points in by_model.items():
        ctx.logged_models.log_metrics(model_id, points, run_id, dataset_name, dataset_digest)


@route("POST", path="runs/log-inputs")
def log_inputs(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    from ..tracking.service import log_dataset

    run_id = _run_id(f)
    for item in f.objects("datasets"):
        d = item.message("dataset")
        dataset = Dataset(d.required("name"), d.required("digest"),
                          d.text("source_type", ""), d.text("source", ""), d.text("schema"),
                          d.text("profile"))
        log_dataset(ctx.store, run_id, dataset, None, item.key_values("tags"))
    model_ids = [m.required("model_id") for m in f.objects("models")]
    if model_ids:
        ctx.logged_models.link_outputs(run_id, model_ids)
    return {}


@route("POST", path="runs/outputs")
def log_outputs(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    models = f.objects("models")
    if not models:
        raise InvalidParameterError("Missing value for required parameter 'models'. Name the "
                                    "logged models the run produced, each with its step.")
    ctx.logged_models.link_outputs(_run_id(f), [m.required("model_id") for m in models],
                                   [m.integer("step", 0) or 0 for m in models])
    return {}


@route("POST", path="runs/log-model")
def log_model_history(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    """MLflow 2's record of a logged model: kept in the run's history tag."""
    run_id = _run_id(f)
    entry = _model_entry(f.required("model_json"))
    history = _model_history(run_id, ctx.store.get_run(run_id).data.tags.get(MODEL_HISTORY_TAG))
    ctx.store.log_batch(run_id, tags={MODEL_HISTORY_TAG: json.dumps(history + [entry])})
    path = entry.get("artifact_path")
    if isinstance(path, str) and path:  # the Model artifact, for lineage
        flavors = [name for name in entry.get("flavors") or {} if name != "python_function"]
        record_model(ctx.store, run_id, clean_path(path, "artifact_path"),
                     flavors[0] if flavors else "python_function")
    return {}


_DESCRIBE_MODEL = ("Send the model's MLmodel fields as a JSON object, with 'flavors' an object "
                   'of flavor names (e.g. {"artifact_path": "model", "flavors": {"sklearn": '
                   "{}}}).")


def _model_entry(model_json: str) -> dict[str, Any]:
    """log-model's ``model_json``: an object whose ``flavors`` (if any) is an object."""
    entry = loads_json(model_json, "Field 'model_json'", _DESCRIBE_MODEL)
    if not isinstance(entry, dict):
        raise InvalidParameterError(f"Field 'model_json' must hold a JSON object; got "
                                    f"{type(entry).__name__}. {_DESCRIBE_MODEL}")
    flavors = entry.get("flavors")
    if flavors is not None and not isinstance(flavors, dict):
        raise InvalidParameterError(f"model_json's 'flavors' must be an object; got "
                                    f"{type(flavors).__name__}. {_DESCRIBE_MODEL}")
    return entry


def _model_history(run_id: str, value: str | None) -> list[Any]:
    """The models a run's history tag lists; a value that is not a JSON list of objects
    (a tag set by hand) lists none."""
    try:
        found = [] if value is None else loads_json(value, MODEL_HISTORY_TAG, "")
    except InvalidParameterError:
        found = None
    if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
        log.warning("run %s: its %s tag is not a JSON list of objects; the model logged now "
                    "starts a new history", run_id, MODEL_HISTORY_TAG)
        return []
    return found


# -- reading metrics and files --------------------------------------------------------------
@route("GET", path="metrics/get-history")
def get_metric_history(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    run_id = _run_id(f)
    key = f.required("metric_key")
    size = f.integer("max_results", MAX_HISTORY_PAGE)
    if size <= 0:
        raise InvalidParameterError(f"max_results must be positive; got {size}.")
    (steps, timestamps, values), token = ctx.history_pages.page(
        (run_id, key), lambda: ctx.store.metric_history_columns(run_id, key),
        f.text("page_token"), size)
    points = [{"key": key, "value": proto_double(v), "timestamp": t, "step": s}
              for s, t, v in zip(steps, timestamps, values)]
    return paged("metrics", points, token)


MAX_BULK_RUNS = 100  # runs per bulk history request, as MLflow's server allows
MAX_SAMPLED_POINTS = 2500  # per run in get-history-bulk-interval


@route("GET", path="metrics/get-history-bulk")
def get_metric_history_bulk(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    """One metric's whole history for several runs (the web UI's charts), each point
    with its run id, run by run."""
    run_ids = _bulk_run_ids(f, "run_id")
    key = f.text("metric_key")
    if key is None:
        raise InvalidParameterError("GetMetricHistoryBulk request must specify a metric_key.")
    limit = min(f.integer("max_results", MAX_HISTORY_PAGE), MAX_HISTORY_PAGE)
    points: list[dict[str, Any]] = []
    for run_id in sorted(run_ids):
        steps, timestamps, values = ctx.store.metric_history_columns(run_id, key)
        ordered = sorted(zip(timestamps, steps, values), key=lambda p: (p[0], p[1], p[2]))
        points += [{"key": key, "value": proto_double(v), "timestamp": t, "step": s,
                    "run_id": run_id} for t, s, v in ordered]
    return {"metrics": points[:limit]}


@route("GET", path="metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    """Up to ``max_results`` points of one metric per run, evenly sampled over the
    history in step order (optionally between ``start_step`` and ``end_step``),
    keeping its first and last points."""
    run_ids = _bulk_run_ids(f, "run_ids")
    key = f.required("metric_key")
    size = f.integer("max_results", MAX_SAMPLED_POINTS)
    if not 1 <= size <= MAX_SAMPLED_POINTS:
        raise InvalidParameterError(f"max_results must be between 1 and {MAX_SAMPLED_POINTS}.")
    start, end = f.integer("start_step"), f.integer("end_step")
    if (start is None) != (end is None):
        raise InvalidParameterError("If either start step or end step are specified, both "
                                    "must be specified.")
    if start is not None and start > end:
        raise InvalidParameterError(f"end_step must be greater than start_step. Found "
                                    f"start_step={start} and end_step={end}.")
    points: list[dict[str, Any]] = []
    for run_id in run_ids:
        steps, timestamps, values = ctx.store.metric_history_columns(run_id, key)
        rows = sorted((s, t, v) for s, t, v in zip(steps, timestamps, values)
                      if start is None or start <= s <= end)
        points += [{"key": key, "value": proto_double(v), "timestamp": t, "step": s,
                    "run_id": run_id} for s, t, v in evenly_sampled(rows, size)]
    return {"metrics": points}


def evenly_sampled(rows: list[Any], size: int) -> list[Any]:
    """At most ``size`` of ``rows``, spread evenly, the first and the last always in
    (only the last when ``size`` is 1), as MLflow samples histories for its charts."""
    if len(rows) <= size:
        return rows
    if size == 1:
        return rows[-1:]
    picked = [rows[(i * len(rows)) // size] for i in range(size - 1)]
    return picked + rows[-1:]


def _bulk_run_ids(f: Fields, name: str) -> list[str]:
    run_ids = f.texts(name)
    if not run_ids:
        raise InvalidParameterError(f"GetMetricHistoryBulk request must specify at least one "
                                    f"{name}.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidParameterError(f"GetMetricHistoryBulk request cannot specify more than "
                                    f"{MAX_BULK_RUNS} run_ids. Received {len(run_ids)} run_ids.")
    if any(not run_id.strip() for run_id in run_ids):
        raise InvalidParameterError(f"An empty run id in {name}: name each run by its id.")
    return run_ids


def history_bytes(ctx: ServerContext, run_id: str, key: str) -> bytes:
    """A whole history in one response, as packed arrays (flowtrack's own client asks
    for this; MLflow's pages through get-history)."""
    return encode_columns(*ctx.store.metric_history_columns(run_id, key))


@route("GET", path="artifacts/list")
def list_artifacts(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    run_id = _run_id(f)
    run = ctx.store.get_run(run_id)
    files = list_files(ctx.store, run_id, f.text("path"))
    return {"root_uri": run.info.artifact_uri, "files": [_json.file_info(x) for x in files]}
