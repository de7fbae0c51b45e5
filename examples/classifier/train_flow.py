"""Train two wine classifiers in parallel and keep the more accurate one.

start -> (train_knn | train_svm) -> join -> end

    python train_flow.py run
    python train_flow.py run --wine-csv my_wine.csv   # same layout as scikit-learn's

The wine data comes in as an ``IncludeFile`` (by default the CSV that ships inside
scikit-learn), so the run stores it as a Dataset artifact and the lineage of every
model reaches back to it. ``predict_flow.py`` then loads ``self.model`` from the latest successful run
through the client API. Runs unchanged on Metaflow with the import swapped to
``from metaflow import FlowSpec, step``.
"""

import importlib.util
import os

from flowtrack import FlowSpec, IncludeFile, step

SPLIT_SEED = 0
# scikit-learn's bundled copy of the UCI wine data (found without importing sklearn)
SKLEARN_WINE_CSV = os.path.join(os.path.dirname(importlib.util.find_spec("sklearn").origin),
                                "datasets", "data", "wine_data.csv")


def parse_wine_csv(text):
    """Features and labels from scikit-learn's wine CSV layout (a count header line,
    then 13 feature columns and the class per row)."""
    import numpy as np

    rows = np.array([[float(v) for v in line.split(",")]
                     for line in text.strip().splitlines()[1:]])
    return rows[:, :-1], rows[:, -1].astype(int)


class ClassifierTrainFlow(FlowSpec):
    """Fit k-nearest-neighbours and an SVM on the wine data; keep the best."""

    wine_csv = IncludeFile("wine-csv", default=SKLEARN_WINE_CSV,
                           help="Wine data CSV in scikit-learn's layout")

    @step
    def start(self):
        """Parse the wine data and split off a stratified 30% test set."""
        from sklearn.model_selection import train_test_split

        features, labels = parse_wine_csv(self.wine_csv)
        X_train, X_test, y_train, y_test = train_test_split(
            features, labels, test_size=0.3, random_state=SPLIT_SEED, stratify=labels
        )
        self.train_data = {"X": X_train, "y": y_train}
        self.test_data = {"X": X_test, "y": y_test}
        self.next(self.train_knn, self.train_svm)

    @step
    def train_knn(self):
        """Fit a scaled 5-nearest-neighbours classifier."""
        from sklearn.neighbors import KNeighborsClassifier

        self.model_name = "knn"
        self.model = self.fit_scaled(KNeighborsClassifier(n_neighbors=5))
        self.next(self.join)

    @step
    def train_svm(self):
        """Fit a scaled RBF support-vector classifier."""
        from sklearn.svm import SVC

        self.model_name = "svm"
        self.model = self.fit_scaled(SVC(kernel="rbf", C=1.0))
        self.next(self.join)

    def fit_scaled(self, estimator):
        """Fit ``estimator`` behind a standard scaler and record its test accuracy."""
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        train, test = self.train_data, self.test_data
        model = make_pipeline(StandardScaler(), estimator).fit(train["X"], train["y"])
        self.accuracy = float(model.score(test["X"], test["y"]))
        print(f"{self.model_name}: accuracy {self.accuracy:.4f}")
        return model

    @step
    def join(self, inputs):
        """Keep the most accurate model as self.model."""
        best = max(inputs, key=lambda inp: inp.accuracy)
        self.model = best.model
        self.best_name = best.model_name
        self.accuracy = best.accuracy
        self.scores = {inp.model_name: inp.accuracy for inp in inputs}
        self.merge_artifacts(inputs, exclude=["model", "model_name", "accuracy"])
        self.next(self.end)

    @step
    def end(self):
        """Report the chosen model."""
        print(f"best model: {self.best_name} (accuracy {self.accuracy:.4f}); all: {self.scores}")


if __name__ == "__main__":
    ClassifierTrainFlow()
