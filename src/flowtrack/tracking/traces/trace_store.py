"""MLflow 3's traces in the lineage graph: each trace is a ``Trace`` execution named by
its trace id, associated with its experiment's context and with every run it is linked
to (the run it was made in, ``mlflow.sourceRun``, and ``link_traces_to_run``). Its
info is in properties (request time, duration, state, previews), its tags and request
metadata in custom properties (``tag:<key>``, ``meta:<key>``), and each assessment
(feedback or expectation, in MLflow's JSON shape) in one custom property
``assessment:<id>``, so concurrent writers never overwrite each other's assessments.

A trace's spans come one of two ways, as with MLflow's server. A client that sends
them over OTLP (``log_spans``) has each kept here, in OpenTelemetry's JSON form, in a
custom property ``span:<span id>``, and the trace is tagged
``mlflow.trace.spansLocation = TRACKING_STORE``. Otherwise the client uploads a
``traces.json`` file to the trace's artifact location (``<experiment location>/traces/
<trace id>/artifacts``), which this module names in the ``mlflow.artifactLocation`` tag.

Searching uses MLflow's trace grammar (entities/clause_filter.py): attributes
``request_id``, ``status``, ``name``, ``run_id``, ``client_request_id``,
``timestamp_ms``, ``execution_time_ms``, ``end_time_ms``; ``tags.<key>`` and
``metadata.<key>`` (also ``request_metadata.``), with IS NULL / IS NOT NULL on those.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..._util import now_ms
from ...lineage import (
    ExecutionState,
    LineageSession,
    Node,
    PropertyType,
    TypeKind,
    associations,
    delete_nodes,
    executions,
)
from ..artifacts.files import PROXY_ROOT, delete_files
from ..entities.clause_filter import (
    Clause,
    Grammar,
    matches,
    parse_filter,
    parse_order_by,
    sort,
)
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.tracking_store import TrackingStore

TRACE_TYPE = "Trace"
_S, _I = PropertyType.STRING, PropertyType.INT
TRACE_PROPERTIES = {"experiment_id": _S, "request_time": _I, "execution_duration": _I,
                    "state": _S, "client_request_id": _S, "request_preview": _S,
                    "response_preview": _S}
TAG, META, ASSESSMENT, SPAN = "tag:", "meta:", "assessment:", "span:"
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
IN_DATABASE = "TRACKING_STORE"  # MLflow's name for spans kept by the tracking store
STATES = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")
_EXECUTION_STATES = {"OK": ExecutionState.COMPLETE, "ERROR": ExecutionState.FAILED,
                     "IN_PROGRESS": ExecutionState.RUNNING}
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
TRACE_NAME_TAG = "mlflow.traceName"
SOURCE_RUN_KEY = "mlflow.sourceRun"
MAX_SEARCH_RESULTS = 500

_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
TRACES = Grammar(
    "trace",
    {"request_id": _STRING_OPS, "status": _STRING_OPS, "name": _STRING_OPS,
     "run_id": ("=", "IN"), "client_request_id": _STRING_OPS},
    ("timestamp_ms", "execution_time_ms", "end_time_ms"),
    {"trace_id": "request_id", "state": "status", "timestamp": "timestamp_ms",
     "execution_time": "execution_time_ms", "end_time": "end_time_ms"},
    {"timestamp_ms": "request_time", "timestamp": "request_time",
     "execution_time_ms": "execution_duration", "execution_time": "execution_duration",
     "end_time_ms": "end_time", "end_time": "end_time", "status": "state", "name": "name",
     "request_id": "trace_id", "run_id": "run_id", "experiment_id": "experiment_id"},
    (("request_time", False),), (("trace_id", True),),
    keyed={"tag": "tag", "tags": "tag", "metadata": "metadata",
           "request_metadata": "metadata"},
    attribute_prefixes=("attribute", "attributes", "trace"), null_tests=True)


@dataclass(frozen=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time: int  # ms since the epoch
    execution_duration: int | None  # ms
    state: str
    request_preview: str = ""
    response_preview: str = ""
    client_request_id: str = ""
    trace_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[dict[str, Any]] = field(default_factory=list)  # MLflow's JSON
    run_ids: list[str] = field(default_factory=list)  # every run the trace is linked to

    @property
    def name(self) -> str:
        return self.tags.get(TRACE_NAME_TAG, "")

    @property
    def end_time(self) -> int:
        return self.request_time + (self.execution_duration or 0)


class Traces:
    """Start, read, tag, link, search and delete the traces of one tracking store."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def _type(self, s: LineageSession) -> int:
        return s.type_id(TypeKind.EXECUTION, TRACE_TYPE, TRACE_PROPERTIES)

    # -- writing ----------------------------------------------------------------------
    def start(self, info: TraceInfo) -> TraceInfo:
        """Record a trace (MLflow's StartTraceV3, sent when the trace ends); a trace
        already recorded under the id is merged into: its fields replaced, its tags and
        metadata updated."""
        if not info.trace_id:
            raise InvalidParameterError("A trace needs a trace_id (MLflow's client sends "
                                        "tr-<32 hex digits>).")
        state = info.state or "STATE_UNSPECIFIED"
        if state not in STATES:
            raise InvalidParameterError(f"Invalid trace state {state!r}: use one of "
                                        f"{', '.join(STATES)}.")
        experiment = self.store.get_experiment(info.experiment_id)
        if experiment.lifecycle_stage != "active":
            raise InvalidParameterError(f"The experiment {info.experiment_id} must be in the "
                                        "'active' state to hold new traces.")
        tags = dict(info.tags)
        tags.setdefault(ARTIFACT_LOCATION_TAG, f"{experiment.artifact_location}/traces/"
                                               f"{info.trace_id}/artifacts")
        metadata = {**info.trace_metadata, "mlflow.trace.infoFinalized": "true"}
        props = {"experiment_id": experiment.experiment_id, "request_time": info.request_time,
                 "execution_duration": info.execution_duration or 0, "state": state,
                 "client_request_id": info.client_request_id,
                 "request_preview": info.request_preview,
                 "response_preview": info.response_preview}
        custom = {**{TAG + k: str(v) for k, v in tags.items()},
                  **{META + k: str(v) for k, v in metadata.items()}}
        run_id = metadata.get(SOURCE_RUN_KEY)
        with self.store.write() as s:
            type_id = self._type(s)
            existing = s.node_by_name("execution", type_id, info.trace_id)
            if existing is None:
                exec_id = s.insert_execution(
                    type_id, info.trace_id, int(_EXECUTION_STATES.get(state, 0)), props, custom,
                    [self.store.experiment_pk(experiment.experiment_id)])
                s.set_external_id("execution", exec_id, info.trace_id)
            else:
                exec_id = existing.id
                s.update_execution(exec_id, int(_EXECUTION_STATES.get(state, 0)), props, custom)
            if run_id:
                self._link(s, exec_id, run_id)
        for assessment in info.assessments:
            self.create_assessment(info.trace_id, assessment)
        return self.get(info.trace_id)

    def set_tag(self, trace_id: str, key: str, value: str) -> None:
        with self.store.write() as s:
            s.update_execution(self._node(s, trace_id).id, custom={TAG + key: str(value)})

    def delete_tag(self, trace_id: str, key: str) -> None:
        with self.store.write() as s:
            node = self._node(s, trace_id)
            if TAG + key not in node.custom_properties:
                raise ResourceDoesNotExistError(f"No trace tag with key '{key}' for trace with "
                                                f"ID '{trace_id}'.")
            s.delete_properties("execution", node.id, [TAG + key])

    def link_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        """Associate traces with a run, as ``link_traces_to_run`` does."""
        if len(trace_ids) > 100:
            raise InvalidParameterError(f"Cannot link more than 100 traces to a run in a single "
                                        f"request; got {len(trace_ids)}.")
        with self.store.write() as s:
            for trace_id in trace_ids:
                self._link(s, self._node(s, trace_id).id, run_id)

    def _link(self, s: LineageSession, exec_id: int, run_id: str) -> None:
        run_pk = self.store.run_node(s, run_id).id
        linked = s.conn.execute(associations.select().where(
            associations.c.context_id == run_pk,
            associations.c.execution_id == exec_id)).first()
        if linked is None:
            s.conn.execute(associations.insert().values(context_id=run_pk,
                                                        execution_id=exec_id))

    def delete(self, experiment_id: str, max_timestamp_millis: int | None = None,
               max_traces: int | None = None, trace_ids: Sequence[str] | None = None) -> int:
        """Delete an experiment's traces by id, or those that started before
        ``max_timestamp_millis`` (the oldest first, at most ``max_traces``); how many
        went. Their span files go too."""
        if (max_timestamp_millis is None) == (not trace_ids):
            raise InvalidParameterError("Delete traces either by trace ids (request_ids) or by "
                                        "max_timestamp_millis, exactly one of the two.")
        found = self.search([experiment_id], order_by=["timestamp_ms ASC"])
        if trace_ids:
            wanted = set(trace_ids)
            doomed = [t for t in found if t.trace_id in wanted]
        else:
            doomed = [t for t in found if t.request_time <= int(max_timestamp_millis or 0)]
            doomed = doomed[:max_traces] if max_traces else doomed
        with self.store.write() as s:
            type_id = self._type(s)
            ids = [n.id for n in (s.node_by_name("execution", type_id, t.trace_id)
                                  for t in doomed) if n is not None]
            delete_nodes(s, "execution", ids, cascade=True)
        for trace in doomed:
            self._forget_span_file(trace)
        return len(doomed)

    def _forget_span_file(self, trace: TraceInfo) -> None:
        location = trace.tags.get(ARTIFACT_LOCATION_TAG, "")
        prefix = "mlflow-artifacts:/"
        if location.startswith(prefix):
            try:
                delete_files(self.store, PROXY_ROOT, location[len(prefix):])
            except ResourceDoesNotExistError:
                pass  # the client never uploaded spans

    def log_spans(self, experiment_id: str, spans: Sequence[Mapping[str, Any]],
                  run_id: str | None = None) -> int:
        """Keep OpenTelemetry spans (OTLP's JSON form: base64 ids, nanosecond times),
        each under its trace ``tr-<hex of the trace id>``; a trace not seen yet is
        started from its spans (its times and, once the root span is in, its state).
        ``run_id`` links the traces of root spans to that run. Returns how many spans
        were kept."""
        by_trace: dict[str, list[Mapping[str, Any]]] = {}
        for span in spans:
            by_trace.setdefault(trace_id_of(span), []).append(span)
        experiment = self.store.get_experiment(experiment_id)
        for trace_id, group in by_trace.items():
            self._keep_spans(experiment.experiment_id, experiment.artifact_location, trace_id,
                             group, run_id)
        return len(spans)

    def _keep_spans(self, experiment_id: str, location: str, trace_id: str,
                    spans: Sequence[Mapping[str, Any]], run_id: str | None) -> None:
        custom = {SPAN + str(s.get("span_id", "")): json.dumps(s) for s in spans}
        custom[TAG + SPANS_LOCATION_TAG] = IN_DATABASE
        with self.store.write() as s:
            type_id = self._type(s)
            node = s.node_by_name("execution", type_id, trace_id)
            known = [] if node is None else [json.loads(v) for k, v in
                                             node.custom_properties.items()
                                             if k.startswith(SPAN)]
            summary = _span_summary([*known, *spans])
            if node is None:
                custom[TAG + ARTIFACT_LOCATION_TAG] = f"{location}/traces/{trace_id}/artifacts"
                exec_id = s.insert_execution(
                    type_id, trace_id, int(_EXECUTION_STATES.get(summary["state"], 0)),
                    {"experiment_id": experiment_id, **summary}, custom,
                    [self.store.experiment_pk(experiment_id)])
                s.set_external_id("execution", exec_id, trace_id)
            else:
                exec_id = node.id
                finalized = node.custom_properties.get(META + "mlflow.trace.infoFinalized")
                s.update_execution(exec_id, None if finalized else
                                   int(_EXECUTION_STATES.get(summary["state"], 0)),
                                   {} if finalized else summary, custom)
            if run_id and any(not sp.get("parent_span_id") for sp in spans):
                self._link(s, exec_id, run_id)

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans kept for a trace (OTLP's JSON form), by start time; [] when its
        client uploaded them as a file instead."""
        with self.store.read() as s:
            node = self._node(s, trace_id)
        found = [json.loads(v) for k, v in node.custom_properties.items() if k.startswith(SPAN)]
        return sorted(found, key=lambda sp: int(sp.get("start_time_unix_nano", 0)))

    # -- assessments ------------------------------------------------------------------
    def create_assessment(self, trace_id: str, assessment: Mapping[str, Any]) -> dict[str, Any]:
        """Record an assessment (MLflow's JSON); an ``overrides`` one marks the one it
        replaces as no longer valid."""
        created = _normalized_assessment(dict(assessment))
        created.update(assessment_id=created.get("assessment_id") or
                       f"a-{uuid.uuid4().hex}", trace_id=trace_id)
        created.setdefault("valid", True)
        stamp = rfc3339(now_ms())
        created.setdefault("create_time", stamp)
        created.setdefault("last_update_time", stamp)
        with self.store.write() as s:
            node = self._node(s, trace_id)
            updates = {ASSESSMENT + created["assessment_id"]: json.dumps(created)}
            replaced = created.get("overrides")
            if replaced:
                old = _assessment(node, replaced)
                updates[ASSESSMENT + replaced] = json.dumps({**old, "valid": False})
            s.update_execution(node.id, custom=updates)
        return created

    def get_assessment(self, trace_id: str, assessment_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            return _assessment(self._node(s, trace_id), assessment_id)

    def update_assessment(self, trace_id: str, assessment_id: str, changes: Mapping[str, Any],
                          fields: Sequence[str]) -> dict[str, Any]:
        """Replace the ``fields`` of an assessment (MLflow's update mask) with the values
        in ``changes``."""
        allowed = {"assessment_name", "expectation", "feedback", "rationale", "metadata",
                   "valid"}
        unknown = set(fields) - allowed
        if unknown:
            raise InvalidParameterError(f"Cannot update the assessment fields {sorted(unknown)}; "
                                        f"the update mask takes {sorted(allowed)}.")
        changes = _normalized_assessment(dict(changes))
        with self.store.write() as s:
            node = self._node(s, trace_id)
            updated = _assessment(node, assessment_id)
            for name in fields:
                if name in changes:
                    updated[name] = changes[name]
                else:
                    updated.pop(name, None)
            if "feedback" in fields:
                updated.pop("expectation", None)
            if "expectation" in fields:
                updated.pop("feedback", None)
            updated["last_update_time"] = rfc3339(now_ms())
            s.update_execution(node.id, custom={ASSESSMENT + assessment_id: json.dumps(updated)})
        return updated

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        """Forget an assessment; the one it overrode becomes valid again."""
        with self.store.write() as s:
            node = self._node(s, trace_id)
            doomed = _assessment(node, assessment_id)
            s.delete_properties("execution", node.id, [ASSESSMENT + assessment_id])
            replaced = doomed.get("overrides")
            if replaced and ASSESSMENT + replaced in node.custom_properties:
                restored = {**_assessment(node, replaced), "valid": True}
                s.update_execution(node.id, custom={ASSESSMENT + replaced: json.dumps(restored)})

    # -- reading ----------------------------------------------------------------------
    def get(self, trace_id: str) -> TraceInfo:
        with self.store.read() as s:
            node = self._node(s, trace_id)
            return self._info(s, node)

    def get_many(self, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """The traces among ``trace_ids`` that exist, in that order."""
        found = []
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.EXECUTION, TRACE_TYPE)
            for trace_id in trace_ids:
                node = None if type_id is None else s.node_by_name("execution", type_id,
                                                                   trace_id)
                if node is not None:
                    found.append(self._info(s, node))
        return found

    def search(self, experiment_ids: Sequence[str], filter_string: str | None = None,
               order_by: Sequence[str] | None = None) -> list[TraceInfo]:
        """The experiments' traces matching MLflow's trace ``filter_string``, newest
        first unless ``order_by`` says otherwise."""
        clauses = parse_filter(TRACES, filter_string)
        order = parse_order_by(TRACES, order_by)
        run_clauses = [c for c in clauses if c.kind == "attribute" and c.key == "run_id"]
        clauses = [c for c in clauses if c not in run_clauses]
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.EXECUTION, TRACE_TYPE)
            if type_id is None:
                return []
            found = []
            for experiment_id in experiment_ids:
                pk = self.store.experiment_pk(str(experiment_id))
                found += [self._info(s, n) for n in s.executions_in_context(
                    pk, executions.c.type_id == type_id)]
        found = [t for t in found if _in_runs(t, run_clauses)
                 and matches(clauses, _attributes(t), t.tags, metadata=t.trace_metadata)]
        return sort(found, order, _field)

    def _node(self, s: LineageSession, trace_id: str) -> Node:
        type_id = s.find_type_id(TypeKind.EXECUTION, TRACE_TYPE)
        node = None if type_id is None else s.node_by_name("execution", type_id, trace_id)
        if node is None:
            raise ResourceDoesNotExistError(f"Trace with ID '{trace_id}' not found.")
        return node

    def _info(self, s: LineageSession, node: Node) -> TraceInfo:
        p, c = node.properties, node.custom_properties
        linked = s.conn.execute(associations.select().with_only_columns(
            associations.c.context_id).where(associations.c.execution_id == node.id)).scalars()
        run_ids = [n.external_id or "" for n in s.nodes_by_ids("context", list(linked))
                   if n.external_id]
        return TraceInfo(
            trace_id=node.name or "", experiment_id=str(p.get("experiment_id", "")),
            request_time=int(p.get("request_time", 0)),
            execution_duration=int(p.get("execution_duration", 0)),
            state=str(p.get("state", "STATE_UNSPECIFIED")),
            request_preview=str(p.get("request_preview", "")),
            response_preview=str(p.get("response_preview", "")),
            client_request_id=str(p.get("client_request_id", "")),
            trace_metadata=_prefixed(c, META), tags=_prefixed(c, TAG),
            assessments=sorted((json.loads(v) for k, v in c.items() if k.startswith(ASSESSMENT)),
                               key=lambda a: (a.get("create_time", ""), a["assessment_id"])),
            run_ids=sorted(run_ids))


def trace_id_of(span: Mapping[str, Any]) -> str:
    """MLflow's trace id for an OpenTelemetry span: ``tr-`` and the hex of its trace
    id (base64 in OTLP's JSON)."""
    raw = span.get("trace_id")
    try:
        return "tr-" + base64.b64decode(str(raw), validate=True).hex()
    except (ValueError, TypeError):
        raise InvalidParameterError(f"Invalid span trace_id {raw!r}: OTLP's JSON form takes "
                                    "the 16 bytes in base64.") from None


def _span_summary(spans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A trace's start (ms), duration (ms) and state from its spans: the state of the
    root span once it is in, IN_PROGRESS before."""
    starts = [int(sp.get("start_time_unix_nano", 0)) for sp in spans]
    ends = [int(sp.get("end_time_unix_nano", 0) or 0) for sp in spans]
    start = min(starts) if starts else 0
    roots = [sp for sp in spans if not sp.get("parent_span_id")]
    state = "IN_PROGRESS"
    if roots:
        code = str((roots[0].get("status") or {}).get("code", ""))
        state = "ERROR" if code.endswith("ERROR") else "OK"
    return {"request_time": start // 1_000_000,
            "execution_duration": max(0, (max(ends, default=start) - start) // 1_000_000),
            "state": state}


def _prefixed(custom: Mapping[str, Any], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: str(v) for k, v in custom.items() if k.startswith(prefix)}


def _assessment(node: Node, assessment_id: str) -> dict[str, Any]:
    stored = node.custom_properties.get(ASSESSMENT + assessment_id)
    if stored is None:
        raise ResourceDoesNotExistError(f"Assessment with ID '{assessment_id}' not found for "
                                        f"trace '{node.name}'.")
    return dict(json.loads(stored))


def _normalized_assessment(assessment: dict[str, Any]) -> dict[str, Any]:
    """An expectation whose value is not a plain number, string or bool is kept
    serialized as JSON, as MLflow returns it."""
    expectation = assessment.get("expectation")
    if isinstance(expectation, dict) and "value" in expectation and \
            not isinstance(expectation["value"], (str, int, float, bool)):
        assessment["expectation"] = {"serialized_value": {
            "serialization_format": "JSON_FORMAT",
            "value": json.dumps(_as_struct(expectation["value"]))}}
    return assessment


def _as_struct(value: Any) -> Any:
    """A JSON value as protobuf's Struct holds it (MLflow stores raw expectation
    values that way): every number a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_as_struct(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_struct(v) for k, v in value.items()}
    return value


def _in_runs(trace: TraceInfo, clauses: Sequence[Clause]) -> bool:
    for c in clauses:
        wanted = c.value if isinstance(c.value, tuple) else (c.value,)
        if not set(wanted) & set(trace.run_ids):
            return False
    return True


def _attributes(trace: TraceInfo) -> dict[str, Any]:
    return {"request_id": trace.trace_id, "status": trace.state, "name": trace.name,
            "client_request_id": trace.client_request_id, "timestamp_ms": trace.request_time,
            "execution_time_ms": trace.execution_duration or 0, "end_time_ms": trace.end_time}


def _field(trace: TraceInfo, name: str) -> Any:
    if name == "run_id":
        return trace.trace_metadata.get(SOURCE_RUN_KEY, "")
    return getattr(trace, name)


def rfc3339(ms: int) -> str:
    """A time in milliseconds as proto3 JSON writes a Timestamp: RFC 3339 in UTC, the
    fraction only when there is one (``...:20Z``, ``...:20.250Z``)."""
    stamp = datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms % 1000:03d}Z" if ms % 1000 else f"{stamp}Z"


def proto_duration(ms: int) -> str:
    """Milliseconds as proto3 JSON writes a Duration (``"2s"``, ``"0.250s"``)."""
    seconds, rest = divmod(ms, 1000)
    return f"{seconds}.{rest:03d}s" if rest else f"{seconds}s"
