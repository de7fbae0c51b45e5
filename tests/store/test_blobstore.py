"""The content-addressed blob store and its local backend."""

from __future__ import annotations

import builtins
import math
import os
import uuid
from pathlib import Path

import blake3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtrack._errors import ConfigurationError, StoreError
from flowtrack.store import (
    INLINE_LIMIT,
    BlobRef,
    BlobStore,
    LocalBackend,
    backend_for_url,
    digest_chunks,
    encode,
)

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "blobs"))


def blob_files(root: Path) -> list[Path]:
    """Every stored blob (the tmp/ staging directory excluded)."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp")


def tmp_files(root: Path) -> list[Path]:
    tmp = root / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


# -- digests --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    os.urandom(2500).hex(),
    list(range(2000)),
    np.random.default_rng(0).random(10_000),
    np.zeros(700_000),  # > 4 MiB raw, compressed
    np.random.default_rng(1).random(600_000),  # > 4 MiB: hashed with several threads
], ids=["str", "list", "array", "zeros", "multithreaded-hash"])
def test_digest_is_blake3_of_the_blob_bytes(store, value):
    encoded = encode(value)
    blob = encoded.to_bytes()
    ref = store.put_value(value, allow_inline=False)
    assert ref.digest == blake3.blake3(blob).hexdigest()
    assert ref.size == len(blob)
    assert ref.inline is None
    path = Path(store.backend.local_path(ref.digest))
    assert path.read_bytes() == blob
    assert path == Path(store.backend.root) / ref.digest[:2] / ref.digest
    assert store.location(ref.digest) == str(path)


def test_digest_chunks_matches_blake3_of_the_concatenation():
    chunks = [b"abc", memoryview(b"defg"), bytearray(b"h"), b""]
    assert digest_chunks(chunks, 8) == blake3.blake3(b"abcdefgh").hexdigest()
    big = os.urandom(5 << 20)
    assert digest_chunks([big[:100], big[100:]], len(big)) == blake3.blake3(big).hexdigest()


def test_put_bytes_digest_is_blake3_and_get_bytes_returns_them(store):
    data = os.urandom(10_000)
    digest = store.put_bytes(data)
    assert digest == blake3.blake3(data).hexdigest()
    assert store.get_bytes(digest) == data
    assert store.put_bytes(data) == digest
    assert len(blob_files(Path(store.url))) == 1


@pytest.mark.parametrize("data", [b"", b"x", b"log line\n" * 3], ids=["empty", "one", "small"])
def test_put_bytes_is_never_inline(store, data):
    digest = store.put_bytes(data)
    assert digest == blake3.blake3(data).hexdigest()
    assert store.get_bytes(digest) == data


# -- dedupe and inline values ---------------------------------------------------------------

def test_same_value_twice_writes_one_file(store, monkeypatch):
    writes = []
    real_write = store.backend.write
    monkeypatch.setattr(store.backend, "write",
                        lambda key, chunks: (writes.append(key), real_write(key, chunks)))
    value = {"weights": np.arange(50_000, dtype=np.float32), "name": "model"}
    first = store.put_value(value)
    second = store.put_value({"weights": np.arange(50_000, dtype=np.float32), "name": "model"})
    assert first == second
    assert writes == [first.digest]
    assert len(blob_files(Path(store.url))) == 1
    assert tmp_files(Path(store.url)) == []


def test_distinct_values_write_distinct_files(store):
    refs = {store.put_value("v" * 2000 + str(i)).digest for i in range(5)}
    assert len(refs) == 5
    assert len(blob_files(Path(store.url))) == 5


@pytest.mark.parametrize("value", [None, 0, 3.14, "short", [1, 2, 3], {"lr": 0.01},
                                   np.arange(10), b"\x00" * 100])
def test_tiny_values_come_back_inline_without_a_file(store, value):
    ref = store.put_value(value)
    assert ref.inline is not None
    assert ref.size == len(ref.inline) <= INLINE_LIMIT
    assert ref.inline == encode(value).to_bytes()
    assert ref.digest == blake3.blake3(ref.inline).hexdigest()
    assert blob_files(Path(store.url)) == []
    out = store.get_value(ref)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(out, value)
    else:
        assert out == value


def test_inline_limit_is_inclusive_and_configurable(tmp_path):
    value = "y" * 300
    size = encode(value).size
    at_limit = BlobStore(str(tmp_path / "a"), inline_limit=size)
    below = BlobStore(str(tmp_path / "b"), inline_limit=size - 1)
    assert at_limit.put_value(value).inline is not None
    ref = below.put_value(value)
    assert ref.inline is None
    assert len(blob_files(tmp_path / "b")) == 1
    assert below.get_value(ref) == value
    assert below.get_value(ref.digest) == value  # a bare digest works too


def test_allow_inline_false_writes_tiny_values(store):
    ref = store.put_value(42, allow_inline=False)
    assert ref.inline is None
    assert len(blob_files(Path(store.url))) == 1
    assert store.get_value(ref) == 42
    # the digest does not depend on where the bytes live
    assert ref.digest == store.put_value(42).digest


def test_values_survive_a_new_store_on_the_same_directory(tmp_path):
    ref = BlobStore(str(tmp_path / "s")).put_value(list(range(5000)))
    assert BlobStore(str(tmp_path / "s")).get_value(ref) == list(range(5000))


# -- missing blobs --------------------------------------------------------------------------

MISSING = "ab" * 32


def test_missing_blob_get_bytes_names_the_digest_and_the_fix(store):
    with pytest.raises(StoreError) as info:
        store.get_bytes(MISSING)
    message = str(info.value)
    assert MISSING in message
    assert store.url in message
    assert "FLOWTRACK_STORE" in message


@pytest.mark.parametrize("ref", [MISSING, BlobRef(MISSING, 5000)], ids=["digest", "ref"])
def test_missing_blob_get_value_raises_store_error(store, ref):
    with pytest.raises(StoreError, match=MISSING):
        store.get_value(ref)


def test_missing_blob_after_pruning(store):
    ref = store.put_value(os.urandom(5000))
    Path(store.backend.local_path(ref.digest)).unlink()
    with pytest.raises(StoreError, match=ref.digest):
        store.get_value(ref)


# -- atomic writes --------------------------------------------------------------------------

class Boom(Exception):
    pass


def failing_chunks(exc: BaseException):
    yield b"first part of the blob "
    yield memoryview(b"second part")
    raise exc


@pytest.mark.parametrize("exc", [Boom("disk on fire"), KeyboardInterrupt()],
                         ids=["exception", "keyboard-interrupt"])
def test_failed_write_leaves_no_blob_and_no_temp_file(tmp_path, exc):
    backend = LocalBackend(tmp_path / "blobs")
    key = blake3.blake3(b"whatever").hexdigest()
    with pytest.raises(type(exc)):
        backend.write(key, failing_chunks(exc))
    assert not backend.exists(key)
    assert backend.local_path(key) is None
    assert not (tmp_path / "blobs" / key[:2] / key).exists()
    assert tmp_files(tmp_path / "blobs") == []
    assert blob_files(tmp_path / "blobs") == []
    # a later write of the same key succeeds
    backend.write(key, [b"whatever"])
    assert backend.read(key) == b"whatever"
    assert tmp_files(tmp_path / "blobs") == []


def test_failed_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    backend = LocalBackend(tmp_path / "blobs")
    key = "cd" * 32

    def no_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        backend.write(key, [b"data"])
    assert not backend.exists(key)
    assert tmp_files(tmp_path / "blobs") == []


def test_store_put_that_fails_mid_write_leaves_nothing(store, monkeypatch):
    real_write = store.backend.write

    def write_then_fail(key, chunks):
        def gen():
            it = iter(chunks)
            yield next(it)
            raise Boom("killed")
        real_write(key, gen())

    monkeypatch.setattr(store.backend, "write", write_then_fail)
    value = np.random.default_rng(2).random(10_000)
    with pytest.raises(Boom):
        store.put_value(value)
    monkeypatch.undo()
    assert blob_files(Path(store.url)) == []
    assert tmp_files(Path(store.url)) == []
    ref = store.put_value(value)  # retried: nothing half-written blocks it
    np.testing.assert_array_equal(store.get_value(ref), value)


# -- backend_for_url ------------------------------------------------------------------------

def test_backend_for_a_plain_path(tmp_path):
    backend = backend_for_url(str(tmp_path / "store"))
    assert isinstance(backend, LocalBackend)
    assert backend.root == tmp_path / "store"
    assert backend.url == str(tmp_path / "store")


def test_backend_for_a_file_url(tmp_path):
    backend = backend_for_url(f"file://{tmp_path / 'store'}")
    assert isinstance(backend, LocalBackend)
    assert backend.root == tmp_path / "store"
    store = BlobStore(f"file://{tmp_path / 'store'}")
    ref = store.put_value("q" * 3000)
    assert (tmp_path / "store" / ref.digest[:2] / ref.digest).is_file()


@pytest.mark.parametrize("suffix", ["localhost{path}", "{quoted}"], ids=["localhost", "percent"])
def test_file_url_forms(tmp_path, suffix):
    target = tmp_path / "my store"
    url = "file://" + suffix.format(path=target, quoted=str(target).replace(" ", "%20"))
    assert backend_for_url(url).root == target


@pytest.mark.parametrize("url", ["ftp://host/prefix", "sftp://host/x", "https://example.com/x"])
def test_unsupported_scheme_is_a_configuration_error(url):
    scheme = url.split("://")[0]
    with pytest.raises(ConfigurationError) as info:
        backend_for_url(url)
    message = str(info.value)
    assert url in message
    assert repr(scheme) in message
    assert "FLOWTRACK_STORE" in message
    with pytest.raises(ConfigurationError):
        BlobStore(url)


# -- properties -----------------------------------------------------------------------------

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.binary(),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=6), c, max_size=5)
    | st.tuples(c, c),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> BlobStore:
    return BlobStore(str(tmp_path_factory.mktemp("blobs")), inline_limit=64)


@FAST
@given(values)
def test_digest_is_deterministic(shared_store, value):
    first = shared_store.put_value(value)
    second = shared_store.put_value(value)
    assert first == second
    assert encode(value).to_bytes() == encode(value).to_bytes()
    assert shared_store.get_value(first) == value


def _same(a, b) -> bool:
    """Equal and indistinguishable (type, float sign) values; those may share a digest."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@FAST
