"""Files logged to a run (``log_artifact``, ``log_text``, a model's files): each is a
``File`` artifact in the lineage graph named ``<run id>/<path>``, attributed to the
run (and, inside a flow, an OUTPUT of the task that logged it), with its bytes in the
content-addressed blob store. Paths are checked here so none can leave the run.

The files of an MLflow 3 logged model are kept the same way under the model's id
(``m-<hex>/<path>``, attributed to its experiment), and files a client puts through the
server's artifact proxy at a path no run or model owns under ``PROXY_ROOT``
(``mlflow-artifacts/<path>``, attributed to one ``ArtifactRoot`` context): every
function taking a ``run_id`` also takes a logged model id or ``PROXY_ROOT``.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import update

from ...lineage import (
    ArtifactState,
    EventType,
    LineageSession,
    NewArtifact,
    Node,
    TypeKind,
    artifacts,
    delete_nodes,
)
from ..entities.records import FileInfo
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.tracking_store import TrackingStore


def clean_path(path: str | None, what: str = "artifact path") -> str:
    """A normalized relative POSIX path ('' for the run's root); refuses anything that
    could point outside the run (absolute paths, '..', backslashes, NUL)."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterError(f"The {what} must be a string; got {path!r}.")
    if "\x00" in path or "\\" in path:
        raise InvalidParameterError(f"Invalid {what} {path!r}: it must not contain NUL or "
                                    "backslash characters.")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidParameterError(f"Invalid {what} {path!r}: it must be relative to the "
                                    "run's artifact root, not absolute.")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidParameterError(f"Invalid {what} {path!r}: '..' is not allowed.")
    return posixpath.join(*parts) if parts else ""


def log_bytes(store: TrackingStore, run_id: str, path: str, data: bytes) -> None:
    """Store ``data`` as the run's file ``path`` (replacing an earlier one)."""
    path = clean_path(path)
    if not path:
        raise InvalidParameterError("A logged file needs a file name.")
    if store.remote:
        store.put_file(run_id, path, data)  # type: ignore[attr-defined]
        return
    digest = store.blobs.put_bytes(data)
    with store.write() as s:
        owner_pk = _owner_context(s, store, run_id)
        record_file(s, store.types(s).file, owner_pk, run_id, path, digest, len(data))


PROXY_ROOT = "mlflow-artifacts"  # owns the proxy's files outside any run or model
PROXY_ROOT_TYPE = "ArtifactRoot"


def _owner_context(s: LineageSession, store: TrackingStore, owner_id: str) -> int:
    """The context a run's or logged model's files are attributed to (the run, or the
    model's experiment; the one ArtifactRoot context for PROXY_ROOT); a clear error if
    there is no such run or model."""
    from ..models.logged import LoggedModels, is_model_id

    if owner_id == PROXY_ROOT:
        root, _ = s.get_or_create_context(s.type_id(TypeKind.CONTEXT, PROXY_ROOT_TYPE),
                                          PROXY_ROOT)
        return root
    if is_model_id(owner_id):
        experiment_id = LoggedModels(store).node(s, owner_id).custom_properties["experiment_id"]
        return store.experiment_pk(str(experiment_id))
    return store.run_node(s, owner_id).id


def record_file(s: LineageSession, file_type: int, run_pk: int, run_id: str, path: str,
                digest: str, size: int, execution_id: int | None = None) -> int:
    """Make (or point at new bytes) the File artifact of a run's ``path``; with the
    task that logged it as an OUTPUT event. Returns the artifact id."""
    props = {"digest": digest, "size": size, "path": path, "run_id": run_id}
    name = f"{run_id}/{path}"
    _refuse_file_directory_clash(s, file_type, run_id, path)
    existing = s.node_by_name("artifact", file_type, name)
    if existing is None:
        [artifact_id] = s.insert_artifacts(
            [NewArtifact(file_type, name, f"blake3:{digest}", int(ArtifactState.LIVE), props,
                         {})], context_ids=[run_pk])
    else:
        artifact_id = existing.id
        s.conn.execute(update(artifacts).where(artifacts.c.id == artifact_id)
                       .values(uri=f"blake3:{digest}"))
        s.set_properties("artifact", artifact_id, props)
    if execution_id is not None:
        s.insert_events([(artifact_id, execution_id, int(EventType.OUTPUT), path)])
    return artifact_id


def _refuse_file_directory_clash(s: LineageSession, file_type: int, run_id: str,
                                 path: str) -> None:
    """A path is a file or a directory of the run, never both."""
    parts = path.split("/")
    ancestors = [f"{run_id}/{'/'.join(parts[:i])}" for i in range(1, len(parts))]
    if ancestors:
        clash = s.nodes("artifact", artifacts.c.type_id == file_type,
                        artifacts.c.name.in_(ancestors))
        if clash:
            raise InvalidParameterError(
                f"Cannot log {path!r} in run {run_id}: "
                f"{clash[0].properties.get('path')!r} is already a file there, so it cannot "
                "also be a directory. Choose another path.")
    if s.nodes("artifact", artifacts.c.type_id == file_type,
               s.name_prefix("artifact", f"{run_id}/{path}/"), limit=1):
        raise InvalidParameterError(f"Cannot log a file at {path!r} in run {run_id}: it is "
                                    "already a directory of logged files. Choose another "
                                    "path.")


def _run_files(s: LineageSession, store: TrackingStore, run_id: str) -> list[Node]:
    if run_id != PROXY_ROOT:
        _owner_context(s, store, run_id)  # a clear error for an unknown run or model
    types = store._find_types(s)
    if types is None or types.file < 0:
        return []
    return s.nodes("artifact", artifacts.c.type_id == types.file,
                   s.name_prefix("artifact", f"{run_id}/"))


def list_files(store: TrackingStore, run_id: str, path: str | None = None) -> list[FileInfo]:
    """The files and directories directly under ``path`` in the run, sorted by path."""
    base = clean_path(path)
    if store.remote:
        return store.list_files(run_id, base)  # type: ignore[attr-defined,no-any-return]
    with store.read() as s:
        files = _run_files(s, store, run_id)
    entries: dict[str, FileInfo] = {}
    prefix = base + "/" if base else ""
    for node in files:
        file_path = node.properties["path"]
        if file_path == base:  # the path names a file, not a directory: MLflow lists nothing
            return []
        if not file_path.startswith(prefix):
            continue
        head, _, rest = file_path[len(prefix):].partition("/")
        child = prefix + head
        entries[child] = (FileInfo(child, True, None) if rest
                          else FileInfo(child, False, int(node.properties["size"])))
    return sorted(entries.values(), key=lambda f: f.path)


def file_digests(store: TrackingStore, run_id: str, path: str | None = None
                 ) -> dict[str, tuple[str, int]]:
    """Every file at or under ``path``: relative path -> (digest, size)."""
    base = clean_path(path)
    with store.read() as s:
        files = _run_files(s, store, run_id)
    found = {n.properties["path"]: (n.properties["digest"], int(n.properties["size"]))
             for n in files
             if not base or n.properties["path"] == base
             or n.properties["path"].startswith(base + "/")}
    if base and not found:
        raise ResourceDoesNotExistError(f"Run {run_id} has no artifact {base!r}; list them "
                                        "with list_artifacts(run_id).")
    return found


def delete_files(store: TrackingStore, run_id: str, path: str | None) -> None:
    """Forget the file or directory ``path`` of a run or logged model (the whole root
    when empty); their bytes stay in the blob store, shared by content."""
    base = clean_path(path)
    with store.write() as s:
        files = _run_files(s, store, run_id)
        doomed = [n.id for n in files if not base or n.properties["path"] == base
                  or n.properties["path"].startswith(base + "/")]
        if base and not doomed:
            raise ResourceDoesNotExistError(f"{run_id} has no artifact {base!r}.")
        delete_nodes(s, "artifact", doomed, cascade=True)


def read_file(store: TrackingStore, run_id: str, path: str) -> bytes:
    if store.remote:
        return store.read_file(run_id, clean_path(path))  # type: ignore[attr-defined,no-any-return]
    found = file_digests(store, run_id, path)
    clean = clean_path(path)
    if clean not in found:
        raise InvalidParameterError(f"{path!r} in run {run_id} is a directory, not a file.")
    return store.blobs.get_bytes(found[clean][0])


def download(store: TrackingStore, run_id: str, path: str | None, dst_path: str | Path
             ) -> str:
    """Write the file or directory ``path`` of the run under ``dst_path``; returns the
    local path of what was asked for."""
    base = clean_path(path)
    if store.remote:
        return store.download(run_id, base, dst_path)  # type: ignore[attr-defined,no-any-return]
    destination = Path(dst_path).absolute()
    for file_path, (digest, _) in file_digests(store, run_id, base).items():
        target = destination / file_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.blobs.get_bytes(digest))
    return str(destination / base) if base else str(destination)


def local_file(local_path: str | Path, artifact_path: str | None = None
               ) -> list[tuple[str, bytes]]:
    """(run path, bytes) of a local file to log under ``artifact_path``."""
    path = Path(local_path)
    if not path.is_file():
        raise InvalidParameterError(f"Cannot log {str(local_path)!r}: no such file. Pass the "
                                    "path of an existing file (log_artifacts takes a "
                                    "directory).")
    return [("/".join(p for p in (clean_path(artifact_path), path.name) if p),
             path.read_bytes())]


def local_dir(local_dir: str | Path, artifact_path: str | None = None
              ) -> Iterator[tuple[str, bytes]]:
    """(run path, bytes) of every file under a local directory."""
    root = Path(local_dir)
    if not root.is_dir():
        raise InvalidParameterError(f"Cannot log {str(local_dir)!r}: no such directory.")
    base = clean_path(artifact_path)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        yield (f"{base}/{relative}" if base else relative), file.read_bytes()


def dict_text(dictionary: Any, artifact_file: str) -> str:
    """A dict as JSON, or YAML when ``artifact_file`` ends in .yaml or .yml."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml

        return str(yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False))
    return json.dumps(dictionary, indent=2, default=str)
