"""Which database errors the server answers 503 ("retry shortly"): only those a retry
can get past (busy, locked, full, unreachable), never a statement the database refuses,
which would fail the same way every time. Real SQLite errors, not imitations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from flowtrack.server._app import is_transient


def _error_of(statement: str, engine) -> OperationalError:
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.execute(text(statement))
        conn.commit()
    return caught.value


def test_a_locked_database_is_transient(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db'}", connect_args={"timeout": 0})
    with engine.connect() as holder:
        holder.execute(text("CREATE TABLE t (x INTEGER)"))
        holder.commit()
        holder.exec_driver_sql("BEGIN EXCLUSIVE")
        error = _error_of("INSERT INTO t VALUES (1)", engine)
        holder.rollback()
    assert "locked" in str(error)
    assert is_transient(error)


def test_a_refused_statement_is_not_transient(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db'}")
    error = _error_of("SELECT * FROM no_such_table", engine)
    assert not is_transient(error)