@given(values, values)
def test_distinct_values_get_distinct_digests(shared_store, a, b):
    if not _same(a, b):
        assert shared_store.put_value(a).digest != shared_store.put_value(b).digest


def test_concurrent_writers_of_one_blob_use_distinct_temp_files(tmp_path, monkeypatch):
    backend = LocalBackend(tmp_path / "b")
    key = uuid.uuid4().hex * 2
    names = set()
    real_open = builtins.open

    def spy_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            names.add(str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    backend.write(key, [b"1"])
    backend.write(key, [b"1"])
    monkeypatch.undo()
    assert len(names) == 2
    assert all(Path(n).parent == tmp_path / "b" / "tmp" for n in names)


def test_an_object_store_without_its_driver_says_what_to_install():
    pytest.importorskip("fsspec")
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    with pytest.raises(ConfigurationError, match="pip install"):
        backend_for_url("gs://bucket/prefix")


def _flip_one_byte_inside(store: BlobStore, digest: str) -> None:
    path = Path(store.backend.local_path(digest) or "")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the array's buffer, not its header
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_mapped_blob_is_found_only_when_reads_are_verified(tmp_path):
    array = np.random.default_rng(0).random(1_000_000)  # incompressible: stored raw, mapped
    ref = BlobStore(str(tmp_path)).put_value(array)
    _flip_one_byte_inside(BlobStore(str(tmp_path)), ref.digest)
    # the default maps large arrays without reading them whole: the damage goes unseen
    assert not np.array_equal(BlobStore(str(tmp_path)).get_value(ref), array)
    with pytest.raises(StoreError, match="corrupt"):
        BlobStore(str(tmp_path), verify_reads=True).get_value(ref)
    with pytest.raises(StoreError, match="corrupt"):
        BlobStore(str(tmp_path)).get_value(ref, verify=True)


def test_verify_reads_comes_from_the_environment(monkeypatch):
    from flowtrack._config import settings as resolved

    monkeypatch.setenv("FLOWTRACK_VERIFY_READS", "1")
    assert resolved().verify_reads
    monkeypatch.delenv("FLOWTRACK_VERIFY_READS")
    assert not resolved().verify_reads
