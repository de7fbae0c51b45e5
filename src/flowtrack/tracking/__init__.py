"""Experiment tracking with MLflow's API over the lineage graph.

The fluent functions (``start_run``, ``log_metric``...) are also ``flowtrack.*``;
``TrackingClient`` is MLflow's ``MlflowClient``; the returned objects are shaped like
MLflow's entities. Search strings follow MLflow's grammar plus OR, NOT and parentheses.
"""

from __future__ import annotations

from .._lazy_names import TRACKING_NAMES as _TRACKING_NAMES
from .artifacts.datasets import from_pandas
from .client.tracking_client import PagedList, TrackingClient
from .entities.filter_grammar import SearchSyntaxError
from .entities.records import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from .entities.signature import ColSpec, ModelSignature, Schema, infer_signature
from .errors import (
    InvalidParameterError,
    InvalidStateError,
    MlflowException,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
    TrackingError,
)
from .flavors.saved_model import ModelInfo
from .fluent.api import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush_async_logging,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    register_model,
    search_experiments,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from .registry.model_registry import ModelVersion, RegisteredModel

# the fluent names flowtrack's top-level package re-exports (listed in _lazy_names)
FLUENT_NAMES = _TRACKING_NAMES

__all__ = [
    "FLUENT_NAMES",
    "ActiveRun",
    "ColSpec",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InvalidParameterError",
    "InvalidStateError",
    "LifecycleStage",
    "Metric",
    "MlflowException",
    "ModelInfo",
    "ModelSignature",
    "ModelVersion",
    "PagedList",
    "Param",
    "RegisteredModel",
    "ResourceAlreadyExistsError",
    "ResourceDoesNotExistError",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "Schema",
    "SearchSyntaxError",
    "TrackingClient",
    "TrackingError",
    "ViewType",
    "active_run",
    "create_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "from_pandas",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "infer_signature",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
