"""The metadata schema: ML Metadata's model in SQLAlchemy Core tables.

Typed nodes (artifacts, executions, contexts) with typed properties and free-form
custom properties, joined by events (artifact <-> execution), attributions
(artifact in context), associations (execution in context) and parent contexts.
Property values live in one column per kind, as in MLMD; ``struct_value`` holds
JSON. Enum values match MLMD's protobuf numbers so data can be exchanged.

Changing a table here requires a new Alembic revision in ``migrations/versions``.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


class TypeKind(enum.IntEnum):
    EXECUTION = 0
    ARTIFACT = 1
    CONTEXT = 2


class PropertyType(enum.IntEnum):
    UNKNOWN = 0
    INT = 1
    DOUBLE = 2
    STRING = 3
    STRUCT = 4
    PROTO = 5
    BOOLEAN = 6
    BYTES = 7


class ArtifactState(enum.IntEnum):
    UNKNOWN = 0
    PENDING = 1
    LIVE = 2
    MARKED_FOR_DELETION = 3
    DELETED = 4
    ABANDONED = 5
    REFERENCE = 6


class ExecutionState(enum.IntEnum):
    UNKNOWN = 0
    NEW = 1
    RUNNING = 2
    COMPLETE = 3
    FAILED = 4
    CACHED = 5
    CANCELED = 6


class EventType(enum.IntEnum):
    UNKNOWN = 0
    DECLARED_OUTPUT = 1
    DECLARED_INPUT = 2
    INPUT = 3
    OUTPUT = 4
    INTERNAL_INPUT = 5
    INTERNAL_OUTPUT = 6
    PENDING_OUTPUT = 7


types = Table(
    "types", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    # '' for unversioned types (not NULL: NULLs never collide in a unique constraint)
    Column("version", String(255), nullable=False, server_default=""),
    Column("type_kind", Integer, nullable=False),
    Column("description", Text),
    Column("external_id", String(255)),
    UniqueConstraint("type_kind", "name", "version", name="uq_types_kind_name_version"),
)

type_properties = Table(
    "type_properties", metadata,
    Column("type_id", Integer, ForeignKey("types.id"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("data_type", Integer, nullable=False),
    sqlite_with_rowid=False,
)


def _node_table(name: str, state_column: str | None, extra: list[Column]) -> Table:
    columns: list[Any] = [
        Column("id", Integer, primary_key=True),
        Column("type_id", Integer, ForeignKey("types.id"), nullable=False),
        Column("name", String(255)),
        Column("external_id", String(255)),
        # milliseconds since the epoch overflow a 32-bit INTEGER (PostgreSQL)
        Column("create_time_since_epoch", BigInteger, nullable=False),
        Column("last_update_time_since_epoch", BigInteger, nullable=False),
        *extra,
    ]
    if state_column:
        columns.append(Column(state_column, Integer))
    return Table(name, metadata, *columns,
                 UniqueConstraint("type_id", "name", name=f"uq_{name}_type_name"))


artifacts = _node_table("artifacts", "state", [Column("uri", Text)])
Index("ix_artifacts_uri", artifacts.c.uri)
executions = _node_table("executions", "last_known_state", [])
contexts = _node_table("contexts", None, [])


def _property_table(name: str, owner: str) -> Table:
    """A property table, indexed for filter queries on each value kind (as MLMD's).

    Strings are indexed on SQLite only: PostgreSQL's b-tree refuses entries over
    ~2.7 KB, and string properties (a stored traceback) can be longer.
    """
    table = Table(
        name, metadata,
        Column(f"{owner}_id", Integer, ForeignKey(f"{owner}s.id", ondelete="CASCADE"),
               primary_key=True),
        Column("name", String(255), primary_key=True),
        Column("is_custom_property", Boolean, primary_key=True),
        Column("int_value", BigInteger),
        Column("double_value", Float),
        Column("string_value", Text),
        Column("bool_value", Boolean),
        Column("byte_value", LargeBinary),
        Column("struct_value", Text),
        sqlite_with_rowid=False,
    )
    for column in ("int_value", "double_value"):
        Index(f"ix_{name}_{column}", table.c.name, table.c.is_custom_property, table.c[column])
    # PostgreSQL refuses btree entries over ~2.7 kB, and string properties may be longer
    Index(f"ix_{name}_string_value", table.c.name, table.c.is_custom_property,
          table.c.string_value).ddl_if(dialect="sqlite")
    return table


def created_on(item: Any, dialect: str) -> bool:
    """Whether ``create_all`` makes this schema item on ``dialect`` (``ddl_if`` above);
    Alembic's comparison uses it so a dialect-only index is not reported missing."""
    condition = getattr(item, "_ddl_if", None)
    if condition is None or condition.dialect is None:
        return True
    wanted = condition.dialect
    return dialect == wanted if isinstance(wanted, str) else dialect in wanted


artifact_properties = _property_table("artifact_properties", "artifact")
execution_properties = _property_table("execution_properties", "execution")
context_properties = _property_table("context_properties", "context")

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), nullable=False),
    Column("execution_id", Integer, ForeignKey("executions.id"), nullable=False),
    Column("type", Integer, nullable=False),
    Column("milliseconds_since_epoch", BigInteger),
    UniqueConstraint("artifact_id", "execution_id", "type", name="uq_events_link"),
)
Index("ix_events_execution", events.c.execution_id)

event_paths = Table(
    "event_paths", metadata,
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("is_index_step", Boolean, nullable=False),
    Column("step_index", Integer),
    Column("step_key", Text),
    Index("ix_event_paths_event", "event_id"),
)

attributions = Table(
    "attributions", metadata,
    Column("context_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), primary_key=True),
    Index("ix_attributions_artifact", "artifact_id"),
    sqlite_with_rowid=False,
)

associations = Table(
    "associations", metadata,
    Column("context_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("execution_id", Integer, ForeignKey("executions.id"), primary_key=True),
    Index("ix_associations_execution", "execution_id"),
    sqlite_with_rowid=False,
)

parent_contexts = Table(
    "parent_contexts", metadata,
    Column("context_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("parent_context_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Index("ix_parent_contexts_parent", "parent_context_id"),
    sqlite_with_rowid=False,
)

# -- tracking: metric time series (ARCHITECTURE.md: "its own table, not artifacts") ---------
# Experiments and runs are the Experiment and Run contexts above; params and tags are
# their custom properties. A run's tracking id is its context's external_id, unique
# among contexts as in MLMD.
Index("uq_contexts_external_id", contexts.c.external_id, unique=True)

# A metric's history is stored in chunks, one row per (run, key) per buffered write:
# the points' steps, timestamps and values as packed little-endian arrays (int64,
# int64, float64), sorted by (step, timestamp). A point per row cannot be read fast
# enough: a million rows take over a second just to fetch, a million-point history
# stored in chunks takes milliseconds (see tracking/store/metric_chunks.py).
metrics = Table(
    "metrics", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("contexts.id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("count", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
    Column("metric_values", LargeBinary, nullable=False),
    Column("execution_id", Integer, ForeignKey("executions.id")),  # the task that logged it
    Index("ix_metrics_run_key", "run_id", "key", "min_step"),
)

# the latest point of each (run, key), by (step, timestamp): what run tables show,
# filter and sort on, kept current by every write to ``metrics``
latest_metrics = Table(
    "latest_metrics", metadata,
    Column("run_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    sqlite_with_rowid=False,
)

PROPERTY_TABLES = {"artifact": artifact_properties, "execution": execution_properties,
                   "context": context_properties}
NODE_TABLES = {"artifact": artifacts, "execution": executions, "context": contexts}
