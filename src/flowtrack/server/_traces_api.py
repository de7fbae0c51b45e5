"""MLflow 3's trace endpoints (``/api/3.0/mlflow/traces...``, and the 2.0 paths its
client still uses for tags, deletion and links to runs) over ``tracking.traces``, with
TraceInfo V3 and assessments in MLflow's proto3 JSON: times as RFC 3339 strings,
durations as ``"0.194s"``.

Spans travel as the ``traces.json`` file a client uploads through the artifact proxy
to the location the ``mlflow.artifactLocation`` tag names; ``get-trace-artifact``
serves it to the web UI."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from ..tracking.errors import InvalidParameterError
from ..tracking.service import (
    MAX_TRACE_RESULTS,
    TraceInfo,
    proto_duration,
    rfc3339,
    trace_spans,
)
from ._context import ServerContext
from ._requests import Fields
from ._routes import route
from ._tracking_api import page, paged

V3 = ("3.0",)
BOTH = ("2.0", "3.0")


# -- JSON --------------------------------------------------------------------------------
def trace_info_json(info: TraceInfo) -> dict[str, Any]:
    found: dict[str, Any] = {
        "trace_id": info.trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT",
                           "mlflow_experiment": {"experiment_id": info.experiment_id}},
        "request_time": rfc3339(info.request_time),
        "state": info.state,
        "trace_metadata": info.trace_metadata,
        "tags": info.tags,
    }
    if info.execution_duration is not None:
        found["execution_duration"] = proto_duration(info.execution_duration)
    for name in ("client_request_id", "request_preview", "response_preview"):
        if getattr(info, name):
            found[name] = getattr(info, name)
    if info.assessments:
        found["assessments"] = info.assessments
    return found


def trace_info_from_json(raw: Any) -> TraceInfo:
    if not isinstance(raw, dict):
        raise InvalidParameterError("Missing value for required parameter 'trace.trace_info': "
                                    "send {\"trace\": {\"trace_info\": {...}}}.")
    location = raw.get("trace_location") or {}
    experiment_id = (location.get("mlflow_experiment") or {}).get("experiment_id")
    if not experiment_id:
        raise InvalidParameterError("A trace needs trace_location.mlflow_experiment."
                                    "experiment_id: the experiment it belongs to.")
    return TraceInfo(
        trace_id=_text(raw, "trace_id"), experiment_id=str(experiment_id),
        request_time=parse_time(raw.get("request_time")),
        execution_duration=parse_duration(raw.get("execution_duration")),
        state=_text(raw, "state") or "STATE_UNSPECIFIED",
        request_preview=_text(raw, "request_preview"),
        response_preview=_text(raw, "response_preview"),
        client_request_id=_text(raw, "client_request_id"),
        trace_metadata=_string_map(raw.get("trace_metadata"), "trace_metadata"),
        tags=_string_map(raw.get("tags"), "tags"),
        assessments=[a for a in raw.get("assessments") or [] if isinstance(a, dict)])


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameterError(f"Field {name!r} must be a string; got {value!r}.")
    return value


def _string_map(raw: Any, name: str) -> dict[str, str]:
    """A proto map in JSON: an object, or the list of key/value pairs some senders use."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = {item.get("key"): item.get("value") for item in raw if isinstance(item, dict)}
    if not isinstance(raw, dict):
        raise InvalidParameterError(f"Field {name!r} must be an object of strings.")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def parse_time(value: Any) -> int:
    """Milliseconds since the epoch from a proto Timestamp in JSON (RFC 3339), or a
    number of milliseconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    try:
        text = str(value).replace("Z", "+00:00")
        stamp = datetime.fromisoformat(_trim_fraction(text))
    except ValueError:
        raise InvalidParameterError(f"Invalid timestamp {value!r}: use RFC 3339, e.g. "
                                    "2026-01-31T12:00:00.123Z.") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return int(stamp.timestamp() * 1000)


def _trim_fraction(text: str) -> str:
    """Python's parser takes at most 6 fractional digits; proto JSON may send 9."""
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def parse_duration(value: Any) -> int | None:
    """Milliseconds from a proto Duration in JSON (``"1.5s"``)."""
    if value is None or value == "":
        return None
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)s\s*", str(value))
    if match is None:
        raise InvalidParameterError(f"Invalid duration {value!r}: use seconds, e.g. \"0.25s\".")
    return round(float(match[1]) * 1000)


