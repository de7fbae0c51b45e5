"""``flowtrack.unbounded_foreach``: the names of Metaflow's ``metaflow.unbounded_foreach``
(the input class of an unbounded foreach and the task roles), for ported code. See
``flowtrack/flow/_unbounded.py``."""

from .flow._unbounded import (
    CONTROL_TASK_TAG,
    UBF_CONTROL,
    UBF_TASK,
    UnboundedForeachInput,
)

__all__ = ["CONTROL_TASK_TAG", "UBF_CONTROL", "UBF_TASK", "UnboundedForeachInput"]
