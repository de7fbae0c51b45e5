"""The FastAPI application: MLflow's REST API under ``/api/2.0/mlflow/``, its artifact
proxy under ``/api/2.0/mlflow-artifacts/``, ``/health`` and ``/version``, behind
optional authentication and request size limits.

Every failure a client can cause answers MLflow's JSON error shape
(``{"error_code": ..., "message": ...}``) with a 4xx status; MLflow's client retries
500s and 503s for minutes, so those are kept for real server faults (and 503 for a
database busy past its timeout, where a retry is the right answer). No answer holds
a traceback or a path on the server: the log has those.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import urllib.parse
from collections.abc import Awaitable, Callable
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import FlowtrackError, StoreError
from ..lineage.errors import InvalidArgumentError, NotFoundError
from ..tracking.errors import InvalidParameterError, TrackingError
from ..tracking.service import HISTORY_COLUMNS_PATH
from . import (  # noqa: F401 - they register routes
    _artifacts_api,
    _genai_api,
    _graphql,
    _otlp,
    _registry_api,
    _traces_api,
    _tracking_api,
)
from ._auth import Auth
from ._context import ServerContext
from ._requests import Fields, parse_json_object
from ._routes import ROUTES, Handler

log = logging.getLogger("flowtrack.server")

API_ROOTS = ("api", "ajax-api")  # the client's, and the web UI's
# the mlflow release whose client the tests drive against this server; /version reports
# it, as a client enables features (span logging over OTLP: >= 3.4) by it
MLFLOW_API_VERSION = "3.17.2"
UI_UPLOAD_LIMIT = 10 * 1024 * 1024  # the web UI's uploads, as MLflow's server caps them
ARTIFACTS_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
_ERROR_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                413: "REQUEST_LIMIT_EXCEEDED"}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status,
                        headers=headers)


class RequestTooLarge(TrackingError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(_too_large(int(declared), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """A request's JSON object body (read up to ``limit`` bytes, then checked)."""
    return parse_json_object(await read_limited(request, limit))


def _too_large(size: int, limit: int) -> str:
    return (f"The request body ({size} bytes or more) exceeds this server's limit of {limit} "
            "bytes. Send smaller batches, or start the server with a larger limit.")


async def answer(call: Callable[[], Awaitable[Response]]) -> Response:
    """Run an endpoint, turning errors into MLflow's JSON error responses."""
    try:
        return await call()
    except TrackingError as exc:
        return error_response(exc.http_status, exc.error_code, exc.message)
    except InvalidArgumentError as exc:  # a value the lineage store cannot hold
        return error_response(400, "INVALID_PARAMETER_VALUE", exc.message)
    except NotFoundError as exc:
        return error_response(404, "RESOURCE_DOES_NOT_EXIST", exc.message)
    except StoreError as exc:  # its message may name the store's location: logged only
        log.error("request failed: %s", exc.message)
        return error_response(500, "INTERNAL_ERROR", "The server's store failed to complete "
                              "the request; ask the server's operator to check its log.")
    except FlowtrackError as exc:  # the server's problem, not the client's
        log.error("request failed: %s", exc.message)
        return error_response(500, "INTERNAL_ERROR", exc.message)
    except OperationalError as exc:
        if not is_transient(exc):  # the same request would fail again: never "retry"
            log.error("the database refused a statement: %s", exc)
            return _internal_error(exc)
        log.warning("database unavailable: %s", exc)
        return error_response(503, "TEMPORARILY_UNAVAILABLE",
                              "The metadata database is busy, full or unreachable; retry "
                              "shortly.")
    except Exception as exc:  # a bug: answered here, so the connection stays usable
        log.exception("unexpected error")
        return _internal_error(exc)


# SQLite's primary result codes for a busy or locked database and a full disk
_SQLITE_TRANSIENT = {5, 6, 13}
# PostgreSQL SQLSTATEs: connection failures, serialization failure, deadlock, lock not
# available, server shutting down, too many connections
_POSTGRES_TRANSIENT = ("08", "40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300")


def is_transient(exc: OperationalError) -> bool:
    """Whether retrying the request can succeed: the database was busy, locked, full or
    unreachable, as opposed to refusing the statement itself."""
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_TRANSIENT
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or str(state).startswith(_POSTGRES_TRANSIENT)  # None: no connection