# -- traces -------------------------------------------------------------------------------
@route("POST", path="traces", versions=V3)
def start_trace(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    trace = f.values.get("trace")
    info = trace_info_from_json(trace.get("trace_info") if isinstance(trace, dict) else None)
    return {"trace": {"trace_info": trace_info_json(ctx.traces.start(info))}}


@route("POST", path="traces/search", versions=V3)
def search_traces(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    experiment_ids = []
    for location in f.objects("locations"):
        experiment = location.message("mlflow_experiment")
        experiment_ids.append(experiment.required("experiment_id"))
    if not experiment_ids:
        raise InvalidParameterError("Missing value for required parameter 'locations'. Name "
                                    "the experiments to search, e.g. [{\"type\": "
                                    "\"MLFLOW_EXPERIMENT\", \"mlflow_experiment\": "
                                    "{\"experiment_id\": \"0\"}}].")
    size = f.integer("max_results", 100)
    if size > MAX_TRACE_RESULTS:
        raise InvalidParameterError(f"Invalid value for max_results: it must be at most "
                                    f"{MAX_TRACE_RESULTS}, got {size}.")
    found = ctx.traces.search(experiment_ids, f.text("filter"), f.texts("order_by"))
    items, token = page(found, f, 100)
    return paged("traces", [trace_info_json(t) for t in items], token)


@route("GET", path="traces/get", versions=V3)
def get_trace(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    """A trace's info and the spans kept for it (OTLP's JSON form)."""
    trace_id = f.required("trace_id")
    return {"trace": {"trace_info": trace_info_json(ctx.traces.get(trace_id)),
                      "spans": ctx.traces.spans(trace_id)}}


@route("GET", path="traces/batchGet", versions=V3)
def batch_get_traces(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    found = ctx.traces.get_many(f.texts("trace_ids"))
    return {"traces": [{"trace_info": trace_info_json(t), "spans": ctx.traces.spans(t.trace_id)}
                       for t in found]}


@route("POST", path="traces/batchGetInfos", versions=V3)
def batch_get_trace_infos(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    found = ctx.traces.get_many(f.texts("trace_ids"))
    return {"trace_infos": [trace_info_json(t) for t in found]}


@route("POST", path="traces/delete-traces", versions=BOTH)
def delete_traces(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    count = ctx.traces.delete(f.required("experiment_id"), f.integer("max_timestamp_millis"),
                              f.integer("max_traces"), f.texts("request_ids"))
    return {"traces_deleted": count}


@route("POST", path="traces/link-to-run", versions=BOTH)
def link_traces_to_run(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.traces.link_to_run(f.texts("trace_ids"), f.required("run_id"))
    return {}


@route("PATCH", path="traces/{trace_id}/tags", versions=BOTH)
def set_trace_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.traces.set_tag(f.required("trace_id"), f.required("key"), f.text("value", ""))
    return {}


@route("DELETE", path="traces/{trace_id}/tags", versions=BOTH)
def delete_trace_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.traces.delete_tag(f.required("trace_id"), f.required("key"))
    return {}


@route("GET", path="traces/{trace_id}", versions=V3)
def get_trace_info(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"trace": {"trace_info": trace_info_json(ctx.traces.get(f.required("trace_id")))}}


# -- assessments ------------------------------------------------------------------------
@route("POST", path="traces/{trace_id}/assessments", versions=V3)
def create_assessment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"assessment": ctx.traces.create_assessment(f.required("trace_id"),
                                                       _assessment_body(f))}


@route("GET", path="traces/{trace_id}/assessments/{assessment_id}", versions=V3)
def get_assessment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"assessment": ctx.traces.get_assessment(f.required("trace_id"),
                                                    f.required("assessment_id"))}


@route("PATCH", path="traces/{trace_id}/assessments/{assessment_id}", versions=V3)
def update_assessment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    mask = f.values.get("update_mask") or ""
    paths = mask.get("paths", []) if isinstance(mask, dict) else str(mask).split(",")
    fields = [snake_case(p.strip()) for p in paths if p.strip()]
    return {"assessment": ctx.traces.update_assessment(
        f.required("trace_id"), f.required("assessment_id"), _assessment_body(f), fields)}


@route("DELETE", path="traces/{trace_id}/assessments/{assessment_id}", versions=V3)
def delete_assessment(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.traces.delete_assessment(f.required("trace_id"), f.required("assessment_id"))
    return {}


def _assessment_body(f: Fields) -> dict[str, Any]:
    body = f.values.get("assessment")
    if not isinstance(body, dict):
        raise InvalidParameterError("Missing value for required parameter 'assessment': send "
                                    "{\"assessment\": {...}}.")
    return {snake_case(k): v for k, v in body.items()}


def snake_case(name: str) -> str:
    """A field name as proto3 JSON's camelCase or as written: snake_case."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


# -- spans for the web UI ----------------------------------------------------------------------
def trace_artifact(ctx: ServerContext, trace_id: str) -> bytes:
    """The trace's spans as MLflow's ``traces.json``, wherever they are kept."""
    return json.dumps({"spans": trace_spans(ctx.store, trace_id)}).encode()
