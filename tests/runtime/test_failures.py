"""Failures and step decorators: crashes in tasks, retries, @catch, @timeout,
@environment, @resources, --max-workers and Ctrl-C of a running flow."""

from __future__ import annotations

import queue
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flowtrack import Flow, Run

from .conftest import FlowStore, pid_alive, run_id_of, wait_until

CRASH = """
    import os
    import time

    from flowtrack import FlowSpec, step


    class CrashFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.bad, self.good)

        @step
        def bad(self):
            kind = os.environ["CRASH_KIND"]
            if kind == "raise":
                raise RuntimeError("kaboom in bad")
            if kind == "exit":
                os._exit(3)
            if kind == "segfault":
                import ctypes
                ctypes.string_at(0)
            if kind == "sigkill":
                os.kill(os.getpid(), 9)
            self.next(self.join)

        @step
        def good(self):
            time.sleep(0.4)
            self.result = "good finished"
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CrashFlow()
"""

# what the failure message must say, per kind of crash
CRASH_MESSAGES = {
    "raise": r"RuntimeError: kaboom in bad",
    "exit": r"exited with code 3",
    "segfault": r"killed by signal SIGSEGV",
    "sigkill": r"killed by signal SIGKILL",
}

UNPICKLABLE = """
    import os
    import threading

    from flowtrack import FlowSpec, step


    class UnpicklableFlow(FlowSpec):
        @step
        def start(self):
            self.fine = 1
            if os.environ["WHAT"] == "lambda":
                self.bad_attr = lambda x: x
            else:
                self.bad_attr = threading.Lock()
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        UnpicklableFlow()
"""

RETRY = """
    from flowtrack import FlowSpec, current, retry, step


    class RetryFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.flaky)

        @retry(times=2)
        @step
        def flaky(self):
            print(f"attempt {current.retry_count}")
            if current.retry_count < 2:
                raise ValueError(f"attempt {current.retry_count} fails")
            self.seen_retry_count = current.retry_count
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        RetryFlow()
"""

RETRY_DELAY = """
    import os
    import time

    from flowtrack import FlowSpec, current, retry, step


    class RetryDelayFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.flaky)

        @retry(times=1, minutes_between_retries=0.01)
        @step
        def flaky(self):
            with open(os.environ["STAMPS"], "a") as stamps:
                stamps.write(f"{time.time()} ")
            if current.retry_count == 0:
                raise ValueError("first attempt fails")
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        RetryDelayFlow()
"""

CATCH = """
    import os

    from flowtrack import FlowSpec, catch, retry, step


    class CatchFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.risky)

        @catch(var="err")
        @step
        def risky(self):
            raise ValueError("caught-me")
            self.next(self.crashy)

        @retry(times=1)
        @catch(var="crash_err")
        @step
        def crashy(self):
            print("crashing")
            os._exit(5)
            self.next(self.end)

        @step
        def end(self):
            self.summary = [str(self.err), self.crash_err.type]


    if __name__ == "__main__":
        CatchFlow()
"""

TIMEOUT = """
    import time

    from flowtrack import FlowSpec, step, timeout


    class TimeoutFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.sleepy)

        @timeout(seconds=1)
        @step
        def sleepy(self):
            time.sleep(30)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        TimeoutFlow()
"""

ENVIRONMENT = """
    import os

    from flowtrack import FlowSpec, environment, step


    class EnvFlow(FlowSpec):
        @environment(vars={"FT_TEST_X": "1", "FT_TEST_Y": 2})
        @step
        def start(self):
            self.x = os.environ.get("FT_TEST_X")
            self.y = os.environ.get("FT_TEST_Y")
            self.next(self.end)

        @step
        def end(self):
            self.x_in_end = os.environ.get("FT_TEST_X")


    if __name__ == "__main__":
        EnvFlow()
"""

PARALLEL = """
    import os
    import time

    from flowtrack import FlowSpec, resources, step

    # half of the machine: on a 2-CPU machine this is @resources(cpu=1)
    HALF = (os.cpu_count() or 2) / 2


    class ParallelFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1, 2, 3]
            self.next(self.work, foreach="items")

        @resources(cpu=HALF, memory=100)
        @step
        def work(self):
            self.t0 = time.time()
            time.sleep(0.5)
            self.t1 = time.time()
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ParallelFlow()
"""

