"""An OpenAPI description of the tracking server's JSON endpoints, for fuzzing.

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


def server_openapi(prefix: str = "/api/2.0/mlflow") -> dict[str, Any]:
    """The OpenAPI 3.0 document of every JSON route under ``prefix``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = prefix + "/" + _PATH_PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {"openapi": "3.0.3", "info": {"title": "flowtrack tracking server (derived)",
                                         "version": "1"}, "paths": paths}
