"""Dataset descriptions for ``flowtrack.log_input`` (MLflow's ``mlflow.data``)."""

from __future__ import annotations

from .tracking.artifacts.datasets import from_pandas
from .tracking.entities.records import Dataset

__all__ = ["Dataset", "from_pandas"]
