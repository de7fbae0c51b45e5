"""The UI's routes: HTML pages, their JSON under ``/ui-api/``, and static files under
``/static/`` (this package's ``static/`` folder).

A failure answers a page saying what went wrong (HTML routes) or MLflow's JSON error
shape (``/ui-api/``), with a 4xx for a bad address or body; a download names its
file in ``Content-Disposition`` as RFC 6266 says (UTF-8, with an ASCII fallback).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ..tracking.errors import InvalidParameterError, TrackingError
from ..tracking.service import (
    Registry,
    Traces,
    TrackingStore,
    list_files,
    span_rows,
    trace_spans,
)
from . import _api
from ._flow_view import card_html, flow_run_view, preview_image, task_view
from ._lineage_view import lineage_view, starting_points
from ._previews import IMAGE_TYPES, file_preview
from ._reading import read_artifact

STATIC = Path(__file__).parent / "static"
MAX_TRACES_LISTED = 100  # on an experiment's page, newest first
_templates = Environment(loader=PackageLoader("flowtrack.ui", "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))
# a time in ms as the pages show it (UTC, to the second)
_templates.filters["utc"] = lambda ms: datetime.fromtimestamp(
    (ms or 0) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


JsonReader = Callable[[Request], Awaitable[dict[str, Any]]]


def ui_router(store: TrackingStore, read_json: JsonReader) -> APIRouter:
    """The UI's routes over ``store``; ``read_json`` reads a request's JSON object body
    (the server's, with its size limit and checks), raising ``TrackingError`` for a
    bad one."""
    router = APIRouter(include_in_schema=False)

    def page(template: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(_templates.get_template(template).render(**context))

    @router.get("/")
    async def home() -> Response:
        return page("home.html", experiments=await run_in_threadpool(_api.experiments, store))

    @router.get("/experiments/{experiment_id}")
    async def experiment(experiment_id: str) -> Response:
        found = await _call(store.get_experiment, experiment_id, html=True)
        if isinstance(found, Response):
            return found
        traces = await run_in_threadpool(Traces(store).search, [experiment_id])
        return page("experiment.html", experiment=found, traces=traces[:MAX_TRACES_LISTED],
                    more_traces=max(0, len(traces) - MAX_TRACES_LISTED))

    @router.get("/traces/{trace_id}")
    async def trace(trace_id: str) -> Response:
        """A trace: its info, assessments and span tree with timing bars."""
        found = await _call(Traces(store).get, trace_id, html=True)
        if isinstance(found, Response):
            return found
        spans = await run_in_threadpool(trace_spans, store, trace_id)
        experiment = await run_in_threadpool(store.get_experiment, found.experiment_id)
        return page("trace.html", trace=found, experiment=experiment, rows=span_rows(spans))

    @router.get("/runs/{run_id}")
    async def run(run_id: str) -> Response:
        found = await _call(store.get_run, run_id, html=True)
        if isinstance(found, Response):
            return found
        experiment = await run_in_threadpool(store.get_experiment, found.info.experiment_id)
        flow = await run_in_threadpool(flow_run_view, store, run_id)
        return page("run.html", run=found, experiment=experiment, flow=flow)

    @router.get("/tasks/{task_pk}")
    async def task(task_pk: str) -> Response:
        found = await _call(task_view, store, task_pk, html=True)
        return found if isinstance(found, Response) else page("task.html", **found)

    @router.get("/tasks/{task_pk}/previews/{name}")
    async def task_preview(task_pk: str, name: str) -> Response:
        found = await _call(preview_image, store, task_pk, name, html=True)
        if isinstance(found, Response):
            return found
        data, media = found
        return Response(data, media_type=media, headers={"X-Content-Type-Options": "nosniff"})

    @router.get("/tasks/{task_pk}/cards/{card_hash}")
    async def task_card(task_pk: str, card_hash: str) -> Response:
        found = await _call(card_html, store, task_pk, card_hash, html=True)
        if isinstance(found, Response):
            return found
        # a card is the step author's HTML: sandboxed even when opened directly, so its
        # scripts (charts) run without the UI's origin
        return Response(found, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": "sandbox allow-scripts",
                                 "X-Content-Type-Options": "nosniff"})

    @router.get("/ui-api/runs/{run_id}/progress")
    async def progress(run_id: str) -> Response:
        """What a live run page polls: the run's status and its tasks' states."""
        found = await _call(store.get_run, run_id)
        if isinstance(found, Response):
            return found
        view = await run_in_threadpool(flow_run_view, store, run_id)
        states = sorted((t["id"], t["state"]) for t in view.tasks) if view else []
        return JSONResponse({"status": found.info.status, "tasks": states})

    @router.get("/compare")
    async def compare(request: Request) -> Response:
        ids = [r for r in request.query_params.get("runs", "").split(",") if r]
        if not 2 <= len(ids) <= 20:
            return page("message.html", title="Compare runs",
                        message=f"Choose from 2 to 20 runs to compare; got {len(ids)}.")
        found = await _call(_api.compare, store, ids, html=True)
        return found if isinstance(found, Response) else page("compare.html", **found)

    @router.get("/lineage")
    async def lineage(request: Request) -> Response:
        query = dict(request.query_params)
        start = await _call(starting_points, store, query, html=True)
        if isinstance(start, Response):
            return start
        artifact_ids, execution_ids = start
        view = await run_in_threadpool(lineage_view, store, artifact_ids, execution_ids,
                                       _int(query.get("hops"), 2))
        more = dict(query, hops=str(view["hops"] + 1))
        return page("lineage.html", more=urlencode(more), **view)

    @router.get("/models")
    async def models() -> Response:
        found = await run_in_threadpool(Registry(store).search_registered_models, None,
                                        1_000_000)
        return page("models.html", models=found)

    @router.get("/models/{name}")
    async def model(name: str) -> Response:
        registry = Registry(store)
        found = await _call(registry.get_registered_model, name, html=True)
        if isinstance(found, Response):
            return found
        versions = await run_in_threadpool(registry.search_model_versions,
                                           f"name = '{name.replace(chr(39), chr(39) * 2)}'")
        versions.sort(key=lambda v: int(v.version), reverse=True)
        return page("model.html", model=found, versions=versions)

    @router.post("/ui-api/models/{name}/aliases")
    async def set_alias(request: Request, name: str) -> Response:
        try:  # JSON only: a cross-site form cannot send it without the page's consent
            if not request.headers.get("content-type", "").startswith("application/json"):
                raise InvalidParameterError(_ALIAS_BODY)
            body = await read_json(request)
        except TrackingError as exc:
            return _error(exc, html=False)
        found = await _call(Registry(store).set_alias, name, body.get("alias"),
                            str(body.get("version", "")))
        return found if isinstance(found, Response) else JSONResponse({})

    @router.get("/ui-api/runs/{run_id}/files")
    async def files_json(request: Request, run_id: str) -> Response:
        found = await _call(list_files, store, run_id, request.query_params.get("path"))
        return found if isinstance(found, Response) else JSONResponse(
            [{"path": f.path, "is_dir": f.is_dir, "size": f.file_size} for f in found])

    @router.get("/ui-api/runs/{run_id}/preview/{path:path}")
    async def preview_json(run_id: str, path: str) -> Response:
        found = await _call(file_preview, store, run_id, path)
        return found if isinstance(found, Response) else JSONResponse(found)

    @router.get("/files/{run_id}/{path:path}")
    async def download(request: Request, run_id: str, path: str) -> Response:
        """A logged file: images inline (for previews), everything else as a download;
        never sniffed, so no file can run as a page of this site."""
        found = await _call(read_artifact, store, run_id, path, html=True)
        if isinstance(found, Response):
            return found
        media = IMAGE_TYPES.get(Path(path).suffix.lower())
        disposition = "inline" if media and request.query_params.get("inline") else "attachment"
        return Response(found, media_type=media or "application/octet-stream", headers={
            "Content-Disposition": _content_disposition(disposition, Path(path).name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox"})

    @router.get("/ui-api/experiments")
    async def experiments_json() -> Response:
        return JSONResponse(await run_in_threadpool(_api.experiments, store))

    @router.get("/ui-api/experiments/{experiment_id}/runs")
    async def runs_json(request: Request, experiment_id: str) -> Response:
        q = request.query_params
        found = await _call(_api.run_page, store, experiment_id, q.get("filter", ""),
                            q.get("order_by") or None, q.get("page_token") or None,
                            _int(q.get("max_results"), 100))
        return found if isinstance(found, Response) else JSONResponse(found)

    @router.get("/ui-api/runs/{run_id}/metrics/{key:path}")
    async def metric_json(run_id: str, key: str) -> Response:
        found = await _call(store.metric_history_columns, run_id, key)
        return found if isinstance(found, Response) else JSONResponse(
            {"key": key, **_api.downsample(*found)})

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        target = STATIC / name
        if "/" in name or name.startswith(".") or not target.is_file():
            return JSONResponse({"message": f"No static file {name!r}."}, status_code=404)
        return FileResponse(target, headers={"Cache-Control": "max-age=3600"})

    return router


_ALIAS_BODY = ('Set an alias with a JSON object body, {"alias": "...", "version": "..."}, '
               "and Content-Type: application/json.")


async def _call(function: Any, *args: Any, html: bool = False) -> Any:
    """Run a store call; a tracking error becomes an error answer (``_error``)."""
    try:
        return await run_in_threadpool(function, *args)
    except TrackingError as exc:
        return _error(exc, html)


def _error(exc: TrackingError, html: bool) -> Response:
    """A page saying what went wrong (``html``), else MLflow-shaped JSON."""
    if html:
        return HTMLResponse(_templates.get_template("message.html").render(
            title="Not available", message=exc.message), status_code=exc.http_status)
    return JSONResponse({"error_code": exc.error_code, "message": exc.message},
                        status_code=exc.http_status)


def _content_disposition(disposition: str, name: str) -> str:
    """``Content-Disposition`` for a file ``name`` (RFC 6266): the name in UTF-8
    (``filename*``, RFC 5987) and an ASCII fallback for old clients."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
