"""``flowtrack server``: the tracking server (MLflow's REST API and the web UI over a
store); ``flowtrack ui``: the same on this project's store, for one person.

An empty ``--auth-token`` (or ``FLOWTRACK_SERVER_TOKEN``) is refused rather than read
as "no authentication": turning authentication off takes leaving both unset.
"""

from __future__ import annotations

import os

import click

from .._config import settings
from .._errors import ConfigurationError


def _auth_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The bearer token, refusing an empty one: from the option, or from the variable
    (which click skips when it is empty, so it is read here too)."""
    from_option = ctx.get_parameter_source("auth_token") is click.core.ParameterSource.COMMANDLINE
    token = value if from_option else os.environ.get("FLOWTRACK_SERVER_TOKEN", value)
    if token is not None and not token.strip():
        where = "--auth-token" if from_option else "FLOWTRACK_SERVER_TOKEN"
        raise click.BadParameter(
            "the token is empty or blank, which would leave the server without "
            "authentication. Pass a non-empty token, or leave both --auth-token and "
            "FLOWTRACK_SERVER_TOKEN unset to run without authentication.",
            param_hint=f"'{where}'")
    return token


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; loopback only unless you choose otherwise.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--backend-store-uri", default=None,
              help="Metadata database URL (sqlite:///..., postgresql://...) or a store "
                   "directory. Default: this project's store (FLOWTRACK_METADATA).")
@click.option("--artifacts-destination", default=None,
              help="Blob store for run and model files (a directory or fsspec URL). "
                   "Default: the store's own (FLOWTRACK_STORE).")
@click.option("--serve-artifacts/--no-serve-artifacts", default=True, show_default=True,
              help="Proxy run and model files through this server (mlflow-artifacts:). Off: "
                   "clients read and write the --default-artifact-root themselves.")
@click.option("--artifacts-only", is_flag=True,
              help="Serve only the artifact proxy, not the tracking API.")
@click.option("--default-artifact-root", default=None,
              help="The artifact root runs hand to clients. Default: mlflow-artifacts: with "
                   "--serve-artifacts, else ./mlruns.")
@click.option("--auth-token", default=None, envvar="FLOWTRACK_SERVER_TOKEN",
              callback=_auth_token,
              help="Require this bearer token (what mlflow sends for MLFLOW_TRACKING_TOKEN). "
                   "Prefer the FLOWTRACK_SERVER_TOKEN variable: options show in ps.")
@click.option("--basic-auth-file", default=None, type=click.Path(dir_okay=False),
              help="Require HTTP basic auth for the user:password lines of this file.")
@click.option("--max-request-mb", default=16, show_default=True, type=click.IntRange(1),
              help="Largest JSON request body accepted.")
@click.option("--max-artifact-mb", default=2048, show_default=True, type=click.IntRange(1),
              help="Largest single artifact upload accepted.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def server_command(host: str, port: int, backend_store_uri: str | None,
                   artifacts_destination: str | None, serve_artifacts: bool,
                   artifacts_only: bool, default_artifact_root: str | None,
                   auth_token: str | None, basic_auth_file: str | None, max_request_mb: int,
                   max_artifact_mb: int, log_level: str) -> None:
    """Serve MLflow's REST API over a flowtrack store, for the official mlflow client
    and flowtrack's http:// tracking URI."""
    try:
        from ..server import Auth, Limits, Modes, serve
    except ImportError as exc:
        raise ConfigurationError(f"The tracking server needs the server extra ({exc.name} is "
                                 "missing): pip install 'flowtrack[server]'.") from None
    cfg = settings()
    uri = backend_store_uri or cfg.metadata_url
    destination = artifacts_destination or (None if backend_store_uri and
                                            "://" not in backend_store_uri else cfg.store_url)
    if artifacts_only and not serve_artifacts:
        raise click.UsageError("--artifacts-only serves only the artifact proxy, which "
                               "--no-serve-artifacts turns off; drop one of the two.")
    auth = Auth.build(auth_token, basic_auth_file)
    click.echo(f"flowtrack server on http://{host}:{port} (metadata: {uri}; "
               f"authentication: {'on' if auth.enabled else 'off'})", err=True)
    serve(uri, destination, host, port, auth,
          Limits(max_request_mb * 1024 * 1024, max_artifact_mb * 1024 * 1024), log_level,
          Modes(serve_artifacts, artifacts_only, default_artifact_root))


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; loopback only unless you choose otherwise.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def ui_command(host: str, port: int, log_level: str) -> None:
    """Open the web UI of this project's store (FLOWTRACK_HOME / FLOWTRACK_METADATA)."""
    try:
        from ..server import serve
    except ImportError as exc:
        raise ConfigurationError(f"The UI needs the server extra ({exc.name} is missing): "
                                 "pip install 'flowtrack[server]'.") from None
    cfg = settings()
    click.echo(f"flowtrack UI on http://{host}:{port} (metadata: {cfg.metadata_url})", err=True)
    serve(cfg.metadata_url, cfg.store_url, host, port, None, None, log_level)
