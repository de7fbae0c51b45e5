"""MLflow's model registry endpoints (registered models, versions, aliases) and MLflow
3's logged-model endpoints, over the registry and logged models in the lineage
graph."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from ..tracking.errors import InvalidParameterError
from ..tracking.service import LOGGED_MODEL_STATUSES, PROMPT_TAG, list_files
from . import _json
from ._context import ServerContext
from ._requests import Fields
from ._routes import route
from ._tracking_api import page, paged


# -- registered models ------------------------------------------------------------------
@route("POST", path="registered-models/create")
def create_registered_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    model = ctx.registry.create_registered_model(f.required("name"), f.key_values("tags"),
                                                 f.text("description"))
    return {"registered_model": _json.registered_model(model)}


@route("GET", path="registered-models/get")
def get_registered_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"registered_model": _json.registered_model(
        ctx.registry.get_registered_model(f.required("name")))}


@route("POST", path="registered-models/rename")
def rename_registered_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    model = ctx.registry.rename_registered_model(f.required("name"),
                                                 f.required("new_name"))
    return {"registered_model": _json.registered_model(model)}


@route("PATCH", path="registered-models/update")
def update_registered_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    model = ctx.registry.update_registered_model(f.required("name"),
                                                 f.text("description", ""))
    return {"registered_model": _json.registered_model(model)}


@route("DELETE", path="registered-models/delete")
def delete_registered_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.delete_registered_model(f.required("name"))
    return {}


@route("GET", "POST", path="registered-models/search")
def search_registered_models(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    _check_max_results(f, 1000)
    found = ctx.registry.search_registered_models(f.text("filter"), None, f.texts("order_by"))
    items, token = page(found, f, 100)
    return paged("registered_models", [_json.registered_model(m) for m in items], token)


@route("POST", "GET", path="registered-models/get-latest-versions")
def get_latest_versions(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    model = ctx.registry.get_registered_model(f.required("name"))
    stages = {s.lower() for s in f.texts("stages")}
    found = [v for v in model.latest_versions
             if not stages or v.current_stage.lower() in stages]
    return {"model_versions": [_json.model_version(v) for v in found]}


@route("POST", path="registered-models/set-tag")
def set_registered_model_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.set_model_tag(f.required("name"), f.required("key"),
                               f.text("value", ""))
    return {}


@route("DELETE", path="registered-models/delete-tag")
def delete_registered_model_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.delete_model_tag(f.required("name"), f.required("key"))
    return {}


@route("POST", path="registered-models/alias")
def set_alias(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.set_alias(f.required("name"), f.required("alias"),
                           f.required("version"))
    return {}


@route("DELETE", path="registered-models/alias")
def delete_alias(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.delete_alias(f.required("name"), f.required("alias"))
    return {}


@route("GET", path="registered-models/alias")
def get_version_by_alias(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"model_version": _json.model_version(ctx.registry.get_version_by_alias(
        f.required("name"), f.required("alias")))}


def _check_max_results(f: Fields, limit: int) -> None:
    """MLflow's cap on a registry search page."""
    size = f.integer("max_results", 1)
    if size > limit:
        raise InvalidParameterError(
            f"Invalid value for request parameter max_results. It must be at most {limit}, "
            f"but got value {size}")


