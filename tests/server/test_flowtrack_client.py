"""flowtrack's own tracking API with an ``http://`` tracking URI: the fluent API, the
client, buffered metrics, files, datasets, models and the registry all go through a
real flowtrack server, and land in the server's store."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import flowtrack
import flowtrack.data
import flowtrack.pyfunc
import flowtrack.sklearn
from flowtrack.lineage import MetadataStore
from flowtrack.tracking import RunStatus, TrackingClient
from flowtrack.tracking.errors import (
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
    TrackingError,
)
from tests.tracking.conftest import reset_fluent_state


@pytest.fixture(autouse=True)
def _fresh_fluent_state():
    yield
    reset_fluent_state()


@pytest.fixture
def remote(server):
    flowtrack.set_tracking_uri(server.url)
    return TrackingClient(server.url)


def local_view(server) -> TrackingClient:
    """The server's store opened directly, to check what reached it."""
    return TrackingClient(server.metadata_url)


def test_fluent_logging_reaches_the_servers_store(server, remote, tmp_path):
    flowtrack.set_experiment("remote-fluent")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("a\n1\n")
    with flowtrack.start_run(run_name="outer", tags={"team": "ml"}) as run:
        flowtrack.log_params({"alpha": 0.5, "kind": "svm"})
        for step in range(20_000):
            flowtrack.log_metric("loss", 1.0 / (step + 1), step=step)
        flowtrack.log_metric("odd", math.nan)
        flowtrack.set_tag("stage", "dev")
        flowtrack.log_text("hello", "notes/hello.txt")
        flowtrack.log_dict({"lr": 0.1}, "config.yaml")
        flowtrack.log_artifacts(tmp_path / "data", artifact_path="data")
        with flowtrack.start_run(run_name="inner", nested=True) as inner:
            flowtrack.log_metric("acc", 0.7)
    stored = local_view(server).get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FINISHED
    assert stored.data.params == {"alpha": "0.5", "kind": "svm"}
    assert stored.data.tags["team"] == "ml" and stored.data.tags["stage"] == "dev"
    assert math.isnan(stored.data.metrics["odd"])
    history = remote.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(20_000))
    assert history[-1].value == 1.0 / 20_000
    assert remote.get_run(inner.info.run_id).data.tags["mlflow.parentRunId"] == run.info.run_id
    assert [f.path for f in remote.list_artifacts(run.info.run_id)] == \
        ["config.yaml", "data", "notes"]
    downloaded = remote.download_artifacts(run.info.run_id, "data", str(tmp_path / "out"))
    assert (tmp_path / "out" / "data" / "rows.csv").read_text() == "a\n1\n"
    assert downloaded.endswith("data")
    assert local_view(server).list_artifacts(run.info.run_id, "notes")[0].file_size == 5


def test_search_runs_and_errors_through_the_server(remote):
    flowtrack.set_experiment("remote-search")
    for value in (0.2, 0.6, 0.9):
        with flowtrack.start_run():
            flowtrack.log_metric("acc", value)
            flowtrack.log_param("model", "svm" if value > 0.5 else "tree")
    frame = flowtrack.search_runs(filter_string="metrics.acc > 0.8 OR params.model = 'tree'",
                                  order_by=["metrics.acc DESC"])
    assert list(frame["metrics.acc"]) == [0.9, 0.2]
    assert set(frame.columns) >= {"run_id", "experiment_id", "status", "start_time",
                                  "params.model"}
    with pytest.raises(InvalidParameterError, match="metrics.acc >"):
        flowtrack.search_runs(filter_string="metrics.acc >")
    with pytest.raises(ResourceAlreadyExistsError):
        remote.create_experiment("remote-search")
    assert remote.get_experiment_by_name("no-such-experiment") is None
    with pytest.raises(ResourceDoesNotExistError):
        remote.get_run("0" * 32)


