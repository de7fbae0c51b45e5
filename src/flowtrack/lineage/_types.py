"""The node types flowtrack itself records, shared by everything that reads or
writes runs: a flow or experiment is an ``Experiment`` context, a run a ``Run``
context, a task a ``Task`` execution, a stored value a ``Value`` artifact and an
included file a ``Dataset`` artifact (see ARCHITECTURE.md's table)."""

from __future__ import annotations

from ._schema import ExecutionState

EXPERIMENT_TYPE = "Experiment"
RUN_TYPE = "Run"
TASK_TYPE = "Task"
VALUE_TYPE = "Value"
DATASET_TYPE = "Dataset"

# a reused (cached) execution counts as a success, like a completed one
SUCCESS_STATES = (int(ExecutionState.COMPLETE), int(ExecutionState.CACHED))
