"""Disk used per trivial task.

Runs the foreach flow of ``bench_foreach`` once at ``--width`` (default 1000)
and once at width 1, each in a fresh store, and reports the store's size split
into the metadata database and everything else (blobs, logs):

* flowtrack: ``.flowtrack/*.db*`` files are the metadata DB, the rest blobs;
* Metaflow: files under ``_meta`` directories are metadata, the rest blobs.

Per task = total / tasks of the wide run; marginal = (wide - narrow) /
(extra tasks). Sizes are allocated bytes (what ``du`` counts); apparent sizes
are shown too. Target: <= 8 KiB per task.

    python benchmarks/bench_disk.py [--width 1000]
        [--metaflow-python /opt/mfvenv/bin/python] [--metaflow-width 100]
"""

from __future__ import annotations

from pathlib import Path

import _common as c
from bench_foreach import FLOW_TEXT, task_count

TARGET_BYTES_PER_TASK = 8 * 1024


def is_metadata(framework: c.Framework, store: Path, path: Path) -> bool:
    """Whether ``path`` belongs to the metadata side of ``framework``'s store."""
    if framework.name == c.FLOWTRACK:
        return path.parent == store and ".db" in path.name
    return "_meta" in path.relative_to(store).parts


def store_sizes(framework: c.Framework, width: int, args) -> dict[str, tuple[int, int]]:
    """``{"metadata"|"blobs"|"total": (apparent, allocated)}`` after one run at ``width``."""
    with c.temp_workdir(f"disk-{framework.name}") as workdir:
        flow = c.write_flow(workdir, FLOW_TEXT, framework)
        run_args = ["--max-num-splits", str(max(2000, width)), "--width", str(width)]
        c.run_flow(framework, workdir, flow, run_args, args.timeout)
        store = workdir / framework.store_name
        if not store.is_dir():
            raise c.BenchmarkError(f"{framework.name} created no {store}")
        meta = c.dir_size(store, lambda p: is_metadata(framework, store, p))
        blobs = c.dir_size(store, lambda p: not is_metadata(framework, store, p))
    total = (meta[0] + blobs[0], meta[1] + blobs[1])
    return {"metadata": meta, "blobs": blobs, "total": total}


def framework_rows(framework: c.Framework, width: int, args) -> tuple[list[tuple], float]:
    """Table rows for one framework and its allocated bytes per task."""
    c.check_importable(framework)
    wide = store_sizes(framework, width, args)
    narrow = store_sizes(framework, 1, args)
    tasks, extra = task_count(width), task_count(width) - task_count(1)
    rows = []
    for part in ("metadata", "blobs", "total"):
        apparent, allocated = wide[part]
        marginal = (allocated - narrow[part][1]) / extra if extra else float("nan")
        rows.append(
            (
                framework.name,
                width,
                part,
                c.fmt_bytes(allocated),
                c.fmt_bytes(apparent),
                c.fmt_bytes(allocated / tasks),
                c.fmt_bytes(marginal),
            )
        )
    return rows, wide["total"][1] / tasks


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = c.make_parser(__doc__.splitlines()[0], repeat=1)
    parser.add_argument("--width", type=c.positive_int, default=1000, help="foreach width")
    parser.add_argument(
        "--metaflow-width", type=c.positive_int, default=100, help="foreach width for Metaflow"
    )
    args = parser.parse_args()

    widths = {c.FLOWTRACK: args.width, c.METAFLOW: args.metaflow_width}
    rows, per_task = [], {}
    for fw in c.frameworks(args):
        fw_rows, per_task[fw.name] = framework_rows(fw, widths[fw.name], args)
        rows += fw_rows
    headers = ("framework", "width", "part", "allocated", "apparent", "per task", "marginal/task")
    c.print_table("store size after one foreach run of trivial tasks", headers, rows)
    if c.METAFLOW in per_task:
        ratio = c.fmt_ratio(per_task[c.METAFLOW], per_task[c.FLOWTRACK])
        print(f"\nmetaflow / flowtrack, allocated bytes per task: {ratio}")
    result = c.Result("disk per trivial task", per_task[c.FLOWTRACK], "B", TARGET_BYTES_PER_TASK)
    c.report("bench_disk", [result], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
