"""The mushroom pipeline as a flowtrack flow: the flow run is the tracking run, so
the same logging calls need no start_run.

    python mushroom_flow.py run [--data mushrooms.csv] [--folds 5]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mushrooms

import flowtrack
import flowtrack.sklearn
from flowtrack import FlowSpec, Parameter, step


class MushroomFlow(FlowSpec):
    data = Parameter("data", default="", help="a mushroom CSV (generated if empty)")
    folds = Parameter("folds", default=5)

    @step
    def start(self):
        """Load (or generate) the data and log the file."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(self.data) if self.data else mushrooms.make_csv(Path(tmp) / "m.csv")
            flowtrack.log_artifact(str(path), artifact_path="data")
            self.X, self.y = mushrooms.load(path)
        self.next(self.train)

    @step
    def train(self):
        """Grid search, cross-validation, evaluation; log everything and the model."""
        result = mushrooms.train(self.X, self.y, folds=self.folds)
        flowtrack.log_params(result["best_params"])
        flowtrack.log_metrics({"cv_accuracy": result["cv_accuracy"],
                               "cv_std": result["cv_std"],
                               "test_accuracy": result["test_accuracy"]})
        flowtrack.log_text(result["tree_text"], "tree.txt")
        flowtrack.sklearn.log_model(result["model"], name="model",
                                    input_example=result["example"])
        self.model, self.test_accuracy = result["model"], result["test_accuracy"]
        self.next(self.end)

    @step
    def end(self):
        print(f"test accuracy {self.test_accuracy:.3f}")


if __name__ == "__main__":
    MushroomFlow()
