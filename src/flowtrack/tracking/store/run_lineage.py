"""A tracking run's records in the lineage graph that several tracking modules share:
how params and tags are kept, the execution that stands for the run (models are its
outputs, datasets its inputs), the ``Model`` artifact of a logged model, and the
datasets a run read. Below the store, models, datasets and logged models, which all
read or write these records (it imports none of them)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from ..._util import now_ms
from ...lineage import (
    DATASET_TYPE,
    ArtifactState,
    EventType,
    ExecutionState,
    LineageSession,
    NewArtifact,
    PropertyType,
    TypeKind,
    associations,
    events,
)
from ..entities.records import Dataset, DatasetInput

MODEL_TYPE = "Model"
MODEL_PROPERTIES = {"run_id": PropertyType.STRING, "path": PropertyType.STRING,
                    "flavor": PropertyType.STRING}
RUN_EXECUTION_TYPE = "RunExecution"  # a tracking run as an execution, for lineage edges
# how a run's (or a logged model's) params and tags are kept: custom properties with
# these prefixes; DELETED_TIME marks a deleted experiment or run
PARAM_PREFIX, TAG_PREFIX = "param:", "tag:"
# a run's custom property per input dataset: the input's tags (JSON), by artifact id
INPUT_TAGS_PREFIX = "input_tags:"
DELETED_TIME = "deleted_time"


def run_execution(s: Any, store: Any, run_id: str) -> tuple[int, int]:
    """(context id, execution id) of a tracking run; the execution that stands for the
    run in lineage (models are its outputs, datasets its inputs) is made on first use."""
    run = store.run_node(s, run_id)
    exec_type = s.type_id(TypeKind.EXECUTION, RUN_EXECUTION_TYPE)
    found = s.node_by_name("execution", exec_type, run_id)
    exec_id = found.id if found is not None else s.insert_execution(
        exec_type, run_id, int(ExecutionState.COMPLETE), context_ids=[run.id])
    return run.id, exec_id


def insert_model_artifact(s: Any, run_pk: int, run_id: str, path: str, flavor: str,
                          exec_id: int) -> int:
    """A Model artifact (a new one each time a model is logged) and its OUTPUT event."""
    model_type = s.type_id(TypeKind.ARTIFACT, MODEL_TYPE, MODEL_PROPERTIES)
    [artifact_id] = s.insert_artifacts([NewArtifact(
        model_type, f"{run_id}/{path}/{now_ms()}", f"runs:/{run_id}/{path}",
        int(ArtifactState.LIVE), {"run_id": run_id, "path": path, "flavor": flavor}, {})],
        context_ids=[run_pk])
    s.insert_events([(artifact_id, exec_id, int(EventType.OUTPUT), path)])
    return int(artifact_id)


def run_inputs(s: LineageSession, run_pk: int) -> list[DatasetInput]:
    """The datasets logged as inputs of a run (by its execution or its tasks)."""
    dataset_type = s.find_type_id(TypeKind.ARTIFACT, DATASET_TYPE)
    if dataset_type is None:
        return []
    rows = s.conn.execute(
        select(events.c.artifact_id, events.c.id).where(
            events.c.type == int(EventType.INPUT),
            events.c.execution_id.in_(select(associations.c.execution_id)
                                      .where(associations.c.context_id == run_pk)))).all()
    ids = sorted({a for a, _ in rows})
    [run] = s.nodes_by_ids("context", [run_pk])
    found = []
    for node in s.nodes_by_ids("artifact", ids):
        if node.type_id != dataset_type or not (node.name or "").startswith("dataset:"):
            continue
        c = node.custom_properties
        tags = json.loads(run.custom_properties.get(f"{INPUT_TAGS_PREFIX}{node.id}", "{}"))
        found.append(DatasetInput(Dataset(
            name=node.properties.get("artifact_name", ""), digest=node.properties["digest"],
            source_type=c.get("source_type", ""), source=c.get("source", ""),
            schema=c.get("schema") or None, profile=c.get("profile") or None), tags))
    return found
