"""``current``: what the running task knows about itself (Metaflow's singleton).

The task entry point fills it in; outside a running flow every field is ``None``
and ``current.is_running_flow`` is ``False``.
"""

from __future__ import annotations

from typing import Any

_FIELDS = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
           "namespace", "username", "tags", "parameter_names")


class Current:
    """Read-only view of the running task's identity."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def _set(self, **values: Any) -> None:
        unknown = set(values) - set(_FIELDS)
        if unknown:
            raise TypeError(f"unknown current fields: {sorted(unknown)}")
        self._values = dict(values)

    def _clear(self) -> None:
        self._values = {}

    @property
    def is_running_flow(self) -> bool:
        return bool(self._values)

    @property
    def pathspec(self) -> str | None:
        v = self._values
        if not v:
            return None
        return f"{v['flow_name']}/{v['run_id']}/{v['step_name']}/{v['task_id']}"

    def __getattr__(self, name: str) -> Any:
        if name in _FIELDS:
            return self._values.get(name)
        raise AttributeError(f"current has no attribute {name!r}; available: "
                             f"{', '.join(_FIELDS + ('pathspec', 'is_running_flow'))}")

    def __repr__(self) -> str:
        if not self._values:
            return "current(not running a flow)"
        return f"current({self.pathspec}, retry_count={self.retry_count})"


current = Current()
