"""The tracking store behind an ``http://`` tracking URI: the same methods as
``TrackingStore`` (and a registry like ``Registry``), each one a request to a
flowtrack server (or any server speaking MLflow's REST API), so the fluent API, the
client, the log buffer and models work unchanged against a shared server.

Credentials come from the environment as for MLflow: ``MLFLOW_TRACKING_TOKEN``
(bearer) or ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (basic);
``FLOWTRACK_TRACKING_TOKEN`` is accepted too. Errors the server reports come back as
the matching ``TrackingError`` with the server's message; a busy or unreachable
server is retried briefly, then reported.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from ..entities.records import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    ViewType,
)
from ..entities.validation import MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH
from ..errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
    TrackingError,
)
from ..registry.model_registry import ModelVersion, RegisteredModel
from ..store.metric_chunks import Point, decode_columns, to_metrics

_ERRORS: dict[str, type[TrackingError]] = {
    "RESOURCE_DOES_NOT_EXIST": ResourceDoesNotExistError,
    "RESOURCE_ALREADY_EXISTS": ResourceAlreadyExistsError,
    "INVALID_STATE": InvalidStateError,
}
_VIEW_NAMES = {ViewType.ACTIVE_ONLY: "ACTIVE_ONLY", ViewType.DELETED_ONLY: "DELETED_ONLY",
               ViewType.ALL: "ALL"}
_RETRY_STATUSES = (429, 502, 503, 504)
HISTORY_COLUMNS_PATH = "/api/2.0/flowtrack/metrics/get-history-columns"
_RETRIES = 4


class RestTrackingStore:
    """Tracking reads and writes through a tracking server's REST API."""

    remote = True

    def __init__(self, uri: str) -> None:
        try:
            import httpx
        except ImportError:
            raise TrackingError(f"Tracking URI {uri!r} names a tracking server; talking to one "
                                "needs httpx: pip install 'flowtrack[server]'.") from None
        self.uri = uri.rstrip("/")
        self._http = httpx.Client(base_url=self.uri, timeout=120,
                                  headers={"User-Agent": "flowtrack"})
        self._columns_endpoint = True  # until a server says it has none
        self._run_ids: list[str] = []  # run_pk - 1 -> run id (pks are local handles)
        self._run_pks: dict[str, int] = {}

    def close(self) -> None:
        self._http.close()

    # -- the wire --------------------------------------------------------------------------
    def call(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON API call; a ``TrackingError`` for an error answer."""
        path = f"/api/2.0/mlflow/{endpoint}"
        if method == "GET":
            params = {k: v for k, v in (body or {}).items() if v is not None}
            response = self._send(method, path, params=params)
        else:
            response = self._send(method, path, json=body or {})
        return response.json() if response.content else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        for attempt in range(_RETRIES + 1):
            try:  # credentials read per request: the environment may change
                response = self._http.request(method, path, headers=_token_header(),
                                              auth=_basic_auth(), **kwargs)
            except httpx.TransportError as exc:
                if attempt == _RETRIES:
                    raise TrackingError(
                        f"Cannot reach the tracking server at {self.uri} ({exc}). Start it "
                        "with `flowtrack server`, or check the tracking URI.") from None
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == _RETRIES:
                    break
            time.sleep(0.2 * 2 ** attempt)
        if response.status_code >= 400:
            raise _error(response, self.uri)
        return response

    def _artifact_url(self, artifact_uri: str, path: str) -> str:
        if not artifact_uri.startswith("mlflow-artifacts:"):
            raise TrackingError(f"Artifact location {artifact_uri!r} is not served by the "
                                f"tracking server at {self.uri}; only mlflow-artifacts: "
                                "locations are.")
        rest = artifact_uri[len("mlflow-artifacts:"):].lstrip("/")
        return "/api/2.0/mlflow-artifacts/artifacts/" + "/".join(p for p in (rest, path) if p)

    # -- experiments -------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        return str(self.call("POST", "experiments/create", {
            "name": name, "artifact_location": artifact_location,
            "tags": _pairs(tags)})["experiment_id"])

    def experiment_id_for_name(self, name: str, create: bool = True) -> str | None:
        found = self.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise InvalidStateError(
                    f"Experiment {name!r} (id {found.experiment_id}) is deleted. Restore it with "
                    "TrackingClient().restore_experiment, or use another name.")
            return found.experiment_id
        if not create:
            return None
        try:
            return self.create_experiment(name)
        except ResourceAlreadyExistsError:  # another client created it meanwhile
            again = self.get_experiment_by_name(name)
            assert again is not None
            return again.experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        return _experiment(self.call("GET", "experiments/get",
                                     {"experiment_id": str(experiment_id)})["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            found = self.call("GET", "experiments/get-by-name", {"experiment_name": name})
        except ResourceDoesNotExistError:
            return None
        return _experiment(found["experiment"])

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        return [_experiment(e) for e in self._pages("experiments/search", "experiments", {
            "view_type": _VIEW_NAMES[view_type], "max_results": 1000})]

    def set_experiment_lifecycle(self, experiment_id: str, deleted: bool) -> None:
        self.call("POST", "experiments/delete" if deleted else "experiments/restore",
                  {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.call("POST", "experiments/update", {"experiment_id": str(experiment_id),
                                                 "new_name": new_name})

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.call("POST", "experiments/set-experiment-tag",
                  {"experiment_id": str(experiment_id), "key": key, "value": str(value)})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self.call("POST", "experiments/delete-experiment-tag",
                  {"experiment_id": str(experiment_id), "key": key})

    # -- runs ----------------------------------------------------------------------------------
    def create_run(self, experiment_id: str, user_id: str, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        found = self.call("POST", "runs/create", {
            "experiment_id": str(experiment_id), "user_id": user_id, "start_time": start_time,
            "tags": _pairs(tags), "run_name": run_name})
        return _run(found["run"])

    def get_run(self, run_id: str) -> Run:
        return _run(self.call("GET", "runs/get", {"run_id": run_id})["run"])

    def run_pk(self, run_id: str) -> int:
        """A local handle for a run (the log buffer groups writes by it)."""
        pk = self._run_pks.get(run_id)
        if pk is None:
            self.get_run(run_id)  # a clear error for an unknown run
            self._run_ids.append(run_id)
            pk = self._run_pks[run_id] = len(self._run_ids)
        return pk

    def update_run_info(self, run_id: str, status: str | None = None,
                        end_time: int | None = None, run_name: str | None = None) -> None:
        self.call("POST", "runs/update", {"run_id": run_id, "status": status,
                                          "end_time": end_time, "run_name": run_name})

    def set_run_lifecycle(self, run_id: str, deleted: bool) -> None:
        self.call("POST", "runs/delete" if deleted else "runs/restore", {"run_id": run_id})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.call("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: Sequence[str] | None = None, page_token: str | None = None
                    ) -> tuple[list[Run], str | None]:
        found = self.call("POST", "runs/search", {
            "experiment_ids": list(experiment_ids), "filter": filter_string,
            "run_view_type": _VIEW_NAMES[run_view_type], "max_results": max_results,
            "order_by": list(order_by or []), "page_token": page_token})
        return [_run(r) for r in found.get("runs", [])], found.get("next_page_token")

    # -- logging -------------------------------------------------------------------------------
    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (),
                  params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None,
                  execution_id: int | None = None) -> None:
        self._post_batches(run_id, [(m.key, m.value, m.timestamp, m.step, None) for m in metrics],
                           {k: str(v) for k, v in (params or {}).items()},
                           {k: str(v) for k, v in (tags or {}).items()})

    def write_batch(self, run_pk: int, points: Sequence[Point], params: dict[str, str],
                    tags: dict[str, str]) -> None:
        self._post_batches(self._run_ids[run_pk - 1], points, params, tags)

    def _post_batches(self, run_id: str, points: Sequence[Point], params: dict[str, str],
                      tags: dict[str, str]) -> None:
        """Split into requests within MLflow's log-batch limits (params first, so a
        conflicting param fails before any point is sent)."""
        param_items, tag_items = list(params.items()), list(tags.items())
        while param_items or tag_items:
            self.call("POST", "runs/log-batch", {
                "run_id": run_id, "params": _pairs(dict(param_items[:MAX_PARAMS_TAGS_PER_BATCH])),
                "tags": _pairs(dict(tag_items[:MAX_PARAMS_TAGS_PER_BATCH]))})
            param_items = param_items[MAX_PARAMS_TAGS_PER_BATCH:]
            tag_items = tag_items[MAX_PARAMS_TAGS_PER_BATCH:]
        for start in range(0, len(points), MAX_METRICS_PER_BATCH):
            self.call("POST", "runs/log-batch", {"run_id": run_id, "metrics": [
                {"key": key, "value": proto_double(value), "timestamp": ts, "step": step}
                for key, value, ts, step, _ in points[start:start + MAX_METRICS_PER_BATCH]]})

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return to_metrics(key, run_id, *self.metric_history_columns(run_id, key))

    def metric_history_columns(self, run_id: str, key: str
                               ) -> tuple[list[int], list[int], list[float]]:
        """A flowtrack server sends the whole history as packed arrays; any other
        MLflow server, page by page."""
        if self._columns_endpoint:
            try:
                response = self._send("GET", HISTORY_COLUMNS_PATH,
                                      params={"run_id": run_id, "metric_key": key})
                return decode_columns(response.content)
            except _EndpointMissing:
                self._columns_endpoint = False
        points = list(self._pages("metrics/get-history", "metrics",
                                  {"run_id": run_id, "metric_key": key}, method="GET"))
        return ([int(m.get("step", 0)) for m in points],
                [int(m.get("timestamp", 0)) for m in points],
                [_value(m.get("value")) for m in points])

    def log_input(self, run_id: str, dataset: Dataset, context: str | None,
                  tags: dict[str, str] | None = None) -> None:
        tags = dict(tags or {})
        if context:
            tags["mlflow.data.context"] = context
        self.call("POST", "runs/log-inputs", {"run_id": run_id, "datasets": [{
            "tags": _pairs(tags),
            "dataset": {k: v for k, v in vars(dataset).items() if v is not None}}]})

    def record_model(self, run_id: str, path: str, descriptor: dict[str, Any]) -> None:
        """Tell the server a model was logged at ``path`` of the run (it records the
        Model artifact for lineage)."""
        import json

        self.call("POST", "runs/log-model", {"run_id": run_id, "model_json": json.dumps(
            {**descriptor, "artifact_path": path, "run_id": run_id}, default=str)})

    # -- files ------------------------------------------------------------------------------
    def _root(self, run_id: str) -> str:
        return self.get_run(run_id).info.artifact_uri

    def put_file(self, run_id: str, path: str, data: bytes) -> None:
        self._send("PUT", self._artifact_url(self._root(run_id), path), content=data)

    def list_files(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        found = self.call("GET", "artifacts/list", {"run_id": run_id, "path": path or None})
        return [FileInfo(f["path"], bool(f.get("is_dir", False)),
                         None if f.get("file_size") is None else int(f["file_size"]))
                for f in found.get("files", [])]

    def read_file(self, run_id: str, path: str) -> bytes:
        return bytes(self._send("GET", self._artifact_url(self._root(run_id), path)).content)

    def download(self, run_id: str, path: str | None, dst_path: str | Path) -> str:
        """Write the file or directory ``path`` of the run under ``dst_path``."""
        base = path or ""
        destination = Path(dst_path).absolute()
        entries = self.list_files(run_id, base or None)
        if base and not entries:  # a file, or nothing
            entries = [FileInfo(base, False, None)]
        for file_path in self._walk(run_id, entries):
            target = destination / file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_file(run_id, file_path))
        return str(destination / base) if base else str(destination)

    def _walk(self, run_id: str, entries: list[FileInfo]) -> Iterator[str]:
        for entry in entries:
            if entry.is_dir:
                yield from self._walk(run_id, self.list_files(run_id, entry.path))
            else:
                yield entry.path

    def _pages(self, endpoint: str, key: str, body: dict[str, Any],
               method: str = "POST") -> Iterator[dict[str, Any]]:
        token = None
        while True:
            found = self.call(method, endpoint, {**body, "page_token": token})
            yield from found.get(key, [])
            token = found.get("next_page_token")
            if not token:
                return

    def registry(self) -> RestRegistry:
        return RestRegistry(self)


class RestRegistry:
    """The model registry of a tracking server (``Registry``'s methods)."""

    def __init__(self, store: RestTrackingStore) -> None:
        self.store = store

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        return _registered(self.store.call("POST", "registered-models/create", {
            "name": name, "tags": _pairs(tags), "description": description})["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        return _registered(self.store.call("GET", "registered-models/get",
                                           {"name": name})["registered_model"])

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = 100,
                                 order_by: Sequence[str] | None = None) -> list[RegisteredModel]:
        found = self.store._pages("registered-models/search", "registered_models",
                                  {"filter": filter_string, "max_results": 1000,
                                   "order_by": list(order_by or [])}, method="GET")
        return [_registered(m) for m in islice(found, max_results)]

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        return _registered(self.store.call("PATCH", "registered-models/update", {
            "name": name, "description": description})["registered_model"])

    def set_model_tag(self, name: str, key: str, value: Any) -> None:
        self.store.call("POST", "registered-models/set-tag",
                        {"name": name, "key": key, "value": str(value)})

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        self.store.call("POST", "registered-models/alias",
                        {"name": name, "alias": alias, "version": str(version)})

    def delete_alias(self, name: str, alias: str) -> None:
        self.store.call("DELETE", "registered-models/alias", {"name": name, "alias": alias})

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None,
                             description: str | None = None) -> ModelVersion:
        try:
            self.create_registered_model(name)
        except ResourceAlreadyExistsError:
            pass
        return _version(self.store.call("POST", "model-versions/create", {
            "name": name, "source": source, "run_id": run_id, "tags": _pairs(tags),
            "description": description})["model_version"])

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return _version(self.store.call("GET", "model-versions/get",
                                        {"name": name, "version": str(version)})["model_version"])

    def update_model_version(self, name: str, version: str | int,
                             description: str) -> ModelVersion:
        return _version(self.store.call("PATCH", "model-versions/update", {
            "name": name, "version": str(version), "description": description})["model_version"])

    def set_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self.store.call("POST", "model-versions/set-tag", {
            "name": name, "version": str(version), "key": key, "value": str(value)})

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = 10_000,
                              order_by: Sequence[str] | None = None) -> list[ModelVersion]:
        found = self.store._pages("model-versions/search", "model_versions",
                                  {"filter": filter_string, "max_results": 10_000,
                                   "order_by": list(order_by or [])}, method="GET")
        return [_version(v) for v in islice(found, max_results)]

    def transition_stage(self, name: str, version: str | int, stage: str,
                         archive_existing_versions: bool = False) -> ModelVersion:
        return _version(self.store.call("POST", "model-versions/transition-stage", {
            "name": name, "version": str(version), "stage": stage,
            "archive_existing_versions": archive_existing_versions})["model_version"])

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return _version(self.store.call("GET", "registered-models/alias",
                                        {"name": name, "alias": alias})["model_version"])

    def latest_version(self, name: str) -> ModelVersion:
        latest = self.get_registered_model(name).latest_versions
        if not latest:
            raise ResourceDoesNotExistError(f"Registered model {name!r} has no versions.")
        return latest[-1]


