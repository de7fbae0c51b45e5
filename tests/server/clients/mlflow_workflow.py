"""Run by the tests with the *official* ``mlflow`` client (a separate virtualenv, see
the Makefile's mlflow-client target) against a flowtrack server: the workflow of the
tracking issue, each step checked here; the last line printed is a JSON summary the
test checks too. Needs MLFLOW_TRACKING_URI (and any MLFLOW_TRACKING_TOKEN)."""

import json
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def check(condition, what):
    if not condition:
        print(f"CHECK FAILED: {what}", file=sys.stderr)
        sys.exit(3)


client = MlflowClient()
experiment = mlflow.set_experiment("mlflow-client-demo")
check(mlflow.set_experiment("mlflow-client-demo").experiment_id == experiment.experiment_id,
      "set_experiment finds the existing experiment")

files = tempfile.mkdtemp()
with open(os.path.join(files, "notes.txt"), "w") as out:
    out.write("hello from mlflow")
os.makedirs(os.path.join(files, "data"))
with open(os.path.join(files, "data", "rows.csv"), "w") as out:
    out.write("a,b\n1,2\n")

with mlflow.start_run(run_name="outer", tags={"team": "ml"}) as outer:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"depth": 3, "kind": "tree"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.91, "f1": 0.88})
    mlflow.set_tag("stage", "dev")
    mlflow.log_artifact(os.path.join(files, "notes.txt"))
    mlflow.log_artifacts(files, artifact_path="bundle")
    mlflow.log_dict({"lr": 0.1, "layers": [1, 2]}, "config.json")
    mlflow.log_dict({"lr": 0.1}, "config.yaml")
    with mlflow.start_run(run_name="inner", nested=True) as inner:
        mlflow.log_metric("acc", 0.5)
run_id = outer.info.run_id

client.log_batch(run_id, metrics=[Metric("batch_metric", 2.5, 1700000000000, 7)],
                 params=[Param("batch_param", "p")], tags=[RunTag("batch_tag", "t")])
run = client.get_run(run_id)
check(run.info.status == "FINISHED", f"outer run finished, got {run.info.status}")
check(run.data.params == {"alpha": "0.5", "depth": "3", "kind": "tree", "batch_param": "p"},
      f"params {run.data.params}")
check(run.data.metrics["loss"] == 0.2 and run.data.metrics["batch_metric"] == 2.5,
      f"metrics {run.data.metrics}")
check(run.data.tags["team"] == "ml" and run.data.tags["stage"] == "dev"
      and run.data.tags["batch_tag"] == "t", f"tags {run.data.tags}")
check(client.get_run(inner.info.run_id).data.tags.get("mlflow.parentRunId") == run_id,
      "the nested run names its parent")

history = client.get_metric_history(run_id, "loss")
check([(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)],
      f"loss history {history}")

top = sorted(f.path for f in client.list_artifacts(run_id))
check(top == ["bundle", "config.json", "config.yaml", "notes.txt"], f"artifacts {top}")
bundle = sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id, "bundle"))
check(bundle == [("bundle/data", True), ("bundle/notes.txt", False)], f"bundle {bundle}")
local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle")
with open(os.path.join(local, "data", "rows.csv")) as f:
    check(f.read() == "a,b\n1,2\n", "downloaded file content")
check(mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"lr": 0.1, "layers": [1, 2]},
      "log_dict round trip")

found = mlflow.search_runs(experiment_names=["mlflow-client-demo"],
                           filter_string="metrics.acc > 0.6 and params.kind = 'tree'",
                           order_by=["metrics.acc DESC"])
check(list(found["run_id"]) == [run_id], f"search_runs filter {list(found['run_id'])}")
ordered = mlflow.search_runs(experiment_ids=[experiment.experiment_id],
                             order_by=["metrics.acc ASC"])
check(list(ordered["run_id"]) == [inner.info.run_id, run_id], "search_runs order")
names = [e.name for e in mlflow.search_experiments(filter_string="name LIKE 'mlflow-client%'")]
check(names == ["mlflow-client-demo"], f"search_experiments {names}")

mlflow.delete_run(inner.info.run_id)
check(client.get_run(inner.info.run_id).info.lifecycle_stage == "deleted", "delete_run")
check(len(mlflow.search_runs(experiment_ids=[experiment.experiment_id])) == 1,
      "a deleted run leaves the default search")

features, labels = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(features, labels)
with mlflow.start_run(run_name="train") as train:
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="iris-clf",
                                    input_example=features.head(3))
check(str(info.registered_model_version) == "1", f"version {info.registered_model_version}")
client.set_registered_model_alias("iris-clf", "champion", info.registered_model_version)
check(client.get_model_version_by_alias("iris-clf", "champion").version == "1", "alias")
loaded = mlflow.pyfunc.load_model("models:/iris-clf@champion")
predictions = loaded.predict(features.head(10))
check(list(predictions) == list(model.predict(features.head(10))), "predictions")
again = mlflow.sklearn.load_model(f"runs:/{train.info.run_id}/model")
check(list(again.predict(features.head(3))) == list(model.predict(features.head(3))),
      "runs:/ model URI")

print(json.dumps({"run_id": run_id, "train_run_id": train.info.run_id,
                  "model_id": info.model_id, "predictions": [int(p) for p in predictions]}))
