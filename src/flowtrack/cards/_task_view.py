"""``TaskView``: the finished task as a card's ``render(task)`` sees it.

A card renders inside the task process, before the scheduler has recorded the task,
so the client's ``Task`` cannot load it yet. ``TaskView`` answers the questions card
code asks of a ``Task`` from the flow object in memory: ``pathspec``, ``id``,
``data.<name>``, ``task['<name>'].data``, iteration over artifacts, ``finished``,
``successful``, ``path_components``; ``parent`` (the step) and the run come from the
client, where the run already exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any


class ArtifactView:
    """One artifact of the task (``task['name']``): ``data`` is its value."""

    def __init__(self, task: TaskView, name: str) -> None:
        self._task, self.id = task, name

    @property
    def data(self) -> Any:
        return getattr(self._task._flow, self.id)

    @property
    def pathspec(self) -> str:
        return f"{self._task.pathspec}/{self.id}"

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"


class DataView:
    """``task.data``: attribute access to the task's artifacts."""

    def __init__(self, task: TaskView) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._task._names:
            raise AttributeError(f"Task {self._task.pathspec} has no artifact '{name}'")
        return getattr(self._task._flow, name)

    def __contains__(self, name: str) -> bool:
        return name in self._task._names


class TaskView:
    """A read-only view of a task that has just finished its step."""

    def __init__(self, flow: Any, pathspec: str, artifact_names: list[str], attempt: int,
                 started: datetime | None) -> None:
        self._flow, self.pathspec = flow, pathspec
        self._names = sorted(set(artifact_names))
        self.current_attempt = attempt
        self.created_at = started
        self.finished_at = datetime.now(timezone.utc)
        self.finished = True
        self.successful = True
        self.data = DataView(self)

    @property
    def id(self) -> str:
        return self.pathspec.rsplit("/", 1)[-1]

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def index(self) -> int | None:
        return getattr(self._flow, "index", None)

    @property
    def parent(self) -> Any:
        from ..client import Step

        return Step("/".join(self.path_components[:3]), _namespace_check=False)

    def __getitem__(self, name: str) -> ArtifactView:
        if name not in self._names:
            raise KeyError(f"Task {self.pathspec} has no artifact '{name}'")
        return ArtifactView(self, name)

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[ArtifactView]:
        return (ArtifactView(self, n) for n in self._names)

    def artifact_names(self) -> list[str]:
        return list(self._names)

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"
