"""Dataset descriptions for ``flowtrack.log_input`` (MLflow's ``mlflow.data``)."""

from __future__ import annotations

from .tracking._datasets import from_pandas
from .tracking._entities import Dataset

__all__ = ["Dataset", "from_pandas"]
