"""The lineage graph: ML Metadata's model (types, artifacts, executions, contexts,
events) stored through SQLAlchemy Core, and ``MetadataStore``, ML Metadata's API
over it. Knows nothing of blobs or flows."""

from ._api import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    ListOptions,
    ParentContext,
)
from ._db import SCHEMA_REVISION, Database, alembic_config, upgrade
from ._metadata_store import MetadataStore
from ._records import ExecutionUpdate, LineageSession, NewArtifact, NewExecution, Node
from ._schema import (
    ArtifactState,
    EventType,
    ExecutionState,
    PropertyType,
    TypeKind,
    artifacts,
    contexts,
    events,
    executions,
)
from ._types import (
    DATASET_TYPE,
    EXPERIMENT_TYPE,
    RUN_TYPE,
    SUCCESS_STATES,
    TASK_TYPE,
    VALUE_TYPE,
)

__all__ = [
    "Artifact",
    "ArtifactType",
    "Association",
    "Attribution",
    "Context",
    "ContextType",
    "Event",
    "Execution",
    "ExecutionType",
    "ListOptions",
    "MetadataStore",
    "ParentContext",
    "DATASET_TYPE",
    "EXPERIMENT_TYPE",
    "RUN_TYPE",
    "SCHEMA_REVISION",
    "SUCCESS_STATES",
    "TASK_TYPE",
    "VALUE_TYPE",
    "alembic_config",
    "artifacts",
    "contexts",
    "events",
    "executions",
    "ArtifactState",
    "Database",
    "EventType",
    "ExecutionUpdate",
    "ExecutionState",
    "LineageSession",
    "NewArtifact",
    "NewExecution",
    "Node",
    "PropertyType",
    "TypeKind",
    "upgrade",
]
