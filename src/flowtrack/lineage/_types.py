"""The node types flowtrack itself records, shared by everything that reads or
writes runs: a flow or experiment is an ``Experiment`` context, a run a ``Run``
context, a task a ``Task`` execution, a stored value a ``Value`` artifact and an
included file a ``Dataset`` artifact, a rendered card a ``Card`` artifact (see
ARCHITECTURE.md's table)."""

from __future__ import annotations

from ._schema import ExecutionState, PropertyType

EXPERIMENT_TYPE = "Experiment"
RUN_TYPE = "Run"
TASK_TYPE = "Task"
VALUE_TYPE = "Value"
DATASET_TYPE = "Dataset"

# a reused (cached) execution counts as a success, like a completed one
SUCCESS_STATES = (int(ExecutionState.COMPLETE), int(ExecutionState.CACHED))

_S, _I = PropertyType.STRING, PropertyType.INT
EXPERIMENT_PROPERTIES = {"kind": _S}  # "flow" or "experiment"
# a Run context: a flow run (kind "flow") or a tracking run (kind "tracking"); its
# external_id is the tracking run id; MLflow params and tags are the custom
# properties "param:<key>" and "tag:<key>", Metaflow tags the list in "tags"
RUN_PROPERTIES = {"flow_name": _S, "run_id": _S, "user": _S, "status": _S, "start_time": _I,
                  "end_time": _I, "tags": PropertyType.STRUCT, "origin_run_id": _S,
                  "script": _S, "python_version": _S, "host": _S, "kind": _S}
TASK_PROPERTIES = {"flow_name": _S, "run_id": _S, "step_name": _S, "task_id": _S,
                   "attempt": _I, "pid": _I, "host": _S, "executor": _S, "started_at": _I,
                   "finished_at": _I, "state": _S, "origin_run_id": _S, "origin_task": _S}
VALUE_PROPERTIES = {"digest": _S, "size": _I, "python_type": _S, "preview": _S,
                    "artifact_name": _S, "inline": PropertyType.BYTES}
# a card a task rendered (@card): self-contained HTML in the blob store
CARD_TYPE = "Card"
CARD_PROPERTIES = {"card_type": _S, "card_id": _S, "hash": _S, "digest": _S, "size": _I}
# a file logged to a tracking run (log_artifact, log_text, a saved model's files)
FILE_TYPE = "File"
FILE_PROPERTIES = {"digest": _S, "size": _I, "path": _S, "run_id": _S}
