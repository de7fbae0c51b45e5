"""The tracking server: MLflow's REST API (tracking, artifacts proxy, model registry
and MLflow 3's logged models) over a flowtrack store, so the official ``mlflow``
client, its autologgers and flowtrack's own ``http://`` tracking URI can share one
store. ``flowtrack server`` runs it with uvicorn (the ``[server]`` extra)."""

from __future__ import annotations

from ._app import create_app
from ._auth import Auth
from ._context import Limits, Modes, ServerContext
from ._serve import serve

__all__ = ["Auth", "Limits", "Modes", "ServerContext", "create_app", "serve"]
