"""What a task holds besides its identity: ``task.data`` (its artifacts as attributes)
and ``task.exception`` (the error that failed it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._backend import backend

if TYPE_CHECKING:
    from ._objects import Task


class TaskException:
    """A task's failure: ``type``, ``message`` and the remote ``traceback``."""

    def __init__(self, type: str, message: str, traceback: str) -> None:
        self.type, self.message, self.traceback = type, message, traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def __repr__(self) -> str:
        return f"TaskException({self.type!r}, {self.message!r})"


class MetaflowData:
    """``task.data``: artifacts as attributes (``task.data.x``)."""

    def __init__(self, task: Task) -> None:
        object.__setattr__(self, "_task", task)
        object.__setattr__(self, "_nodes", task._artifact_nodes())

    def __getattr__(self, name: str) -> Any:
        node = self._nodes.get(name)
        if node is None:
            raise AttributeError(f"Task '{self._task.pathspec}' has no artifact '{name}'; it has "
                                 f"{', '.join(sorted(self._nodes)) or 'none'}.")
        return backend().load_value(node)

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __dir__(self) -> list[str]:
        return sorted(self._nodes)

    def __repr__(self) -> str:
        return f"<data of {self._task.pathspec}: {', '.join(sorted(self._nodes))}>"