def test_a_changed_param_and_a_failed_block(remote):
    flowtrack.set_experiment("remote-errors")
    with pytest.raises(RuntimeError, match="training diverged"):
        with flowtrack.start_run() as run:
            flowtrack.log_param("p", 1)
            raise RuntimeError("training diverged")
    assert remote.get_run(run.info.run_id).info.status == RunStatus.FAILED
    run = remote.create_run(remote.get_experiment_by_name("remote-errors").experiment_id)
    remote.log_param(run.info.run_id, "p", 1)
    with pytest.raises(InvalidParameterError, match="Changing param values is not allowed"):
        remote.log_param(run.info.run_id, "p", 2)
    remote.delete_run(run.info.run_id)
    assert remote.get_run(run.info.run_id).info.lifecycle_stage == "deleted"


def test_datasets_models_and_the_registry_through_the_server(server, remote):
    flowtrack.set_experiment("remote-models")
    features, labels = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    with flowtrack.start_run() as run:
        flowtrack.log_input(flowtrack.data.from_pandas(features, source="iris.csv", name="iris"),
                            context="training")
        info = flowtrack.sklearn.log_model(model, name="model", input_example=features.head(2))
    stored = remote.get_run(run.info.run_id)
    assert [d.dataset.name for d in stored.inputs.dataset_inputs] == ["iris"]
    version = flowtrack.register_model(info.model_uri, "remote-iris")
    assert version.version == "1" and version.run_id == run.info.run_id
    remote.set_registered_model_alias("remote-iris", "champion", version.version)
    loaded = flowtrack.pyfunc.load_model("models:/remote-iris@champion")
    assert list(loaded.predict(features.head(5))) == list(model.predict(features.head(5)))
    with pytest.raises(InvalidParameterError, match="missing inputs"):
        loaded.predict(pd.DataFrame({"other": [1.0]}))
    # the server recorded the Model artifact, so the version's lineage reaches the run
    registry_version = local_view(server).get_model_version_by_alias("remote-iris", "champion")
    assert registry_version.source == f"runs:/{run.info.run_id}/model"
    lineage = MetadataStore(server.metadata_url)
    [artifact] = lineage.get_artifacts_by_uri(f"runs:/{run.info.run_id}/model")
    assert "remote-iris/1" in {c.name for c in lineage.get_contexts_by_artifact(artifact.id)}


def test_credentials_come_from_the_environment(start_server, monkeypatch):
    server = start_server("--auth-token", "tok-123")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    assert TrackingClient(server.url).create_experiment("with-token")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "wrong")
    with pytest.raises(TrackingError, match="refused the credentials"):
        TrackingClient(server.url).get_experiment_by_name("with-token")


def test_flowtrack_client_against_mlflows_own_server(tmp_path):
    """The http:// store speaks plain MLflow REST: it works against `mlflow server`
    too (metric histories then come page by page)."""
    from tests.processes import free_port, listening
    from tests.server.mlflow_session import mlflow_python

    mlflow_cli = str(Path(mlflow_python()).parent / "mlflow")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "FLOWTRACK_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    with listening([mlflow_cli, "server", "--host", "127.0.0.1", "--port", str(port),
                    "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db",
                    "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
                   port, env, tmp_path / "mlflow.log", timeout=120):
        url = f"http://127.0.0.1:{port}"
        flowtrack.set_tracking_uri(url)
        flowtrack.set_experiment("flowtrack-on-mlflow")
        with flowtrack.start_run() as run:
            flowtrack.log_param("a", 1)
            for step in range(30_000):  # more than one get-history page
                flowtrack.log_metric("loss", 1.0 / (step + 1), step=step)
            flowtrack.log_text("hi", "notes/hello.txt")
        client = TrackingClient(url)
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == list(range(30_000))
        assert [f.path for f in client.list_artifacts(run.info.run_id, "notes")] == \
            ["notes/hello.txt"]
        found = flowtrack.search_runs(filter_string="params.a = '1'")
        assert list(found["run_id"]) == [run.info.run_id]
