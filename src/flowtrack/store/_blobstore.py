"""The content-addressed blob store: values and raw bytes in, digests out.

Every blob is named by the BLAKE3 digest of its bytes, so identical values are
stored once across tasks, runs and flows, and a blob is never rewritten. Values
whose encoding is at most ``inline_limit`` bytes are not written at all: their bytes
travel with the reference (``BlobRef.inline``) and the caller keeps them in the
metadata database, so tiny values never cost a file each.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import blake3

from .._errors import StoreError
from ._backend import BlobBackend, backend_for_url
from ._codec import Encoded, decode, decode_file, encode

INLINE_LIMIT = 1024
_PARALLEL_WRITE_BYTES = 1 << 24  # from 16 MB, hashing alongside the write pays
MAP_MIN_BYTES = 1 << 20  # smaller blobs are read whole: one read beats setting up a map
_THREADED_HASH_BYTES = 1 << 22


@dataclass(frozen=True)
class BlobRef:
    """Where an encoded value lives: its digest, size, and bytes if kept inline."""

    digest: str
    size: int
    inline: bytes | None = None


def digest_chunks(chunks: list[Any], total: int) -> str:
    # an explicit count, not blake3.AUTO: AUTO shares one global thread pool, which a
    # forked task process inherits without its threads and then waits on forever
    threads = min(os.cpu_count() or 1, 8) if total >= _THREADED_HASH_BYTES else 1
    hasher = blake3.blake3(max_threads=threads)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


class BlobStore:
    """Put and get values and bytes by digest on one backend."""

    def __init__(self, url_or_backend: str | BlobBackend, inline_limit: int = INLINE_LIMIT,
                 fsync: bool = False, verify_reads: bool = False) -> None:
        self.backend = (url_or_backend if isinstance(url_or_backend, BlobBackend)
                        else backend_for_url(url_or_backend, fsync))
        self.inline_limit = inline_limit
        self.verify_reads = verify_reads  # check mapped blobs too (FLOWTRACK_VERIFY_READS)

    @property
    def url(self) -> str:
        return self.backend.url

    def location(self, digest: str) -> str:
        return self.backend.location(digest)

    def put_encoded(self, encoded: Encoded, allow_inline: bool = True) -> BlobRef:
        if encoded.size >= _PARALLEL_WRITE_BYTES and self.backend.supports_unnamed_writes:
            return BlobRef(self._hash_while_writing(encoded), encoded.size)
        digest = digest_chunks(encoded.chunks, encoded.size)
        if allow_inline and encoded.size <= self.inline_limit:
            return BlobRef(digest, encoded.size, encoded.to_bytes())
        if not self.backend.exists(digest):
            self.backend.write(digest, encoded.chunks)
        return BlobRef(digest, encoded.size)

    def _hash_while_writing(self, encoded: Encoded) -> str:
        """Write a large blob while another thread hashes it: both release the GIL, so
        storing costs about one write instead of a hash plus a write."""
        result: dict[str, Any] = {}

        def hash_chunks() -> None:
            try:
                result["digest"] = digest_chunks(encoded.chunks, encoded.size)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                result["error"] = exc

        hasher = threading.Thread(target=hash_chunks, name="flowtrack-blob-hash")
        hasher.start()
        try:
            handle = self.backend.write_unnamed(encoded.chunks)
        finally:
            hasher.join()
        if "error" in result:
            raise result["error"]
        self.backend.publish(handle, result["digest"])
        return str(result["digest"])

    def put_value(self, value: Any, allow_inline: bool = True) -> BlobRef:
        """Encode and store ``value``; raises ``store.EncodeError`` if unpicklable."""
        return self.put_encoded(encode(value), allow_inline)

    def put_bytes(self, data: bytes) -> str:
        """Store raw bytes (logs, files) and return their digest."""
        digest = digest_chunks([data], len(data))
        if not self.backend.exists(digest):
            self.backend.write(digest, [data])
        return digest

    def get_bytes(self, digest: str) -> bytes:
        """The bytes of a blob, checked against its digest."""
        try:
            data = self.backend.read(digest)
        except FileNotFoundError:
            raise StoreError(self._missing(digest)) from None
        if digest_chunks([data], len(data)) != digest:
            raise StoreError(f"Blob {digest} in the blob store at {self.url} is corrupt: its "
                             "bytes no longer match their digest. Restore it from a backup or "
                             "re-run the task that produced it.")
        return data

    def get_value(self, ref: BlobRef | str, verify: bool | None = None) -> Any:
        """Load a value from its reference (inline bytes or a stored blob).

        Large local blobs are memory-mapped and not re-hashed (that would read them
        whole; see benchmarks/bench_verify_reads.py) unless ``verify`` (default: the
        store's ``verify_reads``); everything else is verified against its digest
        before decoding.
        """
        if isinstance(ref, BlobRef) and ref.inline is not None:
            return decode(ref.inline)
        digest = ref.digest if isinstance(ref, BlobRef) else ref
        path = self.backend.local_path(digest)
        checked = self.verify_reads if verify is None else verify
        if not checked and path is not None and os.path.getsize(path) >= MAP_MIN_BYTES:
            return decode_file(path)
        return decode(self.get_bytes(digest))

    def _missing(self, digest: str) -> str:
        return (f"Blob {digest} is missing from the blob store at {self.url}. The store was "
                "moved or pruned, or FLOWTRACK_STORE points at a different store than the one "
                "the run wrote to; point FLOWTRACK_STORE at the original store.")
