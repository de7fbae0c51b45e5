"""Content-addressed blob storage and the value codec (knows nothing of metadata)."""

from ._backend import BlobBackend, LocalBackend, backend_for_url
from ._blobstore import INLINE_LIMIT, BlobRef, BlobStore, digest_chunks
from ._codec import DecodeError, EncodeError, decode, encode

__all__ = [
    "INLINE_LIMIT",
    "BlobBackend",
    "BlobRef",
    "BlobStore",
    "DecodeError",
    "EncodeError",
    "LocalBackend",
    "backend_for_url",
    "decode",
    "digest_chunks",
    "encode",
]
