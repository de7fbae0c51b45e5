"""Tracking: flowtrack's MLflow-style API against MLflow itself.

The same workload runs in its own interpreter for each tool, on a fresh SQLite
store, through the fluent API (``import flowtrack as mlflow`` vs ``import mlflow``):

* ``log_metric`` calls from one process, including writing them all at ``end_run``:
  1 000 000 for flowtrack; MLflow gets ``--mlflow-calls`` (default 300, it is
  slow) and the figure is per call;
* reading a metric history back: 1 000 000 points for flowtrack; for MLflow
  ``--mlflow-history`` points written with ``log_batch`` (default 100 000);
* ``search_runs`` with a metric filter and an order over ``--runs`` runs (default
  10 000) with 3 params and 2 metrics each; MLflow over ``--mlflow-runs`` (default
  1000, creating runs costs it tens of ms each): median of 5.

MLflow is compared when ``--mlflow-python`` (or ``MLFLOW_PYTHON``) names an
interpreter with ``mlflow`` installed; ``pip install mlflow`` into its own
virtualenv. Targets: 1M log_metric calls <= 10 s, a 1M-point history read <= 1 s,
the search over 10 000 runs <= 300 ms.

    python benchmarks/bench_tracking.py [--mlflow-python PATH] [--json out.json]
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import _common as c

WORKLOAD = r'''
import json, os, statistics, sys, time

tool, home, calls, history, runs = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
if tool == "flowtrack":
    import flowtrack as mlflow
    from flowtrack import TrackingClient as Client
    from flowtrack.tracking import Metric
    mlflow.set_tracking_uri(home)
else:
    import logging
    logging.disable(logging.WARNING)
    import mlflow
    from mlflow import MlflowClient as Client
    from mlflow.entities import Metric
    mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
out = {}
mlflow.set_experiment("bench")
client = Client()

# log_metric from one process, all written by end_run
t = time.perf_counter()
with mlflow.start_run() as run:
    for i in range(calls):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
out["log_metric_calls"] = calls
out["log_metric_s"] = time.perf_counter() - t  # including end_run's final write
# history: written in batches of 1000 (the whole 1M for flowtrack is the run above)
if tool == "flowtrack" and history <= calls:
    history_run = run.info.run_id
else:
    with mlflow.start_run() as hrun:
        now = int(time.time() * 1000)
        for start in range(0, history, 1000):
            client.log_batch(hrun.info.run_id, metrics=[
                Metric("loss", 1.0 / (i + 1), now, i) for i in range(start, min(start + 1000, history))])
    history_run = hrun.info.run_id
reads = []
for _ in range(3):
    t = time.perf_counter()
    points = client.get_metric_history(history_run, "loss")
    reads.append(time.perf_counter() - t)
out["history_points"] = len(points)
out["history_read_s"] = min(reads)

# many runs, then a filtered, ordered search
search_exp = mlflow.set_experiment("search").experiment_id
t = time.perf_counter()
for i in range(runs):
    with mlflow.start_run():
        mlflow.log_params({"model": ["svm", "tree", "knn"][i % 3], "C": str(i % 10), "seed": str(i)})
        mlflow.log_metrics({"acc": (i % 100) / 100, "loss": 1 - (i % 100) / 100})
out["runs"] = runs
out["create_run_ms"] = (time.perf_counter() - t) / runs * 1000
query = dict(experiment_ids=[search_exp], filter_string="metrics.acc > 0.5 and params.model = 'svm'",
             order_by=["metrics.acc DESC"], max_results=1000)
found = mlflow.search_runs(**query)
times = []
for _ in range(5):
    t = time.perf_counter()
    found = mlflow.search_runs(**query)
    times.append(time.perf_counter() - t)
out["search_matches"] = len(found)
out["search_ms"] = statistics.median(times) * 1000
print(json.dumps(out))
'''


def run_workload(python: str, tool: str, calls: int, history: int, runs: int,
                 timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-tracking-{tool}-") as tmp:
        script = Path(tmp) / "workload.py"
        script.write_text(WORKLOAD)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FLOWTRACK_", "MLFLOW_"))}
        env["PYTHONWARNINGS"] = "ignore"
        done = subprocess.run([python, str(script), tool, tmp, str(calls), str(history),
                               str(runs)], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=tmp)
    if done.returncode != 0:
        raise c.BenchmarkError(f"{tool} workload failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = c.make_parser(__doc__.splitlines()[0], repeat=1)
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"),
                        help="interpreter with mlflow installed (enables the comparison)")
    parser.add_argument("--calls", type=c.positive_int, default=1_000_000)
    parser.add_argument("--runs", type=c.positive_int, default=10_000)
    parser.add_argument("--mlflow-calls", type=c.positive_int, default=300)
    parser.add_argument("--mlflow-history", type=c.positive_int, default=100_000)
    parser.add_argument("--mlflow-runs", type=c.positive_int, default=1000)
    args = parser.parse_args()
    ours = run_workload(args.python, "flowtrack", args.calls, args.calls, args.runs,
                        args.timeout)
    theirs = (run_workload(args.mlflow_python, "mlflow", args.mlflow_calls, args.mlflow_history,
                           args.mlflow_runs, args.timeout) if args.mlflow_python else None)

    def per_call_us(r: dict[str, float]) -> float:
        return r["log_metric_s"] / r["log_metric_calls"] * 1e6

    def per_point_us(r: dict[str, float]) -> float:
        return r["history_read_s"] / max(r["history_points"], 1) * 1e6

    rows = [
        ("log_metric, per call (incl. writing)", f"{per_call_us(ours):.2f} us",
         f"{per_call_us(theirs):.0f} us" if theirs else "-",
         c.fmt_ratio(per_call_us(theirs), per_call_us(ours)) if theirs else "-"),
        (f"history read, per point ({ours['history_points']:,} / "
         f"{theirs['history_points'] if theirs else 0:,} points)",
         f"{per_point_us(ours):.3f} us", f"{per_point_us(theirs):.3f} us" if theirs else "-",
         c.fmt_ratio(per_point_us(theirs), per_point_us(ours)) if theirs else "-"),
        (f"search_runs, filter + order ({ours['runs']:,} / "
         f"{theirs['runs'] if theirs else 0:,} runs)", f"{ours['search_ms']:.1f} ms",
         f"{theirs['search_ms']:.1f} ms" if theirs else "-", "-"),
        ("creating a run with 3 params, 2 metrics", f"{ours['create_run_ms']:.2f} ms",
         f"{theirs['create_run_ms']:.1f} ms" if theirs else "-",
         c.fmt_ratio(theirs["create_run_ms"], ours["create_run_ms"]) if theirs else "-"),
    ]
    c.print_table("tracking on SQLite (MLflow / flowtrack: >1 means flowtrack is faster)",
                  ("operation", "flowtrack", "MLflow", "MLflow / flowtrack"), rows)
    c.report("bench_tracking", [
        c.Result(f"{ours['log_metric_calls']:,} log_metric calls, written",
                 ours["log_metric_s"], "s", 10.0 * ours["log_metric_calls"] / 1_000_000),
        c.Result(f"read a {ours['history_points']:,}-point history", ours["history_read_s"],
                 "s", 1.0 * ours["history_points"] / 1_000_000),
        c.Result(f"search_runs over {ours['runs']:,} runs", ours["search_ms"] / 1000, "s",
                 0.3),
    ], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
