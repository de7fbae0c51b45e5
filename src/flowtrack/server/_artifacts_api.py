"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``): upload, download,
list and delete the files of a run (``<experiment>/<run id>/artifacts/<path>``) or of
a logged model (``<experiment>/models/<model id>/artifacts/<path>``), plus the older
``/get-artifact?run_uuid=&path=`` download.

Paths are confined before anything is looked up: the whole path is normalized by
``clean_path`` (no '..', no absolute path, no backslash or NUL, whatever the URL
encoding was), it must name an existing run or model of that experiment, and files
are only ever read from and written to the content-addressed blob store, never by a
path on the server's file system. A file whose stored bytes are damaged answers a
500 naming the file, never a location in the store (``ui._reading``).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from ..tracking.errors import InvalidParameterError, ResourceDoesNotExistError
from ..tracking.service import (
    clean_path,
    is_model_id,
    list_files,
    log_bytes,
)
from ..ui._reading import read_artifact
from . import _json
from ._context import ServerContext


@dataclass(frozen=True)
class ArtifactLocation:
    """A path below the artifact root, resolved to its owner and the path within."""

    owner_id: str  # a run id or a logged model id
    path: str  # '' for the owner's root


def resolve(ctx: ServerContext, raw_path: str | None) -> ArtifactLocation:
    """The run or model a proxied artifact path belongs to (checked to exist in the
    experiment the path names)."""
    path = clean_path(raw_path, "artifact path")
    parts = path.split("/") if path else []
    if len(parts) >= 3 and parts[2] == "artifacts" and not is_model_id(parts[1]):
        experiment_id, owner_id, rest = parts[0], parts[1], parts[3:]
        actual = ctx.store.get_run(owner_id).info.experiment_id
    elif len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        experiment_id, owner_id, rest = parts[0], parts[2], parts[4:]
        actual = ctx.logged_models.get(owner_id).experiment_id
    else:
        raise ResourceDoesNotExistError(
            f"No artifacts at {path!r}: artifact paths are <experiment id>/<run id>/artifacts/"
            "<path> or <experiment id>/models/<model id>/artifacts/<path>.")
    if actual != experiment_id:
        raise ResourceDoesNotExistError(f"No artifacts at {path!r}: {owner_id} does not belong "
                                        f"to experiment {experiment_id}.")
    return ArtifactLocation(owner_id, "/".join(rest))


def upload(ctx: ServerContext, raw_path: str, data: bytes) -> dict[str, Any]:
    where = resolve(ctx, raw_path)
    if not where.path:
        raise InvalidParameterError("An upload needs a file name after the run's or model's "
                                    "artifacts/ prefix.")
    log_bytes(ctx.store, where.owner_id, where.path, data)
    return {}


def download(ctx: ServerContext, raw_path: str) -> tuple[bytes, str]:
    """A file's bytes and its media type."""
    where = resolve(ctx, raw_path)
    data = read_artifact(ctx.store, where.owner_id, where.path)
    media_type = mimetypes.guess_type(where.path)[0] or "application/octet-stream"
    return data, media_type


def listing(ctx: ServerContext, raw_path: str | None) -> dict[str, Any]:
    """The files under a path, relative to it (MLflow's proxy lists that way)."""
    if not raw_path or not clean_path(raw_path, "artifact path"):
        return {"files": []}
    where = resolve(ctx, raw_path)
    files = list_files(ctx.store, where.owner_id, where.path or None)
    prefix = where.path + "/" if where.path else ""
    return {"files": [_json.file_info(f) | {"path": f.path[len(prefix):]} for f in files]}


def delete(ctx: ServerContext, raw_path: str) -> dict[str, Any]:
    from ..tracking.service import delete_files

    where = resolve(ctx, raw_path)
    delete_files(ctx.store, where.owner_id, where.path)
    return {}


def legacy_download(ctx: ServerContext, run_id: str, path: str) -> tuple[bytes, str]:
    """``/get-artifact?run_uuid=...&path=...``: a file of a run by its relative path."""
    data = read_artifact(ctx.store, run_id, clean_path(path, "artifact path"))
    return data, mimetypes.guess_type(path)[0] or "application/octet-stream"
