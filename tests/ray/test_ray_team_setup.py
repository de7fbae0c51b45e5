"""The team set-up on Ray: metadata on a PostgreSQL server, values, logged files and
models in an S3-compatible object store (moto's server on 127.0.0.1), runs of two
users separated by namespace; and @pypi steps in Ray's uv runtime environments."""

from __future__ import annotations

import importlib.metadata
import json

import boto3
import pytest

import flowtrack
import flowtrack.sklearn
from flowtrack import Flow, Run, namespace
from tests.conftest import reset_client
from tests.runtime.conftest import run_id_of
from tests.s3_server import CREDENTIALS, new_bucket, s3_server

TEAM_FLOW = """
import numpy as np
import flowtrack
import flowtrack.sklearn
from flowtrack import FlowSpec, step
from sklearn.linear_model import LinearRegression


class TeamFlow(FlowSpec):
    @step
    def start(self):
        self.features = np.arange(3_000_000, dtype=np.float64).reshape(-1, 3)  # 72 MB
        self.seeds = [1, 2]
        self.next(self.fit, foreach="seeds")

    @step
    def fit(self):
        rng = np.random.default_rng(self.input)
        x = rng.normal(size=(200, 2))
        y = x @ np.array([2.0, -1.0]) + 0.5
        self.model = LinearRegression().fit(x, y)
        flowtrack.log_metric("score", float(self.model.score(x, y)))
        flowtrack.log_dict({"seed": self.input}, f"config-{self.input}.json")
        flowtrack.sklearn.log_model(self.model, f"model-{self.input}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.coefs = [list(i.model.coef_.round(6)) for i in inputs]
        self.rows = len(inputs[0].features)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TeamFlow()
"""

