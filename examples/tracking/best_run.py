"""Find the best mushroom run (script or flow) with search_runs, load its model and
predict a few mushrooms.

    python best_run.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mushrooms

import flowtrack
import flowtrack.pyfunc


def main() -> None:
    runs = flowtrack.search_runs(experiment_names=["mushrooms", "MushroomFlow"],
                                 filter_string="metrics.test_accuracy > 0.5",
                                 order_by=["metrics.test_accuracy DESC"])
    if runs.empty:
        raise SystemExit("no mushroom runs yet: run train_script.py or mushroom_flow.py first")
    best = runs.iloc[0]
    print(f"best run {best.run_id} ({best['tags.mlflow.runName']}): "
          f"test accuracy {best['metrics.test_accuracy']:.3f} of {len(runs)} runs")
    model = flowtrack.pyfunc.load_model(f"runs:/{best.run_id}/model")
    with tempfile.TemporaryDirectory() as tmp:
        X, y = mushrooms.load(mushrooms.make_csv(Path(tmp) / "new.csv", rows=10, seed=7))
    columns = [c.name for c in model.signature.inputs.columns]
    predictions = model.predict(X.reindex(columns=columns, fill_value=0.0))
    print("predicted poisonous:", [int(p) for p in predictions], "actual:", list(y))


if __name__ == "__main__":
    main()
