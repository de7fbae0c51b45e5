"""The official ``mlflow`` 3.x client against a real flowtrack server: the tracking
issue's whole workflow (tests/server/clients/mlflow_workflow.py, run in the separate
virtualenv ``make mlflow-client`` builds), with and without authentication, then the
same store read back through flowtrack: runs, files, and the registered model's
lineage leading to the run that logged it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from flowtrack.lineage import EventType, MetadataStore
from flowtrack.tracking import TrackingClient
from flowtrack.tracking.service import LoggedModels
from tests.server.mlflow_session import client_env, mlflow_python

WORKFLOW = Path(__file__).parent / "clients" / "mlflow_workflow.py"
def run_workflow(url: str, **env: str) -> dict:
    full_env = client_env(url, **env)
    proc = subprocess.run([mlflow_python(), str(WORKFLOW)], env=full_env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"mlflow workflow failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_official_client_runs_the_whole_workflow(start_server):
    server = start_server()
    summary = run_workflow(server.url)
    assert len(summary["predictions"]) == 10

    # the same store through flowtrack: what mlflow logged is there, as flowtrack objects
    client = TrackingClient(server.metadata_url if "://" in server.metadata_url
                            else str(server.home))
    run = client.get_run(summary["run_id"])
    assert run.data.params["kind"] == "tree"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")][-1] == 0.2
    assert {f.path for f in client.list_artifacts(run.info.run_id)} >= {"notes.txt", "bundle"}
    version = client.get_model_version_by_alias("iris-clf", "champion")
    assert version.model_id == summary["model_id"]
    assert version.run_id == summary["train_run_id"]


def test_registered_models_lineage_leads_to_the_run(start_server):
    server = start_server()
    summary = run_workflow(server.url)
    client = TrackingClient(server.metadata_url if "://" in server.metadata_url
                            else str(server.home))
    store = client._store
    model = LoggedModels(store).get(summary["model_id"])
    assert model.status == "LOGGED_MODEL_READY"
    assert model.source_run_id == summary["train_run_id"]
    lineage = MetadataStore(store.db.url)
    [artifact] = lineage.get_artifacts_by_uri(f"models:/{summary['model_id']}")
    events = lineage.get_events_by_artifact_ids([artifact.id])
    [execution] = lineage.get_executions_by_id([e.execution_id for e in events
                                                if e.type == EventType.OUTPUT])
    assert execution.name == summary["train_run_id"]
    # the registered version's context holds the same Model artifact
    [version_context] = [c for c in lineage.get_contexts_by_artifact(artifact.id)
                         if c.name == "iris-clf/1"]
    assert version_context.properties["run_id"] == summary["train_run_id"]


def test_the_official_client_with_a_token(start_server):
    server = start_server(env={"FLOWTRACK_SERVER_TOKEN": "s3cret-token"})
    summary = run_workflow(server.url, MLFLOW_TRACKING_TOKEN="s3cret-token")
    assert summary["predictions"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    full_env.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
                    MLFLOW_TRACKING_TOKEN="wrong", MLFLOW_DISABLE_TELEMETRY="true",
                    PYTHONWARNINGS="ignore")
    proc = subprocess.run([mlflow_python(), "-c",
                           "import mlflow; mlflow.set_experiment('x')"],
                          env=full_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "UNAUTHENTICATED" in proc.stderr or "401" in proc.stderr
