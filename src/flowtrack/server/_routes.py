"""The table of JSON endpoints: each handler takes the server context and the
request's ``Fields`` and returns the response object. ``_app`` mounts them under
``/api/2.0/mlflow/``."""

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
    path: str  # below /api/2.0/mlflow/, may hold {path_params}
    handler: Handler


ROUTES: list[Route] = []


def route(*methods: str, path: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``path`` and each of ``methods``."""
    def register(handler: Handler) -> Handler:
        ROUTES.extend(Route(m, path, handler) for m in methods)
        return handler
    return register
