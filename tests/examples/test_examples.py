"""The examples run end to end: MNIST (generated data and a --data CSV) and the
classifier train/predict pair, checked through the client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowtrack import Flow, Run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# the console script installed beside this interpreter (its virtualenv need not be active)
FLOWTRACK_SCRIPT = str(Path(sys.executable).parent / "flowtrack")


def test_mnist_flow_on_generated_digits(run_flow, store_env):
    proc = run_flow(EXAMPLES / "mnist" / "mnist_flow.py", "run", check=True, timeout=300)
    assert "GaussianNB accuracy" in proc.stdout and "RandomForest accuracy" in proc.stdout
    run = Flow("MnistFlow").latest_run
    assert run.successful
    assert 0.7 < run.data.gnb_accuracy < 1.0
    assert 0.9 < run.data.rf_accuracy <= 1.0
    # the two models were fitted in parallel branches of one split
    assert {s.id for s in run} >= {"fit_gnb", "fit_rf", "join", "evaluate"}
    show = subprocess.run([sys.executable, str(EXAMPLES / "mnist" / "show_run.py")],
                          env=store_env, capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    assert f"run:        {run.pathspec}" in show.stdout


def test_mnist_flow_reads_a_kaggle_layout_csv(run_flow, store_env, tmp_path):
    csv = tmp_path / "train.csv"
    subprocess.run([sys.executable, str(EXAMPLES / "mnist" / "make_data.py"), str(csv)],
                   check=True, env=store_env, timeout=120)
    header = csv.read_text().splitlines()[0].split(",")
    assert header[0] == "label" and len(header) == 785
    run_flow(EXAMPLES / "mnist" / "mnist_flow.py", "run", "--data", str(csv), check=True,
             timeout=300)
    run = Flow("MnistFlow").latest_run
    assert run.data.source == str(csv)
    assert run.parameters["data"] == str(csv)


def test_mnist_flow_missing_csv_fails_cleanly(run_flow, tmp_path):
    proc = run_flow(EXAMPLES / "mnist" / "mnist_flow.py", "run", "--data",
                    str(tmp_path / "nope.csv"), timeout=300)
    assert proc.returncode == 1
    assert "nope.csv" in proc.stderr


@pytest.fixture
def trained(run_flow) -> Run:
    run_flow(EXAMPLES / "classifier" / "train_flow.py", "run", check=True, timeout=300)
    return Flow("ClassifierTrainFlow").latest_run


def test_classifier_train_picks_the_better_model(trained):
    assert trained.successful
    data = trained.data
    assert data.best_name in ("knn", "svm")
    assert data.accuracy == max(data.scores.values())
    assert set(data.scores) == {"knn", "svm"}
    assert 0.8 < data.accuracy <= 1.0
    assert hasattr(data.model, "predict")


def test_classifier_predict_uses_the_latest_trained_model(trained, run_flow):
    run_flow(EXAMPLES / "classifier" / "predict_flow.py", "run", check=True, timeout=300)
    predict = Flow("ClassifierPredictFlow").latest_run
    assert predict.successful
    assert predict.data.train_run == trained.pathspec
    predictions = predict.data.predictions
    assert predictions
    names = {"class_0", "class_1", "class_2"}
    assert all(p["predicted"] in names and p["actual"] in names for p in predictions)
    # the trained model is good: most sample rows are predicted right
    assert sum(p["predicted"] == p["actual"] for p in predictions) >= len(predictions) - 1


def test_prediction_lineage_reaches_the_training_data(trained, run_flow, store_env):
    """Lineage crosses flows with no user code: the predict flow read the model through
    the client, so its predictions trace back to the training data and the wine CSV."""
    import json

    run_flow(EXAMPLES / "classifier" / "predict_flow.py", "run", check=True, timeout=300)
    predict = Flow("ClassifierPredictFlow").latest_run
    predictions = predict["start"].task["predictions"]
    assert predictions.producer.pathspec == predict["start"].task.pathspec
    graph = predictions.lineage(upstream=True, depth=12)
    names = {a.name.rsplit("/", 1)[-1]: a for a in graph.artifacts}
    assert names["model"].name.startswith(trained.pathspec)
    assert names["train_data"].name == f"{trained.pathspec}/start/1/train_data"
    assert names["wine_csv"].type == "Dataset"  # the IncludeFile the run stored
    model = [a for a in predict["start"].task.inputs if a.id == "model"][0]
    assert predict["start"].task.pathspec in [t.pathspec for t in model.consumers]
    assert model.producer.pathspec == f"{trained.pathspec}/join/4"
    # the same answer from the command line, for people and for tools
    spec = predictions.pathspec
    text = subprocess.run([FLOWTRACK_SCRIPT, "lineage", spec, "--depth", "12"], env=store_env,
                          capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "train_data [Value]" in text.stdout and "wine_csv [Dataset]" in text.stdout
    as_json = subprocess.run([FLOWTRACK_SCRIPT, "lineage", spec, "--format", "json"],
                             env=store_env, capture_output=True, text=True, timeout=120)
    graph_json = json.loads(as_json.stdout)
    assert {e["type"] for e in graph_json["edges"]} == {"INPUT", "OUTPUT"}
    dot = subprocess.run([FLOWTRACK_SCRIPT, "lineage", spec, "--format", "dot", "--depth", "2"],
                         env=store_env, capture_output=True, text=True, timeout=120)
    assert dot.stdout.startswith("digraph lineage {") and "-> " in dot.stdout
    downstream = subprocess.run([FLOWTRACK_SCRIPT, "lineage", names["train_data"].name,
                                 "--downstream", "--depth", "6"], env=store_env,
                                capture_output=True, text=True, timeout=120)
    assert "predictions [Value]" in downstream.stdout


def test_lineage_command_errors_are_clean(store_env):
    missing = subprocess.run([FLOWTRACK_SCRIPT, "lineage", "123456"], env=store_env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert "no artifact with id 123456" in missing.stderr and "Traceback" not in missing.stderr
    bad = subprocess.run([FLOWTRACK_SCRIPT, "lineage", "a/b/c"], env=store_env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "neither a pathspec" in bad.stderr
