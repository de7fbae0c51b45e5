"""A full disk never loses what was already logged, and says what happened.

Each experiment mounts a small tmpfs, puts the blob store (or the whole store) on
it, fills it, and checks what the user sees and what the store keeps.
"""

from __future__ import annotations

import flowtrack as ft
from flowtrack import Flow, TrackingClient

BIG_ARTIFACT_FLOW = """
    import os
    import flowtrack
    from flowtrack import FlowSpec, step

    class DiskFullFlow(FlowSpec):
        @step
        def start(self):
            for i in range(200):
                flowtrack.log_metric("loss", 1.0 / (i + 1), step=i)
            self.small = "fits"
            self.big = os.urandom(12 * 1024 * 1024)  # more than the 8 MB disk holds
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        DiskFullFlow()
"""


def test_a_task_that_fills_the_blob_store_keeps_its_points(store_env, write_flow, run_flow,
                                                           small_disk):
    disk = small_disk("8m")
    path = write_flow(BIG_ARTIFACT_FLOW)
    proc = run_flow(path, "run", env={"FLOWTRACK_STORE": str(disk / "blobs")})
    assert proc.returncode == 1
    assert "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr.split("Workflow starting")[0]
    run = Flow("DiskFullFlow").latest_run
    assert run.status == "FAILED"
    task = run["start"].task
    # the OS error is the task's exception, naming the artifact it was storing
    assert task.exception is not None
    assert task.exception.type == "builtins.OSError"
    assert "[Errno 28] No space left on device" in task.exception.message
    assert "artifact 'big'" in task.exception.message
    # every point logged before the failure is on the run
    [tracked] = ft.search_runs(experiment_names=["DiskFullFlow"], output_format="list")
    history = TrackingClient().get_metric_history(tracked.info.run_id, "loss")
    assert [m.step for m in history] == list(range(200))
    # no half-written blob is left taking the space
    assert not any(p.is_file() for p in (disk / "blobs" / "tmp").glob("*"))


TRACKING_SCRIPT = """
import json, os, sys
import flowtrack as ft
from flowtrack import TrackingClient

home, filler = sys.argv[1], sys.argv[2]
ft.set_tracking_uri(home)
ft.set_experiment("disk-full")
run = ft.start_run()
run_id = run.info.run_id
ft.log_metric("warmup", 1.0)
ft.flush_async_logging()
free = os.statvfs(home).f_bavail * os.statvfs(home).f_frsize
with open(filler, "wb") as fh:  # leave about 300 KB: far less than 200k points need
    fh.write(b"\\0" * max(0, free - 300_000))
for i in range(200_000):
    ft.log_metric("loss", 1.0 / (i + 1), step=i)
try:
    ft.end_run()
    error = None
except ft.tracking.errors.TrackingError as exc:
    error = str(exc)
os.remove(filler)  # space again: what was kept is written now
ft.flush_async_logging()
status = ft.get_run(run_id).info.status
points = len(TrackingClient().get_metric_history(run_id, "loss"))
print(json.dumps({"error": error, "status": status, "points": points}))
"""


def test_a_flush_that_fails_on_a_full_disk_never_finishes_the_run_without_data(
        tmp_path, small_disk, store_env):
    import json
    import subprocess
    import sys

    disk = small_disk("24m")
    script = tmp_path / "track.py"
    script.write_text(TRACKING_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(disk / "home"),
                           str(disk / "filler")], capture_output=True, text=True, timeout=300,
                          env=store_env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] is not None
    assert "database or disk is full" in result["error"]
    assert "kept in memory" in result["error"]
    assert result["status"] in ("FAILED", "RUNNING")  # never FINISHED: end_run failed
    assert result["points"] == 200_000  # kept, then written once there was space
