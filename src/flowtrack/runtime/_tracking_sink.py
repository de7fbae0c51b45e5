"""Where tracking calls made inside a step go: ``TaskTrackingSink`` collects metric
points, params, tags and logged files into the task's manifest (``TaskTracking``);
file bytes go straight to the blob store. The scheduler then records them on the
flow run, each tagged with the task that logged it (``RunRecorder``)."""

from __future__ import annotations

from typing import Any

from ..store import BlobStore
from ._model import TaskTracking


class TaskTrackingSink:
    """The fluent API's write buffer while a task runs (same ``add_*`` methods)."""

    def __init__(self, run_id: str, store: BlobStore) -> None:
        self.run_id = run_id  # the flow run's tracking run id
        self.store = store
        self.logged = TaskTracking()

    def add_point(self, _run_pk: int, key: str, value: float, timestamp: int, step: int,
                  _execution_id: int | None = None) -> None:
        self.logged.points.append((key, value, timestamp, step))

    def add_param(self, _run_pk: int, key: str, value: str) -> None:
        self.logged.params[key] = value

    def add_tag(self, _run_pk: int, key: str, value: str) -> None:
        self.logged.tags[key] = value

    def add_file(self, path: str, data: bytes) -> None:
        digest = self.store.put_bytes(data)
        self.logged.files = [f for f in self.logged.files if f[0] != path]
        self.logged.files.append((path, digest, len(data)))

    def add_model(self, path: str, flavor: str) -> None:
        self.logged.models.append((path, flavor))

    def add_input(self, dataset: Any, context: str | None) -> None:
        self.logged.inputs.append((dataset, context))

    def flush(self) -> None:
        """Nothing to write: the manifest carries everything back."""