# -- model versions -----------------------------------------------------------------------
@route("POST", path="model-versions/create")
def create_model_version(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    tags = f.key_values("tags")
    source = f.required("source")
    if str(tags.get(PROMPT_TAG, "false")).lower() == "true":
        checked_prompt_source(source)
    else:
        checked_source(source)
    version = ctx.registry.create_model_version(
        f.required("name"), source, f.text("run_id"), tags, f.text("description"),
        f.text("model_id"))
    return {"model_version": _json.model_version(version)}


# what MLflow's own clients send as the source of a prompt version, which has no files
PROMPT_SOURCE_PLACEHOLDERS = ("dummy-source", "prompt-template")


def checked_prompt_source(source: str) -> None:
    if source not in PROMPT_SOURCE_PLACEHOLDERS:
        raise InvalidParameterError(f"Invalid prompt source: '{source}'. Prompt sources must "
                                    "use an MLflow placeholder ('dummy-source').")


def checked_source(source: str) -> str:
    """A model version's source as a server accepts it: a URI with a scheme (runs:/,
    models:/, mlflow-artifacts:/, s3://...), never a path on the server's disk nor one
    climbing out with '..' (MLflow refuses these too: clients would download from
    wherever the source points)."""
    parsed = urllib.parse.urlsplit(source)
    path = urllib.parse.unquote(parsed.path)
    if not parsed.scheme or parsed.scheme == "file" or len(parsed.scheme) == 1:
        raise InvalidParameterError(
            f"Invalid model version source {source!r}: this server does not register local "
            "paths. Log the model to a run first and register runs:/<run_id>/<path> (or "
            "the models:/<model_id> of a logged model).")
    if ".." in path.replace("\\", "/").split("/"):
        raise InvalidParameterError(f"Invalid model version source {source!r}: '..' is not "
                                    "allowed in a source path.")
    return source


@route("GET", path="model-versions/get")
def get_model_version(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"model_version": _json.model_version(ctx.registry.get_model_version(
        f.required("name"), f.required("version")))}


@route("PATCH", path="model-versions/update")
def update_model_version(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    version = ctx.registry.update_model_version(f.required("name"),
                                                f.required("version"),
                                                f.text("description", ""))
    return {"model_version": _json.model_version(version)}


@route("POST", path="model-versions/transition-stage")
def transition_model_version_stage(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    version = ctx.registry.transition_stage(f.required("name"), f.required("version"),
                                            f.required("stage"),
                                            f.flag("archive_existing_versions"))
    return {"model_version": _json.model_version(version)}


@route("DELETE", path="model-versions/delete")
def delete_model_version(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.delete_model_version(f.required("name"), f.required("version"))
    return {}


@route("GET", "POST", path="model-versions/search")
def search_model_versions(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    _check_max_results(f, 200_000)
    found = ctx.registry.search_model_versions(f.text("filter"), None, f.texts("order_by"))
    items, token = page(found, f, 200_000)
    return paged("model_versions", [_json.model_version(v) for v in items], token)


@route("GET", path="model-versions/get-download-uri")
def get_model_version_download_uri(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    version = ctx.registry.get_model_version(f.required("name"), f.required("version"))
    return {"artifact_uri": _download_uri(ctx, version.source, version.model_id)}


def _download_uri(ctx: ServerContext, source: str, model_id: str) -> str:
    """Where a client downloads a version's files: the logged model's or the run's
    artifact location on this server, else the source as registered."""
    if model_id:
        return ctx.logged_models.get(model_id).artifact_uri
    copied = re.fullmatch(r"models:/([^/@]+)/(\d+)", source)
    if copied is not None:  # a copy of another version: that version's files
        original = ctx.registry.get_model_version(copied[1], copied[2])
        return _download_uri(ctx, original.source, original.model_id)
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/"):].partition("/")
        root = ctx.store.get_run(run_id).info.artifact_uri
        return f"{root}/{path}" if path else root
    return source


@route("POST", path="model-versions/set-tag")
def set_model_version_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.set_version_tag(f.required("name"), f.required("version"),
                                 f.required("key"), f.text("value", ""))
    return {}


@route("DELETE", path="model-versions/delete-tag")
def delete_model_version_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.registry.delete_version_tag(f.required("name"), f.required("version"),
                                    f.required("key"))
    return {}


# -- logged models (MLflow 3) --------------------------------------------------------------
@route("POST", path="logged-models")
def create_logged_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    model = ctx.logged_models.create(
        f.required("experiment_id"), f.text("name"), f.text("source_run_id"),
        f.text("model_type"), f.key_values("tags"), f.key_values("params"))
    return {"model": _json.logged_model(model)}


@route("GET", path="logged-models/{model_id}")
def get_logged_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"model": _json.logged_model(ctx.logged_models.get(f.required("model_id")))}


@route("PATCH", path="logged-models/{model_id}")
def finalize_logged_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    status = f.required("status")
    if status.isdigit():  # the enum's number
        numbers = dict(enumerate(("LOGGED_MODEL_STATUS_UNSPECIFIED",) + LOGGED_MODEL_STATUSES))
        status = numbers.get(int(status), status)
    return {"model": _json.logged_model(ctx.logged_models.finalize(
        f.required("model_id"), status))}


@route("DELETE", path="logged-models/{model_id}")
def delete_logged_model(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.logged_models.delete(f.required("model_id"))
    return {}


@route("PATCH", path="logged-models/{model_id}/tags")
def set_logged_model_tags(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.logged_models.set_tags(f.required("model_id"), f.key_values("tags"))
    return {}


@route("DELETE", path="logged-models/{model_id}/tags/{tag_key}")
def delete_logged_model_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.logged_models.delete_tag(f.required("model_id"), f.required("tag_key"))
    return {}


@route("POST", path="logged-models/{model_id}/params")
def log_logged_model_params(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    ctx.logged_models.log_params(f.required("model_id"), f.key_values("params"))
    return {}


@route("GET", path="logged-models/{model_id}/artifacts/directories")
def list_logged_model_artifacts(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    """A logged model's files directly under ``artifact_directory_path``."""
    model = ctx.logged_models.get(f.required("model_id"))
    files = list_files(ctx.store, model.model_id, f.text("artifact_directory_path"))
    found: dict[str, Any] = {"root_uri": model.artifact_uri}
    if files:
        found["files"] = [_json.file_info(x) for x in files]
    return found


def _order_clause(o: Fields) -> str:
    """MLflow 3 sends logged-model order_by as objects: field_name, ascending."""
    return f"{o.required('field_name')} {'ASC' if o.flag('ascending', True) else 'DESC'}"


@route("POST", path="logged-models/search")
def search_logged_models(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    order_by = [_order_clause(o) for o in f.objects("order_by")]
    found = ctx.logged_models.search(f.texts("experiment_ids"), f.text("filter"), order_by)
    items, token = page(found, f, 100)
    return paged("models", [_json.logged_model(m) for m in items], token)
