"""What every request handler works on: one tracking store (metadata database plus
blob store) with its registry and logged models, and the server's limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..tracking.service import LoggedModels, Registry, Traces, TrackingStore, open_store
from ._history_pages import HistoryPages

# runs and models hand clients this artifact root; their uploads and downloads then
# go through this server's /api/2.0/mlflow-artifacts/ endpoints
ARTIFACT_ROOT = "mlflow-artifacts:"


@dataclass(frozen=True)
class Limits:
    """Request size limits (bytes): JSON API bodies, and one artifact upload."""

    max_json_bytes: int = 16 * 1024 * 1024
    max_artifact_bytes: int = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Modes:
    """What the server serves, as ``mlflow server``'s options choose: the artifact
    proxy (``--serve-artifacts``, on by default), the tracking API (off with
    ``--artifacts-only``), and the artifact root runs tell clients to write to
    (``--default-artifact-root``; the proxy's ``mlflow-artifacts:`` by default, else
    ``./mlruns``)."""

    serve_artifacts: bool = True
    artifacts_only: bool = False
    default_artifact_root: str | None = None

    def artifact_root(self) -> str:
        if self.default_artifact_root:
            return self.default_artifact_root.rstrip("/")
        return ARTIFACT_ROOT if self.serve_artifacts else os.path.abspath("mlruns")


@dataclass
class ServerContext:
    store: TrackingStore
    limits: Limits = field(default_factory=Limits)
    history_pages: HistoryPages = field(default_factory=HistoryPages)
    modes: Modes = field(default_factory=Modes)

    @property
    def registry(self) -> Registry:
        return Registry(self.store)

    @property
    def logged_models(self) -> LoggedModels:
        return LoggedModels(self.store)

    @property
    def traces(self) -> Traces:
        return Traces(self.store)

    @classmethod
    def open(cls, backend_store_uri: str, artifacts_destination: str | None = None,
             limits: Limits | None = None, modes: Modes | None = None) -> ServerContext:
        """The context for a metadata database URL or a store directory, with blobs in
        ``artifacts_destination`` (default: the store's own blob store)."""
        modes = modes or Modes()
        store = open_store(backend_store_uri, modes.artifact_root(), artifacts_destination)
        store.ensure_default_experiment()  # as an MLflow server's store has from the start
        return cls(store, limits or Limits(), modes=modes)
