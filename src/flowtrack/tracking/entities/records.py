"""The objects tracking calls return, shaped like MLflow's entities.

Code written for MLflow reads them unchanged: ``run.info.run_id``,
``run.data.metrics``, ``experiment.experiment_id``, ``metric.step``,
``file_info.is_dir``. They are plain frozen dataclasses (``Metric`` a named tuple) built from the lineage
graph by ``_store``; nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class RunStatus:
    """MLflow's run states; a flow run's status is one of these too."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINATED = (FINISHED, FAILED, KILLED)

    @staticmethod
    def is_terminated(status: str) -> bool:
        return status in RunStatus.TERMINATED


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType:
    """Which runs or experiments a search returns (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @staticmethod
    def stages(view_type: int) -> tuple[str, ...]:
        if view_type == ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if view_type == ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        if view_type == ViewType.ALL:
            return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
        raise ValueError(f"view_type must be ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL; "
                         f"got {view_type!r}")


class Metric(NamedTuple):
    """One point of a metric's history (a named tuple: a million of them build fast)."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:  # MLflow's older name
        return self.run_id


@dataclass(frozen=True)
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dictionary(self) -> dict[str, Any]:
        return {"info": {k: getattr(self.info, k) for k in self.info.__dataclass_fields__},
                "data": {"metrics": dict(self.data.metrics), "params": dict(self.data.params),
                         "tags": dict(self.data.tags)}}


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None
