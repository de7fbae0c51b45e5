"""Wall time of a 10-step linear flow of trivial steps.

Measures the whole ``python flow.py run`` command: interpreter start, imports,
graph checks, ten tasks and their bookkeeping. The first run (which creates
the store) is shown apart; the target applies to the median of the runs after
it. Target: <= 0.8 s.

    python benchmarks/bench_linear.py [--steps 10] [--repeat 5]
        [--metaflow-python /opt/mfvenv/bin/python]
"""

from __future__ import annotations

import _common as c

TARGET_SECONDS = 0.8


def flow_text(steps: int) -> str:
    """Source of a linear flow with ``steps`` trivial steps (start ... end)."""
    names = ["start"] + [f"step{i}" for i in range(1, steps - 1)] + ["end"]
    lines = [
        '"""A linear flow of trivial steps."""',
        "from flowtrack import FlowSpec, step",
        "",
        "",
        "class LinearBench(FlowSpec):",
    ]
    for name, following in zip(names, names[1:] + [None], strict=True):
        lines += [
            "    @step",
            f"    def {name}(self):",
            f"        self.count = {names.index(name)}",
        ]
        if following:
            lines.append(f"        self.next(self.{following})")
        lines.append("")
    lines += ["", 'if __name__ == "__main__":', "    LinearBench()", ""]
    return "\n".join(lines)


def measure(framework: c.Framework, args) -> tuple[float, list[float]]:
    """``(first run, timed runs)`` seconds for one framework."""
    c.check_importable(framework)
    with c.temp_workdir(f"linear-{framework.name}") as workdir:
        flow = c.write_flow(workdir, flow_text(args.steps), framework)
        return c.time_runs(framework, workdir, flow, [], args)


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=5)
    parser.add_argument("--steps", type=c.positive_int, default=10, help="steps (default 10)")
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2 (start and end)")

    timings = {fw.name: measure(fw, args) for fw in c.frameworks(args)}
    rows = [
        (name, c.fmt_seconds(first), c.fmt_seconds(c.median(runs)), c.fmt_seconds(min(runs)))
        for name, (first, runs) in timings.items()
    ]
    headers = ("framework", "first run", f"median of {args.repeat}", "best")
    title = f"{args.steps}-step linear flow, whole `python flow.py run` wall time"
    c.print_table(title, headers, rows)

    ours = c.median(timings[c.FLOWTRACK][1])
    if c.METAFLOW in timings:
        theirs = c.median(timings[c.METAFLOW][1])
        print(f"\nmetaflow / flowtrack (median): {c.fmt_ratio(theirs, ours)}")
    c.report(
        "bench_linear", [c.Result("linear run wall time", ours, "s", TARGET_SECONDS)], args.json
    )


if __name__ == "__main__":
    c.main_wrapper(main)
