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
            "serialization_format": "JSON_FORMAT", "value": '{"k": [1, 2]}'}
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
