"""The client API over real runs: flows, runs, steps, tasks, artifacts, namespaces,
reads during a run and from inside another flow's step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from flowtrack import (
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    get_metadata,
    get_namespace,
    namespace,
)
from flowtrack._errors import NotFoundError
from flowtrack.client import _objects
from tests.conftest import ON_POSTGRES, isolated_store

CLIENT_FLOW = """
    import os
    import sys

    from flowtrack import FlowSpec, Parameter, step


    class ClientFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            self.x = 7
            self.items = [10, 20]
            print("out-line")
            print("err-line", file=sys.stderr)
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.value = self.input * self.alpha
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(inp.value for inp in inputs)
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END") == "1":
                raise RuntimeError("end refused")
            self.result = self.total + 1


    if __name__ == "__main__":
        ClientFlow()
"""

LIVE_FLOW = """
    import os
    import time
    from pathlib import Path

    from flowtrack import FlowSpec, step


    class LiveFlow(FlowSpec):
        @step
        def start(self):
            self.x = 7
            self.next(self.middle)

        @step
        def middle(self):
            release = Path(os.environ["RELEASE_FILE"])
            deadline = time.monotonic() + 20
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.y = self.x + 1
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LiveFlow()
"""

PREDICT_FLOW = """
    from flowtrack import Flow, FlowSpec, Run, step


    class PredictFlow(FlowSpec):
        @step
        def start(self):
            run = Flow("ClientFlow").latest_successful_run
            self.train_run = run.pathspec
            self.train_total = run.data.total
            self.train_x = run["start"].task.data.x
            self.same = Run(run.pathspec)["join"].task["total"].data
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        PredictFlow()
"""



class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "ft-home"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(FLOWTRACK_HOME=str(self.home), FLOWTRACK_USER="tester",
                   PYTHONUNBUFFERED="1")
        env.pop("FLOWTRACK_STORE", None)  # FLOWTRACK_METADATA: as isolated_store set it
        env.update(extra)
        return env

    def write(self, source: str, name: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(source))
        return path

    def run(self, path: Path, *args: str, check: bool = True, **env: str) -> str:
        """Run the flow; return its run id."""
        proc = subprocess.run([sys.executable, str(path), *args], cwd=self.root,
                              env=self.env(**env), capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"flow exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        found = re.search(r"run-id (\d+)", proc.stdout)
        assert found, proc.stdout + proc.stderr
        return found.group(1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(tmp_path_factory.mktemp("client"))
    with isolated_store(s.home):
        yield s


@pytest.fixture(autouse=True)
def _default_namespace() -> Iterator[None]:
    _objects._namespace = _objects._UNSET
    yield
    _objects._namespace = _objects._UNSET


@pytest.fixture(scope="module")
def runs(store: Store) -> SimpleNamespace:
    """Three ClientFlow runs: ok (tag alpha), failed (tag beta), and one by another user."""
    path = store.write(CLIENT_FLOW, "client_flow.py")
    ok = store.run(path, "run", "--alpha", "2", "--tag", "alpha")
    failed = store.run(path, "run", "--tag", "beta", check=False, FAIL_END="1")
    other = store.run(path, "run", "--tag", "alpha", FLOWTRACK_USER="other")
    return SimpleNamespace(ok=Run(f"ClientFlow/{ok}"), failed=Run(f"ClientFlow/{failed}"),
                           other_id=other, path=path)


# -- flows and runs -----------------------------------------------------------------
def test_runs_newest_first_in_my_namespace(runs: SimpleNamespace) -> None:
    flow = Flow("ClientFlow")
    assert list(flow.runs()) == [runs.failed, runs.ok]
    assert list(flow) == [runs.failed, runs.ok]
    assert flow.latest_run == runs.failed


def test_latest_successful_run_skips_failed(runs: SimpleNamespace) -> None:
    assert Flow("ClientFlow").latest_successful_run == runs.ok


def test_runs_filtered_by_tag(runs: SimpleNamespace) -> None:
    flow = Flow("ClientFlow")
    assert list(flow.runs("alpha")) == [runs.ok]
    assert list(flow.runs("beta")) == [runs.failed]
    assert list(flow.runs("alpha", "beta")) == []
    assert list(flow.runs("no-such-tag")) == []


def test_run_by_pathspec_and_missing(runs: SimpleNamespace) -> None:
    run = Run(runs.ok.pathspec)
    assert run == runs.ok
    assert run.id == runs.ok.id and run.flow_name == "ClientFlow"
    assert Flow("ClientFlow")[runs.ok.id] == run
    with pytest.raises(NotFoundError) as info:
        Run("ClientFlow/12345")
    assert str(info.value) == "Run 'ClientFlow/12345' does not exist in this store."
    assert isinstance(info.value, KeyError)
    with pytest.raises(NotFoundError, match="malformed"):
        Run("ClientFlow")
    with pytest.raises(NotFoundError, match="Flow 'NoSuchFlow' does not exist.*ClientFlow"):
        Flow("NoSuchFlow")
    with pytest.raises(NotFoundError, match="no step 'nosuch'"):
        run["nosuch"]


def test_run_properties(runs: SimpleNamespace) -> None:
    ok, failed = runs.ok, runs.failed
    assert ok.successful and ok.finished
    assert ok.status == "FINISHED"
    assert not failed.successful and failed.finished
    assert failed.status == "FAILED"
    assert isinstance(ok.created_at, datetime) and isinstance(ok.finished_at, datetime)
    assert ok.created_at.tzinfo is not None
    assert ok.created_at <= ok.finished_at <= datetime.now(timezone.utc)
    assert ok.created_at < failed.created_at
    assert "alpha" in ok.tags and "user:tester" in ok.tags
    assert any(t.startswith("python_version:") for t in ok.tags)
    assert ok.user_tags == frozenset({"alpha"})
    assert ok.parameters == {"alpha": 2}
    assert failed.parameters == {"alpha": 1}


def test_data_access(runs: SimpleNamespace) -> None:
    run = runs.ok
    assert run["start"].task.data.x == 7
    assert run["start"].task["x"].data == 7
    assert run["join"].task.data.total == 60
    assert run.data.result == 61
    assert run["body"].task.data.x == 7  # inherited from start
    assert "total" in run.data
    assert "x" not in run.data  # not merged in the join
    with pytest.raises(AttributeError, match="no artifact 'nope'"):
        _ = run.data.nope
    assert runs.failed.data.total == 30


def test_iterating_steps_and_tasks(runs: SimpleNamespace) -> None:
    run = runs.ok
    steps = list(run)
    assert all(isinstance(s, Step) for s in steps)
    assert [s.id for s in steps] == ["end", "join", "body", "start"]
    assert "body" in run and "nosuch" not in run
    body = sorted(run["body"], key=lambda t: t.index)
    assert all(isinstance(t, Task) for t in body)
    assert [t.index for t in body] == [0, 1]
    assert [t.data.value for t in body] == [20, 40]
    assert run["start"].task.index is None
    assert run["body"][body[1].id] == body[1]
    assert Task(body[0].pathspec) == body[0]
    names = [a.id for a in run["start"].task]
    assert names == sorted(names) and {"x", "items"} <= set(names)


def test_task_logs_and_exception(runs: SimpleNamespace) -> None:
    start = runs.ok["start"].task
    assert start.stdout == "out-line\n"
    assert start.stderr == "err-line\n"
    assert start.exception is None
    assert start.successful and start.finished
    end = runs.failed["end"].task
    assert not end.successful and end.finished
    assert end.exception is not None
    assert end.exception.type == "builtins.RuntimeError"
    assert end.exception.message == "end refused"
    assert "end refused" in end.exception.traceback
    assert "end refused" in end.stderr


def test_data_artifact(runs: SimpleNamespace) -> None:
    task = runs.ok["start"].task
    x = task["x"]
    assert isinstance(x, DataArtifact)
    assert re.fullmatch(r"[0-9a-f]{64}", x.sha)
    assert x.size > 0
    assert x.type == "int"
    assert x.data == 7
    assert x.pathspec == f"{task.pathspec}/x"
    assert DataArtifact(x.pathspec).sha == x.sha
    assert task["items"].type == "list"
    # the same value in another run has the same content address
    assert runs.failed["start"].task["x"].sha == x.sha
    with pytest.raises(NotFoundError, match="no artifact 'nope'"):
        task["nope"]


def test_metaflow_root_lists_flows(runs: SimpleNamespace) -> None:
    flows = list(Metaflow())
    assert "ClientFlow" in {f.id for f in flows}
    assert all(isinstance(f, Flow) for f in flows)


def test_namespaces(runs: SimpleNamespace) -> None:
    assert get_namespace() == "user:tester"
    namespace("user:other")
    assert get_namespace() == "user:other"
    other_runs = list(Flow("ClientFlow").runs())
    assert [r.id for r in other_runs] == [runs.other_id]
    with pytest.raises(NotFoundError, match="not in namespace 'user:other'"):
        Run(runs.ok.pathspec)
    assert Flow("ClientFlow").latest_successful_run == other_runs[0]

    namespace(None)
    assert get_namespace() is None
    assert [r.id for r in Flow("ClientFlow").runs()] == [runs.other_id, runs.failed.id,
                                                          runs.ok.id]
    assert Run(f"ClientFlow/{runs.other_id}").successful
    assert [r.id for r in Flow("ClientFlow").runs("alpha")] == [runs.other_id, runs.ok.id]


def test_get_metadata(store: Store) -> None:
    if ON_POSTGRES:
        assert get_metadata() == f"postgresql@{os.environ['FLOWTRACK_METADATA']}"
    else:
        assert get_metadata() == f"local@{store.home}"


# -- reading a run that is still going -----------------------------------------------
def test_read_while_running(store: Store, tmp_path: Path) -> None:
    path = store.write(LIVE_FLOW, "live_flow.py")
    release = tmp_path / "release"
    proc = subprocess.Popen([sys.executable, str(path), "run"], cwd=store.root,
                            env=store.env(RELEASE_FILE=str(release)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                run = Flow("LiveFlow").latest_run
            except NotFoundError:
                run = None
            if run is not None and "middle" in run:
                break
            time.sleep(0.05)
        assert run is not None and "middle" in run, "the run never reached 'middle'"
        start = run["start"].task
        assert start.successful
        assert start.data.x == 7
        middle = run["middle"].task
        assert middle.state == "running"
        assert not middle.finished
        assert middle.finished_at is None
        assert run.status == "RUNNING"
        assert run.finished_at is None
        assert run.data is None
        assert not run.finished and not run.successful
        assert "end" not in run
        release.touch()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    assert middle.finished and middle.successful
    assert middle.data.y == 8
    assert run.successful
    assert run.status == "FINISHED"


# -- the client inside a step ------------------------------------------------------
def test_client_inside_a_step_of_another_flow(store: Store, runs: SimpleNamespace) -> None:
    path = store.write(PREDICT_FLOW, "predict_flow.py")
    run = Run(f"PredictFlow/{store.run(path, 'run')}")
    data = run["start"].task.data
    assert data.train_run == runs.ok.pathspec
    assert data.train_total == 60
    assert data.train_x == 7
    assert data.same == 60
