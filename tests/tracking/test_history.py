"""Unit tests of ``flowtrack.tracking.store.metric_chunks``: packing metric points into chunk
rows (``pack``), reading a key's chunks back in (step, timestamp) order
(``columns``) and building ``Metric`` tuples (``to_metrics``). No database: the
rows ``pack`` returns are fed to ``columns`` the way the store reads them back
(ordered by ``min_step``, then by insertion)."""

from __future__ import annotations

import gc
import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from flowtrack.tracking import Metric
from flowtrack.tracking.store.metric_chunks import (
    columns,
    decode_columns,
    encode_columns,
    pack,
    to_metrics,
)

NAN, INF = float("nan"), float("inf")


def _chunks(*writes: list[dict]) -> list[tuple[int, int, bytes, bytes, bytes]]:
    """The chunk tuples of one key as the store selects them: every row of every
    write, ordered by (min_step, insertion order)."""
    rows = [row for write in writes for row in write]
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["min_step"], i))
    return [(rows[i]["min_step"], rows[i]["max_step"], rows[i]["steps"],
             rows[i]["timestamps"], rows[i]["metric_values"]) for i in order]


def _same_floats(got: list[float], expected: list[float]) -> bool:
    return len(got) == len(expected) and all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, expected))


# -- pack ------------------------------------------------------------------------------


def test_pack_empty_is_no_rows() -> None:
    assert pack(7, []) == []


def test_pack_one_chunk_per_key_and_execution_sorted_little_endian() -> None:
    points = [("loss", 0.5, 200, 3, None), ("loss", 0.9, 100, 1, None),
              ("acc", 0.1, 150, 2, None), ("loss", 0.7, 120, 2, None),
              ("loss", 0.3, 300, 1, 11)]  # another execution: its own chunk
    rows = pack(42, points)
    by_group = {(r["key"], r["execution_id"]): r for r in rows}
    assert set(by_group) == {("loss", None), ("acc", None), ("loss", 11)}
    loss = by_group[("loss", None)]
    assert loss["run_id"] == 42 and loss["count"] == 3
    assert (loss["min_step"], loss["max_step"]) == (1, 3)
    # sorted by step, little-endian int64 / int64 / float64 arrays
    assert loss["steps"] == struct.pack("<3q", 1, 2, 3)
    assert loss["timestamps"] == struct.pack("<3q", 100, 120, 200)
    assert loss["metric_values"] == struct.pack("<3d", 0.9, 0.7, 0.5)
    other = by_group[("loss", 11)]
    assert (other["count"], other["min_step"], other["max_step"]) == (1, 1, 1)
    assert by_group[("acc", None)]["metric_values"] == struct.pack("<d", 0.1)


def test_pack_orders_equal_steps_by_timestamp() -> None:
    [row] = pack(1, [("m", 2.0, 50, 4, None), ("m", 1.0, 10, 4, None), ("m", 3.0, 30, 4, None)])
    assert row["timestamps"] == struct.pack("<3q", 10, 30, 50)
    assert row["metric_values"] == struct.pack("<3d", 1.0, 3.0, 2.0)
    assert (row["min_step"], row["max_step"]) == (4, 4)


def test_pack_handles_negative_and_huge_steps_and_timestamps() -> None:
    big = 2**62
    [row] = pack(1, [("m", 1.0, big, big, None), ("m", 2.0, -5, -big, None)])
    assert (row["min_step"], row["max_step"]) == (-big, big)
    assert columns(_chunks([row])) == ([-big, big], [-5, big], [2.0, 1.0])


# -- columns -----------------------------------------------------------------------------


def test_columns_of_nothing() -> None:
    assert columns([]) == ([], [], [])


def test_columns_out_of_order_points_in_one_write() -> None:
    points = [("m", float(step), 1000 - step, step, None) for step in (5, 2, 9, 0, 7, 1)]
    steps, stamps, values = columns(_chunks(pack(1, points)))
    assert steps == [0, 1, 2, 5, 7, 9]
    assert stamps == [1000 - s for s in steps]
    assert values == [float(s) for s in steps]


def test_columns_concatenates_disjoint_chunks_in_step_order() -> None:
    first = pack(1, [("m", 1.0, 1, 0, None), ("m", 2.0, 2, 1, None)])
    second = pack(1, [("m", 3.0, 3, 2, None), ("m", 4.0, 4, 3, None)])
    # written second-first: the store reads them by min_step
    assert columns(_chunks(second, first)) == ([0, 1, 2, 3], [1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0])


