"""Datasets a run used (``log_input``), as MLflow records them: name, digest, source,
schema and profile, never the data itself. Each distinct dataset (by name and
digest) is one ``Dataset`` artifact in the lineage graph, an INPUT of every run that
logged it (of the run's execution; in a flow step, of the task), so lineage shows
which runs and models a dataset fed.
"""

from __future__ import annotations

import json
from typing import Any

from blake3 import blake3
from sqlalchemy import insert, select

from ...lineage import (
    DATASET_TYPE,
    VALUE_PROPERTIES,
    ArtifactState,
    EventType,
    LineageSession,
    NewArtifact,
    TypeKind,
    attributions,
    events,
)
from ..entities.records import Dataset
from ..errors import InvalidParameterError
from ..store.run_lineage import INPUT_TAGS_PREFIX, run_execution
from ..store.tracking_store import TrackingStore


def from_pandas(df: Any, source: str | None = None, name: str | None = None,
                targets: str | None = None) -> Dataset:
    """A Dataset describing a pandas DataFrame (MLflow's ``mlflow.data.from_pandas``)."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(f"from_pandas takes a pandas DataFrame; got "
                                    f"{type(df).__name__}.")
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()
    digest = blake3(hashed + ",".join(map(str, df.columns)).encode()).hexdigest()[:8]
    schema = {"mlflow_colspec": [{"type": str(df[c].dtype), "name": str(c)}
                                 for c in df.columns]}
    profile = {"num_rows": len(df), "num_elements": int(df.size)}
    if targets is not None:
        profile["targets"] = targets  # type: ignore[assignment]
    return Dataset(name=name or "dataset", digest=digest,
                   source_type="local" if source is None or "://" not in str(source)
                   else str(source).split("://", 1)[0],
                   source=json.dumps({"uri": str(source) if source else ""}),
                   schema=json.dumps(schema), profile=json.dumps(profile))


def as_dataset(dataset: Any) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    try:
        import pandas as pd

        if isinstance(dataset, pd.DataFrame):
            return from_pandas(dataset)
    except ImportError:
        pass
    raise InvalidParameterError(f"log_input takes a Dataset (flowtrack.tracking.from_pandas) "
                                f"or a pandas DataFrame; got {type(dataset).__name__}.")


def record_input(s: LineageSession, run_pk: int, dataset: Dataset, context: str | None,
                 execution_id: int, tags: dict[str, str] | None = None) -> int:
    """The dataset's artifact (shared by every run that logs the same name and digest),
    attributed to the run, with an INPUT event from ``execution_id``; ``tags`` (the
    input's own, as MLflow keeps them) on the run."""
    dataset_type = s.type_id(TypeKind.ARTIFACT, DATASET_TYPE, VALUE_PROPERTIES)
    name = f"dataset:{dataset.name}:{dataset.digest}"
    existing = s.node_by_name("artifact", dataset_type, name)
    if existing is not None:
        artifact_id = existing.id
    else:
        [artifact_id] = s.insert_artifacts([NewArtifact(
            dataset_type, name, f"dataset:{dataset.digest}", int(ArtifactState.LIVE),
            {"digest": dataset.digest, "artifact_name": dataset.name,
             "python_type": "dataset"},
            {"source": dataset.source, "source_type": dataset.source_type,
             "schema": dataset.schema or "", "profile": dataset.profile or ""})])
    linked = s.conn.execute(select(attributions.c.artifact_id).where(
        attributions.c.context_id == run_pk, attributions.c.artifact_id == artifact_id)).first()
    if linked is None:
        s.conn.execute(insert(attributions).values(context_id=run_pk, artifact_id=artifact_id))
    already = s.conn.execute(select(events.c.id).where(
        events.c.artifact_id == artifact_id, events.c.execution_id == execution_id,
        events.c.type == int(EventType.INPUT))).first()
    if already is None:
        s.insert_events([(artifact_id, execution_id, int(EventType.INPUT), context)])
    if tags:
        s.set_properties("context", run_pk, custom={
            INPUT_TAGS_PREFIX + str(artifact_id): json.dumps(dict(tags), sort_keys=True)})
    return int(artifact_id)


def log_input(store: TrackingStore, run_id: str, dataset: Dataset,
              context: str | None = None, tags: dict[str, Any] | None = None) -> None:
    """Record ``dataset`` as an input of tracking run ``run_id``, with the input's
    ``tags`` (``mlflow.data.context`` is the context)."""
    input_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if context:
        input_tags["mlflow.data.context"] = context
    context = context or input_tags.get("mlflow.data.context")
    if store.remote:
        store.log_input(run_id, dataset, context, input_tags)  # type: ignore[attr-defined]
        return
    with store.write() as s:
        run_pk, exec_id = run_execution(s, store, run_id)
        record_input(s, run_pk, dataset, context, exec_id, input_tags)
