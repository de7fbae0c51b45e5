"""The endpoints MLflow's web UI calls beside the client's: bulk metric histories (whole,
and sampled for charts), uploads from the browser, a logged model's files, and a
registered version's files; data made with the official mlflow client."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mlflow_session import MlflowSession


@pytest.fixture(scope="module")
def runs(mlflow_client: MlflowSession) -> list[str]:
    """Two runs with a 'loss' history each (10 and 3000 points)."""
    return mlflow_client.run("""
        from mlflow.entities import Metric
        import time
        ids = []
        for size in (10, 3000):
            with mlflow.start_run() as run:
                now = int(time.time() * 1000)
                points = [Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(size)]
                for start in range(0, size, 1000):
                    client.log_batch(run.info.run_id, metrics=points[start:start + 1000])
            ids.append(run.info.run_id)
        result = ids
    """)


def test_history_bulk_holds_each_runs_points(api: httpx.Client, runs):
    answer = api.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                     params=[("run_id", runs[0]), ("run_id", runs[1]), ("metric_key", "loss")])
    points = answer.json()["metrics"]
    assert len(points) == 3010
    assert {p["run_id"] for p in points} == set(runs)
    first = [p for p in points if p["run_id"] == runs[0]]
    assert [p["step"] for p in first] == list(range(10))
    assert first[0] == {"key": "loss", "value": 1.0, "timestamp": first[0]["timestamp"],
                        "step": 0, "run_id": runs[0]}
    few = api.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk",
                  params={"run_id": runs[1], "metric_key": "loss", "max_results": 5})
    assert len(few.json()["metrics"]) == 5


def test_history_bulk_interval_samples_evenly_with_both_ends(api: httpx.Client, runs):
    answer = api.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                     params=[("run_ids", runs[0]), ("run_ids", runs[1]),
                             ("metric_key", "loss"), ("max_results", 100)])
    points = answer.json()["metrics"]
    small = [p["step"] for p in points if p["run_id"] == runs[0]]
    large = [p["step"] for p in points if p["run_id"] == runs[1]]
    assert small == list(range(10))  # fewer points than asked: all of them
    assert len(large) == 100 and large[0] == 0 and large[-1] == 2999
    assert large == sorted(large) and max(b - a for a, b in zip(large, large[1:])) <= 60
    window = api.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                     params={"run_ids": runs[1], "metric_key": "loss", "max_results": 10,
                             "start_step": 100, "end_step": 199}).json()["metrics"]
    assert [p["step"] for p in window][0] == 100 and window[-1]["step"] == 199
    last_only = api.get("/api/2.0/mlflow/metrics/get-history-bulk-interval",
                        params={"run_ids": runs[1], "metric_key": "loss",
                                "max_results": 1}).json()["metrics"]
    assert [p["step"] for p in last_only] == [2999]


@pytest.mark.parametrize("params", [
    {"metric_key": "loss"},  # no run
    {"run_ids": "x", "metric_key": "loss", "max_results": 0},
    {"run_ids": "x", "metric_key": "loss", "max_results": 2501},
    {"run_ids": "x", "metric_key": "loss", "start_step": 5},
    {"run_ids": "x", "metric_key": "loss", "start_step": 5, "end_step": 1},
])
def test_bad_interval_requests_are_400(api: httpx.Client, params):
    answer = api.get("/api/2.0/mlflow/metrics/get-history-bulk-interval", params=params)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_too_many_runs_for_a_bulk_history(api: httpx.Client):
    params = [("run_id", f"{i:032x}") for i in range(101)] + [("metric_key", "loss")]
    answer = api.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk", params=params)
    assert answer.status_code == 400 and "more than 100" in answer.json()["message"]


def test_upload_from_the_web_ui(api: httpx.Client, mlflow_client, runs):
    answer = api.post("/ajax-api/2.0/mlflow/upload-artifact",
                      params={"run_uuid": runs[0], "path": "uploads/note.txt"}, content=b"hi")
    assert answer.status_code == 200
    assert mlflow_client.run(f"result = [f.path for f in client.list_artifacts({runs[0]!r}, "
                             "'uploads')]") == ["uploads/note.txt"]
    for params, body, fragment in [({"path": "a.txt"}, b"x", "run_uuid"),
                                   ({"run_uuid": runs[0]}, b"x", "path"),
                                   ({"run_uuid": runs[0], "path": "a.txt"}, b"", "data"),
                                   ({"run_uuid": runs[0], "path": "../a.txt"}, b"x", "Invalid")]:
        bad = api.post("/ajax-api/2.0/mlflow/upload-artifact", params=params, content=body)
        assert bad.status_code == 400 and fragment in bad.json()["message"], bad.text


def test_a_logged_models_and_a_versions_files(api: httpx.Client, mlflow_client):
    made = mlflow_client.run("""
        from sklearn.linear_model import LinearRegression
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(LinearRegression().fit([[0], [1]], [0, 1]),
                                            name="lr", registered_model_name="ui-files-model")
        result = [info.model_id, info.registered_model_version]
    """)
    model_id, version = made
    listed = api.get(f"/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories").json()
    assert listed["root_uri"].endswith(f"/models/{model_id}/artifacts")
    assert "MLmodel" in {f["path"] for f in listed["files"]}
    descriptor = api.get(f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                         params={"artifact_file_path": "MLmodel"})
    assert descriptor.status_code == 200 and b"flavors" in descriptor.content
    assert descriptor.headers["content-disposition"] == "attachment; filename=MLmodel"
    same = api.get("/model-versions/get-artifact",
                   params={"name": "ui-files-model", "version": str(version), "path": "MLmodel"})
    assert same.status_code == 200 and same.content == descriptor.content
    missing = api.get(f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files")
    assert missing.status_code == 400
