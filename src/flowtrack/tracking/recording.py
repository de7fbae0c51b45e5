"""The tracking writes the flow runtime makes when it records a flow run, which is
a tracking run too: metric points a step logged, and the files, models and input datasets it logged, each
linked to the task (an execution) that logged it."""

from __future__ import annotations

from ._datasets import record_input
from ._files import record_file
from ._run_lineage import insert_model_artifact
from ._store import write_points

__all__ = ["insert_model_artifact", "record_file", "record_input", "write_points"]
