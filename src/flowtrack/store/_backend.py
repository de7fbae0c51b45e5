"""Blob backends: where the bytes of a content-addressed blob physically live.

A backend stores immutable blobs under a key (their digest). To add one, subclass
``BlobBackend`` and implement ``exists``, ``write`` (atomic: readers never see a
partial blob), ``read`` and optionally ``local_path`` (lets the codec memory-map).
``backend_for_url`` picks the class from the URL scheme.
"""

from __future__ import annotations

import os
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .._errors import ConfigurationError


class BlobBackend(ABC):
    """Immutable key -> bytes storage. Keys are hex digests."""

    url: str

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def write(self, key: str, chunks: Iterable[Any]) -> None:
        """Store the concatenation of ``chunks`` under ``key``, atomically."""

    @abstractmethod
    def read(self, key: str) -> bytes: ...

    def local_path(self, key: str) -> str | None:
        """A local file path holding the blob, when the backend has one."""
        return None

    def location(self, key: str) -> str:
        """A URL naming the blob, recorded as an artifact's ``uri``."""
        return f"{self.url.rstrip('/')}/{key[:2]}/{key}"

    def remove_stale_temporaries(self, older_than_seconds: float) -> int:
        """Delete leftovers of writes that were killed midway; returns how many."""
        return 0

    # Optional: backends that can write a blob before its name (digest) is known let
    # the store hash and write a large value at the same time.
    supports_unnamed_writes = False

    def write_unnamed(self, chunks: Iterable[Any]) -> Any:
        """Write the chunks somewhere private; returns a handle for ``publish``."""
        raise NotImplementedError

    def publish(self, handle: Any, key: str) -> None:
        """Give an unnamed write its final key (discarding it if the key exists)."""
        raise NotImplementedError


class LocalBackend(BlobBackend):
    """Blobs as files ``<root>/<first two hex digits>/<digest>``.

    Writes go to ``<root>/tmp/<random>`` and are renamed into place, so a crash or
    kill of the writer leaves at most a stray temp file, never a partial blob. Against
    a power loss that also holds only with ``fsync=True`` (FLOWTRACK_FSYNC=1), which
    flushes each blob to disk before the rename.
    """

    def __init__(self, root: str | os.PathLike[str], fsync: bool = False) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.fsync = fsync
        self._made_dirs: set[str] = set()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def _ensure_dir(self, path: Path) -> None:
        if str(path) not in self._made_dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(str(path))

    supports_unnamed_writes = True

    def write(self, key: str, chunks: Iterable[Any]) -> None:
        self.publish(self.write_unnamed(chunks), key)

    def write_unnamed(self, chunks: Iterable[Any]) -> Path:
        tmp_dir = self.root / "tmp"
        self._ensure_dir(tmp_dir)
        tmp = tmp_dir / uuid.uuid4().hex
        try:
            with open(tmp, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def publish(self, handle: Any, key: str) -> None:
        tmp, target = Path(handle), self._path(key)
        try:
            if target.exists():  # the same content is already stored
                return
            self._ensure_dir(target.parent)
            os.replace(tmp, target)
            if self.fsync:
                _fsync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def remove_stale_temporaries(self, older_than_seconds: float) -> int:
        tmp_dir = self.root / "tmp"
        if not tmp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for leftover in tmp_dir.iterdir():
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
            except FileNotFoundError:  # another process cleaned it first
                continue
        return removed

    def local_path(self, key: str) -> str | None:
        path = self._path(key)
        return str(path) if path.exists() else None

    def location(self, key: str) -> str:
        return str(self._path(key))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "memory")


def backend_for_url(url: str, fsync: bool = False) -> BlobBackend:
    """Build the backend named by a path or URL (``file://`` or a plain path)."""
    if url.startswith("file://"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigurationError(f"Blob store URL {url!r} names the host {parsed.netloc!r}; "
                                     "file:// URLs must be local (file:///path).")
        return LocalBackend(unquote(parsed.path), fsync)
    if url.split("://", 1)[0] in OBJECT_STORE_SCHEMES:
        from ._object_store import ObjectStoreBackend

        return ObjectStoreBackend(url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigurationError(
            f"Blob store URL {url!r} uses the scheme {scheme!r}, which this installation "
            "does not support. Set FLOWTRACK_STORE to a local directory path (or a file:// "
            f"URL), or an object store URL ({', '.join(f'{s}://' for s in OBJECT_STORE_SCHEMES)})."
        )
    return LocalBackend(url, fsync)
