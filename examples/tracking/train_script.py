"""The mushroom pipeline as a plain script tracked with flowtrack's MLflow-style API
(swap ``import flowtrack as mlflow`` for ``import mlflow`` and it runs on MLflow).

    python train_script.py [--data mushrooms.csv] [--folds 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import mushrooms

import flowtrack as mlflow
import flowtrack.sklearn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a mushroom CSV (generated if not given)")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else mushrooms.make_csv(Path(tmp) / "mushrooms.csv")
        X, y = mushrooms.load(data)
        mlflow.set_experiment("mushrooms")
        with mlflow.start_run(run_name="script") as run:
            mlflow.log_artifact(str(data), artifact_path="data")
            result = mushrooms.train(X, y, folds=args.folds)
            mlflow.log_params(result["best_params"])
            mlflow.log_param("folds", args.folds)
            mlflow.log_metrics({"cv_accuracy": result["cv_accuracy"],
                                "cv_std": result["cv_std"],
                                "test_accuracy": result["test_accuracy"]})
            mlflow.log_text(result["tree_text"], "tree.txt")
            flowtrack.sklearn.log_model(result["model"], name="model",
                                        input_example=result["example"])
    print(f"run {run.info.run_id}: test accuracy {result['test_accuracy']:.3f}, "
          f"cv {result['cv_accuracy']:.3f} ± {result['cv_std']:.3f}")


if __name__ == "__main__":
    main()
