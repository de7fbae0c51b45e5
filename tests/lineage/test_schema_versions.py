"""Schema revisions: a database from a newer flowtrack is refused, not touched."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from flowtrack._errors import ConfigurationError
from flowtrack.lineage import SCHEMA_REVISION, Database, upgrade


def _stamp_future(path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    Database.open(url)
    _stamp_future(tmp_path / "m.db")
    Database._open.pop(url)
    with pytest.raises(ConfigurationError, match="newer than this flowtrack") as info:
        Database.open(url)
    assert "9999_future" in str(info.value) and SCHEMA_REVISION in str(info.value)
    with pytest.raises(ConfigurationError, match="newer than this flowtrack"):
        upgrade(url)


def test_db_upgrade_command_takes_a_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'm.db'}"
    done = subprocess.run([sys.executable, "-m", "flowtrack.cli._main", "db", "upgrade", url],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "schema is current" in done.stdout
    _stamp_future(tmp_path / "fresh" / "m.db")
    refused = subprocess.run([sys.executable, "-m", "flowtrack.cli._main", "db", "upgrade", url],
                             capture_output=True, text=True)
    assert refused.returncode == 1
    assert "newer than this flowtrack" in refused.stderr and "Traceback" not in refused.stderr