def test_columns_merges_overlapping_chunks_from_two_writes() -> None:
    first = pack(1, [("m", 10.0, 100, 0, None), ("m", 12.0, 100, 2, None),
                     ("m", 14.0, 100, 4, None)])
    second = pack(1, [("m", 11.0, 200, 1, None), ("m", 13.0, 200, 3, None),
                      ("m", 15.0, 200, 5, None)])
    steps, stamps, values = columns(_chunks(first, second))
    assert steps == [0, 1, 2, 3, 4, 5]
    assert values == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]
    assert stamps == [100, 200, 100, 200, 100, 200]


def test_columns_equal_steps_across_chunks_are_ordered_by_timestamp() -> None:
    later = pack(1, [("m", 1.0, 500, 3, None), ("m", 0.0, 50, 0, None)])
    earlier = pack(1, [("m", 2.0, 100, 3, None)])  # written afterwards, logged before
    steps, stamps, values = columns(_chunks(later, earlier))
    assert steps == [0, 3, 3]
    assert stamps == [50, 100, 500]
    assert values == [0.0, 2.0, 1.0]


def test_columns_chunk_spanning_others() -> None:
    wide = pack(1, [("m", 0.0, 1, 0, None), ("m", 100.0, 1, 100, None)])
    inner = pack(1, [("m", 50.0, 1, 50, None)])
    tail = pack(1, [("m", 200.0, 1, 200, None)])
    steps, _, values = columns(_chunks(wide, inner, tail))
    assert steps == [0, 50, 100, 200]
    assert values == [0.0, 50.0, 100.0, 200.0]


def test_columns_keep_nan_and_infinities() -> None:
    first = pack(1, [("m", NAN, 1, 2, None), ("m", INF, 1, 0, None)])
    second = pack(1, [("m", -INF, 2, 1, None), ("m", NAN, 2, 3, None)])
    steps, _, values = columns(_chunks(first, second))
    assert steps == [0, 1, 2, 3]
    assert _same_floats(values, [INF, -INF, NAN, NAN])


# -- to_metrics ----------------------------------------------------------------------------


def test_to_metrics_builds_named_tuples() -> None:
    found = to_metrics("loss", "abc", [0, 1], [10, 20], [0.5, NAN])
    assert [type(m) for m in found] == [Metric, Metric]
    assert found[0] == Metric("loss", 0.5, 10, 0, "abc")
    assert (found[0].key, found[0].value, found[0].timestamp, found[0].step,
            found[0].run_id) == ("loss", 0.5, 10, 0, "abc")
    assert found[1].step == 1 and found[1].timestamp == 20 and math.isnan(found[1].value)


def test_to_metrics_empty() -> None:
    assert to_metrics("loss", "abc", [], [], []) == []


def test_to_metrics_restores_the_garbage_collector() -> None:
    assert gc.isenabled()
    to_metrics("m", "r", [0], [0], [1.0])
    assert gc.isenabled()
    gc.disable()
    try:
        to_metrics("m", "r", [0], [0], [1.0])
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


# -- property: any split into writes reads back as the sorted points ---------------------

_POINT = st.tuples(st.integers(-5, 30),  # step
                   st.integers(0, 50),  # timestamp
                   st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                             st.integers(-3, 3).map(float)))


@settings(max_examples=200, deadline=None)
@given(writes=st.lists(st.lists(_POINT, max_size=12), max_size=6))
def test_any_writes_read_back_sorted_by_step_then_time(
        writes: list[list[tuple[int, int, float]]]) -> None:
    rows = [pack(9, [("m", value, ts, step, None) for step, ts, value in write])
            for write in writes]
    steps, stamps, values = columns(_chunks(*rows))
    everything = [p for write in writes for p in write]
    # every point comes back once, sorted by (step, timestamp)
    assert list(zip(steps, stamps)) == sorted((s, t) for s, t, _ in everything)
    got = sorted(zip(steps, stamps, (repr(v) for v in values)))
    expected = sorted((s, t, repr(v)) for s, t, v in everything)
    assert got == expected
    metrics = to_metrics("m", "r", steps, stamps, values)
    assert [(m.step, m.timestamp) for m in metrics] == list(zip(steps, stamps))


# -- whole histories as bytes (the server's get-history-columns) ------------------------
_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_int64, _int64, st.floats(allow_nan=True)), max_size=50))
def test_encoded_columns_round_trip(points):
    steps = [p[0] for p in points]
    stamps = [p[1] for p in points]
    values = [p[2] for p in points]
    back = decode_columns(encode_columns(steps, stamps, values))
    assert back[0] == steps and back[1] == stamps
    assert [struct.pack("<d", v) for v in back[2]] == [struct.pack("<d", v) for v in values]


def test_decoding_refuses_bytes_that_do_not_hold_a_history():
    import pytest

    good = encode_columns([1, 2], [3, 4], [0.5, 0.25])
    for bad in (b"", good[:7], good[:-1], good + b"\0", struct.pack("<q", -1)):
        with pytest.raises(ValueError):
            decode_columns(bad)
