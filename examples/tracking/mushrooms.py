"""The mushroom-classification pipeline shared by the script and the flow: a
realistic CSV of categorical mushroom features (generated when none is given),
one-hot encoding, a train/test split, a grid-searched decision tree, k-fold
cross-validation and a test evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.tree import DecisionTreeClassifier, export_text

# feature -> possible values (letters as in the UCI mushroom data set)
FEATURES = {
    "cap-shape": "bcxfks", "cap-surface": "fgys", "cap-color": "nbcgrpuewy",
    "bruises": "tf", "odor": "alcyfmnps", "gill-size": "bn", "gill-color": "knbhgropuewy",
    "stalk-shape": "et", "ring-type": "ceflnpsz", "spore-print-color": "knbhrouwy",
    "population": "acnsvy", "habitat": "glmpuwd",
}
# odors that, as in the real data, almost decide the class
EDIBLE_ODORS, POISONOUS_ODORS = set("aln"), set("cyfmps")
GRID = {"max_depth": [2, 4, 8], "min_samples_leaf": [1, 5], "criterion": ["gini", "entropy"]}


def make_csv(path: str | Path, rows: int = 2000, seed: int = 0) -> Path:
    """Write a mushroom CSV: ``class`` (e = edible, p = poisonous) and 12 features."""
    rng = np.random.default_rng(seed)
    data = {name: rng.choice(list(values), rows) for name, values in FEATURES.items()}
    poisonous = np.isin(data["odor"], list(POISONOUS_ODORS))
    # odorless mushrooms: poisonous when the spore print is green or white with a
    # large ring, plus a little noise, so the tree has more to learn than odor
    odorless = data["odor"] == "n"
    poisonous |= odorless & (np.isin(data["spore-print-color"], ["r"])
                             | ((data["spore-print-color"] == "w") & (data["ring-type"] == "l")))
    poisonous ^= rng.random(rows) < 0.01
    frame = pd.DataFrame({"class": np.where(poisonous, "p", "e"), **data})
    target = Path(path)
    frame.to_csv(target, index=False)
    return target


def load(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """One-hot encoded features (float) and the 0/1 target (1 = poisonous)."""
    frame = pd.read_csv(path)
    if "class" not in frame.columns:
        raise SystemExit(f"{path}: the CSV needs a 'class' column (e or p)")
    X = pd.get_dummies(frame.drop(columns=["class"]), dtype=float)
    return X, (frame["class"] == "p").astype(int)


def train(X: pd.DataFrame, y: pd.Series, folds: int = 5, seed: int = 0) -> dict:
    """Split, grid-search, cross-validate and evaluate; returns what to log."""
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed,
                                                        stratify=y)
    search = GridSearchCV(DecisionTreeClassifier(random_state=seed), GRID, cv=folds)
    search.fit(X_train, y_train)
    best = search.best_estimator_
    cv_scores = cross_val_score(best, X_train, y_train, cv=folds)
    return {"model": best, "best_params": search.best_params_,
            "cv_accuracy": float(cv_scores.mean()), "cv_std": float(cv_scores.std()),
            "test_accuracy": float(best.score(X_test, y_test)),
            "tree_text": export_text(best, feature_names=list(X.columns)),
            "example": X_test.head(5)}
