"""The value codec: pickle-5 blobs with out-of-band buffers, zstd where it pays, mmap on load."""

from __future__ import annotations

import math
import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from flowtrack.store import BlobStore, DecodeError, EncodeError, decode, encode

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def roundtrip(value):
    encoded = encode(value)
    blob = encoded.to_bytes()
    assert len(blob) == encoded.size
    return decode(blob)


# -- JSON-like values, bytes, containers --------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text() | st.binary())
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=40,
)
nested = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=5)
    | st.frozensets(st.integers() | st.text(max_size=5), max_size=5)
    | st.builds(bytearray, st.binary()),
    max_leaves=30,
)


@FAST
@given(json_like)
def test_json_like_values_roundtrip(value):
    assert roundtrip(value) == value


@FAST
@given(st.binary(max_size=20_000))
def test_bytes_roundtrip(value):
    out = roundtrip(value)
    assert type(out) is bytes
    assert out == value


@FAST
@given(nested)
def test_nested_containers_roundtrip_with_types(value):
    out = roundtrip(value)
    assert out == value
    assert type(out) is type(value)


@FAST
@given(st.lists(st.floats(), max_size=20))
def test_floats_including_nan_roundtrip_bit_exact(values):
    out = roundtrip(values)
    assert len(out) == len(values)
    for a, b in zip(out, values):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def test_large_bytearray_roundtrips():
    value = bytearray(os.urandom(200_000))
    out = roundtrip(value)
    assert out == value and type(out) is bytearray


def test_array_buffers_go_out_of_band_and_64_byte_aligned():
    arrays = [np.arange(1000, dtype=np.int8), np.random.default_rng(0).random(5000)]
    encoded = encode(arrays)
    raw = [c for c in encoded.chunks if isinstance(c, memoryview) and c.nbytes in (1000, 40_000)]
    assert len(raw) == 2  # each array written as raw memory, not copied into the pickle
    offset = 0
    for chunk in encoded.chunks:
        if any(chunk is r for r in raw):
            assert offset % 64 == 0
        offset += len(bytes(chunk))
    for out, arr in zip(decode(encoded.to_bytes()), arrays):
        assert_arrays_identical(out, arr)


# -- numpy ----------------------------------------------------------------------------------

dtypes = st.one_of(
    hnp.integer_dtypes(endianness="?"),
    hnp.unsigned_integer_dtypes(endianness="?"),
    hnp.floating_dtypes(endianness="?"),
    hnp.complex_number_dtypes(),
    hnp.boolean_dtypes(),
    hnp.unicode_string_dtypes(max_len=6),
    hnp.byte_string_dtypes(max_len=6),
    hnp.datetime64_dtypes(endianness="="),  # numpy itself pickles >M8 as <M8
    hnp.timedelta64_dtypes(endianness="="),
)
base_arrays = hnp.arrays(dtype=dtypes, shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0,
                                                                max_side=6))


@st.composite
def laid_out_arrays(draw):
    """Arrays in C order, Fortran order, strided and transposed views."""
    arr = draw(base_arrays)
    layout = draw(st.sampled_from(["C", "F", "strided", "transposed", "reversed"]))
    if layout == "F":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = arr[(slice(None, None, 2),) * arr.ndim]
    elif layout == "transposed":
        arr = arr.T
    elif layout == "reversed" and arr.ndim:
        arr = arr[::-1]
    return arr


def assert_arrays_identical(out, arr):
    assert isinstance(out, np.ndarray)
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        assert out.dtype == arr.dtype
    else:
        # numpy pickles non-contiguous non-native-endian arrays in native byte order (plain
        # pickle does the same); the values must still be identical
        assert out.dtype == pickle.loads(pickle.dumps(arr, protocol=5)).dtype
        assert out.dtype.newbyteorder("=") == arr.dtype.newbyteorder("=")
    assert out.shape == arr.shape
    # bit-exact, NaN payloads and NaT included
    assert out.astype(arr.dtype, copy=False).tobytes() == arr.tobytes()


@FAST
@given(laid_out_arrays())
def test_numpy_arrays_roundtrip_exactly(arr):
    out = roundtrip(arr)
    assert_arrays_identical(out, arr)
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        assert out.flags.c_contiguous == arr.flags.c_contiguous
        assert out.flags.f_contiguous == arr.flags.f_contiguous