# -- JSON to entities ---------------------------------------------------------------------------
def _pairs(mapping: dict[str, Any] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in (mapping or {}).items()]


def _dict(pairs: list[dict[str, Any]] | None) -> dict[str, str]:
    return {p["key"]: str(p.get("value", "")) for p in pairs or []}


def proto_double(value: float) -> float | str:
    """A double as proto3 JSON writes it: non-finite values as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _value(raw: Any) -> float:
    return float(raw) if raw is not None else math.nan  # float() reads "NaN", "Infinity"


def _int(raw: Any) -> int | None:
    return None if raw is None else int(raw)


def _experiment(e: dict[str, Any]) -> Experiment:
    return Experiment(str(e["experiment_id"]), e.get("name", ""), e.get("artifact_location", ""),
                      e.get("lifecycle_stage", "active"), _dict(e.get("tags")),
                      _int(e.get("creation_time")), _int(e.get("last_update_time")))


def _run(r: dict[str, Any]) -> Run:
    i, d = r.get("info", {}), r.get("data", {})
    info = RunInfo(run_id=i.get("run_id") or i.get("run_uuid", ""),
                   experiment_id=str(i.get("experiment_id", "")), run_name=i.get("run_name", ""),
                   user_id=i.get("user_id", ""), status=i.get("status", "RUNNING"),
                   start_time=_int(i.get("start_time")), end_time=_int(i.get("end_time")),
                   artifact_uri=i.get("artifact_uri", ""),
                   lifecycle_stage=i.get("lifecycle_stage", "active"))
    data = RunData({m["key"]: _value(m.get("value")) for m in d.get("metrics", [])},
                   _dict(d.get("params")), _dict(d.get("tags")))
    inputs = [DatasetInput(Dataset(x["dataset"]["name"], x["dataset"]["digest"],
                                   x["dataset"].get("source_type", ""),
                                   x["dataset"].get("source", ""), x["dataset"].get("schema"),
                                   x["dataset"].get("profile")), _dict(x.get("tags")))
              for x in r.get("inputs", {}).get("dataset_inputs", [])]
    return Run(info, data, RunInputs(inputs))


def _version(v: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=v["name"], version=str(v["version"]),
        creation_timestamp=int(v.get("creation_timestamp", 0)),
        last_updated_timestamp=int(v.get("last_updated_timestamp", 0)),
        description=v.get("description", ""), user_id=v.get("user_id", ""),
        source=v.get("source", ""), run_id=v.get("run_id", ""), status=v.get("status", "READY"),
        current_stage=v.get("current_stage", "None"), tags=_dict(v.get("tags")),
        aliases=list(v.get("aliases", [])), run_link=v.get("run_link", ""),
        model_id=v.get("model_id", ""))


def _registered(m: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=m["name"], creation_timestamp=int(m.get("creation_timestamp", 0)),
        last_updated_timestamp=int(m.get("last_updated_timestamp", 0)),
        description=m.get("description", ""), tags=_dict(m.get("tags")),
        aliases={a["alias"]: str(a["version"]) for a in m.get("aliases", [])},
        latest_versions=[_version(v) for v in m.get("latest_versions", [])])


def _token_header() -> dict[str, str]:
    token = os.environ.get("FLOWTRACK_TRACKING_TOKEN") or os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _basic_auth() -> Any:
    import httpx

    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user and not _token_header():
        return httpx.BasicAuth(user, os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
    return None


class _EndpointMissing(TrackingError):
    """The server has no such endpoint (an older or a non-flowtrack server)."""

    http_status = 404


def _error(response: Any, uri: str) -> TrackingError:
    try:
        body = response.json()
        code, message = body.get("error_code", ""), body.get("message", response.text)
    except ValueError:
        code, message = "", response.text[:500]
    if response.status_code == 401:
        return TrackingError(f"The tracking server at {uri} refused the credentials: {message} "
                             "Set MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME and "
                             "MLFLOW_TRACKING_PASSWORD).")
    if code == "ENDPOINT_NOT_FOUND" or (response.status_code == 404 and not code):
        return _EndpointMissing(message)
    if code in _ERRORS:
        return _ERRORS[code](message)
    if 400 <= response.status_code < 500:
        return InvalidParameterError(message)
    return TrackingError(f"The tracking server at {uri} failed ({response.status_code}): "
                         f"{message}")