SERIAL = """
    import time

    from flowtrack import FlowSpec, step


    class SerialFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1, 2]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.t0 = time.time()
            time.sleep(0.2)
            self.t1 = time.time()
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SerialFlow()
"""

SLOW = """
    import os
    import subprocess
    import time

    from flowtrack import FlowSpec, step


    class SlowFlow(FlowSpec):
        @step
        def start(self):
            self.x = 41
            self.next(self.slow)

        @step
        def slow(self):
            seconds = float(os.environ.get("SLOW_SECONDS", "0"))
            if seconds:
                child = subprocess.Popen(["sleep", "120"])
                print(f"grandchild {child.pid}", flush=True)
                time.sleep(seconds)
            self.y = self.x + 1
            self.next(self.end)

        @step
        def end(self):
            self.z = self.y + 1


    if __name__ == "__main__":
        SlowFlow()
"""


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one time (touching ends do not overlap)."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals],
                    key=lambda p: (p[0], p[1]))
    best = cur = 0
    for _, delta in points:
        cur += delta
        best = max(best, cur)
    return best


def test_max_overlap_helper() -> None:
    assert _max_overlap([(0, 1), (1, 2)]) == 1
    assert _max_overlap([(0, 2), (1, 3), (2.5, 4)]) == 2


def _assert_no_scheduler_traceback(text: str) -> None:
    for marker in ("_scheduler.py", "_local.py", "_run.py", "_task.py", "_flowcli.py",
                   "click/core.py"):
        assert marker not in text, f"internal frame {marker} in output:\n{text}"


# -- crashes ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CRASH_MESSAGES))
def test_crash_fails_only_that_task(flow_store: FlowStore, kind: str) -> None:
    path = flow_store.write(CRASH, "CrashFlow.py")
    proc = flow_store.run(path, "run", env={"CRASH_KIND": kind})
    assert proc.returncode != 0
    run_id = run_id_of(proc)
    run = Run(f"CrashFlow/{run_id}")
    bad = run["bad"].task
    assert re.search(rf"Step 'bad' \(task CrashFlow/{run_id}/bad/{bad.id}\) failed: .*"
                     + CRASH_MESSAGES[kind], proc.stderr), proc.stderr
    assert re.search(CRASH_MESSAGES[kind], proc.stdout)  # the console's "Task failed" line
    _assert_no_scheduler_traceback(proc.stderr)
    _assert_no_scheduler_traceback(proc.stdout)
    if kind == "raise":  # the user's own traceback is shown, starting in the step
        assert "CrashFlow.py" in proc.stdout and "in bad" in proc.stdout

    assert run.status == "FAILED"
    assert not run.successful
    assert bad.finished and not bad.successful
    assert bad.exception is not None
    assert re.search(CRASH_MESSAGES[kind], str(bad.exception))
    good = run["good"].task
    assert good.successful
    assert good.data.result == "good finished"
    assert "join" not in run


@pytest.mark.parametrize("what", ["lambda", "lock"])
def test_unpicklable_value_names_attribute_and_step(flow_store: FlowStore, what: str) -> None:
    path = flow_store.write(UNPICKLABLE, "UnpicklableFlow.py")
    proc = flow_store.run(path, "run", env={"WHAT": what})
    assert proc.returncode != 0
    assert "Artifact 'bad_attr' assigned in step 'start' cannot be stored" in proc.stderr
    assert "not picklable" in proc.stderr
    _assert_no_scheduler_traceback(proc.stderr)
    run = Run(f"UnpicklableFlow/{run_id_of(proc)}")
    exc = run["start"].task.exception
    assert exc is not None and "bad_attr" in exc.message
    assert "end" not in run


