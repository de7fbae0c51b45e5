"""Run every benchmark with its defaults and print a summary against the targets.

    python benchmarks/run_all.py [--metaflow-python /opt/mfvenv/bin/python]
        [--only bench_linear bench_import] [--strict]

Each benchmark's own output is shown as it runs. The exit status is 1 when a
benchmark fails to run, or (with ``--strict``) when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import _common as c

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_import", "bench_linear", "bench_foreach", "bench_array", "bench_disk",
              "bench_lineage", "bench_tracking", "bench_search_filters", "bench_server",
              "bench_ui", "bench_ray", "bench_cards")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--metaflow-python",
        default=os.environ.get("METAFLOW_PYTHON") or None,
        help="Python with Metaflow installed; enables comparisons (default: $METAFLOW_PYTHON)",
    )
    parser.add_argument("--python", default=sys.executable, help="Python with flowtrack installed")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args()


def run_benchmark(name: str, args: argparse.Namespace, json_path: Path) -> bool:
    """Run one benchmark script, its output going straight to ours; True if it succeeded."""
    cmd = [
        sys.executable,
        str(HERE / f"{name}.py"),
        "--python",
        args.python,
        "--json",
        str(json_path),
    ]
    if args.metaflow_python:
        cmd += ["--metaflow-python", args.metaflow_python]
    print(f"\n=== {name} ===", flush=True)
    return subprocess.run(cmd).returncode == 0


def summary_rows(name: str, json_path: Path, ok: bool) -> list[tuple[str, ...]]:
    """Summary rows for one benchmark from its JSON results."""
    if not ok or not json_path.exists():
        return [(name, "-", "-", "-", "FAILED")]
    rows = []
    for item in json.loads(json_path.read_text())["results"]:
        result = c.Result(**item)
        target = "-" if result.target is None else f"<= {c.fmt_value(result.target, result.unit)}"
        rows.append(
            (name, result.metric, c.fmt_value(result.value, result.unit), target, result.status)
        )
    return rows


def main() -> int:
    """Run the selected benchmarks; print the summary; return the exit status."""
    args = parse_args()
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="flowtrack-bench-results-") as tmp:
        for name in args.only or BENCHMARKS:
            json_path = Path(tmp) / f"{name}.json"
            rows += summary_rows(name, json_path, run_benchmark(name, args, json_path))
    c.print_table("=== summary ===", ("benchmark", "metric", "flowtrack", "target", "status"), rows)
    statuses = {row[-1] for row in rows}
    if "FAILED" in statuses or (args.strict and "MISS" in statuses):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
