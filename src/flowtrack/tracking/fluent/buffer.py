"""Logging that never slows training: metric points, params and tags wait in memory
and a daemon thread writes them in batches.

``log_metric`` only appends a tuple to a deque (thread-safe without a lock). The
writer thread wakes every ``FLUSH_INTERVAL`` seconds, or as soon as
``FLUSH_THRESHOLD`` points are waiting, and writes each run's share in one
transaction. ``flush()`` (called by ``end_run``, at interpreter exit and before any
read of the same store) writes whatever is left and raises if that fails, so nothing
is lost silently.

A write that fails on a storage fault (disk full, database locked or unreachable:
``OSError`` or the database driver's ``OperationalError``) keeps its points, params
and tags waiting, in order, for the next try; a write the database refuses for good
(bad data) is dropped after its failure is raised once.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import defaultdict, deque
from typing import Any

from sqlalchemy.exc import OperationalError

from ..store.tracking_store import Point, TrackingStore

FLUSH_INTERVAL = 1.0  # seconds between background writes
FLUSH_THRESHOLD = 100_000  # waiting points that wake the writer early

# (run pk, key, value, timestamp, step, execution id) | ("param"|"tag", run pk, key, value)
_Item = tuple[Any, ...]


class LogBuffer:
    """Pending writes for one tracking store, and the thread that drains them."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store
        self._points: deque[_Item] = deque()
        self._properties: deque[_Item] = deque()
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()
        self._failure: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._drain_forever, name="flowtrack-log-writer",
                                        daemon=True)
        self._thread.start()
        _live_buffers.add(self)

    def add_point(self, run_pk: int, key: str, value: float, timestamp: int, step: int,
                  execution_id: int | None = None) -> None:
        self._points.append((run_pk, key, value, timestamp, step, execution_id))
        if len(self._points) >= FLUSH_THRESHOLD:
            self._wake.set()

    def add_param(self, run_pk: int, key: str, value: str) -> None:
        self._properties.append(("param", run_pk, key, value))

    def add_tag(self, run_pk: int, key: str, value: str) -> None:
        self._properties.append(("tag", run_pk, key, value))

    def flush(self) -> None:
        """Write everything logged so far; raise if that, or an earlier background write
        whose data was dropped, failed."""
        self._write_pending(keep_failure=False)
        with self._flush_lock:  # a background failure is stored while the lock is held
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def pending_points(self, run_pk: int) -> int:
        """How many of a run's metric points are still waiting to be written."""
        return sum(1 for item in list(self._points) if item[0] == run_pk)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.flush()

    def _drain_forever(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            self._write_pending(keep_failure=True)

    def _write_pending(self, keep_failure: bool) -> None:
        """Write what is waiting; a failure is raised, or (``keep_failure``, the
        background thread) kept under the lock for the next ``flush()`` to raise."""
        with self._flush_lock:
            try:
                self._write_locked()
            except BaseException as exc:
                if not keep_failure:
                    raise
                if not is_storage_fault(exc):  # its data was dropped: flush() must say so
                    self._failure = self._failure or exc

    def _write_locked(self) -> None:
        points = _take(self._points)
        properties = _take(self._properties)
        if not points and not properties:
            return
        by_run: dict[int, list[Point]] = defaultdict(list)
        for run_pk, key, value, ts, step, exec_id in points:
            by_run[run_pk].append((key, value, ts, step, exec_id))
        params: dict[int, dict[str, str]] = defaultdict(dict)
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for kind, run_pk, key, value in properties:
            (params if kind == "param" else tags)[run_pk][key] = value
        dropped: BaseException | None = None  # raised first: its data is gone
        storage_fault: BaseException | None = None
        retained: set[int] = set()
        for run_pk in {*by_run, *params, *tags}:
            try:  # one run's failure must not drop the other runs' writes
                self.store.write_batch(run_pk, by_run.get(run_pk, []),
                                       params.get(run_pk, {}), tags.get(run_pk, {}))
            except BaseException as exc:  # noqa: BLE001 - re-raised after the loop
                if is_storage_fault(exc):
                    retained.add(run_pk)
                    storage_fault = storage_fault or exc
                else:
                    dropped = dropped or exc
        if retained:  # back at the front, in their order, ahead of anything newer
            self._points.extendleft(reversed([p for p in points if p[0] in retained]))
            self._properties.extendleft(reversed([p for p in properties if p[1] in retained]))
        if dropped is not None or storage_fault is not None:
            raise dropped or storage_fault  # type: ignore[misc]


def is_storage_fault(exc: BaseException) -> bool:
    """A failure of where the data goes (full disk, lost connection), not of the data:
    the same write may succeed later."""
    return isinstance(exc, (OSError, OperationalError))


def _take(queue: deque[_Item]) -> list[_Item]:
    """Pop what is in ``queue`` now; items appended meanwhile stay for next time."""
    return [queue.popleft() for _ in range(len(queue))]


_live_buffers: weakref.WeakSet[LogBuffer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for buffer in list(_live_buffers):
        try:
            buffer.close()
        except Exception as exc:  # noqa: BLE001 - exit must go on; say what was lost
            import sys

            print(f"flowtrack: could not write the last logged metrics, params or tags: {exc}",
                  file=sys.stderr)
