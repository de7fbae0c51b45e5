"""Small helpers shared by every layer: clocks, value previews, the hook through
which the client tells a running task which artifacts it read, and the one through
which tracking calls made in a step reach that task's manifest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

PREVIEW_CHARS = 120


# Called with the lineage id of every artifact value the client loads. While a task
# runs, the task entry point listens here, so a value read from another run through
# the client becomes an INPUT of the task (lineage across flows, no user code).
artifact_read_observers: list[Callable[[int], None]] = []


def notify_artifact_read(artifact_id: int) -> None:
    for observer in artifact_read_observers:
        observer(artifact_id)


# While a task runs, the task entry point installs a sink here, and tracking calls
# made in the step (flowtrack.log_metric...) go to it: task processes never open the
# metadata database, so what they log travels back in the task's manifest.
_task_tracking_sink: Any = None


def set_task_tracking_sink(sink: Any) -> None:
    global _task_tracking_sink
    _task_tracking_sink = sink


def task_tracking_sink() -> Any:
    return _task_tracking_sink


def now_ms() -> int:
    """Milliseconds since the epoch, the unit ML Metadata uses for times."""
    return time.time_ns() // 1_000_000


def short_repr(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """A one-line ``repr`` of at most ``limit`` characters, never raising."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not fail a task
        text = f"<unrepresentable {type(value).__name__}: {exc}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
