"""Small helpers shared by every layer: clocks and short value previews."""

from __future__ import annotations

import time
from typing import Any

PREVIEW_CHARS = 120


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
