"""TrackingStore: MLflow's experiments, runs, params, tags and metrics kept in the
lineage graph (ARCHITECTURE.md's table).

An experiment is an ``Experiment`` context (the one a flow's runs go in is named
after the flow), a run a ``Run`` context under it whose external id is the run id.
Params and tags are the run's custom properties ``param:<key>`` and ``tag:<key>``,
run name and deletion time custom properties too; the metric history is the
``metrics`` table and the latest point of each key ``latest_metrics``. A flow run is
a tracking run like any other. Logged files live in ``_files``; searching in
``_search``. Every public method is one transaction.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from ..._config import settings
from ..._util import now_ms
from ...client._liveness import effective_status
from ...lineage import (
    EXPERIMENT_PROPERTIES,
    EXPERIMENT_TYPE,
    FILE_PROPERTIES,
    FILE_TYPE,
    RUN_PROPERTIES,
    RUN_TYPE,
    Database,
    LineageSession,
    Node,
    TypeKind,
    contexts,
    latest_metrics,
    metrics,
    parent_contexts,
    write_session,
)
from ...store import BlobStore
from ..entities.records import (
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    ViewType,
)
from ..entities.validation import (
    INT64_MAX,
    INT64_MIN,
    check_int,
    check_key,
    check_metric_value,
    check_name,
    check_param_value,
    check_tag_value,
)
from ..errors import (
    InvalidParameterError,
    InvalidStateError,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
)
from . import metric_chunks as _history
from .run_lineage import DELETED_TIME, PARAM_PREFIX, TAG_PREFIX, run_inputs
from .search import search_run_nodes

DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_EXPERIMENT_ID = "0"  # what MLflow clients send before any set_experiment
# marks the experiment answering to id "0" (it keeps that id when renamed, as in MLflow)
DEFAULT_MARK = "default_experiment"

Point = _history.Point


@dataclass(frozen=True)
class Types:
    experiment: int
    run: int
    file: int


class TrackingStore:
    """Tracking reads and writes on one metadata database and blob store."""

    remote = False  # RestTrackingStore, its stand-in behind an http:// URI, says True

    def __init__(self, db: Database, blobs: BlobStore,
                 artifact_root: str = "flowtrack-artifacts:") -> None:
        self.db = db
        self.blobs = blobs
        self.artifact_root = artifact_root
        self._types: Types | None = None
        self._run_pks: dict[str, int] = {}  # run id -> context id (never changes)
        self._default_pk: int | None = None  # the context behind experiment id "0"
        self._default_looked_up = False

    # -- sessions and types -------------------------------------------------------
    def write(self) -> AbstractContextManager[LineageSession]:
        """One transaction: committed at the end of the block, rolled back on error."""
        return write_session(self.db)

    @contextmanager
    def read(self) -> Iterator[LineageSession]:
        with LineageSession(self.db) as session:
            yield session

    def types(self, s: LineageSession) -> Types:
        """The node types tracking writes (created on first use, in ``s``)."""
        if self._types is None:
            self._types = Types(
                s.type_id(TypeKind.CONTEXT, EXPERIMENT_TYPE, EXPERIMENT_PROPERTIES),
                s.type_id(TypeKind.CONTEXT, RUN_TYPE, RUN_PROPERTIES),
                s.type_id(TypeKind.ARTIFACT, FILE_TYPE, FILE_PROPERTIES))
        return self._types

    # -- experiments --------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        check_name(name, "An experiment name")
        custom = {TAG_PREFIX + check_key(k, "tag"): check_tag_value(k, v)
                  for k, v in (tags or {}).items()}
        if artifact_location:
            custom["artifact_location"] = str(artifact_location)
        with self.write() as s:
            t = self.types(s)
            existing = s.node_by_name("context", t.experiment, name)
            if existing is not None:
                state = ("a deleted experiment (restore it, or delete it for good)"
                         if DELETED_TIME in existing.custom_properties else "an experiment")
                raise ResourceAlreadyExistsError(
                    f"Experiment {name!r} already exists as {state} with id "
                    f"{self.public_experiment_id(existing.id)}; use set_experiment({name!r}) "
                    "or get_experiment_by_name to use it, or choose another name.")
            ctx, _ = s.get_or_create_context(t.experiment, name, {"kind": "experiment"}, custom)
            return str(ctx)

    def ensure_default_experiment(self) -> str:
        """Make experiment "0" ("Default") if the store has none, as MLflow's stores
        do when they are created; an older store's experiment called Default becomes it."""
        with self.write() as s:
            t = self.types(s)
            pk = self._find_default_pk(s, t)
            if pk is None:
                existing = s.node_by_name("context", t.experiment, DEFAULT_EXPERIMENT_NAME)
                if existing is None:
                    pk, _ = s.get_or_create_context(t.experiment, DEFAULT_EXPERIMENT_NAME,
                                                    {"kind": "experiment"}, {DEFAULT_MARK: 1})
                else:
                    pk = existing.id
                    s.set_properties("context", pk, custom={DEFAULT_MARK: 1})
            self._default_pk = pk
        return DEFAULT_EXPERIMENT_ID

    def _find_default_pk(self, s: LineageSession, t: Types) -> int | None:
        """The context id of experiment "0", if it exists (found once, then cached: it
        is never removed, only marked deleted)."""
        if self._default_pk is None and not self._default_looked_up:
            nodes = s.nodes("context", contexts.c.type_id == t.experiment)
            marked = [n.id for n in nodes if n.custom_properties.get(DEFAULT_MARK)]
            self._default_pk = min(marked) if marked else None
            self._default_looked_up = True
        return self._default_pk

    def public_experiment_id(self, pk: int | str) -> str:
        """The experiment id clients see for an experiment context: "0" for Default,
        the context id for every other."""
        if self._default_pk is None and not self._default_looked_up:
            with self.read() as s:
                t = self._find_types(s)
                if t is not None:
                    self._find_default_pk(s, t)
        return DEFAULT_EXPERIMENT_ID if int(pk) == self._default_pk else str(pk)

    def experiment_id_for_name(self, name: str, create: bool = True) -> str | None:
        """The id of the experiment called ``name``, made if missing (``create``)."""
        check_name(name, "An experiment name")
        with self.write() as s:
            t = self.types(s)
            existing = s.node_by_name("context", t.experiment, name)
            if existing is not None:
                if DELETED_TIME in existing.custom_properties:
                    raise InvalidStateError(
                        f"Experiment {name!r} (id {existing.id}) is deleted. Restore it with "
                        "TrackingClient().restore_experiment, or use another name.")
                return self.public_experiment_id(existing.id)
            if not create:
                return None
            ctx, _ = s.get_or_create_context(t.experiment, name, {"kind": "experiment"})
            return str(ctx)

    def get_experiment(self, experiment_id: str) -> Experiment:
        node = self._experiment_node(experiment_id)
        return self._experiment(node)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.read() as s:
            t = self._find_types(s)
            node = None if t is None else s.node_by_name("context", t.experiment, name)
        return None if node is None else self._experiment(node)

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        stages = ViewType.stages(view_type)
        with self.read() as s:
            t = self._find_types(s)
            nodes = [] if t is None else s.nodes("context", contexts.c.type_id == t.experiment)
        found = [self._experiment(n) for n in nodes]
        return [e for e in found if e.lifecycle_stage in stages]

    def set_experiment_lifecycle(self, experiment_id: str, deleted: bool) -> None:
        node = self._experiment_node(experiment_id)
        with self.write() as s:
            _set_deleted(s, node.id, deleted)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        check_name(new_name, "An experiment name")
        node = self._experiment_node(experiment_id)
        with self.write() as s:
            t = self.types(s)
            if s.node_by_name("context", t.experiment, new_name) is not None:
                raise ResourceAlreadyExistsError(f"Experiment {new_name!r} already exists.")
            s.conn.execute(update(contexts).where(contexts.c.id == node.id)
                           .values(name=new_name, last_update_time_since_epoch=now_ms()))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        node = self._experiment_node(experiment_id)
        with self.write() as s:
            s.set_properties("context", node.id, custom={
                TAG_PREFIX + check_key(key, "tag"): check_tag_value(key, value)})

    def experiment_pk(self, experiment_id: str) -> int:
        """The context id of the experiment clients call ``experiment_id``."""
        if experiment_id == DEFAULT_EXPERIMENT_ID and self._default_pk is not None:
            return self._default_pk
        return self._experiment_node(experiment_id).id

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        node = self._experiment_node(experiment_id)
        if TAG_PREFIX + key not in node.custom_properties:
            raise ResourceDoesNotExistError(f"No tag with name: {key} in experiment with id "
                                            f"{experiment_id}")
        with self.write() as s:
            s.delete_properties("context", node.id, [TAG_PREFIX + key])
            s.conn.execute(update(contexts).where(contexts.c.id == node.id)
                           .values(last_update_time_since_epoch=now_ms()))

    def _experiment_node(self, experiment_id: str | int) -> Node:
        experiment_id = str(experiment_id)
        if not re.fullmatch(r"[+-]?\d+", experiment_id.strip(), re.ASCII):
            raise InvalidParameterError(f"Invalid experiment ID '{experiment_id}'. Experiment "
                                        "ID must be a valid integer.")
        pk = int(experiment_id) if _is_row_id(experiment_id) else -1  # -1: no such row
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            if self._default_pk is None:
                self.ensure_default_experiment()
            pk = int(self._default_pk or 0)
        node = None
        with self.read() as s:
            t = self._find_types(s)
            found = s.nodes_by_ids("context", [pk])
            if t is not None and found and found[0].type_id == t.experiment:
                node = found[0]
        if node is None:
            raise ResourceDoesNotExistError(
                f"No Experiment with id={experiment_id} exists. List them with "
                "search_experiments(), or look one up with get_experiment_by_name(name).")
        return node

    def _experiment(self, node: Node) -> Experiment:
        custom = node.custom_properties
        experiment_id = self.public_experiment_id(node.id)
        return Experiment(
            experiment_id=experiment_id, name=node.name or "",
            artifact_location=custom.get("artifact_location")
            or f"{self.artifact_root}/{experiment_id}",
            lifecycle_stage=_stage(custom), tags=_prefixed(custom, TAG_PREFIX),
            creation_time=node.create_time_since_epoch,
            last_update_time=node.last_update_time_since_epoch)

    def _find_types(self, s: LineageSession) -> Types | None:
        """The tracking types if they exist (reads never create them)."""
        if self._types is not None:
            return self._types
        ids = [s.find_type_id(TypeKind.CONTEXT, EXPERIMENT_TYPE),
               s.find_type_id(TypeKind.CONTEXT, RUN_TYPE),
               s.find_type_id(TypeKind.ARTIFACT, FILE_TYPE)]
        if None in ids:
            return None if ids[0] is None else Types(ids[0], ids[1] or -1, ids[2] or -1)
        self._types = Types(*ids)  # type: ignore[arg-type]
        return self._types

    # -- runs ---------------------------------------------------------------------
    def create_run(self, experiment_id: str, user_id: str, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        experiment = self._experiment_node(experiment_id)
        if DELETED_TIME in experiment.custom_properties:
            raise InvalidStateError(f"Experiment {experiment.name!r} is deleted; restore it "
                                    "before starting runs in it.")
        tags = dict(tags or {})
        run_name = run_name or tags.get("mlflow.runName") or _random_run_name()
        tags["mlflow.runName"] = run_name
        run_id = uuid.uuid4().hex
        custom = {TAG_PREFIX + check_key(k, "tag"): check_tag_value(k, v) for k, v in tags.items()}
        custom["run_name"] = str(run_name)
        started = int(start_time or now_ms())
        props: dict[str, Any] = {"run_id": run_id, "user": user_id, "status": RunStatus.RUNNING,
                                 "start_time": started, "kind": "tracking",
                                 "flow_name": experiment.name}
        with self.write() as s:
            t = self.types(s)
            ctx, _ = s.get_or_create_context(t.run, run_id, props, custom,
                                             parent_ids=[experiment.id])
            s.set_external_id("context", ctx, run_id)
        self._run_pks[run_id] = ctx
        node = Node("context", ctx, t.run, run_id, started, started,
                    external_id=run_id, properties=props, custom_properties=custom)
        return self._run(node, self.public_experiment_id(experiment.id), {})

    def run_node(self, s: LineageSession, run_id: str) -> Node:
        """The Run context of tracking run ``run_id``."""
        found = s.nodes("context", contexts.c.external_id == str(run_id)) if run_id else []
        t = self._find_types(s)
        if not found or t is None or found[0].type_id != t.run:
            raise ResourceDoesNotExistError(
                f"Run with id={run_id} not found. Run ids are 32 hexadecimal characters, as "
                "in run.info.run_id; find runs with search_runs().")
        return found[0]

    def get_run(self, run_id: str) -> Run:
        """One run, with the datasets it logged as inputs."""
        with self.read() as s:
            node = self.run_node(s, run_id)
            run = self.runs_from_nodes(s, [node])[0]
            inputs = run_inputs(s, node.id)
        return Run(run.info, run.data, RunInputs(inputs)) if inputs else run

    def run_pk(self, run_id: str) -> int:
        """The database id of a run's context, for fast repeated writes."""
        pk = self._run_pks.get(run_id)
        if pk is None:
            with self.read() as s:
                pk = self._run_pks[run_id] = self.run_node(s, run_id).id
        return pk

    def update_run_info(self, run_id: str, status: str | None = None,
                        end_time: int | None = None, run_name: str | None = None) -> None:
        if status is not None and status not in RunStatus.ALL:
            raise InvalidParameterError(f"Run status must be one of {', '.join(RunStatus.ALL)}; "
                                        f"got {status!r}.")
        with self.write() as s:
            node = self.run_node(s, run_id)
            props: dict[str, Any] = {}
            if status is not None:
                props["status"] = status
                if RunStatus.is_terminated(status):
                    props["end_time"] = int(end_time or now_ms())
            elif end_time is not None:
                props["end_time"] = int(end_time)
            custom = {}
            if run_name:
                custom = {"run_name": str(run_name), TAG_PREFIX + "mlflow.runName": str(run_name)}
            s.set_properties("context", node.id, props, custom)

    def set_run_lifecycle(self, run_id: str, deleted: bool) -> None:
        with self.write() as s:
            _set_deleted(s, self.run_node(s, run_id).id, deleted)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.write() as s:
            node = self.run_node(s, run_id)
            if TAG_PREFIX + key not in node.custom_properties:
                raise ResourceDoesNotExistError(f"Run {run_id} has no tag {key!r}.")
            s.delete_properties("context", node.id, [TAG_PREFIX + key])

    # -- logging ------------------------------------------------------------------
    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (),
                  params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None,
                  execution_id: int | None = None) -> None:
        """Log checked metrics, params and tags to one run in one transaction."""
        points = checked_points(metrics, execution_id)
        params = {check_key(k, "param"): check_param_value(k, v) for k, v in (params or {}).items()}
        tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in (tags or {}).items()}
        with self.write() as s:
            node = self.run_node(s, run_id)
            self._check_active(node)
            self._write_params(s, node, params)
            if tags:
                s.set_properties("context", node.id, custom={
                    TAG_PREFIX + k: v for k, v in tags.items()})
            write_points(s, node.id, points)

    def write_batch(self, run_pk: int, points: Sequence[Point], params: dict[str, str],
                    tags: dict[str, str]) -> None:
        """Write already-checked points, params and tags of one run (the buffered path)
        in one transaction."""
        conflict = None
        with self.write() as s:
            [node] = s.nodes_by_ids("context", [run_pk])
            self._check_active(node)
            if tags:
                s.set_properties("context", run_pk,
                                 custom={TAG_PREFIX + k: v for k, v in tags.items()})
            write_points(s, run_pk, points)
            try:
                self._write_params(s, node, params)
            except InvalidParameterError as exc:  # keep the points and tags; report after
                conflict = exc
                self._write_params(s, node, {k: v for k, v in params.items()
                                             if PARAM_PREFIX + k not in node.custom_properties})
        if conflict is not None:
            raise conflict

    def _write_params(self, s: LineageSession, node: Node, params: dict[str, str]) -> None:
        if not params:
            return
        stored = node.custom_properties
        changed = {k: (stored[PARAM_PREFIX + k], v) for k, v in params.items()
                   if PARAM_PREFIX + k in stored and stored[PARAM_PREFIX + k] != v}
        if changed:
            key, (old, new) = next(iter(changed.items()))
            raise InvalidParameterError(
                f"Changing param values is not allowed: param {key!r} of run "
                f"{node.external_id} was already logged with value {old!r}, not {new!r}. "
                "Params are write-once; log the new value under another key or in a new run.")
        fresh = {PARAM_PREFIX + k: v for k, v in params.items() if PARAM_PREFIX + k not in stored}
        if fresh:
            s.set_properties("context", node.id, custom=fresh)

    @staticmethod
    def _check_active(node: Node) -> None:
        if DELETED_TIME in node.custom_properties:
            raise InvalidStateError(f"Run {node.external_id} is deleted; restore it "
                                    "(TrackingClient().restore_run) before logging to it.")

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step then time."""
        return _history.to_metrics(key, run_id, *self.metric_history_columns(run_id, key))

    def metric_history_columns(self, run_id: str, key: str
                               ) -> tuple[list[int], list[int], list[float]]:
        """One metric's history as (steps, timestamps, values) lists."""
        with self.read() as s:
            pk = self.run_node(s, run_id).id
            chunks = s.conn.execute(
                select(metrics.c.min_step, metrics.c.max_step, metrics.c.steps,
                       metrics.c.timestamps, metrics.c.metric_values)
                .where(metrics.c.run_id == pk, metrics.c.key == key)
                .order_by(metrics.c.min_step, metrics.c.id)).all()
        return _history.columns([tuple(c) for c in chunks])  # type: ignore[misc]

    # -- reading runs -------------------------------------------------------------
    def runs_from_nodes(self, s: LineageSession, nodes: Sequence[Node]) -> list[Run]:
        """Run entities for Run contexts, reading their experiments and latest metrics
        in two queries for the whole list."""
        ids = [n.id for n in nodes]
        experiment_of: dict[int, int] = {}
        latest: dict[int, dict[str, float]] = {i: {} for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            experiment_of.update(s.conn.execute(
                select(parent_contexts.c.context_id, parent_contexts.c.parent_context_id)
                .where(parent_contexts.c.context_id.in_(chunk))).all())
            for run_pk, key, value in s.conn.execute(
                    select(latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value)
                    .where(latest_metrics.c.run_id.in_(chunk))):
                latest[run_pk][key] = float("nan") if value is None else value
        return [self._run(n, self._experiment_of(experiment_of.get(n.id)), latest[n.id])
                for n in nodes]

    def _experiment_of(self, pk: int | None) -> str:
        return "" if pk is None else self.public_experiment_id(pk)

    def _run(self, node: Node, experiment_id: str, latest: dict[str, float]) -> Run:
        p, custom = node.properties, node.custom_properties
        run_id = node.external_id or ""
        params = _prefixed(custom, PARAM_PREFIX)
        if not params and isinstance(custom.get("params"), dict):  # a flow run's Parameters
            params = {k: _param_text(v) for k, v in custom["params"].items()}
        tags = _prefixed(custom, TAG_PREFIX)
        info = RunInfo(
            run_id=run_id, experiment_id=experiment_id,
            run_name=custom.get("run_name") or node.name or "", user_id=p.get("user") or "",
            status=effective_status(p, custom), start_time=p.get("start_time"),
            end_time=p.get("end_time"),
            artifact_uri=f"{self.artifact_root}/{experiment_id}/{run_id}/artifacts",
            lifecycle_stage=_stage(custom))
        return Run(info, RunData(metrics=latest, params=params, tags=tags))

    def run_counts(self) -> dict[str, int]:
        """How many runs (deleted ones too) each experiment holds, by experiment id."""
        with self.read() as s:
            t = self._find_types(s)
            if t is None or t.run < 0:
                return {}
            rows = s.conn.execute(
                select(parent_contexts.c.parent_context_id, func.count())
                .join(contexts, contexts.c.id == parent_contexts.c.context_id)
                .where(contexts.c.type_id == t.run)
                .group_by(parent_contexts.c.parent_context_id))
            return {self.public_experiment_id(parent): int(count) for parent, count in rows}

    def latest_points(self, run_ids: Sequence[str]) -> dict[str, list[Metric]]:
        """Each run's newest point of every metric key (value, step and time), in one
        query per 500 runs."""
        found: dict[str, list[Metric]] = {r: [] for r in run_ids}
        ids = list(found)
        with self.read() as s:
            for start in range(0, len(ids), 500):
                rows = s.conn.execute(
                    select(contexts.c.external_id, latest_metrics.c.key,
                           latest_metrics.c.value, latest_metrics.c.timestamp,
                           latest_metrics.c.step)
                    .join(contexts, contexts.c.id == latest_metrics.c.run_id)
                    .where(contexts.c.external_id.in_(ids[start:start + 500])))
                for run_id, key, value, timestamp, step in rows:
                    found[run_id].append(Metric(key, float("nan") if value is None else value,
                                                timestamp, step, run_id))
        return found

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY, max_results: int = 1000,
                    order_by: Sequence[str] | None = None, page_token: str | None = None
                    ) -> tuple[list[Run], str | None]:
        with self.read() as s:
            t = self._find_types(s)
            if t is None or t.run < 0:
                return [], None
            experiments = [self._experiment_node(e).id for e in experiment_ids]
            nodes, token = search_run_nodes(s, t.run, experiments, filter_string,
                                            run_view_type, max_results, order_by, page_token,
                                            self._find_default_pk(s, t))
            return self.runs_from_nodes(s, nodes), token


