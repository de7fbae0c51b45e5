"""What a card costs a task: a foreach of trivial tasks with and without ``@card``.

Runs the same N-way foreach three ways — no card, the ``default`` card, and a
``blank`` card with a Markdown and a Table component — and prints the extra wall
time per task that the card adds, beside the floor measured in the same run: a
bare ``os.fork()`` + exit + wait of a process that has imported flowtrack (each card
renders in a forked child of its task). With ``--metaflow-python`` the same flows run
on Metaflow, whose ``@card`` renders in a separate ``card create`` process per card.
Target: a default card adds <= 50 ms per task.

    python benchmarks/bench_cards.py [--width 40] [--repeat 3]
        [--metaflow-python /opt/mfvenv/bin/python]
"""

from __future__ import annotations

import subprocess

import _common as c

TARGET_SECONDS = 0.050

VARIANTS = {
    "no card": "",
    "default card": "    @card\n",
    "blank card + 2 components": '    @card(type="blank")\n',
}

FLOW = '''"""A foreach of trivial tasks, with or without a card on the body."""
from flowtrack import FlowSpec, card, current, step
from flowtrack.cards import Markdown, Table


class CardBench(FlowSpec):
    @step
    def start(self):
        self.items = list(range({width}))
        self.next(self.body, foreach="items")

{decorator}    @step
    def body(self):
        self.value = self.input * 2
        self.label = f"item {{self.input}}"
{components}        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardBench()
'''

COMPONENTS = ('        current.card.append(Markdown("# Item %d" % self.input))\n'
              '        current.card.append(Table([[self.input, self.value]], headers=["in", "out"]))\n')

FORK_FLOOR = """
import os, time, flowtrack
n = 200
start = time.perf_counter()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print((time.perf_counter() - start) / n)
"""


def flow_text(variant: str, width: int) -> str:
    components = COMPONENTS if "components" in variant else ""
    return FLOW.format(width=width, decorator=VARIANTS[variant], components=components)


def fork_floor(python: str) -> float:
    """Seconds for one bare fork + exit + wait of a process that imported flowtrack."""
    out = subprocess.run([python, "-c", FORK_FLOOR], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def measure(framework: c.Framework, variant: str, args) -> float:
    """Median wall seconds of ``args.repeat`` runs (after one untimed first run)."""
    with c.temp_workdir(f"cards-{framework.name}") as workdir:
        text = flow_text(variant, args.width)
        if framework.name == c.METAFLOW:
            text = text.replace("from flowtrack.cards", "from metaflow.cards")
        flow = c.write_flow(workdir, text, framework)
        _, runs = c.time_runs(framework, workdir, flow, ["--max-workers", "2"], args)
        return c.median(runs)


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--width", type=c.positive_int, default=40,
                        help="foreach width (default 40)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for framework in c.frameworks(args):
        c.check_importable(framework)
        results[framework.name] = {v: measure(framework, v, args) for v in VARIANTS}
    floor = fork_floor(args.python)
    rows = []
    for name, by_variant in results.items():
        base = by_variant["no card"]
        for variant, seconds in by_variant.items():
            extra = (seconds - base) / args.width
            rows.append((name, variant, c.fmt_seconds(seconds),
                         "" if variant == "no card" else c.fmt_seconds(extra)))
    c.print_table(f"{args.width}-way foreach, median of {args.repeat} runs, --max-workers 2",
                  ("framework", "variant", "wall time", "card cost per task"), rows)
    print(f"\nfloor measured now: bare fork + exit + wait after `import flowtrack`: "
          f"{c.fmt_seconds(floor)}")
    ours = results[c.FLOWTRACK]
    per_task = (ours["default card"] - ours["no card"]) / args.width
    if c.METAFLOW in results:
        theirs = results[c.METAFLOW]
        mf_per_task = (theirs["default card"] - theirs["no card"]) / args.width
        print(f"metaflow / flowtrack, default card cost per task: "
              f"{c.fmt_ratio(mf_per_task, per_task)}")
    c.report("bench_cards", [c.Result("default card cost per task", per_task, "s",
                                      TARGET_SECONDS)], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
