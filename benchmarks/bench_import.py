"""Import time of flowtrack (and Metaflow) in a fresh interpreter.

Each sample is a new interpreter running::

    import time; t = time.perf_counter(); import flowtrack; print(time.perf_counter() - t)

so interpreter start-up is excluded. A second row imports the names a flow
file uses (``from flowtrack import FlowSpec, Parameter, step, current``), which
also counts any lazily loaded modules. Target: ``import flowtrack`` <= 0.2 s.

    python benchmarks/bench_import.py [--repeat 10]
        [--metaflow-python /opt/mfvenv/bin/python]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import _common as c

TARGET_SECONDS = 0.2

IMPORT_PACKAGE = "import {name}"
STATEMENTS = (IMPORT_PACKAGE, "from {name} import FlowSpec, Parameter, step, current")


def import_seconds(framework: c.Framework, statement: str, args) -> list[float]:
    """Seconds taken by ``statement`` in ``args.repeat`` fresh interpreters."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = framework.env(workdir)
        samples = []
        for _ in range(args.repeat):
            _, out = c.time_command([framework.python, "-c", code], workdir, env, args.timeout)
            samples.append(float(out.strip().splitlines()[-1]))
    return samples


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=10)
    args = parser.parse_args()

    medians: dict[tuple[str, str], float] = {}
    for fw in c.frameworks(args):
        c.check_importable(fw)
        for label in STATEMENTS:
            samples = import_seconds(fw, label.format(name=fw.name), args)
            medians[fw.name, label] = c.median(samples)

    rows = []
    for label in STATEMENTS:
        ours = medians[c.FLOWTRACK, label]
        row = [label.format(name="<pkg>"), c.fmt_seconds(ours)]
        if (c.METAFLOW, label) in medians:
            theirs = medians[c.METAFLOW, label]
            row += [c.fmt_seconds(theirs), c.fmt_ratio(theirs, ours)]
        rows.append(row)
    headers = ["statement", "flowtrack"]
    if args.metaflow_python:
        headers += ["metaflow", "metaflow / flowtrack"]
    c.print_table(f"import time in a fresh interpreter, median of {args.repeat}", headers, rows)

    result = c.Result("import flowtrack", medians[c.FLOWTRACK, IMPORT_PACKAGE], "s", TARGET_SECONDS)
    c.report("bench_import", [result], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