# -- decorators ---------------------------------------------------------------------
def test_retry_until_success(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(RETRY, "RetryFlow.py"), "run", check=True)
    run = Run(f"RetryFlow/{run_id_of(proc)}")
    assert run.successful
    task = run["flaky"].task
    assert len(list(run["flaky"].tasks())) == 1
    assert task.data.seen_retry_count == 2
    assert task.current_attempt == 2
    assert task.stdout.strip().splitlines()[-1] == "attempt 2"
    assert "Attempt 0 failed" in proc.stdout and "Attempt 1 failed" in proc.stdout


def test_retry_waits_minutes_between_retries(flow_store: FlowStore, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    path = flow_store.write(RETRY_DELAY, "RetryDelayFlow.py")
    flow_store.run(path, "run", env={"STAMPS": str(stamps)}, check=True)
    first, second = (float(x) for x in stamps.read_text().split())
    assert second - first >= 0.6 * 0.9  # 0.01 minutes between the attempts


def test_catch_stores_exception_and_flow_continues(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(CATCH, "CatchFlow.py"), "run", check=True)
    run = Run(f"CatchFlow/{run_id_of(proc)}")
    assert run.successful
    risky = run["risky"].task
    err = risky.data.err
    assert err.type == "builtins.ValueError"  # module.Class, as Metaflow records it
    assert err.message == "caught-me"
    assert str(err).rstrip().endswith("ValueError: caught-me")  # the traceback
    assert risky.exception is None  # @catch handled it: it is in the variable (Metaflow)

    crashy = run["crashy"].task
    crash_err = crashy.data.crash_err
    assert crash_err.type.endswith(".FailureHandledByCatch")  # Metaflow's class name
    assert "exited with code 5" in crash_err.message
    assert crashy.successful
    assert crashy.current_attempt == 2  # attempts 0 and 1 crashed, 2 is @catch's fallback
    assert run.data.summary == [str(err), crash_err.type]


def test_timeout_fails_step(flow_store: FlowStore) -> None:
    started = time.monotonic()
    proc = flow_store.run(flow_store.write(TIMEOUT, "TimeoutFlow.py"), "run", timeout=60)
    assert time.monotonic() - started < 15
    assert proc.returncode != 0
    assert "Step 'sleepy'" in proc.stderr
    assert "exceeded its @timeout of 1 s" in proc.stderr
    run = Run(f"TimeoutFlow/{run_id_of(proc)}")
    task = run["sleepy"].task
    assert not task.successful
    assert "timeout" in str(task.exception).lower()


def test_environment_sets_variables_in_step_only(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(ENVIRONMENT, "EnvFlow.py"), "run", check=True)
    run = Run(f"EnvFlow/{run_id_of(proc)}")
    start = run["start"].task.data
    assert start.x == "1"
    assert start.y == "2"
    assert run.data.x_in_end is None


IN_PROCESS = """
    import os

    from flowtrack import FlowSpec, current, environment, step


    class InProcessFlow(FlowSpec):
        @environment(vars={"FT_IN_PROCESS_VAR": "set"})
        @step
        def start(self):
            self.var = os.environ.get("FT_IN_PROCESS_VAR")
            self.pathspec_seen = current.pathspec
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_run_task_in_process_restores_environment_and_current(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import os
    import sys
    import textwrap

    from flowtrack import current
    from flowtrack.runtime import TaskSpec, run_task
    from flowtrack.store import BlobStore

    module_path = tmp_path / "in_process_flow.py"
    module_path.write_text(textwrap.dedent(IN_PROCESS))
    spec_ = importlib.util.spec_from_file_location("in_process_flow", module_path)
    assert spec_ is not None and spec_.loader is not None
    module = importlib.util.module_from_spec(spec_)
    monkeypatch.setitem(sys.modules, "in_process_flow", module)
    spec_.loader.exec_module(module)
    flow_cls = module.InProcessFlow
    env = flow_cls._graph["start"].decorators[0].attributes["vars"]
    task = TaskSpec(flow_name="InProcessFlow", run_id="1", step="start", task_id="1",
                    attempt=0, namespace={}, parameters={}, env=dict(env))
    assert "FT_IN_PROCESS_VAR" not in os.environ
    try:
        manifest = run_task(task, flow_cls, BlobStore(str(tmp_path / "blobs")))
        assert manifest.ok, manifest.error
        assert set(manifest.outputs) == {"var", "pathspec_seen"}
        leaked_env = os.environ.get("FT_IN_PROCESS_VAR")
        leaked_current = current.is_running_flow
    finally:
        os.environ.pop("FT_IN_PROCESS_VAR", None)
        current._clear()
    assert (leaked_env, leaked_current) == (None, False)


def _intervals(run: Run, step: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    tasks = list(run[step].tasks())
    in_step = [(t.data.t0, t.data.t1) for t in tasks]
    recorded = []
    for t in tasks:
        assert t.created_at is not None and t.finished_at is not None
        recorded.append((t.created_at.timestamp(), t.finished_at.timestamp()))
    return in_step, recorded


def test_resources_limit_concurrency(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(PARALLEL, "ParallelFlow.py"), "run", check=True)
    run = Run(f"ParallelFlow/{run_id_of(proc)}")
    in_step, recorded = _intervals(run, "work")
    assert len(in_step) == 4
    assert _max_overlap(recorded) == 2, recorded
    assert _max_overlap(in_step) == 2, in_step


def test_max_workers_one_serialises_tasks(flow_store: FlowStore) -> None:
    path = flow_store.write(SERIAL, "SerialFlow.py")
    proc = flow_store.run(path, "run", "--max-workers", "1", check=True)
    run = Run(f"SerialFlow/{run_id_of(proc)}")
    in_step, recorded = _intervals(run, "work")
    assert len(in_step) == 3
    assert _max_overlap(in_step) == 1, in_step
    assert _max_overlap(recorded) == 1, recorded
    all_tasks = [(t.created_at.timestamp(), t.finished_at.timestamp())  # type: ignore[union-attr]
                 for step in run for t in step]
    assert _max_overlap(all_tasks) == 1


# -- Ctrl-C -------------------------------------------------------------------------
def _reader(stream: Any, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_ctrl_c_stops_run_and_resume_completes_it(flow_store: FlowStore) -> None:
    path = flow_store.write(SLOW, "SlowFlow.py")
    proc = flow_store.popen(path, "run", env={"SLOW_SECONDS": "120"})
    lines: queue.Queue = queue.Queue()
    out_thread = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
    out_thread.start()
    seen: list[str] = []
    task_pid = grandchild = None
    deadline = time.monotonic() + 30
    try:
        while grandchild is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            found = re.search(r"/slow/\d+ \(pid (\d+)\)\] grandchild (\d+)", line)
            if found:
                task_pid, grandchild = int(found.group(1)), int(found.group(2))
        assert grandchild is not None, "".join(seen)
        assert any("/start/" in s and "Task finished successfully" in s for s in seen)
        assert pid_alive(task_pid) and pid_alive(grandchild)

        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=15)
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out_thread.join(timeout=5)
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.stdout:
        proc.stdout.close()
    assert returncode == 130
    assert "interrupted" in stderr.lower()
    _assert_no_scheduler_traceback(stderr)
    assert wait_until(lambda: not pid_alive(task_pid) and not pid_alive(grandchild), 5)

    run_id = run_id_of("".join(seen))
    killed = Run(f"SlowFlow/{run_id}")
    assert killed.status == "KILLED"
    assert not killed.successful
    assert killed["start"].task.successful
    slow_task = killed["slow"].task
    assert slow_task.finished and not slow_task.successful
    assert "interrupted" in str(slow_task.exception)

    resumed_proc = flow_store.run(path, "resume", env={"SLOW_SECONDS": "0"}, check=True)
    resumed = Run(f"SlowFlow/{run_id_of(resumed_proc)}")
    assert resumed.id != run_id
    assert resumed.successful
    assert resumed.origin_run_id == run_id
    assert resumed["start"].task.origin_pathspec == killed["start"].task.pathspec
    assert resumed["slow"].task.origin_pathspec is None
    assert resumed.data.z == 43
    assert Flow("SlowFlow").latest_successful_run == resumed