@pytest.mark.parametrize("arr", [
    np.array(3.5),
    np.array(7, dtype=np.int8),
    np.zeros((0,)),
    np.zeros((3, 0, 2), dtype=np.float32),
    np.asfortranarray(np.arange(200_000, dtype=np.float64).reshape(400, 500)),
    np.arange(1_000_000, dtype=np.int64).reshape(1000, 1000)[::3, 1::7],
    np.random.default_rng(0).random((300, 300)).T,
    np.zeros(4, dtype=[("a", "<i4"), ("b", ">f8"), ("c", "S3")]),
    np.array([1, "two", None, {"x": 1}], dtype=object),
], ids=["0d-float", "0d-int8", "empty", "empty-3d", "fortran-large", "strided-large",
        "transposed", "structured", "object"])
def test_numpy_edge_arrays_roundtrip(arr):
    out = roundtrip(arr)
    if arr.dtype == object:
        assert out.dtype == object and list(out) == list(arr)
    else:
        assert_arrays_identical(out, arr)


def test_arrays_inside_containers_roundtrip_and_share_nothing():
    a = np.arange(100_000, dtype=np.float64)
    value = {"a": a, "b": [a[::2], np.ones(10)], "c": "text"}
    out = roundtrip(value)
    assert_arrays_identical(out["a"], a)
    assert_arrays_identical(out["b"][0], a[::2])
    assert out["c"] == "text"
    assert not np.shares_memory(out["a"], a)


# -- pandas ---------------------------------------------------------------------------------

def _frames():
    rng = np.random.default_rng(1)
    n = 2000
    return {
        "mixed": pd.DataFrame({
            "i": np.arange(n), "f": rng.random(n), "s": [f"row{i}" for i in range(n)],
            "t": pd.date_range("2021-01-01", periods=n, freq="min", tz="UTC"),
            "c": pd.Categorical(["red", "green", "blue", "red"] * (n // 4)),
            "b": rng.random(n) > 0.5, "n": pd.array([1, None] * (n // 2), dtype="Int64"),
        }),
        "empty": pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="object")}),
        "multiindex": pd.DataFrame(
            rng.random((6, 2)), columns=["x", "y"],
            index=pd.MultiIndex.from_product([["a", "b", "c"], [1, 2]], names=["k", "j"])),
        "wide": pd.DataFrame(rng.random((50, 200))),
    }


@pytest.mark.parametrize("name", list(_frames()))
def test_pandas_dataframes_roundtrip(name):
    df = _frames()[name]
    out = roundtrip(df)
    pd.testing.assert_frame_equal(out, df)


@FAST
@given(st.lists(st.tuples(st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=8)),
                max_size=30))
def test_pandas_generated_frames_roundtrip(rows):
    df = pd.DataFrame(rows, columns=["i", "f", "s"])
    pd.testing.assert_frame_equal(roundtrip(df), df)


def test_pandas_series_roundtrip():
    s = pd.Series(np.arange(10_000, dtype=np.float32), name="x",
                  index=pd.RangeIndex(10_000) * 2)
    pd.testing.assert_series_equal(roundtrip(s), s)


# -- compression ----------------------------------------------------------------------------

def test_compressible_array_is_compressed():
    arr = np.zeros(1_000_000)  # 8 MB
    encoded = encode(arr)
    assert encoded.size < arr.nbytes / 100
    assert_arrays_identical(decode(encoded.to_bytes()), arr)


def test_compressible_text_is_compressed():
    text = "the quick brown fox jumps over the lazy dog\n" * 50_000
    encoded = encode(text)
    assert encoded.size < len(text) / 20
    assert decode(encoded.to_bytes()) == text


def test_random_floats_are_not_compressed():
    arr = np.random.default_rng(2).random(500_000)
    encoded = encode(arr)
    # stored raw: the encoding is the raw buffer plus a small header
    assert arr.nbytes <= encoded.size < arr.nbytes + 1024
    assert any(isinstance(c, memoryview) and c.nbytes == arr.nbytes for c in encoded.chunks)
    assert_arrays_identical(decode(encoded.to_bytes()), arr)


def test_small_values_are_not_compressed():
    value = "a" * 1000  # compresses well, but is below the size where zstd pays
    encoded = encode(value)
    assert encoded.size > 1000


# -- memory-mapped loading ------------------------------------------------------------------

def _blob_path(store: BlobStore, digest: str) -> Path:
    path = store.backend.local_path(digest)
    assert path is not None
    return Path(path)


