"""Scale-out costs: a 1000-way foreach on the local executor and on Ray (same
machine), Ray's overhead per trivial task, and a 200 MB value through the S3 store.

The benchmark starts its own Ray cluster (``ray start --head --block`` on
127.0.0.1 with ``--ray-cpus`` CPUs, a temporary directory, token authentication and
usage stats off) and stops it by pid at the end; the flows connect to it with
``--executor ray --ray-address``. Wall times cover the whole ``python flow.py run``
command (the driver's connection to the cluster included); the first run of each
is shown apart and the median of ``--repeat`` runs after it is reported.

- Ray overhead per task is the marginal wall time of one more trivial task on Ray:
  (time at ``--width`` - time at ``--small-width``) / (difference in tasks), with
  ``--max-workers 16`` tasks in flight, as ``flow.py run`` does by default.
- The S3 figures come from a moto S3 server on 127.0.0.1 (the same one the tests
  use): storing and loading a ``--mb`` float64 array through ``BlobStore``
  (``s3://``), with parallel parts (8 in flight) and with one part at a time.

Targets: 1000-way foreach on Ray <= 20 s; Ray overhead per trivial task <= 10 ms.

    python benchmarks/bench_ray.py [--width 1000] [--small-width 200] [--repeat 3]
        [--mb 200] [--ray-cpus 2]
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import _common as c
from bench_foreach import FLOW_TEXT, task_count

FOREACH_TARGET_SECONDS = 20.0
OVERHEAD_TARGET_SECONDS = 0.010
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@contextlib.contextmanager
def ray_cluster(python: str, cpus: int) -> Iterator[str]:
    """A Ray head on 127.0.0.1 for this benchmark; yields its address. Terminating
    ``ray start --block`` stops the daemons it started (its process group is killed
    too, should any outlive it); ``ray stop`` is never used."""
    port = c.free_port()
    temp_dir = Path(tempfile.mkdtemp(prefix="ft-bray-", dir="/tmp"))
    env = {**os.environ, **RAY_ENV}
    env.pop("RAY_ADDRESS", None)
    command = [python, "-c", "from ray.scripts.scripts import main; main()", "start", "--head",
               "--block", f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
               "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}"]
    try:
        with c.serving(command, port, env, temp_dir / "head.log", new_session=True):
            yield f"127.0.0.1:{port}"
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def foreach_times(python: str, width: int, executor_args: list[str],
                  args) -> tuple[float, list[float]]:
    framework = c.Framework(c.FLOWTRACK, python)
    with c.temp_workdir("ray-foreach") as workdir:
        flow = c.write_flow(workdir, FLOW_TEXT, framework)
        run_args = ["--max-num-splits", str(max(width, 2000)), "--width", str(width),
                    *executor_args]
        env_backup = dict(os.environ)
        os.environ.update(RAY_ENV)  # time_command passes the framework env built from ours
        try:
            return c.time_runs(framework, workdir, flow, run_args, args)
        finally:
            os.environ.clear()
            os.environ.update(env_backup)


def measure_foreach(args, address: str) -> tuple[list[tuple[object, ...]], dict, float]:
    rows, medians = [], {}
    ray_args = ["--executor", "ray", "--ray-address", address]
    for label, width, extra in [("local", args.width, []), ("ray", args.width, ray_args),
                                ("ray", args.small_width, ray_args)]:
        first, runs = foreach_times(args.python, width, extra, args)
        medians[(label, width)] = c.median(runs)
        rows.append((label, width, task_count(width), c.fmt_seconds(first),
                     c.fmt_seconds(c.median(runs)),
                     c.fmt_seconds(c.median(runs) / task_count(width))))
    ray_wide, ray_small = medians[("ray", args.width)], medians[("ray", args.small_width)]
    overhead = (ray_wide - ray_small) / (args.width - args.small_width)
    return rows, medians, overhead


S3_SCRIPT = """
import json, sys, time
import numpy as np
from flowtrack.store import BlobStore
from flowtrack.store import _object_store

