"""MLflow 3's logged models: a model with an id of its own (``m-<hex>``), created
before its files are uploaded and finalized after, optionally produced by a run.

Each is a ``Model`` artifact in the lineage graph named by its id, attributed to its
experiment (and to its source run, whose execution has it as an OUTPUT), so a
registered version made from ``models:/m-...`` leads back to the run, its data and
its code like any other model. Status, name, tags and params are the artifact's
custom properties; its files are ``File`` artifacts named ``<model id>/<path>``
(see ``_files``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...lineage import (
    ArtifactState,
    EventType,
    LineageSession,
    NewArtifact,
    Node,
    TypeKind,
    artifacts,
    attributions,
    events,
)
from ..entities.records import Metric
from ..entities.validation import check_key, check_name, check_param_value, check_tag_value
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.run_lineage import (
    MODEL_PROPERTIES,
    MODEL_TYPE,
    PARAM_PREFIX,
    TAG_PREFIX,
    run_execution,
)
from ..store.tracking_store import TrackingStore

MODEL_ID_PREFIX = "m-"
PENDING, READY, UPLOAD_FAILED = "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", \
    "LOGGED_MODEL_UPLOAD_FAILED"
STATUSES = (PENDING, READY, UPLOAD_FAILED)


_NAME_FORBIDDEN = ("/", ":", ".", "%", '"', "'")  # in logged model names, as MLflow refuses
OUTPUT_STEP_PREFIX = "output_step:"  # a run's custom property: the step a model came at
METRIC_PREFIX = "metric:"  # one custom property per point, so writers never collide


class ModelMetric(NamedTuple):
    """A metric point logged for a model (MLflow 3: ``log_metric(..., model_id=)``),
    with the run that logged it and the dataset it was measured on."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str
    model_type: str = ""
    source_run_id: str = ""
    status_message: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)


def is_model_id(text: str) -> bool:
    return text.startswith(MODEL_ID_PREFIX) and len(text) == len(MODEL_ID_PREFIX) + 32


