"""Unbounded foreach: Metaflow's ``UnboundedForeachInput`` contract.

A foreach over an ``UnboundedForeachInput`` is not counted by the step that splits:
flowtrack first runs one *control task* of the foreach step, which goes through the
input (iterating it: the input may be lazy, or only known to its own code) and tells
the scheduler how many items there are; then one *mapper task* per item runs the
step's body, and the join gets the mappers, as after any foreach. In each mapper,
``self.input`` is its item and ``foreach_stack()`` shows ``None`` as the number of
splits, as in Metaflow. The control task does not run the step's body; it is listed
with the step's tasks and by ``Step.control_tasks()``.

Decorator hooks get the task's role as ``ubf_context``: ``UBF_CONTROL`` in the
control task, ``UBF_TASK`` in a mapper, None elsewhere.
"""

from __future__ import annotations

from typing import Any

CONTROL_TASK_TAG = "control_task"
UBF_CONTROL = "ubf_control"
UBF_TASK = "ubf_task"


class UnboundedForeachInput:
    """Base class of foreach inputs that the splitting step does not count; subclass
    it and make the subclass iterable (its items are the mappers' inputs) and
    indexable by position (``value[i]``, what a mapper's ``self.input`` is)."""


def is_unbounded(value: Any) -> bool:
    return isinstance(value, UnboundedForeachInput)