def _internal_error(exc: Exception) -> JSONResponse:
    return error_response(500, "INTERNAL_ERROR",
                          f"Internal server error ({type(exc).__name__}); the server log has "
                          "the details. This is a flowtrack bug; please report it.")


def file_response(found: _artifacts_api.Download) -> Response:
    """A downloaded file with MLflow's headers: its type from its name, offered as an
    attachment under its own name, never sniffed into something a browser runs."""
    return Response(found.data, media_type=found.media_type, headers={
        "Content-Disposition": content_disposition(found.file_name),
        "X-Content-Type-Options": "nosniff"})


def content_disposition(file_name: str) -> str:
    """``attachment`` with the name: bare when it is a plain token, quoted otherwise,
    and RFC 5987's UTF-8 form beside an ASCII fallback for other names."""
    if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", file_name):
        return f"attachment; filename={file_name}"
    if file_name.isascii():
        escaped = file_name.replace("\\", "\\\\").replace('"', '\\"')
        return f'attachment; filename="{escaped}"'
    # the name without its accents (MLflow's fallback for old clients), then the name
    fallback = unicodedata.normalize("NFKD", file_name).encode("ascii", "ignore").decode()
    fallback = re.sub(r'[\\"]', "_", fallback) or "download"
    quoted = fallback if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", fallback) \
        else f'"{fallback}"'
    return f"attachment; filename={quoted}; filename*=UTF-8''{urllib.parse.quote(file_name)}"