class LoggedModels:
    """Create, read, update and search the logged models of one tracking store."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def create(self, experiment_id: str, name: str | None, source_run_id: str | None = None,
               model_type: str | None = None, tags: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None) -> LoggedModel:
        experiment = self.store.get_experiment(experiment_id)
        model_id = MODEL_ID_PREFIX + uuid.uuid4().hex
        name = check_name(name or model_id, "A logged model name")
        if any(c in name for c in _NAME_FORBIDDEN):
            raise InvalidParameterError(
                f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
                f"and cannot contain the following characters: {_NAME_FORBIDDEN} (they would "
                "break models:/ URIs).")
        custom: dict[str, Any] = {"experiment_id": experiment.experiment_id, "model_name": name,
                                  "status": PENDING, "model_type": model_type or ""}
        custom.update(_prefixed_tags(tags))
        custom.update(_prefixed_params(params))
        with self.store.write() as s:
            contexts = [self.store.experiment_pk(experiment.experiment_id)]
            exec_id = None
            if source_run_id:
                run_pk, exec_id = run_execution(s, self.store, source_run_id)
                contexts.append(run_pk)
            model_type_id = s.type_id(TypeKind.ARTIFACT, MODEL_TYPE, MODEL_PROPERTIES)
            [artifact_id] = s.insert_artifacts([NewArtifact(
                model_type_id, model_id, f"models:/{model_id}", int(ArtifactState.PENDING),
                {"run_id": source_run_id or "", "path": "", "flavor": model_type or ""},
                custom)], context_ids=contexts)
            if exec_id is not None:
                s.insert_events([(artifact_id, exec_id, int(EventType.OUTPUT), name)])
        return self.get(model_id)

    def get(self, model_id: str) -> LoggedModel:
        with self.store.read() as s:
            return self._entity(s, self.node(s, model_id))

    def node(self, s: LineageSession, model_id: str) -> Node:
        type_id = s.find_type_id(TypeKind.ARTIFACT, MODEL_TYPE)
        found = None if type_id is None or not is_model_id(str(model_id)) \
            else s.node_by_name("artifact", type_id, model_id)
        if found is None or "model_name" not in found.custom_properties \
                or found.state == int(ArtifactState.DELETED):
            raise ResourceDoesNotExistError(
                f"Logged model {model_id!r} not found. Logged model ids look like "
                "'m-' followed by 32 hexadecimal characters.")
        return found

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        if status not in STATUSES:
            raise InvalidParameterError(f"A logged model's status must be one of "
                                        f"{', '.join(STATUSES)}; got {status!r}.")
        state = ArtifactState.LIVE if status == READY else ArtifactState.PENDING \
            if status == PENDING else ArtifactState.ABANDONED
        with self.store.write() as s:
            node = self.node(s, model_id)
            s.conn.execute(artifacts.update().where(artifacts.c.id == node.id)
                           .values(state=int(state)))
            s.set_properties("artifact", node.id, custom={"status": status})
        return self.get(model_id)

    def set_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        with self.store.write() as s:
            node = self.node(s, model_id)
            s.set_properties("artifact", node.id, custom=_prefixed_tags(tags))

    def delete_tag(self, model_id: str, key: str) -> None:
        with self.store.write() as s:
            node = self.node(s, model_id)
            if TAG_PREFIX + key not in node.custom_properties:
                raise ResourceDoesNotExistError(f"Logged model {model_id} has no tag {key!r}.")
            s.delete_properties("artifact", node.id, [TAG_PREFIX + key])

    def log_params(self, model_id: str, params: dict[str, Any]) -> None:
        with self.store.write() as s:
            node = self.node(s, model_id)
            s.set_properties("artifact", node.id, custom=_prefixed_params(params))

    def log_metrics(self, model_id: str, points: Sequence[Metric], run_id: str | None = None,
                    dataset_name: str | None = None, dataset_digest: str | None = None) -> None:
        """Record metric points for a model (each its own property: concurrent writers
        never overwrite each other's points)."""
        custom = {METRIC_PREFIX + uuid.uuid4().hex: json.dumps(ModelMetric(
            p.key, p.value, p.timestamp, p.step, run_id, dataset_name, dataset_digest)._asdict())
            for p in points}
        with self.store.write() as s:
            s.set_properties("artifact", self.node(s, model_id).id, custom=custom)

    def delete(self, model_id: str) -> None:
        with self.store.write() as s:
            node = self.node(s, model_id)
            s.conn.execute(artifacts.update().where(artifacts.c.id == node.id)
                           .values(state=int(ArtifactState.DELETED)))

    def link_outputs(self, run_id: str, model_ids: Sequence[str],
                     steps: Sequence[int] | None = None) -> None:
        """Record models as outputs of a run (MLflow's ``log_outputs``), each at the
        ``step`` of the run it was produced at (0 by default)."""
        with self.store.write() as s:
            run_pk, exec_id = run_execution(s, self.store, run_id)
            for model_id, step in zip(model_ids, steps or [0] * len(model_ids)):
                node = self.node(s, model_id)
                _link(s, node.id, run_pk, exec_id)
                if step:
                    s.set_properties("context", run_pk,
                                     custom={OUTPUT_STEP_PREFIX + model_id: int(step)})

    def run_output_steps(self, run_id: str) -> list[tuple[str, int]]:
        """(model id, step) of each logged model a run produced."""
        ids = self.run_outputs(run_id)
        with self.store.read() as s:
            custom = self.store.run_node(s, run_id).custom_properties
        return [(m, int(custom.get(OUTPUT_STEP_PREFIX + m, 0))) for m in ids]

    def run_outputs(self, run_id: str) -> list[str]:
        """Ids of the logged models a run produced."""
        with self.store.read() as s:
            run_pk = self.store.run_node(s, run_id).id
            type_id = s.find_type_id(TypeKind.ARTIFACT, MODEL_TYPE)
            if type_id is None:
                return []
            nodes = s.nodes("artifact", artifacts.c.type_id == type_id,
                            artifacts.c.id.in_(attributions.select()
                                               .with_only_columns(attributions.c.artifact_id)
                                               .where(attributions.c.context_id == run_pk)),
                            artifacts.c.state != int(ArtifactState.DELETED))
        return [n.name or "" for n in nodes if "model_name" in n.custom_properties]

    def search(self, experiment_ids: Sequence[str], filter_string: str | None = None,
               order_by: Sequence[str] | None = None) -> list[LoggedModel]:
        """The experiments' logged models (not deleted) matching ``filter_string``,
        newest first unless ``order_by`` says otherwise."""
        from ..entities.memory_search import LOGGED_MODELS, search
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.ARTIFACT, MODEL_TYPE)
            if type_id is None:
                return []
            ids = [self.store.get_experiment(e).experiment_id for e in experiment_ids]
            nodes = s.nodes("artifact", artifacts.c.type_id == type_id,
                            artifacts.c.state != int(ArtifactState.DELETED),
                            s.name_prefix("artifact", MODEL_ID_PREFIX),
                            order_by=artifacts.c.id.desc())
            found = [self._entity(s, n) for n in nodes
                     if n.custom_properties.get("experiment_id") in ids]
        return search(LOGGED_MODELS, found, filter_string, order_by)

    def _entity(self, s: LineageSession, node: Node) -> LoggedModel:
        c, model_id = node.custom_properties, node.name or ""
        experiment_id = str(c.get("experiment_id", ""))
        return LoggedModel(
            model_id=model_id, experiment_id=experiment_id, name=str(c.get("model_name", "")),
            artifact_uri=f"{self.store.artifact_root}/{experiment_id}/models/{model_id}"
                         "/artifacts",
            creation_timestamp=node.create_time_since_epoch,
            last_updated_timestamp=node.last_update_time_since_epoch,
            status=str(c.get("status", PENDING)), model_type=str(c.get("model_type", "")),
            source_run_id=str(node.properties.get("run_id", "")),
            tags={k[len(TAG_PREFIX):]: str(v) for k, v in c.items() if k.startswith(TAG_PREFIX)},
            params={k[len(PARAM_PREFIX):]: str(v) for k, v in c.items()
                    if k.startswith(PARAM_PREFIX)},
            metrics=sorted((ModelMetric(**json.loads(v)) for k, v in c.items()
                            if k.startswith(METRIC_PREFIX)),
                           key=lambda m: (m.key, m.step, m.timestamp)))


def _link(s: LineageSession, artifact_id: int, run_pk: int, exec_id: int) -> None:
    linked = s.conn.execute(attributions.select().where(
        attributions.c.context_id == run_pk, attributions.c.artifact_id == artifact_id)).first()
    if linked is None:
        s.conn.execute(attributions.insert().values(context_id=run_pk, artifact_id=artifact_id))
    output = s.conn.execute(events.select().where(
        events.c.artifact_id == artifact_id, events.c.execution_id == exec_id,
        events.c.type == int(EventType.OUTPUT))).first()
    if output is None:
        s.insert_events([(artifact_id, exec_id, int(EventType.OUTPUT), None)])


def _prefixed_tags(tags: dict[str, Any] | None) -> dict[str, str]:
    return {TAG_PREFIX + check_key(k, "tag"): check_tag_value(k, v)
            for k, v in (tags or {}).items()}


def _prefixed_params(params: dict[str, Any] | None) -> dict[str, str]:
    return {PARAM_PREFIX + check_key(k, "param"): check_param_value(k, v)
            for k, v in (params or {}).items()}
