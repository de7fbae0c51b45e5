"""Small helpers shared by every layer: clocks, value previews, and the hook through
which the client tells a running task which artifacts it read."""

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
