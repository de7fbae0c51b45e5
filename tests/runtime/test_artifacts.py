"""Artifacts and logs: deduplicated blobs, large arrays loaded lazily, the store
layout and its overrides, and the captured output of every task."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from flowtrack import Run
from flowtrack._config import settings
from flowtrack.client import _backend as client_backend
from flowtrack.lineage import Database, EventType, LineageSession
from flowtrack.lineage._schema import events
from tests.conftest import ON_POSTGRES

from .conftest import FlowStore, run_id_of

ARRAY_LEN = 20 * (1 << 20) // 8  # 20 MiB of float64

DEDUP = """
    import random

    from flowtrack import FlowSpec, step


    def payload():
        return random.Random(1234).randbytes(300_000)


    class DedupFlow(FlowSpec):
        @step
        def start(self):
            self.payload = payload()
            self.next(self.a, self.b)

        @step
        def a(self):
            self.copy = payload()
            self.next(self.join)

        @step
        def b(self):
            self.copy = payload()
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        DedupFlow()
"""

ARRAY = f"""
    import hashlib

    import numpy as np

    from flowtrack import FlowSpec, step


    class ArrayFlow(FlowSpec):
        @step
        def start(self):
            self.arr = np.random.default_rng(0).standard_normal({ARRAY_LEN})
            self.small = 5
            self.next(self.untouched)

        @step
        def untouched(self):
            self.doubled = self.small * 2
            self.next(self.reader)

        @step
        def reader(self):
            self.checksum = hashlib.sha256(self.arr.tobytes()).hexdigest()
            self.dtype_seen = str(self.arr.dtype)
            self.next(self.end)

        @step
        def end(self):
            self.final = self.doubled + 1


    if __name__ == "__main__":
        ArrayFlow()
"""

LOGS = """
    import subprocess
    import sys

    from flowtrack import FlowSpec, step

    BIG_LINES = 1500


    class LogFlow(FlowSpec):
        @step
        def start(self):
            print("hello stdout")
            print("hello stderr", file=sys.stderr)
            self.next(self.big)

        @step
        def big(self):
            for i in range(BIG_LINES):
                print(f"line {i:05d} " + "x" * 90)
            self.next(self.sub)

        @step
        def sub(self):
            subprocess.run(["sh", "-c", "echo from-sub-stdout; echo from-sub-stderr >&2"],
                           check=True)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LogFlow()
"""

MUTATE = """
    from flowtrack import FlowSpec, step


    class MutateFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.grow)

        @step
        def grow(self):
            self.items.append(3)
            self.next(self.end)

        @step
        def end(self):
            self.seen = list(self.items)


    if __name__ == "__main__":
        MutateFlow()
