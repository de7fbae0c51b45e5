"""The table of JSON endpoints: each handler takes the server context and the
request's ``Fields`` and returns the response object. ``_app`` mounts them under
``/api/<version>/mlflow/`` and ``/ajax-api/<version>/mlflow/`` for each of the route's
API versions (2.0 unless it says otherwise; MLflow 3's GenAI endpoints are 3.0)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._context import ServerContext
from ._requests import Fields

Handler = Callable[[ServerContext, Fields], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # below /api/<version>/mlflow/, may hold {path_params}
    handler: Handler
    versions: tuple[str, ...] = ("2.0",)


ROUTES: list[Route] = []


def route(*methods: str, path: str, versions: tuple[str, ...] = ("2.0",)
          ) -> Callable[[Handler], Handler]:
    """Register a handler for ``path`` and each of ``methods``, under each API version
    in ``versions``. Routes match in the order registered: register a fixed path
    (``traces/search``) before a templated one beside it (``traces/{trace_id}``)."""
    def register(handler: Handler) -> Handler:
        ROUTES.extend(Route(m, path, handler, versions) for m in methods)
        return handler
    return register
