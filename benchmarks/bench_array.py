"""Persist and load time of a large float64 ndarray artifact.

Flow: ``start`` assigns a ``--mb`` MB array to ``self.arr`` and records
``time.time()`` right after; ``consume`` records ``time.time()`` as it begins,
then times ``x = self.arr; x.sum()`` and a second plain ``x.sum()``.

* persist = (consume's start - start's time after the assignment), minus the
  same gap for an identical flow with a tiny array (the per-task overhead);
* load = (first access + sum) - (plain sum of the in-memory array).

Both are compared with plain ``np.save`` and ``np.load`` + sum (minus sum) of
the same array, timed inside the same two task processes (``start`` saves the
array with numpy just before assigning it; ``consume`` loads that file after
reading the artifact), so both pay the same costs of fresh processes and fresh
memory. The flow's array is random and unseeded, so no run can reuse a blob
stored by an earlier one. Targets: persist <= 1.5x np.save, load <= 1.5x np.load.

    python benchmarks/bench_array.py [--mb 200] [--repeat 5]
        [--metaflow-python /opt/mfvenv/bin/python]
"""

from __future__ import annotations

import json
from pathlib import Path

import _common as c

TARGET_RATIO = 1.5
TINY_MB = 0.001
ROUND_TRIP_NOTE = (
    "\nround trip = persist + load. Where first touches of new memory are slow (a lazily\n"
    "backed VM: about 0.4 s per 200 MB) that cost lands on np.load's copy or on a store's\n"
    "write, varying from run to run; compare the round trips too, and repeat when in doubt."
)

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
        arr = np.random.default_rng().random(n)
        self.npy_path = "%s.%d.npy" % (self.out, time.time_ns())
        t = time.perf_counter()
        np.save(self.npy_path, arr)
        self.np_save = time.perf_counter() - t
        self.arr = arr
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
        t = time.perf_counter()
        np.load(self.npy_path).sum()
        self.np_load = time.perf_counter() - t - self.sum_only
        self.next(self.end)

    @step
    def end(self):
        timings = {
            "handoff": self.t_started - self.t_assigned,
            "load": self.access_and_sum - self.sum_only,
            "np_save": self.np_save,
            "np_load": self.np_load,
        }
        with open(self.out, "w") as f:
            json.dump(timings, f)


if __name__ == "__main__":
    ArrayBench()
'''


def flow_timings(framework: c.Framework, workdir: Path, mb: float, args) -> list[dict]:
    """Per-run ``{"handoff", "load"}`` seconds for ``args.repeat`` runs (after one warm-up)."""
    flow = c.write_flow(workdir, FLOW_TEXT, framework)
    out = workdir / "timings.json"
    run_args = ["--mb", str(mb), "--out", str(out)]
    c.run_flow(framework, workdir, flow, run_args, args.timeout)
    timings = []
    for _ in range(args.repeat):
        c.run_flow(framework, workdir, flow, run_args, args.timeout)
        timings.append(json.loads(out.read_text()))
    return timings


def framework_costs(framework: c.Framework, workdir: Path, args
                    ) -> tuple[dict[str, float], dict[str, float]]:
    """Median persist and load seconds of the big array, net of per-task overhead, and
    numpy's save and load of the same array in the same task processes."""
    c.check_importable(framework)
    big = flow_timings(framework, workdir, args.mb, args)
    tiny = flow_timings(framework, workdir, TINY_MB, args)
    overhead = c.median([t["handoff"] for t in tiny])
    ours = {
        "persist": c.median([t["handoff"] for t in big]) - overhead,
        "load": max(0.0, c.median([t["load"] for t in big])),  # below zero is timer noise
        "overhead": overhead,
    }
    numpy = {
        "persist": c.median([t["np_save"] for t in big]),
        "load": max(1e-6, c.median([t["np_load"] for t in big])),
        "overhead": 0.0,
    }
    return ours, numpy


def all_costs(args) -> dict[str, dict[str, float]]:
    """Costs for numpy (timed inside flowtrack's tasks) and each framework."""
    costs, numpy = {}, None
    with c.temp_workdir("array") as root:
        for fw in c.frameworks(args):
            workdir = root / fw.name
            workdir.mkdir()
            costs[fw.name], fw_numpy = framework_costs(fw, workdir, args)
            if fw.name == c.FLOWTRACK:
                numpy = fw_numpy
    assert numpy is not None
    return {"numpy": numpy, **costs}


def table_row(name: str, cost: dict[str, float], base: dict[str, float]) -> tuple[str, ...]:
    """One row: persist, load and their sum (the round trip), each against numpy's."""
    trip, base_trip = cost["persist"] + cost["load"], base["persist"] + base["load"]
    return (
        name,
        c.fmt_seconds(cost["persist"]),
        c.fmt_ratio(cost["persist"], base["persist"]),
        c.fmt_seconds(cost["load"]),
        c.fmt_ratio(cost["load"], base["load"]),
        c.fmt_seconds(trip),
        c.fmt_ratio(trip, base_trip),
        c.fmt_seconds(cost["overhead"]) if name != "numpy" else "-",
    )


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=5)
    parser.add_argument("--mb", type=float, default=200.0, help="array size in MB (default 200)")
    args = parser.parse_args()

    costs = all_costs(args)
    base = costs["numpy"]
    rows = [table_row(name, cost, base) for name, cost in costs.items()]
    headers = (
        "",
        "persist",
        "vs np.save",
        "load",
        "vs np.load",
        "round trip",
        "vs numpy",
        "task overhead subtracted",
    )
    samples = f"medians of {args.repeat} runs (numpy timed in flowtrack's task processes)"
    c.print_table(f"{args.mb:g} MB float64 array, {samples}", headers, rows)
    print(ROUND_TRIP_NOTE)

    ours = costs[c.FLOWTRACK]
    results = [
        c.Result("persist / np.save", ours["persist"] / base["persist"], "x", TARGET_RATIO),
        c.Result("load / np.load", ours["load"] / base["load"], "x", TARGET_RATIO),
        c.Result(
            "round trip / numpy's",
            (ours["persist"] + ours["load"]) / (base["persist"] + base["load"]),
            "x",
        ),
    ]
    c.report("bench_array", results, args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
