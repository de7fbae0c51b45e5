"""Tracking server: metric points per second through ``flowtrack server``, against
MLflow's own ``mlflow server``.

Each server runs on a fresh SQLite store on 127.0.0.1; the same client workloads
run against it:

* flowtrack's fluent API with an ``http://`` tracking URI: ``--points`` (default
  1 000 000) ``log_metric`` calls in one run, timed until ``end_run`` has written
  them all (they travel as log-batch requests of 1000), then read back whole;
* the official mlflow client (``--mlflow-python``, a virtualenv with mlflow):
  ``MlflowClient.log_batch`` of 1000 points per call, ``--mlflow-points`` in all
  (default 200 000), and single ``log_metric`` calls (``--mlflow-calls``, default
  300) for the per-call latency.

With ``--mlflow-python`` the mlflow-client workloads also run against MLflow's own
server (``mlflow server``, from that virtualenv). Target: >= 50 000 points/s
through the server with batching.

    python benchmarks/bench_server.py [--mlflow-python PATH] [--json out.json]
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import _common as c

FLOWTRACK_WORKLOAD = r'''
import json, sys, time
import flowtrack
from flowtrack import TrackingClient
url, points = sys.argv[1], int(sys.argv[2])
flowtrack.set_tracking_uri(url)
flowtrack.set_experiment("bench-server")
t = time.perf_counter()
with flowtrack.start_run() as run:
    for i in range(points):
        flowtrack.log_metric("loss", 1.0 / (i + 1), step=i)
written = time.perf_counter() - t
t = time.perf_counter()
history = TrackingClient(url).get_metric_history(run.info.run_id, "loss")
read = time.perf_counter() - t
assert len(history) == points, len(history)
print(json.dumps({"points": points, "write_s": written, "read_s": read}))
'''

MLFLOW_WORKLOAD = r'''
import json, logging, os, sys, time
logging.disable(logging.WARNING)
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
url, points, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mlflow.set_tracking_uri(url)
client = MlflowClient()
experiment = mlflow.set_experiment("bench-server-mlflow")
run = client.create_run(experiment.experiment_id)
now = int(time.time() * 1000)
t = time.perf_counter()
for start in range(0, points, 1000):
    client.log_batch(run.info.run_id, metrics=[
        Metric("loss", 1.0 / (i + 1), now, i) for i in range(start, min(start + 1000, points))])
batched = time.perf_counter() - t
t = time.perf_counter()
for i in range(calls):
    client.log_metric(run.info.run_id, "single", float(i), step=i)
single = time.perf_counter() - t
client.set_terminated(run.info.run_id)
assert len(client.get_metric_history(run.info.run_id, "single")) == calls
print(json.dumps({"points": points, "batch_s": batched, "calls": calls, "single_s": single}))
'''


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRACK_", "MLFLOW_"))}
    env["PYTHONWARNINGS"] = "ignore"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # it would try to reach outside hosts
    return env


@contextmanager
def flowtrack_server(python: str, home: Path) -> Iterator[str]:
    port = c.free_port()
    env = clean_env() | {"FLOWTRACK_HOME": str(home)}
    with c.serving([python, "-m", "flowtrack", "server", "--port", str(port), "--log-level",
                  "warning"], port, env, home / "server.log") as url:
        yield url


@contextmanager
def mlflow_server(python: str, home: Path) -> Iterator[str]:
    port = c.free_port()
    mlflow_cli = str(Path(python).parent / "mlflow")
    with c.serving([mlflow_cli, "server", "--host", "127.0.0.1", "--port", str(port),
                  "--backend-store-uri", f"sqlite:///{home}/mlflow.db",
                  "--artifacts-destination", str(home / "artifacts"), "--workers", "1"],
                 port, clean_env(), home / "server.log") as url:
        yield url


def run_client(python: str, script: str, args: list[str], timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-server-client-") as tmp:
        path = Path(tmp) / "workload.py"
        path.write_text(script)
        done = subprocess.run([python, str(path), *args], capture_output=True, text=True,
                              timeout=timeout, env=clean_env(), cwd=tmp)
    if done.returncode != 0:
        raise c.BenchmarkError(f"client workload failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = c.make_parser(__doc__.splitlines()[0], repeat=1)
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"),
                        help="interpreter with mlflow installed (enables the comparison)")
    parser.add_argument("--points", type=c.positive_int, default=1_000_000)
    parser.add_argument("--mlflow-points", type=c.positive_int, default=200_000)
    parser.add_argument("--mlflow-calls", type=c.positive_int, default=300)
    args = parser.parse_args()
    mlflow_args = [str(args.mlflow_points), str(args.mlflow_calls)]
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        root = Path(tmp)
        (root / "ours").mkdir()
        with flowtrack_server(args.python, root / "ours") as url:
            fluent = run_client(args.python, FLOWTRACK_WORKLOAD, [url, str(args.points)],
                                args.timeout)
            official_ours = (run_client(args.mlflow_python, MLFLOW_WORKLOAD, [url, *mlflow_args],
                                        args.timeout) if args.mlflow_python else None)
        official_theirs = None
        if args.mlflow_python:
            (root / "theirs").mkdir()
            with mlflow_server(args.mlflow_python, root / "theirs") as url:
                official_theirs = run_client(args.mlflow_python, MLFLOW_WORKLOAD,
                                             [url, *mlflow_args], args.timeout)

    def rate(points: float, seconds: float) -> str:
        return f"{points / seconds:,.0f} points/s"

    rows = [("flowtrack fluent API, log_metric x "
             f"{fluent['points']:,} (buffered, incl. writing)",
             rate(fluent["points"], fluent["write_s"]), "-", "-"),
            (f"flowtrack client, read the {fluent['points']:,}-point history",
             f"{fluent['read_s']:.2f} s", "-", "-")]
    if official_ours and official_theirs:
        rows += [
            ("mlflow client, log_batch of 1000",
             rate(official_ours["points"], official_ours["batch_s"]),
             rate(official_theirs["points"], official_theirs["batch_s"]),
             c.fmt_ratio(official_theirs["batch_s"], official_ours["batch_s"])),
            ("mlflow client, log_metric per call",
             f"{official_ours['single_s'] / official_ours['calls'] * 1000:.2f} ms",
             f"{official_theirs['single_s'] / official_theirs['calls'] * 1000:.2f} ms",
             c.fmt_ratio(official_theirs["single_s"], official_ours["single_s"]))]
    c.print_table("tracking server on SQLite (mlflow server / flowtrack server: >1 means "
                  "flowtrack is faster)",
                  ("workload", "flowtrack server", "mlflow server", "ratio"), rows)
    throughput = fluent["points"] / fluent["write_s"]
    c.report("bench_server", [
        c.Result("points/s through the server (seconds per 50 000 points)",
                 50_000 / throughput, "s", 1.0),
        c.Result(f"read a {fluent['points']:,}-point history over HTTP", fluent["read_s"],
                 "s", 1.0 * fluent["points"] / 1_000_000),
    ], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
