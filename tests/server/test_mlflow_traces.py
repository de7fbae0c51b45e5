"""MLflow 3's GenAI tracing through the official mlflow client against a flowtrack
server: traced functions and spans, reading a trace back, searching traces (to a
DataFrame, by run, by filter, newest first, in pages), tags, links to runs, deletion,
assessments (feedback, expectations, overrides) and the web UI's span download."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mlflow_session import MlflowSession

TRACED = """
@mlflow.trace
def add(x, y):
    return double(x) + y

@mlflow.trace(span_type="TOOL")
def double(x):
    return x * 2
"""


@pytest.fixture(scope="module")
def traced(server) -> MlflowSession:
    """A client session that logs traces synchronously (the test reads them at once)."""
    session = MlflowSession(server.url, MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false")
    session.run(TRACED)
    yield session
    session.close()


def new_trace(session: MlflowSession, experiment: str, *, in_run: bool = False) -> dict:
    return session.run(f"""
        mlflow.set_experiment({experiment!r})
        run_id = None
        if {in_run}:
            with mlflow.start_run() as run:
                add(1, 2)
            run_id = run.info.run_id
        else:
            add(1, 2)
        result = {{"trace_id": mlflow.get_last_active_trace_id(), "run_id": run_id,
                   "experiment_id": mlflow.get_experiment_by_name({experiment!r}).experiment_id}}
    """)


def test_a_traced_call_reads_back_with_its_spans(traced):
    made = new_trace(traced, "traces-read", in_run=True)
    found = traced.run(f"""
        trace = mlflow.get_trace({made['trace_id']!r})
        spans = {{s.name: s for s in trace.data.spans}}
        result = [trace.info.state.value, trace.info.experiment_id, sorted(spans),
                  spans["double"].span_type, spans["double"].parent_id == spans["add"].span_id,
                  spans["add"].inputs, spans["add"].outputs, trace.info.tags["mlflow.traceName"],
                  trace.info.request_metadata.get("mlflow.sourceRun"),
                  trace.info.execution_duration is not None]
    """)
    assert found == ["OK", made["experiment_id"], ["add", "double"], "TOOL", True,
                     {"x": 1, "y": 2}, 4, "add", made["run_id"], True]


def test_search_traces(traced):
    made = [new_trace(traced, "traces-search") for _ in range(3)]
    ids = [m["trace_id"] for m in made]
    found = traced.run(f"""
        frame = mlflow.search_traces(locations=[{made[0]['experiment_id']!r}])
        oldest_first = mlflow.search_traces(locations=[{made[0]['experiment_id']!r}],
                                            filter_string="status = 'OK'",
                                            order_by=["timestamp ASC"], return_type="list")
        first = client.search_traces(locations=[{made[0]['experiment_id']!r}], max_results=2)
        second = client.search_traces(locations=[{made[0]['experiment_id']!r}], max_results=2,
                                      page_token=first.token)
        result = [list(frame["trace_id"]), [t.info.trace_id for t in oldest_first],
                  len(first), bool(first.token), len(second), bool(second.token),
                  sorted(frame.columns.intersection(["trace_id", "state", "request_time",
                                                     "spans", "tags"]))]
    """)
    newest_first, oldest_first, *pages, columns = found
    assert newest_first == ids[::-1] and oldest_first == ids
    assert pages == [2, True, 1, False]
    assert columns == ["request_time", "spans", "state", "tags", "trace_id"]


def test_search_by_name_tag_metadata_and_time(traced):
    made = new_trace(traced, "traces-filters")
    experiment = made["experiment_id"]
    traced.run(f"client.set_trace_tag({made['trace_id']!r}, 'team', 'search')")

    def search(filter_string: str) -> list:
        return traced.run(f"result = [t.info.trace_id for t in mlflow.search_traces("
                          f"locations=[{experiment!r}], filter_string={filter_string!r}, "
                          f"return_type='list')]")
    assert search("trace.name = 'add'") == [made["trace_id"]]
    assert search("tags.team = 'search'") == [made["trace_id"]]
    assert search("tags.team = 'other'") == []
    assert search("tags.missing IS NULL") == [made["trace_id"]]
    assert search("metadata.`mlflow.trace_schema.version` = '3'") == [made["trace_id"]]
    assert search("timestamp_ms > 0 AND execution_time_ms >= 0") == [made["trace_id"]]
    error = traced.fails(f"result = mlflow.search_traces(locations=[{experiment!r}], "
                         "filter_string=\"status = 'OK' OR status = 'ERROR'\")")
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"


def test_tags_links_to_runs_and_deletion(traced):
    first = new_trace(traced, "traces-links")
    second = new_trace(traced, "traces-links", in_run=True)
    found = traced.run(f"""
        client.set_trace_tag({first['trace_id']!r}, "color", "green")
        tagged = client.get_trace({first['trace_id']!r}).info.tags.get("color")
        client.delete_trace_tag({first['trace_id']!r}, "color")
        untagged = client.get_trace({first['trace_id']!r}).info.tags.get("color")
        with mlflow.start_run() as run:
            pass
        client.link_traces_to_run([{first['trace_id']!r}, {second['trace_id']!r}],
                                  run.info.run_id)
        linked = sorted(t.info.trace_id for t in mlflow.search_traces(
            run_id=run.info.run_id, return_type="list"))
        by_source = [t.info.trace_id for t in mlflow.search_traces(
            run_id={second['run_id']!r}, return_type="list")]
        deleted = client.delete_traces({first['experiment_id']!r},
                                       trace_ids=[{first['trace_id']!r}])
        result = [tagged, untagged, linked, by_source, deleted]
    """)
    assert found == ["green", None, sorted([first["trace_id"], second["trace_id"]]),
                     [second["trace_id"]], 1]
    error = traced.fails(f"result = client.get_trace({first['trace_id']!r})")
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_delete_traces_by_time(traced):
    made = [new_trace(traced, "traces-by-time") for _ in range(3)]
    experiment = made[0]["experiment_id"]
    assert traced.run(f"result = client.delete_traces({experiment!r}, "
                      "max_timestamp_millis=10**15, max_traces=1)") == 1
    remaining = traced.run(f"result = [t.info.trace_id for t in mlflow.search_traces("
                           f"locations=[{experiment!r}], return_type='list')]")
    assert remaining == [made[2]["trace_id"], made[1]["trace_id"]]  # the oldest went


def test_feedback_and_expectations(traced):
    made = new_trace(traced, "traces-assessments")
    found = traced.run(f"""
        tid = {made['trace_id']!r}
        feedback = mlflow.log_feedback(trace_id=tid, name="relevance", value=0.5,
                                       rationale="partly")
        mlflow.log_expectation(trace_id=tid, name="answer", value={{"total": 4}})
        better = mlflow.override_feedback(trace_id=tid, assessment_id=feedback.assessment_id,
                                          value=0.9, rationale="on reflection")
        shown = {{(a.name, a.assessment_id): (a.value, a.valid)
                  for a in mlflow.get_trace(tid).info.assessments}}
        mlflow.delete_assessment(trace_id=tid, assessment_id=better.assessment_id)
        restored = mlflow.get_assessment(tid, feedback.assessment_id).valid
        result = [sorted(map(list, shown.values()), key=str), restored,
                  [a.name for a in mlflow.get_trace(tid).info.assessments]]
    """)
    shown, restored, names = found
    assert sorted(shown, key=str) == sorted([[0.5, False], [{"total": 4}, None], [0.9, True]],
                                            key=str)
    assert restored is True
    assert sorted(names) == ["answer", "relevance"]


def test_assessments_over_rest(server, traced):
    made = new_trace(traced, "traces-rest")
    base = f"{server.url}/api/3.0/mlflow/traces/{made['trace_id']}/assessments"
    with httpx.Client(timeout=30) as http:
        created = http.post(base, json={"assessment": {
            "trace_id": made["trace_id"], "assessment_name": "quality",
            "source": {"source_type": "HUMAN", "source_id": "ann"},
            "feedback": {"value": {"score": 3}}}}).json()["assessment"]
        assert created["assessment_id"].startswith("a-") and created["valid"] is True
        updated = http.patch(f"{base}/{created['assessment_id']}", json={
            "assessment": {"assessment_name": "quality2", "rationale": "checked",
                           "feedback": {"value": 4}},
            "update_mask": "assessmentName,feedback,rationale"}).json()["assessment"]
        assert (updated["assessment_name"], updated["feedback"]["value"],
                updated["rationale"]) == ("quality2", 4, "checked")
        expectation = http.post(base, json={"assessment": {
            "trace_id": made["trace_id"], "assessment_name": "expected",
            "expectation": {"value": {"k": [1, 2]}}}}).json()["assessment"]
        assert expectation["expectation"]["serialized_value"] == {
            "serialization_format": "JSON_FORMAT", "value": '{"k": [1.0, 2.0]}'}  # Struct
        gone = http.request("DELETE", f"{base}/{created['assessment_id']}",
                            json={"trace_id": made["trace_id"],
                                  "assessment_id": created["assessment_id"]})
        assert gone.status_code == 200
        missing = http.get(f"{base}/{created['assessment_id']}")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_web_ui_downloads_a_traces_spans(server, traced):
    made = new_trace(traced, "traces-ui")
    answer = httpx.get(f"{server.url}/ajax-api/2.0/mlflow/get-trace-artifact",
                       params={"request_id": made["trace_id"]}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == "attachment; filename=traces.json"
    spans = answer.json()["spans"]
    assert sorted(s["name"] for s in spans) == ["add", "double"]


@pytest.mark.parametrize(("path", "body"), [
    ("traces", {}),
    ("traces", {"trace": {"trace_info": {"trace_id": "tr-1"}}}),  # no experiment
    ("traces", {"trace": {"trace_info": {"trace_id": "tr-2", "request_time": "yesterday",
                                         "trace_location": {"mlflow_experiment": {
                                             "experiment_id": "0"}}}}}),
    ("traces/search", {}),
    ("traces/search", {"locations": [{"mlflow_experiment": {"experiment_id": "0"}}],
                       "max_results": 501}),
    ("traces/search", {"locations": [{"mlflow_experiment": {"experiment_id": "0"}}],
                       "filter": "nonsense ~~"}),
    ("traces/delete-traces", {"experiment_id": "0"}),
])
def test_bad_trace_requests_are_400(server, path, body):
    answer = httpx.post(f"{server.url}/api/3.0/mlflow/{path}", json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_unknown_traces_are_404(server):
    for method, path in [("GET", "traces/tr-unknown"),
                         ("PATCH", "traces/tr-unknown/tags"),
                         ("GET", "traces/tr-unknown/assessments/a-1")]:
        answer = httpx.request(method, f"{server.url}/api/3.0/mlflow/{path}",
                               json={"key": "k", "value": "v"} if method == "PATCH" else None,
                               timeout=30)
        assert answer.status_code == 404, (path, answer.text)


def test_spans_arrive_over_otlp_and_stay_in_the_database(server, traced):
    made = new_trace(traced, "traces-otlp")
    reported = httpx.get(f"{server.url}/version", timeout=30).text
    assert tuple(int(p) for p in reported.split(".")[:2]) >= (3, 4)  # so the client logs spans
    trace = httpx.get(f"{server.url}/api/3.0/mlflow/traces/get", timeout=30,
                      params={"trace_id": made["trace_id"], "allow_partial": "false"}).json()
    info = trace["trace"]["trace_info"]
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    spans = {s["name"]: s for s in trace["trace"]["spans"]}
    assert sorted(spans) == ["add", "double"]
    assert spans["double"]["parent_span_id"] == spans["add"]["span_id"]
    assert "parent_span_id" not in spans["add"]
    attributes = {a["key"]: a["value"] for a in spans["double"]["attributes"]}
    assert attributes["mlflow.spanType"] == {"string_value": "TOOL"}
    # no traces.json was uploaded: the spans are the database's
    location = info["tags"]["mlflow.artifactLocation"].removeprefix("mlflow-artifacts:/")
    listing = httpx.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts",
                        params={"path": location}, timeout=30)
    assert listing.json() == {}


def otlp_json_request(trace_hex: str, spans: list[dict]) -> dict:
    return {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": trace_hex, **span} for span in spans]}]}]}


def test_otlp_json_from_any_opentelemetry_sender(server):
    trace_hex = "0af7651916cd43dd8448eb211c80319c"
    body = otlp_json_request(trace_hex, [
        {"spanId": "b7ad6b7169203331", "name": "root", "startTimeUnixNano": "1700000000000000000",
         "endTimeUnixNano": "1700000000250000000", "status": {"code": "STATUS_CODE_OK"},
         "attributes": [{"key": "fruit", "value": {"stringValue": "apple"}}]},
        {"spanId": "00f067aa0ba902b7", "parentSpanId": "b7ad6b7169203331", "name": "child",
         "startTimeUnixNano": "1700000000100000000", "endTimeUnixNano": "1700000000200000000"}])
    answer = httpx.post(f"{server.url}/v1/traces", json=body, timeout=30,
                        headers={"x-mlflow-experiment-id": "0"})
    assert answer.status_code == 200, answer.text
    got = httpx.get(f"{server.url}/api/3.0/mlflow/traces/get", timeout=30,
                    params={"trace_id": f"tr-{trace_hex}"}).json()["trace"]
    info = got["trace_info"]
    assert (info["state"], info["request_time"], info["execution_duration"]) == \
        ("OK", "2023-11-14T22:13:20Z", "0.250s")
    assert sorted(s["name"] for s in got["spans"]) == ["child", "root"]
    artifact = httpx.get(f"{server.url}/ajax-api/3.0/mlflow/get-trace-artifact", timeout=30,
                         params={"request_id": f"tr-{trace_hex}"}).json()
    root = next(s for s in artifact["spans"] if s["name"] == "root")
    assert root["attributes"]["fruit"] == '"apple"' and root["parent_span_id"] is None


def test_otlp_protobuf_gzip(server, traced):
    """The client's own exporter path, gzipped: MLflow's RestStore.log_spans."""
    found = traced.run(f"""
        import gzip, requests
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest)
        request = ExportTraceServiceRequest()
        span = request.resource_spans.add().scope_spans.add().spans.add()
        span.trace_id = bytes.fromhex("11" * 16)
        span.span_id = bytes.fromhex("22" * 8)
        span.name = "zipped"
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_001_000_000_000
        answer = requests.post({server.url + '/v1/traces'!r},
                               data=gzip.compress(request.SerializeToString()),
                               headers={{"Content-Type": "application/x-protobuf",
                                        "Content-Encoding": "gzip",
                                        "x-mlflow-experiment-id": "0"}})
        result = [answer.status_code,
                  [s.name for s in client.get_trace("tr-" + "11" * 16).data.spans]]
    """)
    assert found == [200, ["zipped"]]


@pytest.mark.parametrize(("headers", "body", "fragment"), [
    ({"content-type": "application/json"}, b"{}", "x-mlflow-experiment-id"),
    ({"content-type": "text/plain", "x-mlflow-experiment-id": "0"}, b"x",
     "Invalid Content-Type"),
    ({"content-type": "application/x-protobuf", "x-mlflow-experiment-id": "0"},
     b"\xff\xff\xff", "Invalid OpenTelemetry format"),
    ({"content-type": "application/json", "x-mlflow-experiment-id": "0"}, b"{}",
     "no spans found"),
    ({"content-type": "application/x-protobuf", "x-mlflow-experiment-id": "0",
      "content-encoding": "gzip"}, b"not gzip", "not valid gzip"),
])
def test_bad_otlp_requests_are_400(server, headers, body, fragment):
    answer = httpx.post(f"{server.url}/v1/traces", content=body, headers=headers, timeout=30)
    assert answer.status_code == 400, answer.text
    assert fragment in answer.json()["message"]


def test_spans_uploaded_as_a_file_are_read_back(server, traced):
    """Clients that cannot log spans over OTLP upload traces.json after StartTraceV3, to
    the location the server names; the client reads it back from there."""
    experiment = traced.run("result = mlflow.set_experiment('traces-file').experiment_id")
    trace_id = "tr-" + "ab" * 16
    started = httpx.post(f"{server.url}/api/3.0/mlflow/traces", timeout=30, json={"trace": {
        "trace_info": {"trace_id": trace_id, "request_time": "2026-01-01T00:00:00.000Z",
                       "execution_duration": "0.5s", "state": "OK",
                       "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {
                           "experiment_id": experiment}},
                       "tags": {"mlflow.traceName": "uploaded"}}}}).json()
    location = started["trace"]["trace_info"]["tags"]["mlflow.artifactLocation"]
    assert location == f"mlflow-artifacts:/{experiment}/traces/{trace_id}/artifacts"
    span = {"trace_id": base64_of("ab" * 16), "span_id": base64_of("cd" * 8),
            "parent_span_id": None, "name": "uploaded", "start_time_unix_nano": 1,
            "end_time_unix_nano": 2, "events": [], "links": [],
            "status": {"code": "STATUS_CODE_OK", "message": ""},
            "attributes": {"mlflow.traceRequestId": f'"{trace_id}"',
                           "mlflow.spanType": '"CHAIN"'}}
    path = location.removeprefix("mlflow-artifacts:/")
    uploaded = httpx.put(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}/traces.json",
                         json={"spans": [span]}, timeout=30)
    assert uploaded.status_code == 200
    assert traced.run(f"result = [s.name for s in mlflow.get_trace({trace_id!r}).data.spans]"
                      ) == ["uploaded"]


def base64_of(hex_digits: str) -> str:
    import base64
    return base64.b64encode(bytes.fromhex(hex_digits)).decode()
