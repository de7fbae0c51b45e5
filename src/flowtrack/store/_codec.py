"""The codec: Python values <-> self-describing byte blobs.

Values are pickled with protocol 5 and their large buffers (numpy arrays, pandas
blocks and other objects exporting PickleBuffers) taken out of band, so they are written and read as raw
memory, never copied into the pickle stream. A blob is::

    header | pickle stream | buffer 0 | buffer 1 | ...      (buffers 64-byte aligned)

On load, uncompressed buffers are slices of one copy-on-write memory map of the
file, so a 200 MB array "loads" without reading it and pages in on first touch.
Compression (zstandard) is applied only where a quick probe shows it pays; random
floats are never compressed, text-like pickle streams usually are.
"""

from __future__ import annotations

import mmap
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

import zstandard

from .._errors import StoreError

MAGIC = b"FTB1"
ALIGN = 64
_HEADER = struct.Struct("<4sBxxxIQQ")  # magic, flags, n_buffers, main_len, main_raw_len
_BUFFER = struct.Struct("<QQQB7x")  # offset, stored_len, raw_len, compressed
_FLAG_MAIN_ZSTD = 1

COMPRESS_MIN_BYTES = 4096  # below this compression never pays for its header
PROBE_BYTES = 1 << 16
PROBE_RATIO = 0.6  # compress a buffer only if a probe shrinks it to 60 % or less
MAIN_RATIO = 0.9


class EncodeError(StoreError):
    """The value could not be pickled; the message says why."""


# What unpickling garbage raises. ImportError/AttributeError are left alone: they
# mean the value's class is missing here, which the caller must see as such.
_CORRUPTION_ERRORS = (pickle.UnpicklingError, EOFError, zstandard.ZstdError, struct.error,
                      ValueError, UnicodeDecodeError, IndexError, OverflowError)


class DecodeError(StoreError):
    """The bytes are not a flowtrack blob, or are truncated."""


@dataclass
class Encoded:
    """An encoded value as a list of byte chunks, written in order without joining."""

    chunks: list[Any] = field(default_factory=list)
    size: int = 0

    def to_bytes(self) -> bytes:
        return b"".join(bytes(c) for c in self.chunks)


def _compress_if_it_pays(data: memoryview, ratio: float) -> tuple[Any, bool]:
    if data.nbytes < COMPRESS_MIN_BYTES:
        return data, False
    compressor = zstandard.ZstdCompressor(level=1)
    if data.nbytes > PROBE_BYTES:
        probe = compressor.compress(data[:PROBE_BYTES])
        if len(probe) > PROBE_BYTES * ratio:
            return data, False
    packed = compressor.compress(data)
    if len(packed) > data.nbytes * ratio:
        return data, False
    return packed, True


def encode(value: Any) -> Encoded:
    """Pickle ``value`` (protocol 5, buffers out of band) into blob chunks."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        main = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except Exception as exc:  # pickle raises many types: TypeError, PicklingError, ...
        raise EncodeError(f"{type(exc).__name__}: {exc}") from exc
    main_stored, main_compressed = _compress_if_it_pays(memoryview(main), MAIN_RATIO)
    raw_views = [buf.raw() for buf in buffers]
    stored = [_compress_if_it_pays(view, PROBE_RATIO) for view in raw_views]

    header_len = _HEADER.size + _BUFFER.size * len(stored)
    offset = header_len + len(main_stored)
    descriptors, layout = [], []
    for (data, compressed), raw in zip(stored, raw_views):
        pad = -offset % ALIGN
        offset += pad
        stored_len = len(data) if compressed else data.nbytes
        descriptors.append(_BUFFER.pack(offset, stored_len, raw.nbytes, int(compressed)))
        layout.append((pad, data))
        offset += stored_len
    flags = _FLAG_MAIN_ZSTD if main_compressed else 0
    header = _HEADER.pack(MAGIC, flags, len(stored), len(main_stored), len(main))
    out = Encoded(chunks=[header + b"".join(descriptors), main_stored])
    for pad, data in layout:
        if pad:
            out.chunks.append(b"\0" * pad)
        out.chunks.append(data)
    out.size = offset
    return out


def _read_header(view: memoryview) -> tuple[int, int, int, list[tuple[int, int, int, bool]]]:
    if view.nbytes < _HEADER.size:
        raise DecodeError("blob is shorter than its header")
    magic, flags, n_buffers, main_len, main_raw_len = _HEADER.unpack_from(view, 0)
    if magic != MAGIC:
        raise DecodeError("not a flowtrack blob (bad magic bytes)")
    descs = []
    for i in range(n_buffers):
        off, stored_len, raw_len, compressed = _BUFFER.unpack_from(view, _HEADER.size + i * _BUFFER.size)
        descs.append((off, stored_len, raw_len, bool(compressed)))
    return flags, main_len, main_raw_len, descs


def decode(data: Any) -> Any:
    """Rebuild a value from a whole blob (bytes, memoryview or an mmap)."""
    view = memoryview(data)
    try:
        return _decode_view(view)
    except _CORRUPTION_ERRORS as exc:
        raise DecodeError(f"The blob cannot be decoded: it is corrupt or truncated, or its "
                          f"value failed to rebuild itself ({type(exc).__name__}: {exc}).") from None


def _decode_view(view: memoryview) -> Any:
    flags, main_len, main_raw_len, descs = _read_header(view)
    start = _HEADER.size + _BUFFER.size * len(descs)
    main: Any = view[start:start + main_len]
    if flags & _FLAG_MAIN_ZSTD:
        main = zstandard.ZstdDecompressor().decompress(main, max_output_size=main_raw_len)
    buffers = []
    for off, stored_len, raw_len, compressed in descs:
        if off + stored_len > view.nbytes:
            raise DecodeError("blob is truncated")
        chunk: Any = view[off:off + stored_len]
        if not compressed and view.readonly:
            chunk = bytearray(chunk)  # arrays read back from bytes must stay writable
        if compressed:
            # bytearray keeps the decompressed buffer writable, like a fresh array
            chunk = bytearray(zstandard.ZstdDecompressor().decompress(chunk, max_output_size=raw_len))
        buffers.append(chunk)
    return pickle.loads(main, buffers=buffers)


def decode_file(path: str) -> Any:
    """Decode a blob file, memory-mapping it copy-on-write so buffers load lazily."""
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    return decode(mapped)
