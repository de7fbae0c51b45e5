"""Metaflow's test-only unbounded-foreach input and decorator
(``metaflow.plugins.test_unbounded_foreach_decorator``), in our own implementation on
flowtrack's API.

In Metaflow the decorator stands in for a compute plugin that runs an unbounded
foreach's mapper tasks itself. flowtrack's runtime runs the control task and the
mappers (``flowtrack/flow/_unbounded.py``), so the decorator here only checks that
each task it decorates has the role of a task of an unbounded foreach.
"""

from __future__ import annotations

from typing import Any

from flowtrack import StepDecorator
from flowtrack.unbounded_foreach import UBF_CONTROL, UBF_TASK, UnboundedForeachInput


class InternalTestUnboundedForeachInput(UnboundedForeachInput):
    """Any sequence, offered as an unbounded foreach input."""

    NAME = "InternalTestUnboundedForeachInput"

    def __init__(self, iterable: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        return iter(self.iterable)

    def __getitem__(self, key: Any) -> Any:
        return self if key is None else self.iterable[key]

    def __len__(self) -> int:
        return len(self.iterable)

    def __str__(self) -> str:
        return str(self.iterable)

    def __repr__(self) -> str:
        return f"{self.NAME}({self.iterable})"


class InternalTestUnboundedForeachDecorator(StepDecorator):
    name = "unbounded_test_foreach_internal"

    def task_pre_step(self, step_name: str, task_datastore: Any, metadata: Any, run_id: str,
                      task_id: str, flow: Any, graph: Any, retry_count: int,
                      max_user_code_retries: int, ubf_context: Any, inputs: Any) -> None:
        if ubf_context not in (UBF_CONTROL, UBF_TASK):
            raise RuntimeError(f"@{self.name} on step {step_name}: the task is not part of an "
                               f"unbounded foreach (ubf_context={ubf_context!r}).")
