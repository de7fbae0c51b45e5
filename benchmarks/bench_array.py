"""Persist and load time of a large float64 ndarray artifact.

Flow: ``start`` assigns a ``--mb`` MB array to ``self.arr`` and records
``time.time()`` right after; ``consume`` records ``time.time()`` as it begins,
then times ``x = self.arr; x.sum()`` and a second plain ``x.sum()``.

* persist = (consume's start - start's time after the assignment), minus the
  same gap for an identical flow with a tiny array (the per-task overhead);
* load = (first access + sum) - (plain sum of the in-memory array).

Both are compared with plain ``np.save`` and ``np.load`` + sum (minus sum) of
the same array in the same directory. The array is random and unseeded, so no
run can reuse a blob stored by an earlier one. Targets: persist <= 1.5x np.save,
load <= 1.5x np.load.

    python benchmarks/bench_array.py [--mb 200] [--repeat 3]
        [--metaflow-python /opt/mfvenv/bin/python]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import _common as c

TARGET_RATIO = 1.5
TINY_MB = 0.001

FLOW_TEXT = '''"""Hand a large ndarray from one step to the next."""
import json
import time

import numpy as np

from flowtrack import FlowSpec, Parameter, step


class ArrayBench(FlowSpec):
    mb = Parameter("mb", default=200.0, type=float)
    out = Parameter("out", default="timings.json")

    @step
    def start(self):
        n = max(1, int(self.mb * 1e6) // 8)
        # unseeded: fresh bytes every run, so a content-addressed store cannot dedupe them
        self.arr = np.random.default_rng().random(n)
        self.t_assigned = time.time()
        self.next(self.consume)

    @step
    def consume(self):
        self.t_started = time.time()
        t = time.perf_counter()
        x = self.arr
        x.sum()
        self.access_and_sum = time.perf_counter() - t
        t = time.perf_counter()
        x.sum()
        self.sum_only = time.perf_counter() - t
        self.next(self.end)

    @step
    def end(self):
        timings = {
            "handoff": self.t_started - self.t_assigned,
            "load": self.access_and_sum - self.sum_only,
        }
        with open(self.out, "w") as f:
            json.dump(timings, f)


if __name__ == "__main__":
    ArrayBench()
'''


def flow_timings(framework: c.Framework, mb: float, args) -> list[dict[str, float]]:
    """Per-run ``{"handoff", "load"}`` seconds for ``args.repeat`` runs (after one warm-up)."""
    with c.temp_workdir(f"array-{framework.name}") as workdir:
        flow = c.write_flow(workdir, FLOW_TEXT, framework)
        out = workdir / "timings.json"
        run_args = ["--mb", str(mb), "--out", str(out)]
        c.run_flow(framework, workdir, flow, run_args, args.timeout)
        timings = []
        for _ in range(args.repeat):
            c.run_flow(framework, workdir, flow, run_args, args.timeout)
            timings.append(json.loads(out.read_text()))
        return timings


def framework_costs(framework: c.Framework, args) -> dict[str, float]:
    """Median persist and load seconds of the big array, net of per-task overhead."""
    c.check_importable(framework)
    big = flow_timings(framework, args.mb, args)
    tiny = flow_timings(framework, TINY_MB, args)
    overhead = c.median([t["handoff"] for t in tiny])
    return {
        "persist": c.median([t["handoff"] for t in big]) - overhead,
        "load": c.median([t["load"] for t in big]),
        "overhead": overhead,
    }


def numpy_costs(mb: float, repeat: int) -> dict[str, float]:
    """Median ``np.save`` and ``np.load`` + sum (minus sum) seconds in a temp directory."""
    import numpy as np

    arr = np.random.default_rng(0).random(max(1, int(mb * 1e6) // 8))
    saves, loads = [], []
    with c.temp_workdir("array-numpy") as workdir:
        path = Path(workdir) / "arr.npy"
        for _ in range(repeat):
            path.unlink(missing_ok=True)
            t = time.perf_counter()
            np.save(path, arr)
            saves.append(time.perf_counter() - t)
            t = time.perf_counter()
            loaded = np.load(path)
            loaded.sum()
            load_and_sum = time.perf_counter() - t
            t = time.perf_counter()
            loaded.sum()
            loads.append(load_and_sum - (time.perf_counter() - t))
            del loaded
    return {"persist": c.median(saves), "load": c.median(loads), "overhead": 0.0}


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--mb", type=float, default=200.0, help="array size in MB (default 200)")
    args = parser.parse_args()

    costs = {"numpy": numpy_costs(args.mb, args.repeat)}
    for fw in c.frameworks(args):
        costs[fw.name] = framework_costs(fw, args)
    base = costs["numpy"]
    rows = [
        (
            name,
            c.fmt_seconds(cost["persist"]),
            c.fmt_ratio(cost["persist"], base["persist"]),
            c.fmt_seconds(cost["load"]),
            c.fmt_ratio(cost["load"], base["load"]),
            c.fmt_seconds(cost["overhead"]) if name != "numpy" else "-",
        )
        for name, cost in costs.items()
    ]
    headers = ("", "persist", "vs np.save", "load", "vs np.load", "task overhead subtracted")
    c.print_table(f"{args.mb:g} MB float64 array, medians of {args.repeat}", headers, rows)

    ours = costs[c.FLOWTRACK]
    results = [
        c.Result("persist / np.save", ours["persist"] / base["persist"], "x", TARGET_RATIO),
        c.Result("load / np.load", ours["load"] / base["load"], "x", TARGET_RATIO),
    ]
    c.report("bench_array", results, args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
