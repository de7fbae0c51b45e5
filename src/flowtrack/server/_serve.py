"""Running the server: open the store, build the app and hand it to uvicorn."""

from __future__ import annotations

import logging

from .._errors import ConfigurationError
from ._app import create_app
from ._auth import Auth
from ._context import Limits, Modes, ServerContext

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(backend_store_uri: str, artifacts_destination: str | None = None,
          host: str = "127.0.0.1", port: int = 5000, auth: Auth | None = None,
          limits: Limits | None = None, log_level: str = "info",
          modes: Modes | None = None) -> None:
    """Serve the store until interrupted (Ctrl-C or SIGTERM end it cleanly)."""
    import uvicorn

    ctx = ServerContext.open(backend_store_uri, artifacts_destination, limits, modes)
    app = create_app(ctx, auth)
    if host not in LOOPBACK and (auth is None or not auth.enabled):
        logging.getLogger("flowtrack.server").warning(
            "serving on %s without authentication: anyone who can reach this address can "
            "read and change the store (pass --auth-token or --basic-auth-file)", host)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    timeout_graceful_shutdown=10)
    except OSError as exc:
        raise ConfigurationError(f"Cannot serve on {host}:{port}: {exc.strerror or exc}. "
                                 "Choose another --port or --host.") from None