MAX_ROW_ID = 2**31 - 1  # node ids are 32-bit integers on PostgreSQL


def _is_row_id(text: str) -> bool:
    """Whether ``text`` can be a node id: ASCII digits, within the id column's range."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_ROW_ID


def checked_points(metrics: Sequence[Metric], execution_id: int | None = None) -> list[Point]:
    """Metrics as points to write, each field checked (the common types take a fast
    path: a server's log-batch checks thousands per request)."""
    points: list[Point] = []
    keys: set[str] = set()
    for key, value, timestamp, step, *_ in metrics:
        if key not in keys:
            keys.add(check_key(key, "metric"))
        if type(value) is not float:
            value = check_metric_value(key, value)
        if type(timestamp) is not int or not INT64_MIN <= timestamp <= INT64_MAX:
            timestamp = check_int(timestamp, "timestamp")
        if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            step = check_int(step, "step")
        points.append((key, value, timestamp, step, execution_id))
    return points


def open_store(uri: str, artifact_root: str = "flowtrack-artifacts:",
               blob_url: str | None = None) -> TrackingStore:
    """The store a tracking URI names: a database URL (with the configured blob store,
    or ``blob_url``), or a directory holding ``metadata.db`` and ``blobs/``."""
    cfg = settings()
    if "://" in uri:
        return TrackingStore(Database.open(uri), BlobStore(blob_url or cfg.store_url,
                                                           fsync=cfg.fsync), artifact_root)
    home = Path(uri.removeprefix("file:")).expanduser().absolute()
    return TrackingStore(Database.open(f"sqlite:///{home / 'metadata.db'}"),
                         BlobStore(blob_url or str(home / "blobs"), fsync=cfg.fsync),
                         artifact_root)


# -- module helpers ---------------------------------------------------------------------
def write_points(s: LineageSession, run_pk: int, points: Sequence[Point]) -> None:
    """Append points to a run's history (a chunk per key) and move its latest values
    forward."""
    if not points:
        return
    s.conn.execute(insert(metrics), _history.pack(run_pk, points))
    _advance_latest(s, run_pk, points)


def _newest(points: Iterable[Point]) -> dict[str, tuple[int, int, float, float]]:
    """Per key, the point MLflow calls latest, the greatest (step, timestamp, value),
    as (step, timestamp, rank of the value, value); NaN ranks lowest."""
    best: dict[str, tuple[int, int, float, float]] = {}
    for key, value, ts, step, _ in points:
        candidate = (step, ts, _rank(value), value)
        current = best.get(key)
        if current is None or candidate[:3] > current[:3]:
            best[key] = candidate
    return best


def _rank(value: float | None) -> float:
    return float("-inf") if value is None or value != value else value


def _advance_latest(s: LineageSession, run_pk: int, points: Sequence[Point]) -> None:
    newest = _newest(points)
    keys = list(newest)
    stored: dict[str, tuple[int, int, float]] = {}
    for start in range(0, len(keys), 500):
        stored.update({k: (step, ts, _rank(v)) for k, step, ts, v in s.conn.execute(
            select(latest_metrics.c.key, latest_metrics.c.step, latest_metrics.c.timestamp,
                   latest_metrics.c.value)
            .where(latest_metrics.c.run_id == run_pk,
                   latest_metrics.c.key.in_(keys[start:start + 500])))})
    moved = {k: p for k, p in newest.items() if k not in stored or p[:3] > stored[k]}
    if not moved:
        return
    replaced = [k for k in moved if k in stored]
    if replaced:
        s.conn.execute(delete(latest_metrics).where(latest_metrics.c.run_id == run_pk,
                                                     latest_metrics.c.key.in_(replaced)))
    s.conn.execute(insert(latest_metrics), [
        {"run_id": run_pk, "key": k, "step": step, "timestamp": ts,
         "value": None if value != value else value}
        for k, (step, ts, _, value) in moved.items()])


def _set_deleted(s: LineageSession, context_id: int, deleted: bool) -> None:
    if deleted:
        s.set_properties("context", context_id, custom={DELETED_TIME: now_ms()})
    else:
        s.delete_properties("context", context_id, [DELETED_TIME])


def _stage(custom: dict[str, Any]) -> str:
    return LifecycleStage.DELETED if DELETED_TIME in custom else LifecycleStage.ACTIVE


def _prefixed(custom: dict[str, Any], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: str(v) for k, v in custom.items() if k.startswith(prefix)}


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


_ADJECTIVES = ("able", "bold", "brave", "bright", "calm", "clever", "eager", "gentle", "keen",
               "lucky", "merry", "quick", "quiet", "sharp", "sunny", "swift", "wise", "witty")
_NOUNS = ("ant", "bat", "bee", "crow", "deer", "fox", "hare", "hawk", "lynx", "mole", "newt",
          "owl", "ram", "seal", "swan", "toad", "wolf", "wren")


def _random_run_name() -> str:
    """A readable default run name, as MLflow gives (e.g. ``swift-owl-417``)."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"

