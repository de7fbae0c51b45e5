"""MNIST digit classification as a flowtrack flow.

start -> prepare -> (fit_gnb | fit_rf) -> join -> evaluate -> end

Runs on the bundled scikit-learn digits (upscaled to the MNIST layout) unless
``--data`` names a CSV in the Kaggle MNIST layout::

    python mnist_flow.py run
    python mnist_flow.py run --data train.csv

The flow runs unchanged on Metaflow with the import swapped to
``from metaflow import FlowSpec, Parameter, step``.
"""

from flowtrack import FlowSpec, Parameter, step

TEST_FRACTION = 0.5
SPLIT_SEED = 42


def read_mnist_csv(path):
    """Return ``(labels, pixels)`` arrays from a Kaggle-layout MNIST CSV."""
    import pandas as pd

    frame = pd.read_csv(path)
    pixels = frame.drop(columns=["label"]).to_numpy(dtype="uint8")
    return frame["label"].to_numpy(dtype="int64"), pixels


class MnistFlow(FlowSpec):
    """Train two classifiers on MNIST-style digits and compare their accuracy."""

    data = Parameter(
        "data",
        default="",
        help="CSV in the Kaggle MNIST layout; empty means generate one from sklearn digits",
    )

    @step
    def start(self):
        """Load the images: from --data, or from a freshly generated CSV."""
        import os
        import tempfile

        from make_data import write_mnist_csv

        if self.data:
            self.source = self.data
            self.labels, self.pixels = read_mnist_csv(self.data)
        else:
            self.source = "generated from sklearn load_digits"
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "digits.csv")
                write_mnist_csv(path)
                self.labels, self.pixels = read_mnist_csv(path)
        print(f"loaded {len(self.labels)} images ({self.source})")
        self.next(self.prepare)

    @step
    def prepare(self):
        """Scale pixels to 0..1 and split 50:50 into train and test sets."""
        from sklearn.model_selection import train_test_split

        features = self.pixels / 255.0
        self.X_train, self.X_test, self.y_train, self.y_test = train_test_split(
            features,
            self.labels,
            test_size=TEST_FRACTION,
            random_state=SPLIT_SEED,
            stratify=self.labels,
        )
        print(f"train {len(self.y_train)} / test {len(self.y_test)}")
        self.next(self.fit_gnb, self.fit_rf)

    @step
    def fit_gnb(self):
        """Fit a Gaussian naive Bayes classifier."""
        from sklearn.naive_bayes import GaussianNB

        self.model_name = "GaussianNB"
        self.model = GaussianNB().fit(self.X_train, self.y_train)
        self.accuracy = float(self.model.score(self.X_test, self.y_test))
        self.next(self.join)

    @step
    def fit_rf(self):
        """Fit a random forest of 100 trees."""
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)
        self.model_name = "RandomForest"
        self.model = forest.fit(self.X_train, self.y_train)
        self.accuracy = float(self.model.score(self.X_test, self.y_test))
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect both models and accuracies; keep the shared split data."""
        self.gnb_accuracy = inputs.fit_gnb.accuracy
        self.rf_accuracy = inputs.fit_rf.accuracy
        self.models = {inp.model_name: inp.model for inp in inputs}
        self.merge_artifacts(inputs, exclude=["model", "model_name", "accuracy"])
        self.next(self.evaluate)

    @step
    def evaluate(self):
        """Pick the better model and score it per digit on the test set."""
        scores = {"GaussianNB": self.gnb_accuracy, "RandomForest": self.rf_accuracy}
        self.best_model = max(scores, key=scores.get)
        predicted = self.models[self.best_model].predict(self.X_test)
        self.per_digit_accuracy = {
            int(digit): float((predicted[self.y_test == digit] == digit).mean())
            for digit in sorted(set(self.y_test.tolist()))
        }
        self.next(self.end)

    @step
    def end(self):
        """Print both accuracies."""
        print(f"GaussianNB accuracy:   {self.gnb_accuracy:.4f}")
        print(f"RandomForest accuracy: {self.rf_accuracy:.4f}")
        print(f"best model: {self.best_model}")


if __name__ == "__main__":
    MnistFlow()
