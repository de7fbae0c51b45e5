"""The lineage graph: ML Metadata's model (types, artifacts, executions, contexts,
events) stored through SQLAlchemy Core. Knows nothing of blobs or flows."""

from ._db import SCHEMA_REVISION, Database, upgrade
from ._records import ExecutionUpdate, LineageSession, NewArtifact, NewExecution, Node
from ._schema import (
    ArtifactState,
    EventType,
    ExecutionState,
    PropertyType,
    TypeKind,
)

__all__ = [
    "SCHEMA_REVISION",
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
