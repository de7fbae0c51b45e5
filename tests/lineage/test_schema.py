"""The metadata schema: create_all + stamp equals the Alembic migrations, WAL, errors, CLI.

Under ``FLOWTRACK_TEST_METADATA=postgresql`` the schema, migration and ``db upgrade``
tests run against fresh databases on the test PostgreSQL server; the tests of SQLite
files and pragmas are marked ``sqlite_only``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from flowtrack._errors import ConfigurationError
from flowtrack.lineage import SCHEMA_REVISION, Database, upgrade
from flowtrack.lineage._db import alembic_config, normalize_url
from flowtrack.lineage._schema import created_on, metadata
from tests.conftest import ON_POSTGRES, database_url

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="a property of SQLite files")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def close_database(url: str) -> None:
    db = Database._open.pop(url, None)
    if db is not None:
        db.engine.dispose()


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Database]:
    """A database created by ``Database.open`` (create_all + stamp)."""
    url = database_url(tmp_path / "opened.db")
    db = Database.open(url)
    yield db
    close_database(url)


@pytest.fixture
def migrated_url(tmp_path: Path) -> str:
    """A database built by running every Alembic migration from empty."""
    url = database_url(tmp_path / "migrated.db")
    upgrade(url)
    return url


def with_engine(url: str, fn: Any) -> Any:
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def describe(conn: Any) -> dict[str, Any]:
    """Tables, columns, keys, indexes and constraints as sqlalchemy ``inspect`` sees them."""
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        if table == "alembic_version":
            continue

        def key(d: dict) -> str:
            return repr(sorted(d.items()))

        out[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"],
                         c.get("primary_key")) for c in insp.get_columns(table)],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(map(key, insp.get_foreign_keys(table))),
            "indexes": sorted(map(key, insp.get_indexes(table))),
            "unique": sorted(map(key, insp.get_unique_constraints(table))),
            "options": insp.get_table_options(table),
        }
    return out


def version(conn: Any) -> list[str]:
    return [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]


# -- create_all + stamp == migrations -------------------------------------------------------

def test_created_schema_equals_migrated_schema(opened, migrated_url):
    created = with_engine(opened.url, describe)
    migrated = with_engine(migrated_url, describe)
    assert set(created) == {t for t in metadata.tables}
    assert created.keys() == migrated.keys()
    for table in created:
        assert created[table] == migrated[table], table


def test_schema_has_the_mlmd_tables_and_indexes(opened):
    schema = with_engine(opened.url, describe)
    assert {"types", "type_properties", "artifacts", "executions", "contexts",
            "artifact_properties", "execution_properties", "context_properties", "events",
            "event_paths", "attributions", "associations", "parent_contexts"} <= set(schema)
    insp_indexes = with_engine(opened.url, lambda c: {
        t: {i["name"] for i in inspect(c).get_indexes(t)} for t in schema})
    assert "ix_events_execution" in insp_indexes["events"]
    assert "ix_artifacts_uri" in insp_indexes["artifacts"]
    assert "ix_parent_contexts_parent" in insp_indexes["parent_contexts"]


@pytest.mark.parametrize("which", ["opened", "migrated"])
def test_database_matches_the_current_tables_module(which, opened, migrated_url):
    """Alembic autogenerate finds nothing to migrate: _schema.py and the head agree."""
    url = opened.url if which == "opened" else migrated_url

    def diff(conn: Any) -> list:
        context = MigrationContext.configure(conn, opts={
            "include_object": lambda item, *_: created_on(item, conn.dialect.name)})
        return compare_metadata(context, metadata)

    assert with_engine(url, diff) == []


def test_schema_revision_is_the_alembic_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [SCHEMA_REVISION]


@pytest.mark.parametrize("which", ["opened", "migrated"])
def test_alembic_version_is_the_head(which, opened, migrated_url):
    url = opened.url if which == "opened" else migrated_url
    assert with_engine(url, version) == [SCHEMA_REVISION]


def test_upgrade_on_an_opened_database_is_a_no_op(opened):
    before = with_engine(opened.url, describe)
    upgrade(opened.url)
    assert with_engine(opened.url, describe) == before
    assert with_engine(opened.url, version) == [SCHEMA_REVISION]


def test_open_on_a_migrated_database_does_not_migrate_again(migrated_url, monkeypatch):
    import flowtrack.lineage._db as db_module

    def fail(*_a: Any, **_k: Any) -> None:
        raise AssertionError("upgrade called on a database already at head")

    monkeypatch.setattr(db_module, "upgrade", fail)
    try:
        db = Database.open(migrated_url)
        with db.connect() as conn:
            assert version(conn) == [SCHEMA_REVISION]
    finally:
        close_database(migrated_url)


def test_open_returns_one_handle_per_url(opened):
    assert Database.open(opened.url) is opened


@sqlite_only
def test_open_creates_missing_parent_directories(tmp_path):
    url = sqlite_url(tmp_path / "a" / "b" / "meta.db")
    try:
        Database.open(url)
        assert (tmp_path / "a" / "b" / "meta.db").is_file()
    finally:
        close_database(url)


# -- SQLite tuning --------------------------------------------------------------------------

@sqlite_only
def test_sqlite_runs_in_wal_mode(opened):
    with opened.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    # WAL is a property of the file: a plain sqlite3 connection sees it too
    raw = sqlite3.connect(opened.url.split("///", 1)[1])
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


@sqlite_only
def test_wal_mode_is_set_on_a_migrated_database_when_opened(migrated_url):
    try:
        db = Database.open(migrated_url)
        with db.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        close_database(migrated_url)


# -- errors ---------------------------------------------------------------------------------

@sqlite_only
def test_a_directory_in_place_of_the_file_is_a_configuration_error(tmp_path):
    (tmp_path / "taken").mkdir()
    url = sqlite_url(tmp_path / "taken")
    with pytest.raises(ConfigurationError) as info:
        Database.open(url)
    message = str(info.value)
    assert url in message
    assert "FLOWTRACK_METADATA" in message and "writable" in message
    assert url not in Database._open


@sqlite_only
def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not an sqlite database" * 100)
    with pytest.raises(ConfigurationError, match="FLOWTRACK_METADATA"):
        Database.open(sqlite_url(path))


@sqlite_only
@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_a_read_only_directory_is_a_configuration_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigurationError, match="writable"):
            Database.open(sqlite_url(ro / "meta.db"))
    finally:
        ro.chmod(0o755)


@sqlite_only
def test_an_uncreatable_directory_is_a_configuration_error(tmp_path):
    (tmp_path / "file").write_text("a regular file where a directory is needed")
    url = sqlite_url(tmp_path / "file" / "sub" / "meta.db")
    with pytest.raises(ConfigurationError) as info:
        Database.open(url)
    assert url in str(info.value)


def test_an_unknown_dialect_is_a_configuration_error():
    with pytest.raises(ConfigurationError) as info:
        Database.open("nosuchdb://user@host/db")
    assert "FLOWTRACK_METADATA" in str(info.value)


# -- the `flowtrack db upgrade` command -----------------------------------------------------

def flowtrack_command(args: list[str], env: dict[str, str], cwd: Path
                      ) -> subprocess.CompletedProcess:
    exe = shutil.which("flowtrack")
    cmd = [exe, *args] if exe else [sys.executable, "-c",
                                    "from flowtrack.cli import main; main()", *args]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def cli_env(tmp_path: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env["FLOWTRACK_HOME"] = str(home)
    return env


@sqlite_only
def test_db_upgrade_on_an_existing_database(tmp_path):
    home = tmp_path / "home"
    url = sqlite_url(home / "metadata.db")
    try:
        Database.open(url)
    finally:
        close_database(url)
    proc = flowtrack_command(["db", "upgrade"], cli_env(tmp_path, home), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{url}: schema is current." in proc.stdout
    assert with_engine(url, version) == [SCHEMA_REVISION]


@sqlite_only
def test_db_upgrade_builds_an_empty_database_from_migrations(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    url = sqlite_url(home / "metadata.db")
    proc = flowtrack_command(["db", "upgrade"], cli_env(tmp_path, home), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "schema is current" in proc.stdout
    assert with_engine(url, version) == [SCHEMA_REVISION]
    assert set(with_engine(url, describe)) == set(metadata.tables)
    # and flowtrack can then use it
    try:
        with Database.open(url).connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM types").scalar() == 0
    finally:
        close_database(url)


def test_db_upgrade_honours_flowtrack_metadata(tmp_path):
    target = database_url(tmp_path / "elsewhere.db")
    env = cli_env(tmp_path, tmp_path / "home")
    env["FLOWTRACK_METADATA"] = target
    proc = flowtrack_command(["db", "upgrade"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert with_engine(target, version) == [SCHEMA_REVISION]
    assert set(with_engine(target, describe)) == set(metadata.tables)


def test_db_upgrade_takes_the_url_as_an_argument(tmp_path):
    target = database_url(tmp_path / "argument.db")
    proc = flowtrack_command(["db", "upgrade", target], cli_env(tmp_path, tmp_path / "home"),
                             tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{target}: schema is current." in proc.stdout
    assert with_engine(target, version) == [SCHEMA_REVISION]


def test_an_unreachable_server_is_a_configuration_error():
    # port 1 on loopback: nothing listens there, so the connection is refused at once
    url = "postgresql://nobody@127.0.0.1:1/flowtrack"
    with pytest.raises(ConfigurationError) as info:
        Database.open(url)
    assert url in str(info.value) and "reachable" in str(info.value)
    assert url not in Database._open


@sqlite_only
def test_db_upgrade_on_a_fresh_home(tmp_path):
    home = tmp_path / "fresh-home"
    proc = flowtrack_command(["db", "upgrade"], cli_env(tmp_path, home), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert with_engine(sqlite_url(home / "metadata.db"), version) == [SCHEMA_REVISION]


def test_db_upgrade_error_is_reported_without_a_traceback(tmp_path):
    env = cli_env(tmp_path, tmp_path / "home")
    env["FLOWTRACK_METADATA"] = "nosuchdb://x/y"
    proc = flowtrack_command(["db", "upgrade"], env, tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Configuration error" in proc.stderr and "FLOWTRACK_METADATA" in proc.stderr


def test_upgrading_from_0001_gives_existing_runs_tracking_ids(tmp_path):
    url = database_url(tmp_path / "old.db")
    upgrade(url, "0001_initial")

    def add_runs(conn: Any) -> None:
        conn.execute(text("INSERT INTO types (id, name, version, type_kind) "
                          "VALUES (1, 'Run', '', 2), (2, 'Other', '', 2)"))
        for i, type_id in ((1, 1), (2, 1), (3, 2)):
            conn.execute(text("INSERT INTO contexts (id, type_id, name, create_time_since_epoch, "
                              "last_update_time_since_epoch) VALUES (:i, :t, :n, 0, 0)"),
                         {"i": i, "t": type_id, "n": f"c{i}"})
        conn.commit()

    with_engine(url, add_runs)
    upgrade(url)
    ids = with_engine(url, lambda c: dict(c.execute(
        text("SELECT id, external_id FROM contexts ORDER BY id")).all()))
    assert ids[3] is None  # not a Run
    assert len({ids[1], ids[2]}) == 2 and all(len(ids[i]) == 32 for i in (1, 2))
    assert with_engine(url, version) == [SCHEMA_REVISION]
