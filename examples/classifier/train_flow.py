"""Train two wine classifiers in parallel and keep the more accurate one.

start -> (train_knn | train_svm) -> join -> end

    python train_flow.py run

``predict_flow.py`` then loads ``self.model`` from the latest successful run
through the client API. Runs unchanged on Metaflow with the import swapped to
``from metaflow import FlowSpec, step``.
"""

from flowtrack import FlowSpec, step

SPLIT_SEED = 0


class ClassifierTrainFlow(FlowSpec):
    """Fit k-nearest-neighbours and an SVM on the wine data; keep the best."""

    @step
    def start(self):
        """Load the wine data and split off a stratified 30% test set."""
        from sklearn.datasets import load_wine
        from sklearn.model_selection import train_test_split

        wine = load_wine()
        self.X_train, self.X_test, self.y_train, self.y_test = train_test_split(
            wine.data, wine.target, test_size=0.3, random_state=SPLIT_SEED, stratify=wine.target
        )
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

        model = make_pipeline(StandardScaler(), estimator).fit(self.X_train, self.y_train)
        self.accuracy = float(model.score(self.X_test, self.y_test))
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
