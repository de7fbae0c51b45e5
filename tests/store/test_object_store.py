"""Blobs in object storage, against a real S3-compatible server (moto's, on
127.0.0.1): bytes and values round trip, missing blobs are clear errors, large
values go up in parts, and a whole flow runs with FLOWTRACK_STORE=s3://..."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

from flowtrack._errors import StoreError
from flowtrack.store import BlobStore
from tests.s3_server import CREDENTIALS, new_bucket, s3_server


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = dict(CREDENTIALS, FLOWTRACK_S3_ENDPOINT_URL=s3_endpoint)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_bytes_and_values_round_trip(s3_env, s3_endpoint):
    store = BlobStore(f"s3://{new_bucket(s3_endpoint)}/blobs")
    digest = store.put_bytes(b"hello")
    assert store.get_bytes(digest) == b"hello"
    assert store.location(digest).startswith("s3://") and store.location(digest).endswith(digest)
    ref = store.put_value({"a": [1, 2, 3]}, allow_inline=False)
    assert store.get_value(ref) == {"a": [1, 2, 3]}
    big = np.arange(12_000_000, dtype=np.float64)  # 96 MB: several upload parts
    assert np.array_equal(store.get_value(store.put_value(big)), big)


def test_metaflow_endpoint_variable_is_read_and_flowtrack_s_wins(s3_env, s3_endpoint,
                                                                monkeypatch):
    bucket = new_bucket(s3_endpoint)
    monkeypatch.delenv("FLOWTRACK_S3_ENDPOINT_URL")
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", s3_endpoint)  # a ported Metaflow setup
    digest = BlobStore(f"s3://{bucket}/blobs").put_bytes(b"via metaflow's name")
    # both set: FLOWTRACK_ wins (Metaflow's points nowhere; a store using it would fail)
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FLOWTRACK_S3_ENDPOINT_URL", s3_endpoint)
    assert BlobStore(f"s3://{bucket}/blobs").get_bytes(digest) == b"via metaflow's name"


def test_large_blobs_go_up_as_parallel_parts_and_come_back_whole(s3_env, s3_endpoint,
                                                                 monkeypatch):
    import boto3

    from flowtrack.store import _object_store

    bucket = new_bucket(s3_endpoint)
    store = BlobStore(f"s3://{bucket}/blobs")
    uploads: list[dict] = []
    fs = store.backend.fs
    real_pipe = fs.pipe_file  # fsspec puts its sync methods on the instance

    def recording_pipe(path, data, **kwargs):
        uploads.append({"size": len(data), **kwargs})
        return real_pipe(path, data, **kwargs)

    monkeypatch.setattr(fs, "pipe_file", recording_pipe)
    data = os.urandom(3 * _object_store.PART_BYTES + 12345)
    digest = store.put_bytes(data)
    assert uploads == [{"size": len(data), "chunksize": _object_store.PART_BYTES,
                        "max_concurrency": _object_store.TRANSFER_CONCURRENCY}]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    head = s3.head_object(Bucket=bucket, Key=f"blobs/{digest[:2]}/{digest}", PartNumber=1)
    assert head["PartsCount"] == 4  # a multipart object of 32 MiB parts
    assert store.get_bytes(digest) == data
    store.put_bytes(b"small")
    assert len(uploads) == 1  # small blobs take one PUT


def test_a_missing_blob_is_a_clear_error(s3_env, s3_endpoint):
    store = BlobStore(f"s3://{new_bucket(s3_endpoint)}/blobs")
    with pytest.raises(StoreError, match="missing from the blob store at s3://"):
        store.get_bytes("ab" * 32)


def test_an_unknown_scheme_names_the_supported_ones():
    from flowtrack._errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="s3://"):
        BlobStore("ftp://host/blobs")


def test_a_flow_runs_with_its_blobs_in_s3(s3_env, s3_endpoint, store_env, write_flow, run_flow):
    bucket = new_bucket(s3_endpoint)
    flow = write_flow("""
        from flowtrack import FlowSpec, step

        class S3Flow(FlowSpec):
            @step
            def start(self):
                self.items = list(range(3))
                import random
                self.payload = random.Random(1).randbytes(300_000)  # too big to keep inline
                self.next(self.square, foreach="items")

            @step
            def square(self):
                self.value = self.input ** 2
                self.next(self.join)

            @step
            def join(self, inputs):
                self.total = sum(i.value for i in inputs)
                self.next(self.end)

            @step
            def end(self):
                print("total", self.total)

        if __name__ == "__main__":
            S3Flow()
        """)
    env = dict(s3_env, FLOWTRACK_STORE=f"s3://{bucket}/flowtrack")
    done = run_flow(flow, "run", env=env, check=True)
    assert "total 5" in done.stdout + done.stderr
    os.environ["FLOWTRACK_STORE"] = env["FLOWTRACK_STORE"]
    try:
        from flowtrack import Flow
        from tests.conftest import reset_client

        reset_client()
        run = Flow("S3Flow").latest_run
        assert run.successful and run.data.total == 5
        import random

        assert run["start"].task.data.payload == random.Random(1).randbytes(300_000)
        assert run["end"].task.stdout.strip() == "total 5"
    finally:
        del os.environ["FLOWTRACK_STORE"]
    import boto3

    objects = boto3.client("s3", endpoint_url=s3_endpoint, **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
        "region_name": "us-east-1"}).list_objects_v2(Bucket=bucket, Prefix="flowtrack/")
    everything = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing",
                              region_name="us-east-1").list_objects_v2(Bucket=bucket)
    assert objects.get("KeyCount", 0) > 0, everything  # the values went to S3, not to disk
