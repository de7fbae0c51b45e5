"""Reading runs from a notebook or script: Metaflow's client API over the lineage graph."""

from ._backend import describe_metadata as get_metadata
from ._code import CODE_PROPERTY, CodePackageError, MetaflowCode, unpack_tar
from ._lineage import subgraph as lineage_graph
from ._objects import (
    DataArtifact,
    Flow,
    Metaflow,
    MetaflowData,
    Run,
    Step,
    Task,
    TaskException,
    default_namespace,
    get_namespace,
    namespace,
)

__all__ = [
    "CODE_PROPERTY",
    "CodePackageError",
    "DataArtifact",
    "Flow",
    "Metaflow",
    "MetaflowCode",
    "MetaflowData",
    "Run",
    "Step",
    "Task",
    "TaskException",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "lineage_graph",
    "namespace",
    "unpack_tar",
]
