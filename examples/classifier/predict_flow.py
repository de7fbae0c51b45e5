"""Predict wine classes with the model from the latest ClassifierTrainFlow run.

    python predict_flow.py run
    python predict_flow.py run --train-run ClassifierTrainFlow/<run id>

The model is found through the client API, and the training run's pathspec is
stored as ``self.train_run``. Runs unchanged on Metaflow with the import
swapped to ``from metaflow import FlowSpec, Parameter, step, Flow, Run``.
"""

from flowtrack import Flow, FlowSpec, Parameter, Run, step

SAMPLE_ROWS = [0, 30, 60, 90, 120, 150, 170]


class ClassifierPredictFlow(FlowSpec):
    """Load the best trained wine classifier and predict a few samples."""

    train_run_id = Parameter(
        "train-run",
        default="",
        help="pathspec of a ClassifierTrainFlow run; empty means the latest successful one",
    )

    @step
    def start(self):
        """Fetch the model from the training run and predict the sample rows."""
        from sklearn.datasets import load_wine

        if self.train_run_id:
            run = Run(self.train_run_id)
        else:
            run = Flow("ClassifierTrainFlow").latest_successful_run
        self.train_run = run.pathspec
        model = run.data.model

        wine = load_wine()
        predicted = model.predict(wine.data[SAMPLE_ROWS])
        self.predictions = [
            {
                "row": row,
                "predicted": str(wine.target_names[label]),
                "actual": str(wine.target_names[wine.target[row]]),
            }
            for row, label in zip(SAMPLE_ROWS, predicted, strict=True)
        ]
        self.next(self.end)

    @step
    def end(self):
        """Print the predictions."""
        print(f"model from {self.train_run}")
        for p in self.predictions:
            print(f"row {p['row']:>3}: predicted {p['predicted']}, actual {p['actual']}")


if __name__ == "__main__":
    ClassifierPredictFlow()