def test_mmapped_arrays_are_writable_and_do_not_touch_the_blob(tmp_path):
    store = BlobStore(str(tmp_path / "blobs"))
    arr = np.random.default_rng(3).random(400_000)  # 3.2 MB of incompressible data
    ref = store.put_value({"w": arr, "v": arr[::2].copy()})
    path = _blob_path(store, ref.digest)
    before = path.read_bytes()

    out = store.get_value(ref)
    # the array is a view on a memory map of the blob, not a copy read into memory
    base = out["w"]
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(getattr(base, "obj", base), __import__("mmap").mmap)

    assert out["w"].flags.writeable and out["v"].flags.writeable
    out["w"][:] = -1.0
    out["v"][0] = 42.0
    assert path.read_bytes() == before
    again = store.get_value(ref)
    assert_arrays_identical(again["w"], arr)
    assert again["v"][0] == arr[0]


@pytest.mark.parametrize("make", [
    pytest.param(lambda: np.zeros(300_000), id="compressed"),
    pytest.param(lambda: np.random.default_rng(4).random(300_000), id="mmapped-3MB"),
    pytest.param(lambda: np.random.default_rng(5).random(50_000), id="uncompressed-400KB"),
    pytest.param(lambda: np.arange(10), id="inline"),
])
def test_loaded_arrays_are_writable_whatever_their_size(tmp_path, make):
    store = BlobStore(str(tmp_path / "blobs"))
    arr = make()
    out = store.get_value(store.put_value(arr))
    assert_arrays_identical(out, arr)
    assert out.flags.writeable
    out[0] = 1  # a Metaflow user mutating an artifact loaded in a later step


# -- errors ---------------------------------------------------------------------------------

decodable = st.one_of(json_like, st.binary(max_size=5000),
                      hnp.arrays(hnp.floating_dtypes() | hnp.integer_dtypes(),
                                 hnp.array_shapes(min_dims=1, max_dims=2, max_side=50)),
                      st.lists(st.builds(np.zeros, st.integers(0, 3000)), max_size=3))


@FAST
@given(decodable, st.data())
def test_truncated_blobs_raise_decode_error(value, data):
    blob = encode(value).to_bytes()
    cut = data.draw(st.integers(0, len(blob) - 1), label="cut")
    with pytest.raises(DecodeError):
        decode(blob[:cut])


@FAST
@given(st.binary(max_size=300).filter(lambda b: not b.startswith(b"FTB1")))
def test_garbage_without_magic_raises_decode_error(garbage):
    with pytest.raises(DecodeError):
        decode(garbage)


@pytest.mark.parametrize("garbage", [b"", b"FTB1", b"FTB1" + b"\0" * 3, b"\x80\x05K\x01.",
                                     b"FTB1" + b"\xff" * 60])
def test_short_or_foreign_bytes_raise_decode_error(garbage):
    with pytest.raises(DecodeError):
        decode(garbage)


def _with_corrupt_stream(value, offset_in_stream: int, new_byte: int) -> bytes:
    blob = bytearray(encode(value).to_bytes())
    start = blob.index(b"\x80\x05", 4)  # the pickle stream's PROTO opcode
    blob[start + offset_in_stream] = new_byte
    return bytes(blob)


def test_corrupt_pickle_protocol_byte_raises_decode_error():
    with pytest.raises(DecodeError):
        decode(_with_corrupt_stream([1, 2, 3], 1, 222))  # "unsupported pickle protocol: 222"


def test_corrupt_string_payload_raises_decode_error():
    blob = bytearray(encode(["abc"]).to_bytes())
    pos = blob.index(b"abc")
    blob[pos] = 0xFF  # no longer valid UTF-8
    with pytest.raises(DecodeError):
        decode(bytes(blob))


@pytest.mark.parametrize("value", [
    lambda x: x,
    threading.Lock(),
    {"nested": [1, 2, threading.Lock()]},
    (i for i in range(3)),
], ids=["lambda", "lock", "nested-lock", "generator"])
def test_unpicklable_values_raise_encode_error(value):
    with pytest.raises(EncodeError) as info:
        encode(value)
    assert str(info.value)  # the message names the pickling failure
    assert info.value.__cause__ is not None


def test_encode_error_message_names_the_problem():
    with pytest.raises(EncodeError, match="lock"):
        encode(threading.Lock())