url, mb, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
_object_store.TRANSFER_CONCURRENCY = concurrency
store = BlobStore(url)
value = np.random.default_rng().random(mb * (1 << 20) // 8)  # unseeded: a new blob each time
start = time.perf_counter()
ref = store.put_value(value)
stored = time.perf_counter() - start
start = time.perf_counter()
loaded = store.get_value(ref)
read = time.perf_counter() - start
assert loaded.shape == value.shape and float(loaded[-1]) == float(value[-1])
print(json.dumps({"put": stored, "get": read}))
"""


def measure_s3(args) -> dict[str, dict[str, float]]:
    """Median put/get seconds of a --mb array through an s3:// store, per concurrency."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.s3_server import CREDENTIALS, new_bucket, s3_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request
    found: dict[str, dict[str, float]] = {}
    with s3_server() as endpoint:
        url = f"s3://{new_bucket(endpoint)}/bench"
        env = {**os.environ, **CREDENTIALS, "FLOWTRACK_S3_ENDPOINT_URL": endpoint}
        for label, concurrency in (("parallel parts (8)", 8), ("one part at a time", 1)):
            samples = []
            for _ in range(args.repeat):
                _, out = c.time_command([args.python, "-c", S3_SCRIPT, url, str(args.mb),
                                         str(concurrency)], Path.cwd(), env, args.timeout)
                samples.append(json.loads(out.strip().splitlines()[-1]))
            found[label] = {k: c.median([s[k] for s in samples]) for k in ("put", "get")}
    return found


def main() -> None:
    parser = c.make_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--width", type=c.positive_int, default=1000)
    parser.add_argument("--small-width", type=c.positive_int, default=200,
                        help="second Ray width, for the per-task overhead")
    parser.add_argument("--mb", type=c.positive_int, default=200, help="S3 value size")
    parser.add_argument("--ray-cpus", type=c.positive_int, default=2)
    args = parser.parse_args()
    if args.small_width >= args.width:
        parser.error("--small-width must be below --width")
    c.check_importable(c.Framework(c.FLOWTRACK, args.python))

    with ray_cluster(args.python, args.ray_cpus) as address:
        rows, medians, overhead = measure_foreach(args, address)
    c.print_table("foreach of trivial tasks, whole `python flow.py run` wall time",
                  ("executor", "width", "tasks", "first run", f"median of {args.repeat}",
                   "per task"), rows)
    print(f"\nRay marginal wall time per trivial task: {overhead * 1000:.1f} ms "
          f"(widths {args.small_width} and {args.width}, {args.ray_cpus} CPUs)")

    s3 = measure_s3(args)
    c.print_table(f"a {args.mb} MB float64 array through BlobStore('s3://...') (moto server)",
                  ("transfers", "store", "load", "store MB/s", "load MB/s"),
                  [(label, c.fmt_seconds(v["put"]), c.fmt_seconds(v["get"]),
                    f"{args.mb / v['put']:.0f}", f"{args.mb / v['get']:.0f}")
                   for label, v in s3.items()])

    parallel = s3["parallel parts (8)"]
    c.report("bench_ray", [
        c.Result(f"foreach width {args.width} on the local executor", medians[("local", args.width)],
                 "s"),
        c.Result(f"foreach width {args.width} on Ray, wall time", medians[("ray", args.width)],
                 "s", FOREACH_TARGET_SECONDS if args.width == 1000 else None),
        c.Result("Ray overhead per trivial task", overhead, "s", OVERHEAD_TARGET_SECONDS),
        c.Result(f"{args.mb} MB value stored in S3", parallel["put"], "s"),
        c.Result(f"{args.mb} MB value loaded from S3", parallel["get"], "s"),
    ], args.json)


if __name__ == "__main__":
    c.main_wrapper(main)
