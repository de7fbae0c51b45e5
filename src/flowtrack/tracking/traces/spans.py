"""A trace's spans in one form, wherever they are kept: MLflow's ``traces.json`` form
(what its client uploads, and what its web UI reads): base64 ids, nanosecond times,
each attribute value as JSON text, the root span's parent null. Spans that came over
OTLP are kept in OpenTelemetry's JSON form (typed ``AnyValue`` attributes) and are
converted; spans a client uploaded as ``traces.json`` are read from the artifact proxy.

``span_rows`` lays them out for the web UI: a tree in start order, each span with its
depth and its offset and length as fractions of the trace's time."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..artifacts.files import PROXY_ROOT, read_file
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.tracking_store import TrackingStore
from .trace_store import ARTIFACT_LOCATION_TAG, Traces

PROXY_SCHEME = "mlflow-artifacts:/"


def trace_spans(store: TrackingStore, trace_id: str) -> list[dict[str, Any]]:
    """The trace's spans in ``traces.json`` form ([] when none arrived yet)."""
    traces = Traces(store)
    kept = traces.spans(trace_id)
    if kept:
        return [trace_data_span(s) for s in kept]
    location = traces.get(trace_id).tags.get(ARTIFACT_LOCATION_TAG, "")
    if not location.startswith(PROXY_SCHEME):
        raise InvalidParameterError(f"Trace {trace_id} keeps its spans at {location!r}, "
                                    "outside this server's artifact proxy.")
    try:
        data = read_file(store, PROXY_ROOT, f"{location[len(PROXY_SCHEME):]}/traces.json")
    except ResourceDoesNotExistError:
        return []  # the client has not uploaded them (yet)
    return list(json.loads(data).get("spans", []))


def trace_data_span(span: Mapping[str, Any]) -> dict[str, Any]:
    """An OTLP JSON span in ``traces.json`` form."""
    status = span.get("status") or {}
    return {
        "trace_id": span.get("trace_id"), "span_id": span.get("span_id"),
        "parent_span_id": span.get("parent_span_id") or None, "name": span.get("name", ""),
        "start_time_unix_nano": int(span.get("start_time_unix_nano", 0)),
        "end_time_unix_nano": int(span.get("end_time_unix_nano", 0) or 0) or None,
        "attributes": _attributes(span.get("attributes")),
        "events": [{"name": e.get("name", ""), "time_unix_nano": int(e.get("time_unix_nano", 0)),
                    "attributes": _attributes(e.get("attributes"))}
                   for e in span.get("events") or []],
        "status": {"code": status.get("code", "STATUS_CODE_UNSET"),
                   "message": status.get("message", "")},
        "links": []}


def _attributes(pairs: Any) -> dict[str, str]:
    return {p["key"]: json.dumps(any_value(p.get("value") or {})) for p in pairs or []
            if isinstance(p, dict) and "key" in p}


def any_value(value: Mapping[str, Any]) -> Any:
    """An OTLP AnyValue (in JSON) as the Python value it holds."""
    if "string_value" in value:
        return value["string_value"]
    if "bool_value" in value:
        return value["bool_value"]
    if "int_value" in value:
        return int(value["int_value"])
    if "double_value" in value:
        return float(value["double_value"])
    if "array_value" in value:
        return [any_value(v) for v in (value["array_value"] or {}).get("values", [])]
    if "kvlist_value" in value:
        return {kv["key"]: any_value(kv.get("value") or {})
                for kv in (value["kvlist_value"] or {}).get("values", [])}
    if "bytes_value" in value:
        return value["bytes_value"]
    return None


@dataclass(frozen=True)
class SpanRow:
    """One span as the web UI shows it."""

    name: str
    span_type: str
    depth: int
    offset: float  # where it starts, as a fraction of the trace's time
    width: float  # how long it ran, likewise
    duration_ms: float
    ok: bool
    inputs: str  # JSON text, '' when none
    outputs: str


def span_rows(spans: Sequence[Mapping[str, Any]]) -> list[SpanRow]:
    """Spans (``traces.json`` form) as a tree: each after its parent, siblings by
    start time."""
    starts = [int(s.get("start_time_unix_nano") or 0) for s in spans]
    ends = [int(s.get("end_time_unix_nano") or 0) or start for s, start in zip(spans, starts)]
    first, last = min(starts, default=0), max(ends, default=0)
    total = max(last - first, 1)
    children: dict[Any, list[int]] = {}
    ids = {s.get("span_id") for s in spans}
    for i, s in enumerate(spans):
        parent = s.get("parent_span_id")
        children.setdefault(parent if parent in ids else None, []).append(i)
    rows: list[SpanRow] = []

    def visit(parent: Any, depth: int) -> None:
        for i in sorted(children.get(parent, []), key=lambda k: starts[k]):
            rows.append(_row(spans[i], depth, starts[i] - first, ends[i] - starts[i], total))
            visit(spans[i].get("span_id"), depth + 1)
    visit(None, 0)
    return rows


def _row(span: Mapping[str, Any], depth: int, offset: int, length: int, total: int) -> SpanRow:
    attributes = span.get("attributes") or {}

    def attribute(key: str) -> Any:
        raw = attributes.get(key)
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return raw

    def shown(key: str) -> str:
        value = attribute(key)
        return "" if value is None else json.dumps(value, indent=2, default=str)

    code = str((span.get("status") or {}).get("code", ""))
    return SpanRow(str(span.get("name", "")), str(attribute("mlflow.spanType") or ""), depth,
                   offset / total, max(length / total, 0.002), length / 1e6,
                   not code.endswith("ERROR"), shown("mlflow.spanInputs"),
                   shown("mlflow.spanOutputs"))
