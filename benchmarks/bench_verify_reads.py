"""What checking a large blob's digest on every read would cost.

Small blobs are always read whole and checked against their BLAKE3 digest. Large
local blobs (arrays, DataFrames) are memory-mapped instead: a task that uses part of
an array reads only those pages, and a flipped byte inside one is not detected. This
benchmark measures, for one array of ``--mb`` MB stored the usual way:

* map: ``get_value`` as today (memory-mapped, lazy), then a sum over the array;
* verify: the file's BLAKE3 digest (what a check would add), single-threaded and on
  every core;
* read+verify: reading the whole file, checking it, then decoding (the checked path);
* np.load + sum of the same array, as the floor a user compares with.

    python benchmarks/bench_verify_reads.py [--mb 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import blake3
import numpy as np

from flowtrack.store import BlobStore


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) if times else float("nan")


def _hash_file(path: str, threads: int) -> str:
    hasher = blake3.blake3(max_threads=threads)
    with open(path, "rb") as fh:
        hasher.update(fh.read())
    return hasher.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = BlobStore(str(Path(tmp) / "blobs"))
        array = np.random.default_rng(1).random(args.mb * 1024 * 1024 // 8)
        ref = store.put_value(array)
        path = store.backend.local_path(ref.digest)
        assert path is not None
        npy = os.path.join(tmp, "floor.npy")
        np.save(npy, array)
        figures = {
            "np.load + sum (floor)": _best(lambda: np.load(npy).sum(), args.repeat),
            "map + sum (today)": _best(lambda: store.get_value(ref).sum(), args.repeat),
            "BLAKE3 of the file, 1 thread": _best(lambda: _hash_file(path, 1), args.repeat),
            "BLAKE3 of the file, all cores": _best(
                lambda: _hash_file(path, blake3.blake3.AUTO), args.repeat),
            "read + verify + decode + sum": _best(
                lambda: store.get_value(ref.digest, verify=True).sum(), args.repeat),
        }
    floor = figures["np.load + sum (floor)"]
    print(f"{args.mb} MB float64 array, best of {args.repeat} (page cache warm)")
    for name, seconds in figures.items():
        print(f"  {name:32s} {seconds * 1000:8.1f} ms  {seconds / floor:5.2f}x the floor")
    extra = figures["read + verify + decode + sum"] - figures["map + sum (today)"]
    print(f"  checking every read would add {extra * 1000:.1f} ms "
          f"({extra / max(figures['map + sum (today)'], 1e-9):.0f}x today's load), "
          f"on {os.cpu_count()} cores; the file is in the page cache throughout (dropping it "
          "needs root), the case that makes hashing look cheapest next to a disk read")


if __name__ == "__main__":
    main()