def json_endpoint(ctx: ServerContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        async def call() -> Response:
            if request.method == "GET":
                query = request.query_params
                values: dict[str, Any] = dict(query)
                lists = {k: query.getlist(k) for k in query}  # repeated fields
                fields = Fields(values | dict(request.path_params), lists)
            else:
                body = await read_json_object(request, ctx.limits.max_json_bytes)
                fields = Fields(body | dict(request.path_params))
            result = await run_in_threadpool(handler, ctx, fields)
            return JSONResponse(result)
        return await answer(call)
    endpoint.__name__ = handler.__name__
    return endpoint


def create_app(ctx: ServerContext, auth: Auth | None = None, ui: bool = True) -> FastAPI:
    """The server application over one store (with the web UI at ``/`` unless
    ``ui`` is false)."""
    app = FastAPI(title="flowtrack tracking server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    for r in ROUTES:
        endpoint = (disabled("the server runs with --artifacts-only: it serves files, not "
                             "the tracking API")
                    if ctx.modes.artifacts_only else json_endpoint(ctx, r.handler))
        for api_version in r.versions:
            for api in API_ROOTS:
                app.add_api_route(f"/{api}/{api_version}/mlflow/{r.path}", endpoint,
                                  methods=[r.method], include_in_schema=False)
    _add_artifact_routes(app, ctx)
    _add_otlp_route(app, ctx)
    _add_graphql_route(app, ctx)
    _add_service_routes(app)
    if ui:
        from ..ui import ui_router

        app.include_router(ui_router(ctx.store, partial(read_json_object,
                                                        limit=ctx.limits.max_json_bytes)))
    _add_error_handlers(app)
    if auth is not None and auth.enabled:
        _require_auth(app, auth)
    return app


def disabled(why: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint this server's mode turns off: 503, as ``mlflow server`` answers."""
    async def endpoint(request: Request) -> Response:
        return error_response(503, "TEMPORARILY_UNAVAILABLE",
                              f"Endpoint {request.url.path} is disabled: {why}.")
    return endpoint


def _add_artifact_routes(app: FastAPI, ctx: ServerContext) -> None:
    async def list_artifacts(request: Request) -> Response:
        async def call() -> Response:
            found = await run_in_threadpool(_artifacts_api.listing, ctx,
                                            request.query_params.get("path"))
            return JSONResponse(found)
        return await answer(call)

    async def file_endpoint(request: Request) -> Response:
        path = request.path_params["path"]

        async def call() -> Response:
            if request.method == "PUT":
                data = await read_limited(request, ctx.limits.max_artifact_bytes)
                return JSONResponse(await run_in_threadpool(_artifacts_api.upload, ctx, path,
                                                            data))
            if request.method == "DELETE":
                return JSONResponse(await run_in_threadpool(_artifacts_api.delete, ctx, path))
            return file_response(await run_in_threadpool(_artifacts_api.download, ctx, path))
        return await answer(call)

    async def legacy_download(request: Request) -> Response:
        async def call() -> Response:
            fields = Fields(dict(request.query_params))
            run_id = fields.text("run_id") or fields.required("run_uuid")
            return file_response(await run_in_threadpool(
                _artifacts_api.legacy_download, ctx, run_id, fields.required("path")))
        return await answer(call)

    async def not_implemented(request: Request) -> Response:
        """Multipart transfers and presigned URLs: MLflow's answer for a store without
        them, on which its client falls back to plain uploads and downloads."""
        kind = "download" if "/presigned/" in request.url.path else "upload"
        return error_response(501, "NOT_IMPLEMENTED", f"Multipart {kind} is not supported for "
                              "the current artifact repository")

    off = disabled("artifact serving is off (--no-serve-artifacts); clients write to the "
                   "artifact root directly")
    for prefix in ARTIFACTS_PREFIXES:
        if not ctx.modes.serve_artifacts:
            app.add_api_route(prefix + "/{path:path}", off,
                              methods=["GET", "PUT", "DELETE", "POST"], include_in_schema=False)
            continue
        app.add_api_route(prefix + "/artifacts", list_artifacts, methods=["GET"],
                          include_in_schema=False)
        app.add_api_route(prefix + "/artifacts/{path:path}", file_endpoint,
                          methods=["GET", "PUT", "DELETE"], include_in_schema=False)
        for action in ("mpu/create", "mpu/complete", "mpu/abort"):
            app.add_api_route(f"{prefix}/{action}/{{path:path}}", not_implemented,
                              methods=["POST"], include_in_schema=False)
        app.add_api_route(prefix + "/presigned/{path:path}", not_implemented,
                          methods=["GET"], include_in_schema=False)
    for path in ("/get-artifact", "/api/2.0/mlflow/get-artifact"):
        app.add_api_route(path, legacy_download, methods=["GET"], include_in_schema=False)

    async def model_version_file(request: Request) -> Response:
        async def call() -> Response:
            f = Fields(dict(request.query_params))
            return file_response(await run_in_threadpool(
                _artifacts_api.model_version_download, ctx, f.required("name"),
                f.required("version"), f.required("path")))
        return await answer(call)

    async def logged_model_file(request: Request) -> Response:
        async def call() -> Response:
            return file_response(await run_in_threadpool(
                _artifacts_api.logged_model_download, ctx, request.path_params["model_id"],
                request.query_params.get("artifact_file_path")))
        return await answer(call)

    async def ui_upload(request: Request) -> Response:
        async def call() -> Response:
            data = await read_limited(request, UI_UPLOAD_LIMIT)
            return JSONResponse(await run_in_threadpool(
                _artifacts_api.upload_from_ui, ctx, request.query_params.get("run_uuid"),
                request.query_params.get("path"), data))
        return await answer(call)

    for path in ("/model-versions/get-artifact", "/ajax-api/2.0/mlflow/model-versions/get-artifact"):
        app.add_api_route(path, model_version_file, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                      logged_model_file, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ajax-api/2.0/mlflow/upload-artifact", ui_upload, methods=["POST"],
                      include_in_schema=False)

    async def history_columns(request: Request) -> Response:
        async def call() -> Response:
            fields = Fields(dict(request.query_params))
            data = await run_in_threadpool(_tracking_api.history_bytes, ctx,
                                           fields.required("run_id"),
                                           fields.required("metric_key"))
            return Response(data, media_type="application/octet-stream")
        return await answer(call)

    app.add_api_route(HISTORY_COLUMNS_PATH, history_columns, methods=["GET"],
                      include_in_schema=False)

    async def trace_artifact(request: Request) -> Response:
        """A trace's spans for the web UI, as MLflow's server sends them."""
        async def call() -> Response:
            trace_id = Fields(dict(request.query_params)).required("request_id")
            data = await run_in_threadpool(_traces_api.trace_artifact, ctx, trace_id)
            return Response(data, media_type="text/plain", headers={
                "Content-Disposition": "attachment; filename=traces.json",
                "X-Content-Type-Options": "nosniff"})
        return await answer(call)

    for api_version in ("2.0", "3.0"):
        app.add_api_route(f"/ajax-api/{api_version}/mlflow/get-trace-artifact", trace_artifact,
                          methods=["GET"], include_in_schema=False)


def _add_otlp_route(app: FastAPI, ctx: ServerContext) -> None:
    async def export_traces(request: Request) -> Response:
        """OTLP span ingest (``_otlp``): 200 with an empty ExportTraceServiceResponse."""
        async def call() -> Response:
            experiment_id = request.headers.get("x-mlflow-experiment-id")
            if not experiment_id:
                raise InvalidParameterError("Missing header x-mlflow-experiment-id: name the "
                                            "experiment the spans belong to.")
            body = _otlp.decoded_body(await read_limited(request, ctx.limits.max_json_bytes),
                                      request.headers.get("content-encoding"))
            spans = _otlp.spans_of(body, request.headers.get("content-type"))
            await run_in_threadpool(ctx.traces.log_spans, experiment_id, spans,
                                    request.headers.get("x-mlflow-run-id"))
            return Response(b"", media_type="application/x-protobuf")
        return await answer(call)

    endpoint = (disabled("the server runs with --artifacts-only") if ctx.modes.artifacts_only
                else export_traces)
    app.add_api_route("/v1/traces", endpoint, methods=["POST"], include_in_schema=False)


def _add_graphql_route(app: FastAPI, ctx: ServerContext) -> None:
    async def graphql_endpoint(request: Request) -> Response:
        """MLflow's web UI queries (``_graphql``): always 200 with data and errors."""
        async def call() -> Response:
            body = await read_json_object(request, ctx.limits.max_json_bytes)
            return JSONResponse(await run_in_threadpool(_graphql.answer, ctx, body))
        return await answer(call)

    endpoint = (disabled("the server runs with --artifacts-only") if ctx.modes.artifacts_only
                else graphql_endpoint)
    app.add_api_route("/graphql", endpoint, methods=["POST"], include_in_schema=False)


def _add_service_routes(app: FastAPI) -> None:
    async def health() -> Response:
        return PlainTextResponse("OK")

    async def server_version() -> Response:
        """The MLflow release whose REST API this server answers (what a client checks
        before using features such as span logging); flowtrack's own in a header."""
        try:
            own = version("flowtrack")
        except PackageNotFoundError:
            own = "unknown"
        return PlainTextResponse(MLFLOW_API_VERSION, headers={"X-Flowtrack-Version": own})

    async def server_info() -> Response:
        """What MLflow 3 clients probe before downloads: no multipart transfers here."""
        return JSONResponse({"store_type": "SqlStore", "workspaces_enabled": False,
                             "multipart_uploads_enabled": False,
                             "multipart_downloads_enabled": False})

    app.add_api_route("/api/3.0/mlflow/server-info", server_info, methods=["GET"],
                      include_in_schema=False)
    app.add_api_route("/health", health, methods=["GET"], include_in_schema=False)
    app.add_api_route("/version", server_version, methods=["GET"], include_in_schema=False)


def _add_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
        message = (f"No endpoint {request.method} {request.url.path} on this server; see "
                   "MLflow's REST API reference for the supported ones."
                   if exc.status_code in (404, 405) else str(exc.detail))
        return error_response(exc.status_code, code, message)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        return _internal_error(exc)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())  # not str(exc): it holds source paths
        return error_response(400, "INVALID_PARAMETER_VALUE",
                              f"Invalid request to {request.url.path}: {problems}.")

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


def _require_auth(app: FastAPI, auth: Auth) -> None:
    @app.middleware("http")
    async def check_credentials(request: Request,
                                call_next: Callable[[Request], Awaitable[Response]]
                                ) -> Response:
        if not auth.allows(request.headers.get("authorization")):
            schemes = (['Bearer realm="flowtrack"'] if auth.token_digest else []) + \
                (['Basic realm="flowtrack"'] if auth.user_digests else [])
            return error_response(401, "UNAUTHENTICATED",
                                  "This server requires authentication: send a bearer token "
                                  "(MLFLOW_TRACKING_TOKEN) or basic credentials "
                                  "(MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD).",
                                  {"WWW-Authenticate": ", ".join(schemes)})
        return await call_next(request)
