"""What a tracking service built on this package needs beyond the fluent API and the
client: the store itself, the registry, MLflow 3's logged models, run and model
files, and the checks every way in applies (the tracking server serves MLflow's REST
API with these)."""

from __future__ import annotations

from .artifacts.datasets import log_input as log_dataset
from .artifacts.files import (
    PROXY_ROOT,
    clean_path,
    delete_files,
    file_digests,
    list_files,
    log_bytes,
    read_file,
)
from .entities.clause_filter import PROMPT_TAG
from .entities.memory_search import filter_experiments
from .entities.validation import check_batch_sizes, check_int
from .flavors.saved_model import record_model
from .genai.eval_datasets import EvaluationDatasets
from .genai.issues import Issues
from .genai.scorers import Scorers
from .models.logged import STATUSES as LOGGED_MODEL_STATUSES
from .models.logged import LoggedModel, LoggedModels, ModelMetric, is_model_id
from .registry.model_registry import ModelVersion, RegisteredModel, Registry
from .remote.rest_store import HISTORY_COLUMNS_PATH, proto_double
from .store.metric_chunks import decode_columns, encode_columns
from .store.search import offset_of, token_for
from .store.tracking_store import DEFAULT_EXPERIMENT_ID, TrackingStore, open_store
from .traces.spans import SpanRow, span_rows, trace_spans
from .traces.trace_store import MAX_SEARCH_RESULTS as MAX_TRACE_RESULTS
from .traces.trace_store import TraceInfo, Traces, proto_duration, rfc3339

__all__ = [
    "HISTORY_COLUMNS_PATH",
    "Issues",
    "DEFAULT_EXPERIMENT_ID",
    "EvaluationDatasets",
    "LOGGED_MODEL_STATUSES",
    "LoggedModel",
    "LoggedModels",
    "MAX_TRACE_RESULTS",
    "ModelMetric",
    "PROXY_ROOT",
    "PROMPT_TAG",
    "ModelVersion",
    "RegisteredModel",
    "Scorers",
    "SpanRow",
    "Registry",
    "TraceInfo",
    "Traces",
    "TrackingStore",
    "check_batch_sizes",
    "check_int",
    "clean_path",
    "decode_columns",
    "delete_files",
    "encode_columns",
    "file_digests",
    "filter_experiments",
    "is_model_id",
    "list_files",
    "log_bytes",
    "log_dataset",
    "offset_of",
    "open_store",
    "proto_double",
    "read_file",
    "proto_duration",
    "record_model",
    "rfc3339",
    "span_rows",
    "trace_spans",
    "token_for",
]
