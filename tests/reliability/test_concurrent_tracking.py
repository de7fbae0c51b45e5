"""Writers and readers of one tracking store at once: no "database is locked", no
lost point, and readers always see a consistent store (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import flowtrack as ft
from flowtrack import TrackingClient
from tests.conftest import database_url

WRITERS, RUNS_PER_WRITER, POINTS_PER_RUN = 4, 3, 1500

WRITER = textwrap.dedent("""
    import sys
    import flowtrack as ft

    ft.set_tracking_uri(sys.argv[1])
    ft.set_experiment("concurrent")
    for r in range(int(sys.argv[3])):
        with ft.start_run(run_name=f"{sys.argv[2]}-{r}"):
            ft.log_param("writer", sys.argv[2])
            for i in range(int(sys.argv[4])):
                ft.log_metric("m", float(i), step=i)
                if i % 500 == 0:
                    ft.set_tag("progress", str(i))
""")

READER = textwrap.dedent("""
    import sys, time
    import flowtrack as ft
    from flowtrack import TrackingClient

    ft.set_tracking_uri(sys.argv[1])
    client = TrackingClient(sys.argv[1])
    deadline = time.monotonic() + float(sys.argv[2])
    reads = 0
    while time.monotonic() < deadline:
        runs = ft.search_runs(experiment_names=["concurrent"], output_format="list",
                              filter_string="params.writer != 'nobody'")
        for run in runs[:3]:
            history = client.get_metric_history(run.info.run_id, "m")
            steps = [p.step for p in history]
            assert steps == sorted(steps), "history out of order"
        reads += 1
    print(reads)
""")


def test_writers_and_readers_at_once(tmp_path, store_env):
    uri = database_url(tmp_path / "tracking.db")
    if uri.startswith("sqlite"):
        uri = str(tmp_path / "home")  # the embedded default: SQLite + local blobs
    writer, reader = tmp_path / "writer.py", tmp_path / "reader.py"
    writer.write_text(WRITER)
    reader.write_text(READER)
    procs = [subprocess.Popen([sys.executable, str(writer), uri, f"w{i}", str(RUNS_PER_WRITER),
                               str(POINTS_PER_RUN)], env=store_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(WRITERS)]
    procs += [subprocess.Popen([sys.executable, str(reader), uri, "8"], env=store_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    results = [(p.args, *p.communicate(timeout=240), p.returncode) for p in procs]
    for args, _out, err, code in results:
        assert code == 0, f"{args}: {err}"
        assert "locked" not in err
    assert all(int(out) > 0 for _, out, _, _ in results[WRITERS:])
    ft.set_tracking_uri(uri)
    try:
        runs = ft.search_runs(experiment_names=["concurrent"], output_format="list")
        assert len(runs) == WRITERS * RUNS_PER_WRITER
        client = TrackingClient(uri)
        for run in runs:
            assert run.info.status == "FINISHED"
            history = client.get_metric_history(run.info.run_id, "m")
            assert [p.step for p in history] == list(range(POINTS_PER_RUN))
    finally:
        ft.set_tracking_uri(None)