"""

CONSOLE_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (?P<rest>.*)$")
TASK_PREFIX = re.compile(r"^\[(?P<run>\d+)/(?P<step>\w+)/(?P<task>\d+) \(pid (?P<pid>\d+)\)\] "
                         r"(?P<text>.*)$")


def _payload() -> bytes:
    return random.Random(1234).randbytes(300_000)


@pytest.fixture(scope="module")
def array_run(flow_store: FlowStore) -> Run:
    proc = flow_store.run(flow_store.write(ARRAY, "ArrayFlow.py"), "run", check=True)
    return Run(f"ArrayFlow/{run_id_of(proc)}")


@pytest.fixture(scope="module")
def log_run(flow_store: FlowStore) -> tuple[Run, subprocess.CompletedProcess]:
    proc = flow_store.run(flow_store.write(LOGS, "LogFlow.py"), "run", check=True)
    return Run(f"LogFlow/{run_id_of(proc)}"), proc


# -- deduplication ------------------------------------------------------------------
def test_same_value_stored_once_across_tasks_and_runs(flow_store: FlowStore) -> None:
    path = flow_store.write(DEDUP, "DedupFlow.py")
    first = Run(f"DedupFlow/{run_id_of(flow_store.run(path, 'run', check=True))}")
    blobs_after_first = flow_store.blob_files()
    second = Run(f"DedupFlow/{run_id_of(flow_store.run(path, 'run', check=True))}")
    blobs_after_second = flow_store.blob_files()

    digests = {first["start"].task["payload"].sha, second["start"].task["payload"].sha}
    for run in (first, second):
        for step in ("a", "b"):
            digests.add(run[step].task["copy"].sha)
    assert len(digests) == 1
    digest = digests.pop()
    assert digest in blobs_after_first
    assert blobs_after_second == blobs_after_first
    home = flow_store.home / "blobs"
    big_files = [p for p in home.rglob("*")
                 if p.is_file() and p.parent.name != "tmp" and p.stat().st_size >= 300_000
                 and p.stat().st_size < 310_000]
    assert [p.name for p in big_files if p.name == digest] == [digest]
    assert first["a"].task.data.copy == _payload()
    assert second["b"].task.data.copy == _payload()


# -- large arrays -------------------------------------------------------------------
def test_large_numpy_array_round_trips(array_run: Run) -> None:
    expected = np.random.default_rng(0).standard_normal(ARRAY_LEN)
    artifact = array_run["start"].task["arr"]
    assert artifact.size >= expected.nbytes
    assert artifact.type == "numpy.ndarray"
    loaded = artifact.data
    assert loaded.dtype == expected.dtype
    assert loaded.shape == expected.shape
    assert loaded.tobytes() == expected.tobytes()
    reader = array_run["reader"].task.data
    assert reader.checksum == hashlib.sha256(expected.tobytes()).hexdigest()
    assert reader.dtype_seen == "float64"
    assert array_run.data.final == 11


def _input_readers(artifact_id: int) -> list[str]:
    """Pathspecs of the tasks with an INPUT event for ``artifact_id``."""
    with LineageSession(Database.open(settings().metadata_url)) as session:
        exec_ids = [r[0] for r in session.conn.execute(
            select(events.c.execution_id).where(events.c.artifact_id == artifact_id,
                                                events.c.type == int(EventType.INPUT)))]
        return sorted(n.name or "" for n in session.nodes_by_ids("execution", exec_ids))


def test_artifacts_are_loaded_lazily(array_run: Run) -> None:
    start = array_run["start"].task
    arr_id = start["arr"]._node.id
    small_id = start["small"]._node.id
    assert _input_readers(arr_id) == [array_run["reader"].task.pathspec]
    assert _input_readers(small_id) == [array_run["untouched"].task.pathspec]
    doubled_id = array_run["untouched"].task["doubled"]._node.id
    assert _input_readers(doubled_id) == [array_run["end"].task.pathspec]
    # every later task still sees the array, it just never read it
    assert "arr" in array_run["untouched"].task
    assert "arr" in array_run["end"].task


def test_in_place_mutation_of_inherited_artifact_is_kept(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(MUTATE, "MutateFlow.py"), "run", check=True)
    run = Run(f"MutateFlow/{run_id_of(proc)}")
    assert run.data.seen == [1, 2, 3]


# -- store layout -------------------------------------------------------------------
def test_store_layout(flow_store: FlowStore, array_run: Run) -> None:
    home = flow_store.home
    # the metadata is a SQLite file in the home directory, unless on PostgreSQL
    assert (home / "metadata.db").is_file() != ON_POSTGRES
    assert (home / "blobs").is_dir()
    artifact = array_run["start"].task["arr"]
    blob = home / "blobs" / artifact.sha[:2] / artifact.sha
    assert blob.is_file()
    assert blob.stat().st_size == artifact.size
    assert artifact._node.uri == f"blake3:{artifact.sha}"  # the URI is the content digest
    # small values are kept inline in the metadata database, not as files
    assert array_run["start"].task["small"].sha not in flow_store.blob_files()


def test_metadata_and_store_overrides(flow_store: FlowStore, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    unused_home = tmp_path / "unused-home"
    overrides = {"FLOWTRACK_HOME": str(unused_home),
                 "FLOWTRACK_METADATA": f"sqlite:///{other / 'meta' / 'm.db'}",
                 "FLOWTRACK_STORE": str(other / "blobstore")}
    path = flow_store.write(DEDUP, "DedupFlow.py")
    proc = flow_store.run(path, "run", env=overrides, check=True)
    run_id = run_id_of(proc)
    assert (other / "meta" / "m.db").is_file()
    blobs = flow_store.blob_files(other / "blobstore")
    assert len(blobs) >= 1
    assert not (unused_home / "metadata.db").exists()
    assert not (unused_home / "blobs").exists()

    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    client_backend._backends.clear()
    run = Run(f"DedupFlow/{run_id}")
    assert run.successful
    artifact = run["start"].task["payload"]
    assert artifact.sha in blobs
    assert artifact.data == _payload()
    monkeypatch.undo()
    client_backend._backends.clear()
    with pytest.raises(KeyError, match="does not exist"):
        Run(f"DedupFlow/{run_id}")


# -- logs ---------------------------------------------------------------------------
def test_task_stdout_and_stderr(log_run: tuple[Run, subprocess.CompletedProcess]) -> None:
    run, _ = log_run
    start = run["start"].task
    assert start.stdout == "hello stdout\n"
    assert start.stderr == "hello stderr\n"
    assert run["end"].task.stdout == ""
    for step in run:  # every task's output is retrievable
        for task in step:
            assert isinstance(task.stdout, str) and isinstance(task.stderr, str)


def test_large_task_output(log_run: tuple[Run, subprocess.CompletedProcess]) -> None:
    run, _ = log_run
    expected = "".join(f"line {i:05d} " + "x" * 90 + "\n" for i in range(1500))
    assert len(expected) > 100_000
    assert run["big"].task.stdout == expected


def test_output_of_subprocess_started_by_step(
        log_run: tuple[Run, subprocess.CompletedProcess]) -> None:
    run, _ = log_run
    sub = run["sub"].task
    assert "from-sub-stdout" in sub.stdout
    assert "from-sub-stderr" in sub.stderr
    assert "from-sub-stderr" not in sub.stdout


def test_console_line_format(log_run: tuple[Run, subprocess.CompletedProcess]) -> None:
    run, proc = log_run
    lines = proc.stdout.splitlines()
    assert lines
    task_lines = []
    for line in lines:
        match = CONSOLE_LINE.match(line)
        assert match, f"badly formatted console line: {line!r}"
        prefixed = TASK_PREFIX.match(match.group("rest"))
        if prefixed:
            task_lines.append(prefixed)
    assert {m.group("run") for m in task_lines} == {run.id}
    by_text = {(m.group("step"), m.group("text")): m for m in task_lines}
    start = run["start"].task
    for text in ("hello stdout", "hello stderr"):
        m = by_text[("start", text)]
        assert m.group("task") == start.id
        assert int(m.group("pid")) == start.metadata_dict["pid"]
    assert ("sub", "from-sub-stdout") in by_text
    assert ("sub", "from-sub-stderr") in by_text
    assert ("big", "line 01499 " + "x" * 90) in by_text
