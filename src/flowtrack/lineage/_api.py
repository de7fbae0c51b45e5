"""ML Metadata's data model as plain Python objects (no protobuf).

``ArtifactType``/``ExecutionType``/``ContextType`` describe typed properties;
``Artifact``/``Execution``/``Context`` are the nodes; ``Event``, ``Attribution``,
``Association`` and ``ParentContext`` the edges; ``ListOptions`` pages and filters
reads. Field names and nested enums follow MLMD (``Artifact.State.LIVE``,
``Execution.State.COMPLETE``, ``Event.Type.INPUT``), so MLMD code reads the same.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._schema import ArtifactState, EventType, ExecutionState, PropertyType


@dataclass
class _NodeType:
    name: str
    properties: dict[str, PropertyType] = field(default_factory=dict)
    id: int | None = None
    version: str | None = None
    description: str | None = None
    external_id: str | None = None


@dataclass
class ArtifactType(_NodeType):
    """The type of artifacts: a name and typed properties."""


@dataclass
class ExecutionType(_NodeType):
    """The type of executions: a name and typed properties."""


@dataclass
class ContextType(_NodeType):
    """The type of contexts: a name and typed properties."""


@dataclass
class _Node:
    type_id: int | None = None
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    type: str | None = None  # the type's name, filled in on reads
    external_id: str | None = None
    create_time_since_epoch: int | None = None
    last_update_time_since_epoch: int | None = None


@dataclass
class Artifact(_Node):
    """A piece of data: a file, a model, a stored value."""

    State: ClassVar[type[enum.IntEnum]] = ArtifactState
    uri: str | None = None
    state: int = ArtifactState.UNKNOWN


@dataclass
class Execution(_Node):
    """A run of a component: a task, a training job."""

    State: ClassVar[type[enum.IntEnum]] = ExecutionState
    last_known_state: int = ExecutionState.UNKNOWN


@dataclass
class Context(_Node):
    """A group of nodes: an experiment, a run, a pipeline."""


@dataclass
class Event:
    """An edge between an artifact and an execution (read or written by it).

    ``path`` names the artifact's place in the execution's inputs or outputs: a list
    of keys (str) and indexes (int), MLMD's ``Event.Path`` steps.
    """

    Type: ClassVar[type[enum.IntEnum]] = EventType
    artifact_id: int | None = None
    execution_id: int | None = None
    type: int = EventType.UNKNOWN
    path: list[str | int] = field(default_factory=list)
    milliseconds_since_epoch: int | None = None


@dataclass
class Attribution:
    """An artifact belongs to a context."""

    context_id: int
    artifact_id: int


@dataclass
class Association:
    """An execution belongs to a context."""

    context_id: int
    execution_id: int


@dataclass
class ParentContext:
    """A context is a child of another (a run of an experiment)."""

    child_id: int
    parent_id: int


@dataclass
class ListOptions:
    """Paging, order and filter of ``get_artifacts`` / ``get_executions`` / ``get_contexts``.

    ``order_by`` is ``"id"``, ``"create_time"`` or ``"last_update_time"``;
    ``filter_query`` uses MLMD's filter grammar.
    """

    limit: int | None = None
    order_by: str = "id"
    is_asc: bool = True
    filter_query: str | None = None
    offset: int = 0


class LineageSubgraphQueryOptions:
    """What ``get_lineage_subgraph`` starts from and how far it walks.

    Each starting set is an MLMD ``filter_query`` string or a list of ids. The
    direction is a ``Direction`` member, MLMD's number for it (1, 2, 3) or its name
    in any case (``"UPSTREAM"``); ``get_lineage_subgraph`` refuses anything else.
    """

    class Direction(enum.IntEnum):  # the numbers of MLMD's proto enum
        UPSTREAM = 1
        DOWNSTREAM = 2
        BIDIRECTIONAL = 3

    def __init__(self, starting_artifacts: str | Sequence[int] | None = None,
                 starting_executions: str | Sequence[int] | None = None,
                 max_num_hops: int = 20,
                 direction: Direction | int | str = Direction.BIDIRECTIONAL) -> None:
        self.starting_artifacts = starting_artifacts
        self.starting_executions = starting_executions
        self.max_num_hops = max_num_hops
        self.direction = direction


@dataclass
class LineageGraph:
    """The nodes and edges ``get_lineage_subgraph`` found."""

    artifacts: list[Artifact] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


__all__ = ["Artifact", "ArtifactType", "Association", "Attribution", "Context", "ContextType",
           "Event", "Execution", "ExecutionType", "LineageGraph", "LineageSubgraphQueryOptions",
           "ListOptions", "ParentContext", "PropertyType"]