PYPI_FLOW = """
import importlib.metadata
from flowtrack import FlowSpec, pypi, step


class RayPypiFlow(FlowSpec):
    @pypi(packages={"click": "8.1.3"})
    @step
    def start(self):
        self.old_click = importlib.metadata.version("click")
        self.next(self.newer)

    @pypi(packages={"click": "8.1.7"})
    @step
    def newer(self):
        self.newer_click = importlib.metadata.version("click")
        self.next(self.end)

    @step
    def end(self):
        self.driver_click = importlib.metadata.version("click")


if __name__ == "__main__":
    RayPypiFlow()
"""


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def team_env(s3_endpoint, postgres_url, store_env, monkeypatch):
    bucket = new_bucket(s3_endpoint)
    env = {**CREDENTIALS, "FLOWTRACK_S3_ENDPOINT_URL": s3_endpoint,
           "FLOWTRACK_STORE": f"s3://{bucket}/team", "FLOWTRACK_METADATA": postgres_url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_client()
    return env, bucket


def test_a_flow_on_ray_with_postgresql_metadata_and_s3_values(
        ray_cluster, team_env, write_flow, run_flow, s3_endpoint, tmp_path):
    env, bucket = team_env
    path = write_flow(TEAM_FLOW, "team_flow.py")
    alice = run_flow(path, "run", "--executor", "ray", "--ray-address", ray_cluster.address,
                     env={**env, "FLOWTRACK_USER": "alice"}, check=True, timeout=400)
    bob = run_flow(path, "run", env={**env, "FLOWTRACK_USER": "bob"}, check=True, timeout=400)
    reset_client()

    namespace("user:alice")
    runs = list(Flow("TeamFlow").runs())
    assert [r.id for r in runs] == [run_id_of(alice)]  # bob's run is in his namespace
    namespace("user:bob")
    assert [r.id for r in Flow("TeamFlow").runs()] == [run_id_of(bob)]
    namespace(None)
    on_ray, local = Run(f"TeamFlow/{run_id_of(alice)}"), Run(f"TeamFlow/{run_id_of(bob)}")
    assert on_ray.data.coefs == local.data.coefs and on_ray.data.rows == 1_000_000
    assert {t.metadata_dict["executor"] for t in on_ray["fit"]} == {"ray"}
    assert on_ray["start"].task["features"].sha == local["start"].task["features"].sha

    # every blob is in the bucket; nothing went to the local home directory
    objects = boto3.client("s3", endpoint_url=s3_endpoint, **_boto_credentials()).list_objects_v2(
        Bucket=bucket, Prefix="team/")
    keys = {o["Key"].rsplit("/", 1)[-1] for o in objects.get("Contents", [])}
    assert on_ray["start"].task["features"].sha in keys
    assert on_ray.code.digest in keys
    assert not (tmp_path / "ft-home" / "blobs").exists()

    # files and models logged by the steps on Ray are tracking artifacts in S3
    client = flowtrack.TrackingClient()
    tracking_run = client.search_runs(
        [client.get_experiment_by_name("TeamFlow").experiment_id],
        f"tags.`flowtrack.pathspec` = 'TeamFlow/{on_ray.id}'")[0]
    names = {f.path for f in client.list_artifacts(tracking_run.info.run_id)}
    assert {"config-1.json", "config-2.json", "model-1", "model-2"} <= names
    downloaded = client.download_artifacts(tracking_run.info.run_id, "config-2.json",
                                           str(tmp_path / "dl"))
    with open(downloaded) as logged:
        assert json.load(logged) == {"seed": 2}
    model = flowtrack.sklearn.load_model(f"runs:/{tracking_run.info.run_id}/model-1")
    assert list(model.coef_.round(6)) == on_ray.data.coefs[0]
    assert {m.key for m in client.get_metric_history(tracking_run.info.run_id, "score")} == {
        "score"}


def _boto_credentials() -> dict[str, str]:
    return {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"]}


def test_pypi_steps_on_ray_use_their_own_package_versions(
        ray_cluster, write_flow, run_flow, store_env):
    driver_click = importlib.metadata.version("click")
    assert driver_click not in ("8.1.3", "8.1.7")
    path = write_flow(PYPI_FLOW, "ray_pypi_flow.py")
    proc = run_flow(path, "run", "--executor", "ray", "--ray-address", ray_cluster.address,
                    check=True, timeout=600)
    assert "run in Ray's uv runtime environment" in proc.stdout
    reset_client()
    namespace(None)
    run = Run(f"RayPypiFlow/{run_id_of(proc)}")
    assert run["start"].task.data.old_click == "8.1.3"
    assert run["newer"].task.data.newer_click == "8.1.7"
    assert run["end"].task.data.driver_click == driver_click
    start = run["start"].task.metadata_dict
    assert start["executor"] == "ray" and start["packages"]["click"] == "8.1.3"
    assert start["requirements"] == ["click==8.1.3"]


def test_a_python_version_other_than_the_clusters_is_refused_before_the_run(
        ray_cluster, write_flow, run_flow, store_env):
    path = write_flow("""
        from flowtrack import FlowSpec, pypi, step

        class OtherPythonFlow(FlowSpec):
            @pypi(packages={"six": "1.16.0"}, python="3.9")
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            OtherPythonFlow()
    """, "other_python_flow.py")
    proc = run_flow(path, "run", "--executor", "ray", "--ray-address", ray_cluster.address,
                    timeout=300)
    assert proc.returncode == 1
    assert "@pypi(python='3.9') cannot run on Ray" in proc.stderr
    assert "Traceback" not in proc.stderr and "Workflow starting" not in proc.stdout


def test_workers_get_the_s3_endpoint_set_by_metaflow_s_variable(store_env, monkeypatch):
    from flowtrack.runtime._ray import forwarded_environment

    monkeypatch.delenv("FLOWTRACK_S3_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    # workers read flowtrack's name only: the driver resolves Metaflow's for them
    assert forwarded_environment()["FLOWTRACK_S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    monkeypatch.setenv("FLOWTRACK_S3_ENDPOINT_URL", "http://127.0.0.1:9001")
    assert forwarded_environment()["FLOWTRACK_S3_ENDPOINT_URL"] == "http://127.0.0.1:9001"
