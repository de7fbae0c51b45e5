"""Tracking entities as MLflow's REST JSON (proto3 JSON: key/value lists for tags and
params, int64 times as numbers, enums by name), the shapes the official ``mlflow``
client parses."""

from __future__ import annotations

from typing import Any

from ..tracking import Experiment, FileInfo, Metric, Run
from ..tracking.service import (
    LoggedModel,
    ModelMetric,
    ModelVersion,
    RegisteredModel,
    proto_double,
)


def key_values(pairs: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in pairs.items()]


def experiment(e: Experiment) -> dict[str, Any]:
    return _without_none({
        "experiment_id": e.experiment_id, "name": e.name,
        "artifact_location": e.artifact_location, "lifecycle_stage": e.lifecycle_stage,
        "creation_time": e.creation_time, "last_update_time": e.last_update_time,
        "tags": key_values(e.tags)})


def run(r: Run, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    info = r.info
    found: dict[str, Any] = {
        "info": _without_none({
            "run_id": info.run_id, "run_uuid": info.run_id, "run_name": info.run_name,
            "experiment_id": info.experiment_id, "user_id": info.user_id,
            "status": info.status, "start_time": info.start_time, "end_time": info.end_time,
            "artifact_uri": info.artifact_uri, "lifecycle_stage": info.lifecycle_stage}),
        "data": {
            "metrics": [{"key": k, "value": proto_double(v), "timestamp": 0, "step": 0}
                        for k, v in r.data.metrics.items()],
            "params": key_values(r.data.params), "tags": key_values(r.data.tags)},
        "inputs": {"dataset_inputs": [
            {"tags": key_values(d.tags), "dataset": _without_none({
                "name": d.dataset.name, "digest": d.dataset.digest,
                "source_type": d.dataset.source_type, "source": d.dataset.source,
                "schema": d.dataset.schema, "profile": d.dataset.profile})}
            for d in r.inputs.dataset_inputs]}}
    if outputs:
        found["outputs"] = {"model_outputs": outputs}
    return found


def run_with_latest(r: Run, latest: dict[str, Metric], outputs: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """A run whose metrics carry the latest point's step and time."""
    found = run(r, outputs)
    found["data"]["metrics"] = [metric(m) for m in latest.values()]
    return found


def metric(m: Metric) -> dict[str, Any]:
    return {"key": m.key, "value": proto_double(m.value), "timestamp": m.timestamp, "step": m.step}


def file_info(f: FileInfo) -> dict[str, Any]:
    return _without_none({"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size})


def model_version(v: ModelVersion) -> dict[str, Any]:
    return _without_none({
        "name": v.name, "version": v.version, "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp, "user_id": v.user_id,
        "current_stage": v.current_stage, "description": v.description, "source": v.source,
        "run_id": v.run_id or None, "status": v.status, "run_link": v.run_link or None,
        "tags": key_values(v.tags), "aliases": list(v.aliases),
        "model_id": v.model_id or None})


def registered_model(m: RegisteredModel) -> dict[str, Any]:
    return _without_none({
        "name": m.name, "creation_timestamp": m.creation_timestamp,
        "last_updated_timestamp": m.last_updated_timestamp, "description": m.description,
        "tags": key_values(m.tags),
        "aliases": [{"alias": a, "version": v} for a, v in m.aliases.items()],
        "latest_versions": [model_version(v) for v in m.latest_versions]})


def logged_model(m: LoggedModel) -> dict[str, Any]:
    return {
        "info": _without_none({
            "model_id": m.model_id, "experiment_id": m.experiment_id, "name": m.name,
            "artifact_uri": m.artifact_uri, "creation_timestamp_ms": m.creation_timestamp,
            "last_updated_timestamp_ms": m.last_updated_timestamp,
            "model_type": m.model_type or None, "source_run_id": m.source_run_id or None,
            "status": m.status, "status_message": m.status_message or None,
            "tags": key_values(m.tags)}),
        "data": {"params": key_values(m.params),
                 "metrics": [_model_metric(m, point) for point in m.metrics]}}


def _model_metric(m: LoggedModel, point: ModelMetric) -> dict[str, Any]:
    return _without_none({
        "key": point.key, "value": proto_double(point.value), "timestamp": point.timestamp,
        "step": point.step, "run_id": point.run_id, "model_id": m.model_id,
        "dataset_name": point.dataset_name, "dataset_digest": point.dataset_digest})


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    """proto3 JSON leaves unset fields out."""
    return {k: v for k, v in fields.items() if v is not None}
