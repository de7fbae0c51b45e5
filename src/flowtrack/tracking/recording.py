"""The tracking writes the flow runtime makes when it records a flow run, which is
a tracking run too: metric points a step logged, and the files, models and input datasets it logged, each
linked to the task (an execution) that logged it."""

from __future__ import annotations

from .artifacts.datasets import record_input
from .artifacts.files import record_file
from .store.run_lineage import insert_model_artifact
from .store.tracking_store import write_points

__all__ = ["insert_model_artifact", "record_file", "record_input", "write_points"]
