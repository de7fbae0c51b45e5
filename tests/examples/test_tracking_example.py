"""The tracking example: the mushroom pipeline as a script and as a flow, then the
best run found with search_runs and its model used to predict."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import flowtrack as ft
from flowtrack import TrackingClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tracking"


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(EXAMPLE / script), *args], cwd=EXAMPLE,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def test_script_flow_and_best_run(store_env):
    _run("train_script.py", "--folds", "3", env=store_env)
    _run("mushroom_flow.py", "run", "--folds", "3", env=store_env)
    runs = ft.search_runs(experiment_names=["mushrooms", "MushroomFlow"],
                          order_by=["metrics.test_accuracy DESC"], output_format="list")
    assert len(runs) == 2
    for run in runs:
        assert run.data.metrics["test_accuracy"] > 0.9
        assert {"max_depth", "min_samples_leaf", "criterion"} <= set(run.data.params)
        files = {f.path for f in TrackingClient().list_artifacts(run.info.run_id)}
        assert {"data", "model", "tree.txt"} <= files
    best = _run("best_run.py", env=store_env)
    assert f"best run {runs[0].info.run_id}" in best.stdout
    last = best.stdout.splitlines()[-1]  # predicted poisonous: [...] actual: [...]
    predicted, actual = (ast.literal_eval(part.split(":", 1)[1].strip())
                         for part in last.split(" actual"))
    assert len(predicted) == len(actual) == 10
    assert sum(p == a for p, a in zip(predicted, actual)) >= 8
