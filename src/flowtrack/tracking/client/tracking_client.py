"""``TrackingClient``: MLflow's ``MlflowClient`` methods over a tracking store, for
code that names runs and experiments explicitly instead of using the active run.
Writes here are immediate (no buffer): ``log_batch`` is the bulk path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..._config import settings
from ..._util import now_ms
from ..artifacts import files as _files
from ..entities.records import (
    Experiment,
    FileInfo,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from ..entities.validation import check_batch_sizes
from ..errors import InvalidParameterError
from ..fluent import api as _fluent
from ..store.search import offset_of, token_for
from ..store.tracking_store import TrackingStore


class PagedList(list):  # type: ignore[type-arg]
    """A page of results with the token for the next one (MLflow's ``PagedList``)."""

    def __init__(self, items: Sequence[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def _page(found: list[Any], max_results: int, page_token: str | None) -> PagedList:
    """One page of a full result list, by MLflow's offset token."""
    start = offset_of(page_token)
    end = start + max_results
    return PagedList(found[start:end], token_for(end) if end < len(found) else None)


class TrackingClient:
    """MLflow's client API; ``tracking_uri`` as for ``set_tracking_uri`` (default: the
    current one)."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self._uri = tracking_uri

    @property
    def _store(self) -> TrackingStore:
        uri = self._uri or _fluent.get_tracking_uri()
        store, buffer = _fluent.store_for(str(uri))
        buffer.flush()  # see the fluent API's buffered writes
        return store

    # -- experiments --------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        return self._store.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY,
                           max_results: int | None = None, filter_string: str | None = None,
                           order_by: Sequence[str] | None = None) -> list[Experiment]:
        from ..entities.memory_search import filter_experiments

        found = filter_experiments(self._store.search_experiments(view_type), filter_string,
                                   order_by)
        return PagedList(found[:max_results] if max_results else found, None)

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.set_experiment_lifecycle(experiment_id, deleted=True)

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.set_experiment_lifecycle(experiment_id, deleted=False)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._store.delete_experiment_tag(experiment_id, key)

    # -- runs ---------------------------------------------------------------------------
    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        return self._store.create_run(str(experiment_id), settings().user,
                                      now_ms() if start_time is None else start_time, tags,
                                      run_name)

    def get_run(self, run_id: str) -> Run:
        return self._store.get_run(run_id)

    def update_run(self, run_id: str, status: str | None = None,
                   name: str | None = None) -> RunInfo:
        self._store.update_run_info(run_id, status=status, run_name=name)
        return self._store.get_run(run_id).info

    def set_terminated(self, run_id: str, status: str | None = None,
                       end_time: int | None = None) -> None:
        self._store.update_run_info(run_id, status=status or RunStatus.FINISHED,
                                    end_time=now_ms() if end_time is None else end_time)

    def delete_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(run_id, deleted=True)

    def restore_run(self, run_id: str) -> None:
        self._store.set_run_lifecycle(run_id, deleted=False)

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        runs, token = self._store.search_runs([str(e) for e in experiment_ids], filter_string,
                                              run_view_type, max_results, order_by, page_token)
        return PagedList(runs, token)

    # -- logging ------------------------------------------------------------------------
    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        self.log_batch(run_id, metrics=[Metric(key, value,
                                               now_ms() if timestamp is None else timestamp,
                                               step or 0)])

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self.log_batch(run_id, params=[Param(key, str(value))])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[RunTag(key, str(value))])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (),
                  params: Sequence[Param] = (), tags: Sequence[RunTag] = ()) -> None:
        """Log metrics, params and tags to a run in one transaction (MLflow's limits:
        1000 metrics, 100 params and tags, 1000 entities in all)."""
        check_batch_sizes(len(metrics), len(params), len(tags))
        keys = [p.key for p in params]
        if len(keys) != len(set(keys)):
            raise InvalidParameterError("A log_batch call names the same param twice.")
        self._store.log_batch(run_id, metrics, {p.key: p.value for p in params},
                              {t.key: t.value for t in tags})

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._store.get_metric_history(run_id, key)

    # -- files ---------------------------------------------------------------------------
    def log_artifact(self, run_id: str, local_path: str | Path,
                     artifact_path: str | None = None) -> None:
        store = self._store
        for target, data in _files.local_file(local_path, artifact_path):
            _files.log_bytes(store, run_id, target, data)

    def log_artifacts(self, run_id: str, local_dir: str | Path,
                      artifact_path: str | None = None) -> None:
        store = self._store
        for target, data in _files.local_dir(local_dir, artifact_path):
            _files.log_bytes(store, run_id, target, data)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        _files.log_bytes(self._store, run_id, artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        self.log_text(run_id, _files.dict_text(dictionary, artifact_file), artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return _files.list_files(self._store, run_id, path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        import tempfile

        return _files.download(self._store, run_id, path,
                               dst_path or tempfile.mkdtemp(prefix="flowtrack-artifacts-"))

    # -- model registry ------------------------------------------------------------------
    @property
    def _registry(self) -> Any:
        from ..registry.model_registry import registry_for

        return registry_for(self._store)

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> Any:
        return self._registry.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> Any:
        return self._registry.get_registered_model(name)

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = 100, order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> PagedList:
        found = self._registry.search_registered_models(filter_string, None, order_by)
        return _page(found, max_results, page_token)

    def update_registered_model(self, name: str, description: str) -> Any:
        return self._registry.update_registered_model(name, description)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._registry.set_model_tag(name, key, value)

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None,
                             description: str | None = None) -> Any:
        return self._registry.create_model_version(name, source, run_id, tags, description)

    def get_model_version(self, name: str, version: str | int) -> Any:
        return self._registry.get_model_version(name, version)

    def update_model_version(self, name: str, version: str | int, description: str) -> Any:
        return self._registry.update_model_version(name, version, description)

    def set_model_version_tag(self, name: str, version: str | int, key: str,
                              value: Any) -> None:
        self._registry.set_version_tag(name, version, key, value)

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int = 10_000, order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> PagedList:
        found = self._registry.search_model_versions(filter_string, None, order_by)
        return _page(found, max_results, page_token)

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False) -> Any:
        return self._registry.transition_stage(name, version, stage, archive_existing_versions)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[Any]:
        latest = self._registry.get_registered_model(name).latest_versions
        wanted = {s.lower() for s in stages or []}
        return [v for v in latest if not wanted or v.current_stage.lower() in wanted]

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        self._registry.set_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._registry.delete_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        return self._registry.get_version_by_alias(name, alias)
