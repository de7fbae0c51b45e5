"""Fixtures for the tracking tests: no fluent state leaks from one test to the next.

The fluent API keeps module-level state: the tracking URI and active experiment
(resolved at first use), a per-thread stack of active runs, and one open store
plus background log writer per tracking URI. After every test this ends any run
the test left active, forgets the URI and experiment, closes each log writer
(writing what it still holds) and disposes the database engines it opened, so the
next test resolves everything afresh from its own ``store_env``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowtrack.lineage import Database
from flowtrack.tracking.fluent import api as _fluent

# metadata URLs whose database engines outlive a test (a module-wide store's): their
# log writers are still closed after each test, their connection pools kept
keep_open: set[str] = set()


def reset_fluent_state(dispose_all: bool = False) -> None:
    """End active runs, forget the URI, experiment and stores, and dispose the stores'
    database engines (not those in ``keep_open`` unless ``dispose_all``); raise the
    first error met on the way (after finishing the cleanup)."""
    errors: list[BaseException] = []
    while _fluent._stack():  # end_run pops first, so this always progresses
        try:
            _fluent.end_run()
        except Exception as exc:  # noqa: BLE001 - keep cleaning, report below
            errors.append(exc)
    _fluent._tracking_uri = None
    _fluent._experiment_id = None
    _fluent._last_run_id = None
    with _fluent._stores_lock:
        stores = list(_fluent._stores.values())
        _fluent._stores.clear()
    for store, buffer in stores:
        try:
            buffer.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        if store.remote:  # an http:// URI's store: only a connection pool to close
            store.close()
            continue
        db = store.db
        if db.url in keep_open and not dispose_all:
            continue
        if Database._open.get(db.url) is db:
            del Database._open[db.url]
        db.write_engine.dispose()
        db.engine.dispose()
    if errors:
        raise errors[0]


@pytest.fixture(autouse=True)
def _reset_tracking_state() -> Iterator[None]:
    yield
    reset_fluent_state()
