"""MLflow's ``/graphql`` endpoint, as its web UI queries it: the four operations the UI
sends (GetRun, SearchRuns, MlflowGetExperimentQuery, GetMetricHistoryBulkInterval) with
its variables, 64-bit numbers as strings, errors as plain messages beside the data, a
query naming an unknown field refused as a whole, and MLflow's limits on a query."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mlflow_session import MlflowSession

RUN_FIELDS = """info { runName status runUuid experimentId artifactUri endTime lifecycleStage
                       startTime userId }
  experiment { experimentId name tags { key value } artifactLocation lifecycleStage
               lastUpdateTime }
  modelVersions { status version name source }
  data { metrics { key value step timestamp } params { key value } tags { key value } }
  inputs { datasetInputs { dataset { digest name profile schema source sourceType }
                           tags { key value } } modelInputs { modelId } }
  outputs { modelOutputs { modelId step } }"""


@pytest.fixture(scope="module")
def run_id(mlflow_client: MlflowSession) -> str:
    return mlflow_client.run("""
        import pandas as pd
        mlflow.set_experiment("graphql")
        with mlflow.start_run(run_name="charted") as run:
            mlflow.log_param("alpha", 0.5)
            for step in range(20):
                mlflow.log_metric("loss", 1 / (step + 1), step=step)
            mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"x": [1]}), name="train"),
                             context="training")
        result = run.info.run_id
    """)


def graphql(api: httpx.Client, query: str, variables: dict | None = None,
            operation: str | None = None) -> dict:
    answer = api.post("/graphql", json={"query": query, "variables": variables,
                                        "operationName": operation})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_get_run_as_the_ui_asks(api, run_id):
    found = graphql(api, f"""query GetRun($data: MlflowGetRunInput!)
        @component(name: "MLflow.ExperimentRunTracking") {{
        mlflowGetRun(input: $data) {{ apiError {{ helpUrl code message }} run {{ {RUN_FIELDS} }} }}
    }}""", {"data": {"runId": run_id}}, "GetRun")
    assert found["errors"] is None
    run = found["data"]["mlflowGetRun"]["run"]
    assert (run["info"]["runUuid"], run["info"]["runName"], run["info"]["status"]) == \
        (run_id, "charted", "FINISHED")
    assert isinstance(run["info"]["startTime"], str) and run["info"]["startTime"].isdigit()
    assert run["experiment"]["name"] == "graphql"
    assert run["data"]["params"] == [{"key": "alpha", "value": "0.5"}]
    assert run["data"]["metrics"][0]["step"] == "19"  # int64 as a string, as MLflow
    [dataset_input] = run["inputs"]["datasetInputs"]
    assert dataset_input["dataset"]["name"] == "train"
    assert {"key": "mlflow.data.context", "value": "training"} in dataset_input["tags"]


def test_search_runs_experiment_and_sampled_metrics(api, run_id):
    experiment_id = graphql(api, f"""query {{ mlflowGetRun(input: {{runId: "{run_id}"}}) {{
        run {{ info {{ experimentId }} }} }} }}""")["data"]["mlflowGetRun"]["run"]["info"][
        "experimentId"]
    runs = graphql(api, """query SearchRuns($data: MlflowSearchRunsInput!) {
        mlflowSearchRuns(input: $data) { runs { info { runUuid } } } }""",
                   {"data": {"filter": "params.alpha = '0.5'", "experimentIds": [experiment_id]}})
    assert [r["info"]["runUuid"] for r in runs["data"]["mlflowSearchRuns"]["runs"]] == [run_id]
    experiment = graphql(api, """query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) {
        mlflowGetExperiment(input: $input) { apiError { code message }
          experiment { experimentId name lifecycleStage lastUpdateTime tags { key value } } } }""",
                         {"input": {"experimentId": experiment_id}})
    assert experiment["data"]["mlflowGetExperiment"]["experiment"]["name"] == "graphql"
    sampled = graphql(api, """query GetMetricHistoryBulkInterval(
            $data: MlflowGetMetricHistoryBulkIntervalInput!) {
        mlflowGetMetricHistoryBulkInterval(input: $data) {
          __typename metrics { timestamp step runId key value } apiError { code message } } }""",
                      {"data": {"runIds": [run_id], "metricKey": "loss", "startStep": None,
                                "endStep": None, "maxResults": 5}})
    answer = sampled["data"]["mlflowGetMetricHistoryBulkInterval"]
    assert answer["__typename"] == "MlflowGetMetricHistoryBulkIntervalResponse"
    assert [m["step"] for m in answer["metrics"]][0] == "0"
    assert answer["metrics"][-1]["step"] == "19" and len(answer["metrics"]) == 5


def test_errors_are_messages_beside_the_data(api):
    missing = graphql(api, '{ mlflowGetRun(input: {runId: "nope"}) { run { info { runId } } } }')
    assert missing["data"] == {"mlflowGetRun": None}
    assert missing["errors"][0].startswith("Run with id=nope not found")
    bad_filter = graphql(api, """{ mlflowSearchRuns(input: {experimentIds: ["0"],
        filter: "bad filter"}) { runs { info { runId } } } }""")
    assert bad_filter["data"] == {"mlflowSearchRuns": None} and bad_filter["errors"]
    unknown = graphql(api, '{ mlflowGetRun(input: {runId: "x"}) { run { info { bogus } } } }')
    assert unknown == {"data": None,
                       "errors": ["Cannot query field 'bogus' on type 'MlflowRunInfo'."]}


def test_query_limits(api):
    aliases = " ".join(f'a{i}: test(inputString: "x") {{ output }}' for i in range(11))
    too_many = graphql(api, f"{{ {aliases} }}")
    assert too_many["data"] is None and "at most 10" in " ".join(too_many["errors"])
    fine = graphql(api, '{ a: test(inputString: "x") { output } }')
    assert fine == {"data": {"a": {"output": "x"}}, "errors": None}
    not_a_query = api.post("/graphql", json={"variables": {}})
    assert not_a_query.status_code == 200 and not_a_query.json()["data"] is None
