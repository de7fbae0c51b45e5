"""Logging that never slows training: metric points, params and tags wait in memory
and a daemon thread writes them in batches.

``log_metric`` only appends a tuple to a deque (thread-safe without a lock). The
writer thread wakes every ``FLUSH_INTERVAL`` seconds, or as soon as
``FLUSH_THRESHOLD`` points are waiting, and writes each run's share in one
transaction. ``flush()`` (called by ``end_run``, at interpreter exit and before any
read of the same store) writes whatever is left and re-raises a failure of the
background thread, so nothing is lost silently.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import defaultdict, deque
from typing import Any

from ._store import Point, TrackingStore

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
        """Write everything logged so far; raise if an earlier background write failed."""
        self._write_pending(keep_failure=False)
        with self._flush_lock:  # a background failure is stored while the lock is held
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

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
        failure: BaseException | None = None
        for run_pk in {*by_run, *params, *tags}:
            try:  # one run's failure must not drop the other runs' writes
                self.store.write_batch(run_pk, by_run.get(run_pk, []),
                                       params.get(run_pk, {}), tags.get(run_pk, {}))
            except BaseException as exc:  # noqa: BLE001 - re-raised after the loop
                failure = failure or exc
        if failure is not None:
            raise failure


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
