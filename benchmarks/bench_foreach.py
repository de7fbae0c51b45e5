"""Wall time of a wide foreach of trivial tasks.

The flow fans out ``--width`` trivial tasks (each stores one small artifact),
joins them and ends; the whole ``python flow.py run --max-num-splits N``
command is timed. The first run (which creates the store) is shown apart; the
target applies to the median of the runs after it. Target for width 1000:
<= 5 s.

Metaflow runs one process per task, so by default it runs a narrower foreach
(``--metaflow-width 100``) and its time is scaled linearly to ``--width`` for
the ratio; the output says so.

    python benchmarks/bench_foreach.py [--width 1000] [--repeat 3]
        [--metaflow-python /opt/mfvenv/bin/python] [--metaflow-width 100]
"""

from __future__ import annotations

import _common as c

TARGET_SECONDS = 5.0

FLOW_TEXT = '''"""A foreach of trivial tasks."""
from flowtrack import FlowSpec, Parameter, step


class ForeachBench(FlowSpec):
    width = Parameter("width", default=1000, type=int)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.value for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        assert self.total == self.width * (self.width - 1) // 2


if __name__ == "__main__":
    ForeachBench()
'''


def task_count(width: int) -> int:
    """Tasks in one run: start, the foreach, join and end."""
    return width + 3


def run_args(width: int, args) -> list[str]:
    """Options for ``flow.py run``."""
    splits = max(args.max_num_splits, width)
    extra = ["--max-workers", str(args.max_workers)] if args.max_workers else []
    return ["--max-num-splits", str(splits), *extra, "--width", str(width)]


def measure(framework: c.Framework, width: int, args) -> tuple[float, list[float]]:
    """``(first run, timed runs)`` seconds for one framework at ``width``."""
    c.check_importable(framework)
    with c.temp_workdir(f"foreach-{framework.name}") as workdir:
        flow = c.write_flow(workdir, FLOW_TEXT, framework)
        return c.time_runs(framework, workdir, flow, run_args(width, args), args)


def add_arguments(parser) -> None:
    """Options of this benchmark."""
    parser.add_argument("--width", type=c.positive_int, default=1000, help="foreach width")
    parser.add_argument(
        "--metaflow-width",
        type=c.positive_int,
        default=100,
        help="foreach width for Metaflow, scaled to --width for the ratio (default 100)",
    )
    parser.add_argument("--max-num-splits", type=int, default=2000)
    parser.add_argument("--max-workers", type=int, help="passed to both frameworks if given")


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=3)
    add_arguments(parser)
    args = parser.parse_args()

    widths = {c.FLOWTRACK: args.width, c.METAFLOW: args.metaflow_width}
    rows, medians = [], {}
    for fw in c.frameworks(args):
        width = widths[fw.name]
        first, runs = measure(fw, width, args)
        per_task = c.median(runs) / task_count(width)
        medians[fw.name] = per_task * task_count(args.width)
        rows.append(
            (
                fw.name,
                width,
                task_count(width),
                c.fmt_seconds(first),
                c.fmt_seconds(c.median(runs)),
                c.fmt_seconds(per_task),
                c.fmt_seconds(medians[fw.name]),
            )
        )
    headers = (
        "framework",
        "width",
        "tasks",
        "first run",
        f"median of {args.repeat}",
        "per task",
        f"at width {args.width}",
    )
    c.print_table("foreach of trivial tasks, whole `python flow.py run` wall time", headers, rows)

    if c.METAFLOW in medians:
        if args.metaflow_width != args.width:
            print(
                f"\nMetaflow ran width {args.metaflow_width}; its time at width {args.width} "
                "is its per-task time scaled linearly (an estimate)."
            )
        ratio = c.fmt_ratio(medians[c.METAFLOW], medians[c.FLOWTRACK])
        print(f"metaflow / flowtrack at width {args.width}: {ratio}")
    result = c.Result(
        f"foreach width {args.width} wall time",
        medians[c.FLOWTRACK],
        "s",
        TARGET_SECONDS if args.width == 1000 else None,
    )
    c.report("bench_foreach", [result], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
