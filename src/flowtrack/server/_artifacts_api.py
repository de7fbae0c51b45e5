"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``): upload, download,
list and delete the files of a run (``<experiment>/<run id>/artifacts/<path>``) or of
a logged model (``<experiment>/models/<model id>/artifacts/<path>``), plus the older
``/get-artifact?run_uuid=&path=`` download. A path that names no run or model (a
client using the proxy as plain storage, MLflow's traces) is kept under the proxy's
own root (``PROXY_ROOT``).

Paths are confined before anything is looked up: the whole path is normalized by
``clean_path`` (no '..', no absolute path, no backslash or NUL, whatever the URL
encoding was), a run's or model's path must name an existing one of that experiment,
and files
are only ever read from and written to the content-addressed blob store, never by a
path on the server's file system. A file whose stored bytes are damaged answers a
500 naming the file, never a location in the store (``ui._reading``).
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ..tracking.errors import InvalidParameterError, ResourceDoesNotExistError
from ..tracking.service import (
    PROXY_ROOT,
    clean_path,
    is_model_id,
    list_files,
    log_bytes,
)
from ..ui._reading import read_artifact
from . import _json
from ._context import ServerContext

_RUN_ID = re.compile(r"[0-9a-f]{32}")


def _refuse_encoded_escapes(raw_path: str | None) -> str | None:
    """MLflow's check on proxied paths: decoded again and again (up to 10 times), a
    path must not climb with '..', be absolute or hold '#'; a path that only looks
    harmless once decoded is refused too."""
    if raw_path is None:
        return None
    decoded = raw_path
    for _ in range(10):
        again = urllib.parse.unquote(decoded)
        if again == decoded:
            break
        decoded = again
    if "#" in decoded or ".." in decoded.replace("\\", "/").split("/") or \
            decoded.startswith(("/", "\\")):
        raise InvalidParameterError(f"Invalid path {raw_path!r}: it must stay below the "
                                    "artifact root (no '..', no absolute path, no '#').")
    return raw_path


@dataclass(frozen=True)
class ArtifactLocation:
    """A path below the artifact root, resolved to its owner and the path within."""

    owner_id: str  # a run id, a logged model id or PROXY_ROOT
    path: str  # '' for the owner's root


def resolve(ctx: ServerContext, raw_path: str | None) -> ArtifactLocation:
    """The run or model a proxied artifact path belongs to (checked to exist in the
    experiment the path names)."""
    path = clean_path(_refuse_encoded_escapes(raw_path), "artifact path")
    parts = path.split("/") if path else []
    if len(parts) >= 3 and parts[2] == "artifacts" and _RUN_ID.fullmatch(parts[1]):
        experiment_id, owner_id, rest = parts[0], parts[1], parts[3:]
        actual = ctx.store.get_run(owner_id).info.experiment_id
    elif len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts" \
            and is_model_id(parts[2]):
        experiment_id, owner_id, rest = parts[0], parts[2], parts[4:]
        actual = ctx.logged_models.get(owner_id).experiment_id
    else:  # a path no run or model owns: the proxy keeps it as MLflow's would
        return ArtifactLocation(PROXY_ROOT, path)
    if actual != experiment_id:
        raise ResourceDoesNotExistError(f"No artifacts at {path!r}: {owner_id} does not belong "
                                        f"to experiment {experiment_id}.")
    return ArtifactLocation(owner_id, "/".join(rest))


def upload(ctx: ServerContext, raw_path: str, data: bytes) -> dict[str, Any]:
    if raw_path.endswith("/"):
        raise InvalidParameterError(f"Artifact path must include a filename (cannot end with "
                                    f"'/'): {raw_path!r}.")
    where = resolve(ctx, raw_path)
    if not where.path:
        raise InvalidParameterError("An upload needs a file name after the run's or model's "
                                    "artifacts/ prefix.")
    log_bytes(ctx.store, where.owner_id, where.path, data)
    return {}


@dataclass(frozen=True)
class Download:
    data: bytes
    media_type: str
    file_name: str


def download(ctx: ServerContext, raw_path: str) -> Download:
    """A file's bytes, media type and name."""
    where = resolve(ctx, raw_path)
    if where.owner_id == PROXY_ROOT and not where.path:
        raise InvalidParameterError("Artifact path refers to a directory, not a file: ''.")
    return Download(read_artifact(ctx.store, where.owner_id, where.path),
                    media_type_of(where.path), posixpath.basename(where.path))


# what MLflow's server sends as text/plain, whatever mimetypes thinks
_TEXT_SUFFIXES = {"txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop",
                  "hocon", "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv",
                  "md", "rst", "ipynb"}
_TEXT_NAMES = {"mlmodel", "mlproject"}


def media_type_of(path: str) -> str:
    """The Content-Type of a download, from its name only (as MLflow's server): text
    formats as text/plain, the rest as ``mimetypes`` knows them, else octet-stream."""
    name = posixpath.basename(path)
    suffix = name.rpartition(".")[2].lower() if "." in name else ""
    if suffix in _TEXT_SUFFIXES or (not suffix and name.lower() in _TEXT_NAMES):
        return "text/plain"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def listing(ctx: ServerContext, raw_path: str | None) -> dict[str, Any]:
    """The entries directly under a path, by their names (MLflow's proxy lists that
    way); ``{}`` for a file, an empty or a missing directory."""
    where = resolve(ctx, raw_path or "")
    files = list_files(ctx.store, where.owner_id, where.path or None)
    prefix = where.path + "/" if where.path else ""
    entries = [_json.file_info(f) | {"path": f.path[len(prefix):]} for f in files]
    return {"files": entries} if entries else {}


def delete(ctx: ServerContext, raw_path: str) -> dict[str, Any]:
    from ..tracking.service import delete_files

    where = resolve(ctx, raw_path)
    delete_files(ctx.store, where.owner_id, where.path)
    return {}


def logged_model_download(ctx: ServerContext, model_id: str, path: str | None) -> Download:
    """A file of a logged model by its path below the model's root."""
    if not path:
        raise InvalidParameterError('Request must include the "artifact_file_path" query '
                                    "parameter.")
    clean = clean_path(_refuse_encoded_escapes(path), "artifact path")
    owner = ctx.logged_models.get(model_id).model_id
    return Download(read_artifact(ctx.store, owner, clean), media_type_of(clean),
                    posixpath.basename(clean))


def model_version_download(ctx: ServerContext, name: str, version: str, path: str) -> Download:
    """A file of a registered model version: of the logged model or run it came from."""
    found = ctx.registry.get_model_version(name, version)
    clean = clean_path(_refuse_encoded_escapes(path), "artifact path")
    while found.source.startswith("models:/") and not found.model_id:  # a copy
        original, _, number = found.source[len("models:/"):].partition("/")
        found = ctx.registry.get_model_version(original, number)
    if found.model_id:
        owner, inner = found.model_id, clean
    elif found.source.startswith("runs:/"):
        owner, _, below = found.source[len("runs:/"):].partition("/")
        inner = posixpath.join(below, clean) if below else clean
    else:
        raise InvalidParameterError(f"Model version {name}/{version} comes from "
                                    f"{found.source!r}, outside this server's store; download "
                                    "it from there.")
    return Download(read_artifact(ctx.store, owner, inner), media_type_of(inner),
                    posixpath.basename(inner))


def upload_from_ui(ctx: ServerContext, run_id: str | None, path: str | None,
                   data: bytes) -> dict[str, Any]:
    """The web UI's upload of one file into a run (MLflow's ``upload-artifact``)."""
    if not run_id:
        raise InvalidParameterError("Request must specify run_uuid.")
    if not path:
        raise InvalidParameterError("Request must specify path.")
    if not data:
        raise InvalidParameterError("Request must specify data.")
    clean = clean_path(_refuse_encoded_escapes(path), "artifact path")
    ctx.store.get_run(run_id)  # a clear 404 for an unknown run
    log_bytes(ctx.store, run_id, clean, data)
    return {}


def legacy_download(ctx: ServerContext, run_id: str, path: str) -> Download:
    """``/get-artifact?run_uuid=...&path=...``: a file of a run by its relative path."""
    clean = clean_path(path, "artifact path")
    return Download(read_artifact(ctx.store, run_id, clean), media_type_of(clean),
                    posixpath.basename(clean))
