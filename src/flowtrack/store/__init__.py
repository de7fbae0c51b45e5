"""Content-addressed blob storage and the value codec (knows nothing of metadata)."""

from ._backend import BlobBackend, LocalBackend, backend_for_url
from ._blobstore import INLINE_LIMIT, BlobRef, BlobStore, digest_chunks
from ._codec import DecodeError, Encoded, EncodeError, decode, decode_file, encode

__all__ = [
    "INLINE_LIMIT",
    "BlobBackend",
    "BlobRef",
    "BlobStore",
    "DecodeError",
    "EncodeError",
    "Encoded",
    "LocalBackend",
    "backend_for_url",
    "decode",
    "decode_file",
    "digest_chunks",
    "encode",
]
