"""An OpenAPI description of everything the tracking server answers, for fuzzing: its
MLflow REST routes, the artifact proxy and downloads, and the web UI's pages and JSON.

The server reads request fields by hand (``Fields.text("name")``, ``.integer``,
``.objects``...) rather than through declared models, so it publishes no OpenAPI. This
module derives one from the route table: for each route it reads the handler's source,
and that of the module functions the handler passes its fields to (two calls deep),
and turns each ``f.<kind>("name")`` call into a property of that kind. The result is
an approximation made for schemathesis (a field read in a way this misses is still
sent, as an extra property, by the fuzzer's random objects) and is checked only by the
fact that the server answers every generated request without a 5xx.
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import tempfile
import textwrap
from types import ModuleType
from typing import Any

from flowtrack.server._routes import ROUTES, Route

_STRING = {"type": "string"}
_KINDS: dict[str, dict[str, Any]] = {
    "text": _STRING,
    "required": _STRING,
    "integer": {"type": "integer"},
    "double": {"type": "number"},
    "flag": {"type": "boolean"},
    "texts": {"type": "array", "items": _STRING},
    "repeated": {"type": "array", "items": _STRING},
    "objects": {"type": "array", "items": {"type": "object"}},
    "message": {"type": "object"},
    "key_values": {"type": "array", "items": {"type": "object", "properties": {
        "key": _STRING, "value": _STRING}}},
}
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _fields_read(func: Any, module: ModuleType, depth: int = 2) -> dict[str, dict[str, Any]]:
    """Field name -> JSON schema for what ``func`` (and its callees) read of its fields."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError):
        return {}
    params = [a.arg for a in tree.body[0].args.args]  # type: ignore[attr-defined]
    holders = set(params[1:]) if params else set()
    found: dict[str, dict[str, Any]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        if (isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name)
                and callee.value.id in holders and callee.attr in _KINDS and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.setdefault(node.args[0].value, _KINDS[callee.attr])
        elif isinstance(callee, ast.Name) and depth > 0 and _passes(node, holders):
            target = getattr(module, callee.id, None)
            if inspect.isfunction(target):
                for name, schema in _fields_read(target, inspect.getmodule(target) or module,
                                                 depth - 1).items():
                    found.setdefault(name, schema)
                for arg in node.args:  # a field named by the caller: view_type(f, "view_type")
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, _STRING)
    return found


def _passes(call: ast.Call, holders: set[str]) -> bool:
    return any(isinstance(a, ast.Name) and a.id in holders for a in call.args)


def _operation(route: Route) -> dict[str, Any]:
    module = inspect.getmodule(route.handler)
    assert module is not None
    fields = _fields_read(route.handler, module)
    path_params = _PATH_PARAM.findall(route.path)
    parameters = [{"name": p, "in": "path", "required": True, "schema": _STRING}
                  for p in path_params]
    operation: dict[str, Any] = {"operationId": f"{route.method}-{route.path}",
                                 "responses": {"default": {"description": "any"}}}
    body_fields = {k: v for k, v in fields.items() if k not in path_params}
    if route.method == "GET":
        parameters += [{"name": name, "in": "query", "required": False, "schema": schema}
                       for name, schema in body_fields.items()
                       if schema.get("type") in ("string", "integer", "number", "boolean")
                       or schema.get("items") == _STRING]
    else:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "properties": body_fields}}}}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": _STRING} for n in names]


def _artifact_paths() -> dict[str, dict[str, Any]]:
    """The artifact proxy and downloads, which are not JSON routes."""
    any_answer = {"responses": {"default": {"description": "any"}}}
    file_path = [{"name": "path", "in": "path", "required": True, "schema": _STRING}]
    download = {**any_answer, "parameters": _query("run_id", "run_uuid", "path")}
    return {
        "/api/2.0/mlflow-artifacts/artifacts": {"get": {**any_answer,
                                                        "parameters": _query("path")}},
        "/api/2.0/mlflow-artifacts/artifacts/{path}": {
            "get": {**any_answer, "parameters": file_path},
            "delete": {**any_answer, "parameters": file_path},
            "put": {**any_answer, "parameters": file_path, "requestBody": {
                "required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}}}},
        "/get-artifact": {"get": download},
        "/api/2.0/mlflow/get-artifact": {"get": download},
    }


def _ui_paths() -> dict[str, dict[str, Any]]:
    """The web UI's pages and JSON API, from the routes of an app over an empty store:
    their declared path and query parameters, as strings (a bad type must be a 4xx too),
    and a JSON object body for the one POST."""
    from fastapi.routing import APIRoute

    from flowtrack.server._app import create_app
    from flowtrack.server._context import ServerContext

    store = tempfile.mkdtemp(prefix="flowtrack-schema-")
    try:
        app = create_app(ServerContext.open(store, None, None))
    finally:
        shutil.rmtree(store, ignore_errors=True)
    paths: dict[str, dict[str, Any]] = {}
    for route in _flattened(app.routes):
        if not isinstance(route, APIRoute) or route.path.startswith(("/api/", "/ajax-api/")):
            continue
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        parameters = [{"name": p.name, "in": "path", "required": True, "schema": _STRING}
                      for p in route.dependant.path_params]
        parameters += _query(*_ui_query_names(route))
        for method in sorted(route.methods - {"HEAD"}):
            operation: dict[str, Any] = {"responses": {"default": {"description": "any"}},
                                         "parameters": parameters}
            if method == "POST":
                operation["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": {"type": "object"}}}}
            paths.setdefault(path, {})[method.lower()] = operation
    return paths


# The UI's handlers read their query strings by hand: the names they read, found in
# their source, plus those of the one query handed on whole (the lineage page's)
_QUERY_READ = re.compile(r"""(?:query_params|query|\bq)(?:\.get\(|\[)["'](\w+)["']""")
_HANDED_ON = {"/lineage": ("artifact", "execution", "run", "model", "version", "hops")}


def _ui_query_names(route: Any) -> list[str]:
    names = [p.alias for p in route.dependant.query_params]
    names += _QUERY_READ.findall(inspect.getsource(route.endpoint))
    names += _HANDED_ON.get(route.path, ())
    return list(dict.fromkeys(names))


def _flattened(routes: list[Any]) -> list[Any]:
    """Routes, with those of included routers (kept whole by newer FastAPI) spliced in."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _flattened(list(inner.routes)) if inner is not None else [route]
    return found


def server_openapi(prefix: str = "/api/2.0/mlflow") -> dict[str, Any]:
    """The OpenAPI 3.0 document of every JSON route under ``prefix``, the artifact
    endpoints and the UI."""
    paths: dict[str, dict[str, Any]] = {**_ui_paths(), **_artifact_paths()}
    for route in ROUTES:
        path = prefix + "/" + _PATH_PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {"openapi": "3.0.3", "info": {"title": "flowtrack tracking server (derived)",
                                         "version": "1"}, "paths": paths}
