"""A run whose scheduler dies reads FAILED everywhere, and nothing is left running.

Two ways a scheduler stops without finishing its run: ``kill -9`` (no chance to write
anything) and a storage fault while recording (the final writes fail too). Either
way users must not see a RUNNING run for ever, and the next run on the store writes
the truth down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import flowtrack as ft
from flowtrack import Flow, Run
from tests.runtime.conftest import run_id_of, wait_until

SLOW_FLOW = """
    import os, time
    from flowtrack import FlowSpec, step

    class SlowFlow(FlowSpec):
        @step
        def start(self):
            self.started = True
            self.next(self.wait)

        @step
        def wait(self):
            if os.environ.get("SLOW") == "1":
                time.sleep(60)
            self.waited = True
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        SlowFlow()
"""


def _running_task(flow_name: str, step: str) -> bool:
    try:
        run = Flow(flow_name).latest_run
        return run is not None and any(True for _ in run[step])
    except KeyError:
        return False


def test_a_scheduler_killed_9_reads_failed_and_is_reaped(store_env, write_flow, tmp_path):
    path = write_flow(SLOW_FLOW)
    env = {**store_env, "SLOW": "1"}
    proc = subprocess.Popen([sys.executable, str(path), "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: _running_task("SlowFlow", "wait"), 60)
        run = Flow("SlowFlow").latest_run
        assert run.status == "RUNNING"  # alive: its scheduler beats and exists
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    # readers see it dead at once (same host, its pid is gone), through every view
    assert Run(run.pathspec).status == "FAILED"
    [tracked] = ft.search_runs(experiment_names=["SlowFlow"], output_format="list")
    assert tracked.info.status == "FAILED"
    listed = subprocess.run([str(os.path.dirname(sys.executable) + "/flowtrack"), "flows"],
                            env=store_env, capture_output=True, text=True, timeout=60)
    assert f"{run.id} FAILED" in listed.stdout
    # the next scheduler on the store writes it down, and resume picks it up
    resumed = subprocess.run([sys.executable, str(path), "resume"], cwd=tmp_path,
                             env=store_env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Run SlowFlow/{run.id} had lost its scheduler" in resumed.stdout + resumed.stderr
    dead = Run(run.pathspec)
    assert dead["wait"].task.state == "failed"
    assert dead._node.properties["status"] == "FAILED"  # stored, not only derived
    new = Run(f"SlowFlow/{run_id_of(resumed)}")
    assert new.successful and new.origin_run_id == run.id
    assert new["start"].task.origin_pathspec == dead["start"].task.pathspec


FILLING_FLOW = """
    import os
    from flowtrack import FlowSpec, step

    class FillingFlow(FlowSpec):
        @step
        def start(self):
            # fill the disk the metadata database lives on: the scheduler's next write fails
            filler = os.environ.get("FILLER")
            if filler:
                with open(filler, "wb") as fh:
                    try:
                        while True:
                            fh.write(b"\\0" * 65536)
                            fh.flush()
                    except OSError:
                        pass
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        FillingFlow()
"""


def test_a_scheduler_stopped_by_a_full_database_disk_leaves_nothing_running(
        store_env, write_flow, tmp_path, small_disk):
    disk = small_disk("6m")
    filler = disk / "filler"
    env = {**store_env, "FILLER": str(filler),
           "FLOWTRACK_METADATA": f"sqlite:///{disk / 'metadata.db'}"}
    path = write_flow(FILLING_FLOW)
    done = subprocess.run([sys.executable, str(path), "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "disk is full" in done.stderr and "Traceback" not in done.stderr
    os.environ["FLOWTRACK_METADATA"] = env["FLOWTRACK_METADATA"]
    try:
        from tests.conftest import reset_client

        reset_client()
        run = Flow("FillingFlow").latest_run
        assert run.status == "FAILED"  # whatever the full disk let it write
        filler.unlink()  # space again: the next run on the store writes it all down
        time.sleep(0.1)
        calm = {k: v for k, v in env.items() if k != "FILLER"}
        again = subprocess.run([sys.executable, str(path), "run"], cwd=tmp_path, env=calm,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert f"Run {run.pathspec} had lost its scheduler" in again.stdout + again.stderr
        stored = Run(run.pathspec)
        assert stored._node.properties["status"] == "FAILED"
        assert all(t.state != "running" for step in stored for t in step)
    finally:
        os.environ.pop("FLOWTRACK_METADATA", None)
        reset_client()
