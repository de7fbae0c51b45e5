"""Metric histories served a page at a time (MLflow's ``metrics/get-history`` with
``page_token``) without re-reading the whole history for every page.

The first page reads the history once and keeps it as a snapshot; the page token
names the snapshot and an offset, so later pages are slices of the same consistent
history (points logged meanwhile show up in the next reading, as in a database
cursor). Snapshots are bounded by count and total points; a token whose snapshot
was dropped reads the history afresh and continues at its offset.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable

from ..tracking.errors import InvalidParameterError

Columns = tuple[list[int], list[int], list[float]]
MAX_SNAPSHOTS = 16
MAX_SNAPSHOT_POINTS = 20_000_000  # about 1.5 GB of Python objects at most


class HistoryPages:
    """Recent history snapshots, shared by the server's request threads."""

    def __init__(self) -> None:
        self._snapshots: OrderedDict[str, tuple[tuple[str, str], Columns]] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, history: tuple[str, str], read: Callable[[], Columns],
             page_token: str | None, size: int) -> tuple[Columns, str | None]:
        """Points ``[offset, offset + size)`` of ``history`` (run id, metric key) and the
        next page's token."""
        snapshot_id, offset = _decode(page_token) if page_token else (None, 0)
        columns = self._get(snapshot_id, history) if snapshot_id else None
        if columns is None:
            columns = read()
        end = min(offset + size, len(columns[0]))
        if end >= len(columns[0]):
            token = None
        else:
            snapshot_id = snapshot_id or uuid.uuid4().hex
            self._keep(snapshot_id, history, columns)
            token = _encode(snapshot_id, end)
        steps, stamps, values = columns
        return (steps[offset:end], stamps[offset:end], values[offset:end]), token

    def _get(self, snapshot_id: str, history: tuple[str, str]) -> Columns | None:
        """A kept snapshot of ``history`` (a token of another history gets nothing)."""
        with self._lock:
            found = self._snapshots.get(snapshot_id)
            if found is None or found[0] != history:
                return None
            self._snapshots.move_to_end(snapshot_id)
            return found[1]

    def _keep(self, snapshot_id: str, history: tuple[str, str], columns: Columns) -> None:
        with self._lock:
            self._snapshots[snapshot_id] = (history, columns)
            self._snapshots.move_to_end(snapshot_id)
            while len(self._snapshots) > MAX_SNAPSHOTS or (
                    len(self._snapshots) > 1
                    and sum(len(c[0]) for _, c in self._snapshots.values())
                    > MAX_SNAPSHOT_POINTS):
                self._snapshots.popitem(last=False)


def _encode(snapshot_id: str, offset: int) -> str:
    raw = json.dumps({"snapshot": snapshot_id, "offset": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str) -> tuple[str | None, int]:
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, snapshot = found["offset"], found.get("snapshot")
        if isinstance(offset, int) and offset >= 0 and (snapshot is None
                                                        or isinstance(snapshot, str)):
            return snapshot, offset
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise InvalidParameterError(f"Invalid page_token {token[:40]!r}: pass the next_page_token "
                                "of the previous page unchanged.")
