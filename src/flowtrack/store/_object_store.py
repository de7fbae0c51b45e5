"""Blobs in object storage (``s3://bucket/prefix``, ``gs://``, ``az://``... any
fsspec URL): the same ``<first two hex digits>/<digest>`` layout as on disk.

An object store makes a blob visible only when its upload completes (a multipart
upload is one object at the end), so writes are atomic without a rename; large
blobs go up in parallel parts. Credentials and endpoints come from the usual places
(environment, config files); ``FLOWTRACK_S3_ENDPOINT_URL`` (or Metaflow's
``METAFLOW_S3_ENDPOINT_URL``, or ``AWS_ENDPOINT_URL``) points S3 URLs at an
S3-compatible server such as MinIO.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .._config import env
from .._errors import ConfigurationError
from ._backend import BlobBackend

PART_BYTES = 32 * 1024 * 1024  # multipart upload part size (and ranged-read size)
# parts in flight at once for a large blob: one connection rarely fills the link
TRANSFER_CONCURRENCY = 8


def storage_options(url: str) -> dict[str, Any]:
    """fsspec options for ``url`` from flowtrack's environment variables."""
    if url.startswith(("s3://", "s3a://")):
        endpoint = env("FLOWTRACK_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        return {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return {}


class ObjectStoreBackend(BlobBackend):
    """Immutable blobs under a prefix of an fsspec filesystem."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._fs: Any = None
        self._pid = -1
        self._connect()  # fail now, with a clear message, if the URL is unusable

    def _connect(self) -> Any:
        """The filesystem, made anew in each process: async clients (s3fs) cannot
        cross a fork, and every task is a forked process."""
        if self._fs is not None and self._pid == os.getpid():
            return self._fs
        try:
            import fsspec
        except ImportError:
            raise ConfigurationError(f"Blob store URL {self.url!r} needs fsspec and the driver "
                                     "for its scheme: pip install 'flowtrack[s3]'.") from None
        try:
            self._fs, root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True,
                                                   **storage_options(self.url))
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(f"Cannot use the blob store URL {self.url!r}: {exc}. For "
                                     "s3:// URLs: pip install 'flowtrack[s3]'.") from None
        self.root = root.rstrip("/")
        self._pid = os.getpid()
        return self._fs

    @property
    def fs(self) -> Any:
        return self._connect()

    def _path(self, key: str) -> str:
        return f"{self.root}/{key[:2]}/{key}"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    @property
    def _concurrent(self) -> bool:
        """Whether the filesystem moves one object's parts in parallel (s3fs does)."""
        return hasattr(self.fs, "max_concurrency")

    def write(self, key: str, chunks: Iterable[Any]) -> None:
        chunks = list(chunks)
        total = sum(memoryview(c).nbytes for c in chunks)
        if total >= 2 * PART_BYTES and self._concurrent:
            # one buffer, sent as TRANSFER_CONCURRENCY parts at a time; the join costs a
            # memory copy, far less than uploading the parts one after another
            self.fs.pipe_file(self._path(key), b"".join(chunks), chunksize=PART_BYTES,
                              max_concurrency=TRANSFER_CONCURRENCY)
            return
        with self.fs.open(self._path(key), "wb", block_size=PART_BYTES) as out:
            for chunk in chunks:
                out.write(chunk)

    def read(self, key: str) -> bytes:
        if self._concurrent:  # ranged GETs in parallel for objects over one part
            return bytes(self.fs.cat_file(self._path(key), chunksize=PART_BYTES,
                                          max_concurrency=TRANSFER_CONCURRENCY))
        return bytes(self.fs.cat_file(self._path(key)))

    def location(self, key: str) -> str:
        return f"{self.url}/{key[:2]}/{key}"
