"""kill -9 at random points, then ``resume``: the store stays readable and consistent,
and the resumed run computes exactly what an uninterrupted run does.

Each iteration (seeded, so a failure can be replayed) starts a run, waits a random
time, then kills either the scheduler or one of its task processes with SIGKILL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowtrack import Flow, Run
from flowtrack._errors import NotFoundError
from tests.runtime.conftest import pid_alive, run_id_of, wait_until

ITERATIONS = 12
EXPECTED_TOTAL = sum(i * i for i in range(8))

CRASH_FLOW = """
    import time
    from flowtrack import FlowSpec, step

    class CrashFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(8))
            self.next(self.square, foreach="items")

        @step
        def square(self):
            time.sleep(0.3 * (self.input % 4))
            self.value = self.input * self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            time.sleep(0.3)

    if __name__ == "__main__":
        CrashFlow()
"""


def _descendants(pid: int) -> list[int]:
    """Live processes under ``pid`` (its task processes, and what starts them)."""
    parent_of = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            parent_of[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parent_of.items() if pp == parent]
        found += children
        frontier += children
    return found


def _recorded(flow_name: str) -> bool:
    try:
        return any(True for _ in Flow(flow_name).runs())
    except NotFoundError:
        return False


def _kill_at_random(proc: subprocess.Popen, rng: random.Random) -> str:
    """Once the run is recorded, SIGKILL the scheduler or one of its task processes
    after a random delay (the run takes about 2 s); return what was hit."""
    wait_until(lambda: _recorded("CrashFlow") or proc.poll() is not None, 60)
    time.sleep(rng.uniform(0.0, 1.8))
    victim = "scheduler"
    if rng.random() < 0.5:
        tasks = _descendants(proc.pid)
        if tasks:
            try:
                os.kill(rng.choice(sorted(tasks)), signal.SIGKILL)
                victim = "task"
            except ProcessLookupError:  # the task ended between listing and the kill
                pass
    if victim == "scheduler" and proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return victim


@pytest.mark.parametrize("seed", range(ITERATIONS))
def test_kill_9_then_resume_loses_nothing(store_env, write_flow, tmp_path, seed):
    rng = random.Random(seed)
    path = write_flow(CRASH_FLOW)
    proc = subprocess.Popen([sys.executable, str(path), "run"], cwd=tmp_path, env=store_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = _kill_at_random(proc, rng)
    assert wait_until(lambda: not _descendants(proc.pid) and not pid_alive(proc.pid), 30)
    try:
        runs = list(Flow("CrashFlow").runs())
    except NotFoundError:  # not even the flow was recorded yet
        runs = []
    if not runs:  # killed before the run (and its parameters) were recorded: nothing to keep
        assert victim == "scheduler"
        return
    [crashed] = runs
    if crashed.status == "FINISHED":  # the kill came after the end: nothing to resume
        assert crashed.data.total == EXPECTED_TOTAL
        return
    assert crashed.status == "FAILED"  # never RUNNING for ever
    start_done = "start" in crashed and crashed["start"].task.successful
    resumed = subprocess.run([sys.executable, str(path), "resume"], cwd=tmp_path,
                             env=store_env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, f"seed {seed} ({victim}):\n{resumed.stderr}"
    new = Run(f"CrashFlow/{run_id_of(resumed)}")
    assert new.successful and new.data.total == EXPECTED_TOTAL
    assert sorted(t.data.value for t in new["square"]) == [i * i for i in range(8)]
    if start_done:  # what finished before the failed step is reused, not run again
        assert new["start"].task.origin_pathspec == crashed["start"].task.pathspec
    assert all(t.state != "running" for step in Run(crashed.pathspec) for t in step)
