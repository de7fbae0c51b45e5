"""Unit tests of the server's metric-history paging (``_history_pages``): pages of one
snapshot, tokens bound to their history, eviction and bad tokens."""

from __future__ import annotations

import pytest

from flowtrack.server._history_pages import MAX_SNAPSHOTS, HistoryPages
from flowtrack.tracking.errors import InvalidParameterError


def reader(count: int, calls: list[int]):
    def read():
        calls.append(count)
        return list(range(count)), [10 * i for i in range(count)], [i / 2 for i in range(count)]
    return read


def all_pages(pages: HistoryPages, history, read, size):
    token, found = None, []
    while True:
        (steps, _, _), token = pages.page(history, read, token, size)
        found += steps
        if token is None:
            return found


def test_pages_cover_the_history_reading_it_once():
    calls: list[int] = []
    pages = HistoryPages()
    assert all_pages(pages, ("run", "loss"), reader(10, calls), 3) == list(range(10))
    assert calls == [10]  # later pages came from the snapshot


def test_points_logged_between_pages_wait_for_the_next_reading():
    pages = HistoryPages()
    (first, _, _), token = pages.page(("run", "loss"), reader(5, []), None, 2)
    (rest, _, _), token = pages.page(("run", "loss"), reader(8, []), token, 100)
    assert first + rest == [0, 1, 2, 3, 4] and token is None


def test_a_token_of_another_history_does_not_reach_its_snapshot():
    pages = HistoryPages()
    _, token = pages.page(("run-a", "loss"), reader(10, []), None, 4)
    calls: list[int] = []
    (steps, _, _), _ = pages.page(("run-b", "loss"), reader(6, calls), token, 100)
    assert calls == [6] and steps == [4, 5]  # read afresh, from the token's offset


def test_evicted_snapshots_are_read_again():
    pages = HistoryPages()
    _, first_token = pages.page(("run", "a"), reader(10, []), None, 1)
    for i in range(MAX_SNAPSHOTS):
        pages.page(("run", f"k{i}"), reader(10, []), None, 1)
    calls: list[int] = []
    (steps, _, _), _ = pages.page(("run", "a"), reader(10, calls), first_token, 2)
    assert calls == [10] and steps == [1, 2]


@pytest.mark.parametrize("token", ["not base64!", "e30=", "eyJvZmZzZXQiOiAtMX0="])
def test_bad_tokens_are_invalid_parameters(token):
    with pytest.raises(InvalidParameterError, match="page_token"):
        HistoryPages().page(("run", "loss"), reader(3, []), token, 2)
