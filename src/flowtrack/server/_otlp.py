"""OpenTelemetry's trace ingest (OTLP over HTTP, ``POST /v1/traces``), as MLflow 3's
server has it: the body an ``ExportTraceServiceRequest`` in protobuf or in OTLP's JSON
(hex ids there), gzip or deflate allowed; the experiment in the
``x-mlflow-experiment-id`` header, and optionally a run to link root spans' traces to
in ``x-mlflow-run-id``. Each span is handed to ``Traces.log_spans`` in OTLP's JSON
form with base64 ids (what MLflow's client reads back from ``traces/get``).

A 3.x client sends each span here as it ends, once the server's ``/version`` says 3.4
or later, then the trace's info with StartTraceV3 when the trace ends."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

from ..tracking.errors import InvalidParameterError

CONTENT_TYPES = ("application/x-protobuf", "application/json")
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def decoded_body(body: bytes, encoding: str | None) -> bytes:
    """The body without its Content-Encoding (gzip, deflate or none)."""
    name = (encoding or "").strip().lower()
    try:
        if name == "gzip":
            return gzip.decompress(body)
        if name == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error):
        raise InvalidParameterError(f"Invalid OpenTelemetry request: the body is not valid "
                                    f"{name} data.") from None
    if name not in ("", "identity"):
        raise InvalidParameterError(f"Unsupported Content-Encoding {encoding!r}: send gzip, "
                                    "deflate or none.")
    return body


def spans_of(body: bytes, content_type: str | None) -> list[dict[str, Any]]:
    """The spans of an OTLP export request, each as OTLP's JSON with base64 ids and
    proto field names."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise InvalidParameterError(f"Invalid Content-Type: {content_type!r}. Expected: "
                                    f"{' or '.join(CONTENT_TYPES)}.")
    request = ExportTraceServiceRequest()
    try:
        if kind == "application/json":
            json_format.ParseDict(_base64_ids(json.loads(body)), request)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, ValueError, TypeError):
        raise InvalidParameterError("Invalid OpenTelemetry format: the body is not an OTLP "
                                    "ExportTraceServiceRequest.") from None
    spans = [json_format.MessageToDict(span, preserving_proto_field_name=True)
             for resource in request.resource_spans for scope in resource.scope_spans
             for span in scope.spans]
    if not spans:
        raise InvalidParameterError("Invalid OpenTelemetry format - no spans found")
    return spans


def _base64_ids(value: Any) -> Any:
    """OTLP's JSON carries ids in hex, protobuf's JSON mapping in base64."""
    if isinstance(value, list):
        return [_base64_ids(v) for v in value]
    if not isinstance(value, dict):
        return value
    converted = {}
    for key, item in value.items():
        if key in _HEX_ID_FIELDS and isinstance(item, str) and item:
            try:
                item = base64.b64encode(bytes.fromhex(item)).decode()
            except ValueError:
                raise InvalidParameterError(f"Invalid OpenTelemetry format: {key} {item!r} is "
                                            "not hexadecimal.") from None
        converted[key] = _base64_ids(item)
    return converted
