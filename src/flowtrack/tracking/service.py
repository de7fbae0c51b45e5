"""What a tracking service built on this package needs beyond the fluent API and the
client: the store itself, the registry, MLflow 3's logged models, run and model
files, and the checks every way in applies (the tracking server serves MLflow's REST
API with these)."""

from __future__ import annotations

from ._datasets import log_input as log_dataset
from ._files import clean_path, delete_files, file_digests, list_files, log_bytes, read_file
from ._history import decode_columns, encode_columns
from ._logged_models import STATUSES as LOGGED_MODEL_STATUSES
from ._logged_models import LoggedModel, LoggedModels, is_model_id
from ._memory_search import filter_experiments
from ._models import record_model
from ._registry import ModelVersion, RegisteredModel, Registry
from ._rest_store import HISTORY_COLUMNS_PATH, proto_double
from ._search import offset_of, token_for
from ._store import DEFAULT_EXPERIMENT_ID, TrackingStore, open_store
from ._validation import check_batch_sizes, check_int

__all__ = [
    "HISTORY_COLUMNS_PATH",
    "DEFAULT_EXPERIMENT_ID",
    "LOGGED_MODEL_STATUSES",
    "LoggedModel",
    "LoggedModels",
    "ModelVersion",
    "RegisteredModel",
    "Registry",
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
    "record_model",
    "token_for",
]
