"""Saved models, log_model/load_model, pyfunc with signatures, the registry, and the
lineage from a registered version back to the task and data that made it."""

from __future__ import annotations

import pytest
import yaml

pytest.importorskip("sklearn")
import pandas as pd  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

import flowtrack as ft  # noqa: E402
import flowtrack.pyfunc  # noqa: E402
import flowtrack.sklearn  # noqa: E402
from flowtrack import Flow, TrackingClient  # noqa: E402
from flowtrack.lineage import (  # noqa: E402
    LineageSubgraphQueryOptions,
    MetadataStore,
)
from flowtrack.tracking import (  # noqa: E402
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    return X, y, DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


def test_save_model_writes_an_mlmodel_directory(tmp_path, wine):
    X, _, model = wine
    flowtrack.sklearn.save_model(model, tmp_path / "m", input_example=X.head(3))
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["MLmodel", "input_example.json", "model.pkl", "python_env.yaml",
                     "requirements.txt"]
    descriptor = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert descriptor["flavors"]["python_function"]["loader_module"] == "flowtrack.sklearn"
    assert descriptor["flavors"]["sklearn"]["sklearn_version"]
    inputs = yaml.safe_load(descriptor["signature"]["inputs"])
    assert [c["name"] for c in inputs] == list(X.columns)
    assert "scikit-learn==" in (tmp_path / "m" / "requirements.txt").read_text()
    with pytest.raises(InvalidParameterError, match="not empty"):
        flowtrack.sklearn.save_model(model, tmp_path / "m")
    loaded = flowtrack.sklearn.load_model(str(tmp_path / "m"))
    assert list(loaded.predict(X.head(4))) == list(model.predict(X.head(4)))


def test_log_register_alias_and_load(store_env, wine):
    X, y, model = wine
    ft.set_experiment("wine")
    with ft.start_run() as run:
        info = flowtrack.sklearn.log_model(model, name="model", input_example=X.head(2),
                                           registered_model_name="wine-tree")
    assert info.model_uri == f"runs:/{run.info.run_id}/model"
    client = TrackingClient()
    assert "model/MLmodel" in [f.path for f in client.list_artifacts(run.info.run_id, "model")]
    with ft.start_run():
        second = flowtrack.sklearn.log_model(model, name="model")
    version = ft.register_model(second.model_uri, "wine-tree")
    assert version.version == "2"
    client.set_registered_model_alias("wine-tree", "champion", 1)
    champion = client.get_model_version_by_alias("wine-tree", "champion")
    assert (champion.version, champion.run_id, champion.aliases) == ("1", run.info.run_id,
                                                                     ["champion"])
    expected = list(model.predict(X.head(5)))
    for uri in ("models:/wine-tree@champion", "models:/wine-tree/1", "models:/wine-tree/latest",
                info.model_uri):
        assert list(flowtrack.pyfunc.load_model(uri).predict(X.head(5))) == expected
    assert client.get_registered_model("wine-tree").aliases == {"champion": "1"}
    assert [m.name for m in client.search_registered_models("name LIKE 'wine%'")] == \
        ["wine-tree"]
    # MLflow's default order: the most recently updated version first
    assert [v.version for v in client.search_model_versions("name = 'wine-tree'")] == ["2", "1"]


def test_pyfunc_enforces_the_signature(store_env, wine):
    X, _, model = wine
    with ft.start_run():
        info = flowtrack.sklearn.log_model(model, name="m", input_example=X.head(2))
    loaded = flowtrack.pyfunc.load_model(info.model_uri)
    assert loaded.signature is not None
    with pytest.raises(InvalidParameterError, match=r"missing inputs \['alcohol'\]"):
        loaded.predict(X.drop(columns=["alcohol"]).head(2))
    with pytest.raises(InvalidParameterError, match="'alcohol'.*string to double"):
        loaded.predict(X.head(2).astype({"alcohol": str}))
    reordered = X.head(3)[list(reversed(X.columns))]  # columns are matched by name
    assert list(loaded.predict(reordered)) == list(model.predict(X.head(3)))


def test_registry_errors(store_env, wine):
    client = TrackingClient()
    client.create_registered_model("m1", description="first")
    with pytest.raises(ResourceAlreadyExistsError):
        client.create_registered_model("m1")
    with pytest.raises(ResourceDoesNotExistError, match="not found"):
        client.get_registered_model("nope")
    with pytest.raises(ResourceDoesNotExistError):
        client.get_model_version("m1", 3)
    # MLflow answers an unknown alias with INVALID_PARAMETER_VALUE, not a missing resource
    with pytest.raises(InvalidParameterError, match="alias champion not found"):
        client.get_model_version_by_alias("m1", "champion")
    with pytest.raises(ResourceDoesNotExistError):
        client.set_registered_model_alias("m1", "champion", 1)  # no version 1 yet
    with pytest.raises(ResourceDoesNotExistError, match="No model at"):
        flowtrack.sklearn.load_model("nowhere/at/all")
    with pytest.raises(InvalidParameterError, match="Invalid alias"):
        client.set_registered_model_alias("m1", "latest", 1)


FLOW = """
    import flowtrack.sklearn
    from flowtrack import FlowSpec, step

    class TrainModelFlow(FlowSpec):
        @step
        def start(self):
            from sklearn.datasets import load_wine
            self.X, self.y = load_wine(return_X_y=True, as_frame=True)
            self.next(self.train)

        @step
        def train(self):
            from sklearn.tree import DecisionTreeClassifier
            self.model = DecisionTreeClassifier(max_depth=2).fit(self.X, self.y)
            flowtrack.sklearn.log_model(self.model, name="tree", input_example=self.X.head(2))
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        TrainModelFlow()
"""


def test_a_model_logged_in_a_step_leads_back_to_its_data(store_env, write_flow, run_flow):
    path = write_flow(FLOW)
    done = run_flow(path, "run")
    assert done.returncode == 0, done.stderr
    flow_run = Flow("TrainModelFlow").latest_run
    [run] = ft.search_runs(experiment_names=["TrainModelFlow"], output_format="list")
    version = ft.register_model(f"runs:/{run.info.run_id}/tree", "flow-tree")
    model = flowtrack.pyfunc.load_model("models:/flow-tree/1")
    X = flow_run["start"].task.data.X
    assert len(model.predict(X.head(3))) == 3
    # the flow artifact pathspec is a model URI too
    same = flowtrack.sklearn.load_model(flow_run["train"].task["model"].pathspec)
    assert list(same.predict(X.head(3))) == list(model.predict(X.head(3)))
    # lineage: version -> Model artifact -> train task -> the X it read <- start task
    store = MetadataStore()
    [version_ctx] = store.get_contexts_by_type("ModelVersion")
    assert version_ctx.name == f"flow-tree/{version.version}"
    [model_artifact] = store.get_artifacts_by_context(version_ctx.id)
    graph = store.get_lineage_subgraph(LineageSubgraphQueryOptions(
        starting_artifacts=f"id = {model_artifact.id}", max_num_hops=4,
        direction=LineageSubgraphQueryOptions.Direction.UPSTREAM))
    executions = {e.name for e in graph.executions}
    assert flow_run["train"].task.pathspec in executions
    assert flow_run["start"].task.pathspec in executions
    assert any((a.name or "").endswith("/start/1/X") for a in graph.artifacts)
    assert isinstance(pd.DataFrame(X), pd.DataFrame)
