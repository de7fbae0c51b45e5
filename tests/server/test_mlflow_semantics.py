"""MLflow's semantics of experiments, runs, registry and logged models, checked with the
official mlflow client against a flowtrack server: experiment "0" "Default" in a fresh
store, MLflow's error codes for malformed and unknown ids, experiment tag deletion,
stage transitions, copies of versions, input tags, logged-model metrics and outputs,
and the ``mlflow.modelVersions`` tag."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mlflow_session import MlflowSession


@pytest.fixture
def fresh(start_server):
    """A new server over an empty store, with the client pointed at it."""
    server = start_server()
    session = MlflowSession(server.url)
    yield session, server
    session.close()


def test_a_fresh_store_has_experiment_zero_named_default(fresh):
    session, _ = fresh
    experiments = session.run("result = [(e.experiment_id, e.name, e.artifact_location) "
                              "for e in client.search_experiments()]")
    assert experiments == [["0", "Default", "mlflow-artifacts:/0"]]
    # a run started without set_experiment goes to it, with MLflow's artifact layout
    run = session.run("""
        with mlflow.start_run() as run:
            mlflow.log_param("p", 1)
        result = [run.info.experiment_id, run.info.artifact_uri, run.info.run_id]
    """)
    assert run[0] == "0"
    assert run[1] == f"mlflow-artifacts:/0/{run[2]}/artifacts"
    assert session.run(f"result = client.get_run({run[2]!r}).info.experiment_id") == "0"


def test_experiment_zero_keeps_its_id_when_renamed(fresh):
    session, _ = fresh
    assert session.run("""
        client.rename_experiment("0", "Sandbox")
        result = [client.get_experiment("0").name,
                  client.get_experiment_by_name("Sandbox").experiment_id]
    """) == ["Sandbox", "0"]


@pytest.mark.parametrize(("call", "code", "fragment"), [
    ("client.get_experiment('abc')", "INVALID_PARAMETER_VALUE",
     "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."),
    ("client.get_experiment('12345')", "RESOURCE_DOES_NOT_EXIST",
     "No Experiment with id=12345 exists"),
    ("client.get_experiment('-1')", "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=-1"),
    ("client.create_run('abc')", "INVALID_PARAMETER_VALUE", "must be a valid integer"),
    ("client.get_run('abc')", "RESOURCE_DOES_NOT_EXIST", "Run with id=abc not found"),
    ("client.delete_experiment_tag('0', 'nope')", "RESOURCE_DOES_NOT_EXIST",
     "No tag with name: nope in experiment with id 0"),
    ("client.get_registered_model('nope')", "RESOURCE_DOES_NOT_EXIST",
     "Registered Model with name=nope not found"),
])
def test_mlflow_error_codes_and_wording(mlflow_client, call, code, fragment):
    error = mlflow_client.fails(f"result = {call}")
    assert error["error_code"] == code, error
    assert fragment in error["message"]


@pytest.mark.parametrize("body", [{"name": 123}, {"name": ["x"]}, {"name": ""}, {}])
def test_an_experiment_name_must_be_a_string(api, body):
    answer = api.post("/api/2.0/mlflow/experiments/create", json=body)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_relative_artifact_location_is_made_absolute(mlflow_client):
    location = mlflow_client.run("""
        eid = client.create_experiment("relative-location", artifact_location="some/dir")
        result = client.get_experiment(eid).artifact_location
    """)
    assert location.startswith("/") and location.endswith("/some/dir")


def test_delete_experiment_tag(mlflow_client):
    assert mlflow_client.run("""
        eid = client.create_experiment("tagged", tags={"a": "1", "b": "2"})
        client.delete_experiment_tag(eid, "a")
        result = client.get_experiment(eid).tags
    """) == {"b": "2"}


def test_stage_transitions_archive_the_previous_version(mlflow_client):
    found = mlflow_client.run("""
        client.create_registered_model("staged")
        for i in range(3):
            client.create_model_version("staged", f"s3://bucket/staged/{i}")
        client.transition_model_version_stage("staged", "1", "Production")
        client.transition_model_version_stage("staged", "2", "staging")
        moved = client.transition_model_version_stage("staged", "3", "production",
                                                      archive_existing_versions=True)
        result = [moved.current_stage,
                  [client.get_model_version("staged", v).current_stage for v in "123"],
                  sorted((v.version, v.current_stage)
                         for v in client.get_latest_versions("staged")),
                  [v.version for v in client.get_latest_versions("staged", ["Staging"])]]
    """)
    assert found == ["Production", ["Archived", "Staging", "Production"],
                     [["1", "Archived"], ["2", "Staging"], ["3", "Production"]], ["2"]]


@pytest.mark.parametrize(("stage", "archive", "fragment"), [
    ("bogus", False, "Invalid Model Version stage: bogus"),
    ("Archived", True, "not an Active stage"),
])
def test_bad_stage_transitions_are_400(mlflow_client, stage, archive, fragment):
    mlflow_client.run("""
        if not client.search_registered_models("name = 'bad-stage'"):
            client.create_model_version("bad-stage", "s3://bucket/x") \\
                if client.create_registered_model("bad-stage") else None
    """)
    error = mlflow_client.fails(f"result = client.transition_model_version_stage("
                                f"'bad-stage', '1', {stage!r}, {archive})")
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert fragment in error["message"]


def test_updates_advance_last_updated_timestamp(mlflow_client):
    before, after, v_before, v_after = mlflow_client.run("""
        import time
        client.create_registered_model("timed")
        v = client.create_model_version("timed", "s3://bucket/t")
        before = client.get_registered_model("timed").last_updated_timestamp
        time.sleep(0.01)
        client.update_registered_model("timed", "new description")
        time.sleep(0.01)
        updated = client.update_model_version("timed", "1", "better")
        result = [before, client.get_registered_model("timed").last_updated_timestamp,
                  v.last_updated_timestamp, updated.last_updated_timestamp]
    """)
    assert after > before and v_after > v_before


def test_a_copied_version_keeps_the_original_run_and_files(mlflow_client):
    run_id, copied, download = mlflow_client.run("""
        from sklearn.linear_model import LinearRegression
        mlflow.set_experiment(experiment_id="0")
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(LinearRegression().fit([[0], [1]], [0, 1]),
                                            name="lr")
        mlflow.register_model(info.model_uri, "original")
        copy = client.copy_model_version("models:/original/1", "copied")
        result = [run.info.run_id, [copy.name, copy.version, copy.source, copy.run_id],
                  [client.get_model_version_download_uri("copied", copy.version),
                   info.model_id]]
    """)
    assert copied == ["copied", "1", "models:/original/1", run_id]
    # the copy's files are the original's: the logged model's artifacts
    assert download[0] == f"mlflow-artifacts:/0/models/{download[1]}/artifacts"
    predictions = mlflow_client.run(
        "result = list(mlflow.pyfunc.load_model('models:/copied/1').predict([[2.0]]))")
    assert predictions == pytest.approx([2.0])


def test_log_input_keeps_the_dataset_tags(mlflow_client):
    inputs = mlflow_client.run("""
        import pandas as pd
        with mlflow.start_run() as run:
            dataset = mlflow.data.from_pandas(pd.DataFrame({"a": [1, 2]}), name="frame")
            mlflow.log_input(dataset, context="training", tags={"split": "train"})
        result = [[d.dataset.name, sorted((t.key, t.value) for t in d.tags)]
                  for d in client.get_run(run.info.run_id).inputs.dataset_inputs]
    """)
    assert inputs == [["frame", [["mlflow.data.context", "training"], ["split", "train"]]]]


def test_logged_models_carry_metrics_outputs_and_their_versions(mlflow_client):
    found = mlflow_client.run("""
        import json
        mlflow.set_experiment("logged-models")
        with mlflow.start_run() as run:
            model = mlflow.initialize_logged_model(name="scorer")
            mlflow.log_metric("acc", 0.5, step=1, model_id=model.model_id)
            mlflow.log_metric("acc", 0.75, step=2, model_id=model.model_id,
                              dataset=mlflow.data.from_pandas(
                                  __import__("pandas").DataFrame({"x": [1]}), name="val"))
            client.log_outputs(run.info.run_id,
                               [mlflow.entities.LoggedModelOutput(model.model_id, 7)])
        client.finalize_logged_model(model.model_id, "READY")
        client.create_registered_model("from-logged")
        for _ in range(2):
            client.create_model_version("from-logged", f"models:/{model.model_id}",
                                        model_id=model.model_id)
        loaded = client.get_logged_model(model.model_id)
        result = [sorted((m.key, m.step, m.value, m.dataset_name) for m in loaded.metrics),
                  [(o.model_id == model.model_id, o.step)
                   for o in client.get_run(run.info.run_id).outputs.model_outputs],
                  json.loads(loaded.tags["mlflow.modelVersions"])]
    """)
    metrics, outputs, versions = found
    assert metrics == [["acc", 1, 0.5, None], ["acc", 2, 0.75, "val"]]
    assert [True, 7] in outputs
    assert versions == [{"name": "from-logged", "version": 1},
                        {"name": "from-logged", "version": 2}]


def test_search_logged_models_by_metric(mlflow_client):
    found = mlflow_client.run("""
        eid = mlflow.set_experiment("metric-search").experiment_id
        ids = []
        with mlflow.start_run():
            for score in (0.2, 0.9):
                model = mlflow.initialize_logged_model(name=f"m{int(score * 10)}")
                mlflow.log_metric("score", score, model_id=model.model_id)
                ids.append(model.model_id)
        hits = mlflow.search_logged_models(experiment_ids=[eid], filter_string="metrics.score > 0.5",
                                           output_format="list")
        result = [[m.model_id for m in hits], ids]
    """)
    assert found[0] == [found[1][1]]


def test_unknown_alias_is_invalid_parameter(mlflow_client):
    mlflow_client.run("client.create_registered_model('aliased')")
    error = mlflow_client.fails("result = client.get_model_version_by_alias('aliased', 'gone')")
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Registered model alias gone not found" in error["message"]


def test_errors_never_answer_5xx(api: httpx.Client):
    for path, body in [("experiments/delete-experiment-tag", {"experiment_id": "x", "key": "k"}),
                       ("model-versions/transition-stage", {"name": "n", "version": "v",
                                                            "stage": "Production"}),
                       ("runs/outputs", {"run_id": "r"})]:
        answer = api.post(f"/api/2.0/mlflow/{path}", json=body)
        assert 400 <= answer.status_code < 500, (path, answer.text)
