"""Schema revisions: a database from a newer flowtrack is refused, not touched.

Runs on SQLite, and on PostgreSQL under ``FLOWTRACK_TEST_METADATA=postgresql``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from flowtrack._errors import ConfigurationError
from flowtrack.lineage import SCHEMA_REVISION, Database, upgrade
from flowtrack.lineage._db import normalize_url
from tests.conftest import database_url


def _stamp_future(url: str) -> None:
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        engine.dispose()


def _forget(url: str) -> None:
    db = Database._open.pop(url, None)
    if db is not None:
        db.engine.dispose()
        db.write_engine.dispose()


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    url = database_url(tmp_path / "m.db")
    Database.open(url)
    _forget(url)
    _stamp_future(url)
    with pytest.raises(ConfigurationError, match="newer than this flowtrack") as info:
        Database.open(url)
    assert "9999_future" in str(info.value) and SCHEMA_REVISION in str(info.value)
    assert url not in Database._open
    with pytest.raises(ConfigurationError, match="newer than this flowtrack"):
        upgrade(url)


def test_db_upgrade_command_takes_a_url(tmp_path):
    url = database_url(tmp_path / "fresh" / "m.db")
    done = subprocess.run([sys.executable, "-m", "flowtrack.cli._main", "db", "upgrade", url],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "schema is current" in done.stdout
    _stamp_future(url)
    refused = subprocess.run([sys.executable, "-m", "flowtrack.cli._main", "db", "upgrade", url],
                             capture_output=True, text=True)
    assert refused.returncode == 1
    assert "newer than this flowtrack" in refused.stderr and "Traceback" not in refused.stderr
