"""Reading runs from a notebook or script: Metaflow's client API over the lineage graph."""

from ._backend import describe_metadata as get_metadata
from ._code import CODE_PROPERTY, CodePackageError, MetaflowCode, unpack_tar
from ._data import MetaflowData, TaskException
from ._lineage import subgraph as lineage_graph
from ._objects import (
    DataArtifact,
    Flow,
    Metadata,
    Metaflow,
    Run,
    Step,
    Task,
    default_namespace,
    get_namespace,
    namespace,
)
from ._tags import TaggingError

__all__ = [
    "CODE_PROPERTY",
    "CodePackageError",
    "DataArtifact",
    "Flow",
    "Metadata",
    "Metaflow",
    "MetaflowCode",
    "MetaflowData",
    "Run",
    "Step",
    "TaggingError",
    "Task",
    "TaskException",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "lineage_graph",
    "namespace",
    "unpack_tar",
]
