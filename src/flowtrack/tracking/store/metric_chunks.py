"""Metric histories in chunks: packing buffered points into ``metrics`` rows and
reading them back (see the ``metrics`` table in lineage/_schema.py for why).

A chunk holds one key's points from one write, sorted by (step, timestamp), as
three little-endian arrays: int64 steps, int64 timestamps (ms), float64 values (NaN
kept as NaN). Reading concatenates a key's chunks in ``min_step`` order and sorts
only if chunks overlap (points logged out of order, or by parallel tasks).
"""

from __future__ import annotations

import gc
import sys
from array import array
from collections import defaultdict
from collections.abc import Sequence
from itertools import repeat
from typing import Any

from ..entities.records import Metric

# one buffered point: (key, value, timestamp, step, execution id)
Point = tuple[str, float, int, int, "int | None"]
_SWAP = sys.byteorder != "little"


def pack(run_pk: int, points: Sequence[Point]) -> list[dict[str, Any]]:
    """``metrics`` rows for points of one run: a chunk per (key, execution)."""
    groups: dict[tuple[str, int | None], list[tuple[int, int, float]]] = defaultdict(list)
    for key, value, timestamp, step, execution_id in points:
        groups[(key, execution_id)].append((step, timestamp, value))
    rows = []
    for (key, execution_id), chunk in groups.items():
        chunk.sort()  # (step, timestamp, value) tuples; already in order costs one pass
        steps, stamps, values = zip(*chunk)
        rows.append({"run_id": run_pk, "key": key, "count": len(chunk),
                     "min_step": steps[0], "max_step": steps[-1],
                     "steps": _bytes("q", steps), "timestamps": _bytes("q", stamps),
                     "metric_values": _bytes("d", values), "execution_id": execution_id})
    return rows


def _bytes(code: str, values: Sequence[Any]) -> bytes:
    packed = array(code, values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def _unpack(code: str, data: bytes) -> array:  # type: ignore[type-arg]
    values = array(code)
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values


def columns(chunks: Sequence[tuple[int, int, bytes, bytes, bytes]]
            ) -> tuple[list[int], list[int], list[float]]:
    """(steps, timestamps, values) of a key's chunks, given as (min_step, max_step,
    steps, timestamps, values) rows in ``min_step`` order; sorted by (step, time)."""
    steps: array = array("q")  # type: ignore[type-arg]
    stamps: array = array("q")  # type: ignore[type-arg]
    values: array = array("d")  # type: ignore[type-arg]
    ordered, last_max = True, None
    for min_step, max_step, step_bytes, stamp_bytes, value_bytes in chunks:
        if last_max is not None and min_step <= last_max:
            ordered = False  # overlapping chunks: equal steps need sorting by time too
        last_max = max_step if last_max is None else max(last_max, max_step)
        steps.extend(_unpack("q", step_bytes))
        stamps.extend(_unpack("q", stamp_bytes))
        values.extend(_unpack("d", value_bytes))
    if ordered:
        return steps.tolist(), stamps.tolist(), values.tolist()
    merged = sorted(zip(steps.tolist(), stamps.tolist(), values.tolist()),
                    key=lambda p: (p[0], p[1]))
    if not merged:
        return [], [], []
    s, t, v = (list(column) for column in zip(*merged))
    return s, t, v


def encode_columns(steps: Sequence[int], stamps: Sequence[int], values: Sequence[float]
                   ) -> bytes:
    """A history as bytes: the point count (int64), then the three arrays (how a
    flowtrack server sends a whole history to flowtrack's client)."""
    return _bytes("q", [len(steps)]) + _bytes("q", steps) + _bytes("q", stamps) + \
        _bytes("d", values)


def decode_columns(data: bytes) -> tuple[list[int], list[int], list[float]]:
    """The inverse of ``encode_columns``; a ValueError if the bytes do not fit."""
    if len(data) < 8:
        raise ValueError("a history needs at least its 8-byte point count")
    count = _unpack("q", data[:8])[0]
    if count < 0 or len(data) != 8 + 24 * count:
        raise ValueError(f"{len(data)} bytes do not hold {count} points")
    end_steps, end_stamps = 8 + 8 * count, 8 + 16 * count
    return (_unpack("q", data[8:end_steps]).tolist(),
            _unpack("q", data[end_steps:end_stamps]).tolist(),
            _unpack("d", data[end_stamps:]).tolist())


def to_metrics(key: str, run_id: str, steps: list[int], stamps: list[int],
               values: list[float]) -> list[Metric]:
    """Metric tuples built without Python code per point (``tuple.__new__`` over
    zipped columns) and without the collector scanning them as they pile up."""
    count = len(steps)
    fields = zip(repeat(key, count), values, stamps, steps, repeat(run_id, count))
    collecting = gc.isenabled()
    gc.disable()
    try:
        return list(map(tuple.__new__, repeat(Metric, count), fields))
    finally:
        if collecting:
            gc.enable()
