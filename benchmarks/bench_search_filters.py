"""Long search filters: ``search_runs`` with 1000 ANDed and 500 ORed terms.

A fresh store (a SQLite file, or ``--metadata URL``, an empty database) gets
``--runs`` tracking runs (default 10 000) in one experiment, each with 5 metrics,
5 params and a tag, written in bulk (1000 runs per transaction, the rows
``create_run``, ``log_batch`` and ``set_terminated`` write) so that filling takes
seconds, not the minutes 30 000 API calls would. Then, median of 5 each, pages of 1000 runs:

* the floor: ``search_runs`` without a filter (reading and building the page);
* AND-1000: ``metrics.m0 > -1 AND params.p1 != 'x1' AND ...``, every term true for
  every run, so no term cuts the work short (the worst case for an AND);
* OR-500: run names, metric values, params and tags (``attributes.run_name =
  'run-0' OR metrics.m1 = 0.3109 OR params.p2 = 'none-2' OR tags.team = 'other-3'
  OR ...``), 250 runs found, most terms matching none, so no run is decided by its
  first terms.

The filters are long (about 23 000 and 14 000 characters) but within the 100 000
characters a filter may have. Targets: OR-500 <= 300 ms over 10 000 runs, and
AND-1000 <= 1 s. Before the search grouped comparisons by key (one indexed scan per
key and group), SQLite refused AND-1000 ("Expression tree is too large") and
OR-500 took 32 s.

    python benchmarks/bench_search_filters.py [--runs N] [--metadata URL] [--json out.json]
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import _common as c

WORKLOAD = r'''
import json, statistics, sys, time, uuid
from flowtrack.lineage import (context_properties, contexts, insert_returning_ids,
                               latest_metrics, metrics, parent_contexts)
from flowtrack.tracking import TrackingClient
from flowtrack.tracking.store import metric_chunks as _history
from flowtrack.tracking.store.tracking_store import PARAM_PREFIX, TAG_PREFIX, open_store
from sqlalchemy import insert

uri, runs = sys.argv[1], int(sys.argv[2])
T0 = 1_700_000_000_000

def metric(i, k):
    return ((i * 7919 + k * 104729) % 10000) / 10000

def param(i, k):
    return f"v{(i * 31 + k * 17) % 100}"

def property_rows(pk, values, custom):
    return [{"context_id": pk, "name": name, "is_custom_property": custom,
             "int_value": v if isinstance(v, int) else None,
             "string_value": v if isinstance(v, str) else None}
            for name, v in values.items()]

def fill(store, experiment_pk, start, stop):
    with store.write() as s:
        run_type, now = store.types(s).run, int(time.time() * 1000)
        ids = [uuid.uuid4().hex for _ in range(start, stop)]
        pks = insert_returning_ids(s.conn, contexts, [
            {"type_id": run_type, "name": r, "external_id": r, "create_time_since_epoch": now,
             "last_update_time_since_epoch": now} for r in ids])
        props, points, latest = [], [], []
        for i, pk, run_id in zip(range(start, stop), pks, ids):
            props += property_rows(pk, {"run_id": run_id, "user": "bench", "status": "FINISHED",
                                        "start_time": T0 + i, "end_time": T0 + i + 1000,
                                        "kind": "tracking", "flow_name": "bench"}, False)
            custom = {PARAM_PREFIX + f"p{k}": param(i, k) for k in range(5)}
            custom |= {TAG_PREFIX + "team": f"team-{i % 5}", "run_name": f"run-{i}",
                       TAG_PREFIX + "mlflow.runName": f"run-{i}"}
            props += property_rows(pk, custom, True)
            run_points = [(f"m{k}", metric(i, k), T0, 0, None) for k in range(5)]
            points += _history.pack(pk, run_points)
            latest += [{"run_id": pk, "key": key, "value": value, "timestamp": ts, "step": step}
                       for key, value, ts, step, _ in run_points]
        s.conn.execute(insert(context_properties), props)
        s.conn.execute(insert(parent_contexts),
                       [{"context_id": pk, "parent_context_id": experiment_pk} for pk in pks])
        s.conn.execute(insert(metrics), points)
        s.conn.execute(insert(latest_metrics), latest)

store = open_store(uri)
experiment = store.create_experiment("filters")
t = time.perf_counter()
for start in range(0, runs, 1000):
    fill(store, int(experiment), start, min(start + 1000, runs))
out = {"runs": runs, "fill_s": time.perf_counter() - t}

AND_TERMS = [f"metrics.m{k % 5} > -{k + 1}" if k % 2 == 0 else f"params.p{k % 5} != 'x{k}'"
             for k in range(1000)]
def or_term(k):
    i = (k * 20) % runs
    return (f"attributes.run_name = 'run-{i}'", f"metrics.m{k % 5} = {metric(i, k % 5)!r}",
            f"params.p{k % 5} = 'none-{k}'", f"tags.team = 'other-{k}'")[k % 4]
OR_TERMS = [or_term(k) for k in range(500)]
FILTERS = {"floor": "", "and_1000": " AND ".join(AND_TERMS), "or_500": " OR ".join(OR_TERMS)}

client = TrackingClient(uri)
for name, text in FILTERS.items():
    found = client.search_runs([experiment], text, max_results=1000)  # warm up
    times = []
    for _ in range(5):
        t = time.perf_counter()
        client.search_runs([experiment], text, max_results=1000)
        times.append(time.perf_counter() - t)
    out[name + "_s"] = statistics.median(times)
    out[name + "_matches"] = len(found)
    out[name + "_chars"] = len(text)
print(json.dumps(out))
'''


def run_workload(python: str, uri: str, runs: int, timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-search-filters-") as tmp:
        script = Path(tmp) / "workload.py"
        script.write_text(WORKLOAD)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
        env["PYTHONWARNINGS"] = "ignore"
        env["FLOWTRACK_HOME"] = str(Path(tmp) / ".flowtrack")
        done = subprocess.run([python, str(script), uri or str(Path(tmp) / "store"), str(runs)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
    if done.returncode != 0:
        raise c.BenchmarkError(f"workload failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = c.make_parser(__doc__.splitlines()[0], repeat=1)
    parser.add_argument("--runs", type=c.positive_int, default=10_000)
    parser.add_argument("--metadata", metavar="URL", default="",
                        help="an empty database to fill (default: a SQLite file)")
    args = parser.parse_args()
    ours = run_workload(args.python, args.metadata, args.runs, args.timeout)
    floor = ours["floor_s"]
    rows = [(label, f"{ours[key + '_chars']:,}", f"{ours[key + '_matches']:,}",
             c.fmt_seconds(ours[key + "_s"]),
             "-" if key == "floor" else c.fmt_ratio(ours[key + "_s"], floor))
            for label, key in (("no filter (floor)", "floor"), ("AND of 1000 terms", "and_1000"),
                               ("OR of 500 terms", "or_500"))]
    on = args.metadata.split("://", 1)[0] if args.metadata else "a SQLite file"
    c.print_table(f"search_runs over {ours['runs']:,} runs on {on} (filled in "
                  f"{c.fmt_seconds(ours['fill_s'])}), median of 5, pages of 1000",
                  ("filter", "characters", "runs found", "time", "x floor"), rows)
    c.report("bench_search_filters", [
        c.Result(f"search_runs, no filter, {ours['runs']:,} runs (floor)", floor, "s"),
        c.Result(f"search_runs, AND of 1000 terms, {ours['runs']:,} runs", ours["and_1000_s"],
                 "s", 1.0),
        c.Result(f"search_runs, OR of 500 terms, {ours['runs']:,} runs", ours["or_500_s"],
                 "s", 0.3),
    ], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
