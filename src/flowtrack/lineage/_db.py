"""Opening the metadata database: engines, SQLite tuning, schema creation, migrations.

``Database.open(url)`` returns a shared handle per URL. SQLite runs in WAL mode so
readers (a notebook, the UI) never block the one writer (the scheduler) and never
see a half-written transaction. A new database gets the current schema directly
and is stamped with the Alembic head; an older one is upgraded through Alembic.
Engines are disposed in forked children so a task never reuses its parent's
connections.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .._errors import ConfigurationError
from ._schema import metadata

# The Alembic revision the tables in _schema.py correspond to.
SCHEMA_REVISION = "0002_tracking"
_MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite's lower() folds ASCII only; case-insensitive matching (ILIKE) needs Unicode
    dbapi_connection.create_function("unicode_lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:":
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the directory for the metadata database {url!r}: {exc.strerror}. "
            "Point FLOWTRACK_HOME (or FLOWTRACK_METADATA) at a writable location.") from None


def normalize_url(url: str) -> str:
    """``postgresql://`` means the psycopg (3) driver, which ``flowtrack[postgres]``
    installs; SQLAlchemy's own default for that scheme is psycopg2."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_memory_sqlite(url: str) -> bool:
    return url.startswith("sqlite") and (url.rstrip("/") in ("sqlite:", "sqlite:/", "sqlite:")
                                         or url.endswith(":memory:") or url == "sqlite://")


def _make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if is_memory_sqlite(url):  # one shared connection, or every session sees its own db
        engine = create_engine(url, poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        # reads autocommit (see Database), so returning them to the pool needs no ROLLBACK
        return create_engine(url, pool_pre_ping=True, skip_autocommit_rollback=True)
    except Exception as exc:  # unknown dialect, missing driver
        raise ConfigurationError(
            f"Cannot open the metadata database {url!r}: {exc}. Check FLOWTRACK_METADATA; "
            "PostgreSQL needs the driver from `pip install flowtrack[postgres]`."
        ) from None


def _begin_immediate(engine: Engine) -> Engine:
    """Make every transaction on this SQLite engine take the write lock up front.

    A deferred transaction that reads and then writes can fail at once with
    "database is locked" when another process wrote in between (SQLite cannot wait
    there without risking a deadlock); one that starts with the lock just waits its
    turn (busy_timeout), so concurrent writers queue instead of failing.
    """

    def no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite must not emit its own BEGIN

    def begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", no_implicit_begin)
    event.listen(engine, "begin", begin)
    return engine


# tables whose statistics go stale together: a node table and its property rows
_ANALYZED_WITH = {"artifacts": "artifact_properties", "executions": "execution_properties",
                  "contexts": "context_properties", "events": "event_paths"}
_FIRST_ANALYZE_ROWS = 1000


class Database:
    """One metadata database: an engine plus the guarantee its schema is current.

    On SQLite, writes go through a second engine whose transactions begin
    IMMEDIATE (see ``_begin_immediate``); reads stay deferred so they never wait.
    On PostgreSQL, bulk inserts refresh the planner's statistics (``note_inserted``).
    """

    _open: dict[str, Database] = {}
    _lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        # type id -> (kind, declared properties), see _metadata_store._resolve_type
        self.type_cache: dict[int, tuple[Any, dict[str, Any]]] = {}
        self.type_names: dict[int, str] = {}  # type id -> name; a type is never renamed
        # rows this process inserted per table, and the count that triggers ANALYZE
        self._inserted: dict[str, int] = {}
        self._analyze_at: dict[str, int] = {}
        self.engine = _make_engine(url)
        if self.engine.dialect.name == "sqlite":
            separate_writer = not is_memory_sqlite(url)
            self.write_engine = (_begin_immediate(_make_engine(url)) if separate_writer
                                 else self.engine)
        else:
            # Reads autocommit: at READ COMMITTED every statement takes its own snapshot
            # anyway, so a read transaction would only add BEGIN and ROLLBACK round trips.
            self.write_engine = self.engine
            self.engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        try:
            self._ensure_schema()
        except BaseException:
            # a refused or unreachable database must not leave pooled connections behind
            self.write_engine.dispose()
            self.engine.dispose()
            raise

    @classmethod
    def open(cls, url: str) -> Database:
        with cls._lock:
            db = cls._open.get(url)
            if db is None:
                db = cls._open[url] = cls(url)
            return db

    def connect(self, write: bool = False) -> Connection:
        """A connection for reading, or (``write=True``) for a writing transaction."""
        return (self.write_engine if write else self.engine).connect()

    def note_inserted(self, counts: dict[str, int]) -> None:
        """Account committed bulk inserts; ANALYZE a table when this process's inserts
        into it reach 1000 rows, then each time they double.

        PostgreSQL's autovacuum analyzes a table only after a delay, so right after
        a bulk load the planner still sees a near-empty table and scans it where an
        index lookup takes a fraction of a millisecond (about 13 ms instead of 0.4 ms
        for 100 property rows out of 100 000). The doubling keeps the total cost
        logarithmic in the rows written; SQLite plans well without statistics.
        """
        due = []
        for table, count in counts.items():
            total = self._inserted[table] = self._inserted.get(table, 0) + count
            if total >= self._analyze_at.get(table, _FIRST_ANALYZE_ROWS):
                self._analyze_at[table] = 2 * total
                due += [table, _ANALYZED_WITH[table]] if table in _ANALYZED_WITH else [table]
        if due:
            self._analyze(due)

    def _analyze(self, tables: list[str]) -> None:
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("ANALYZE " + ", ".join(dict.fromkeys(tables)))
        except SQLAlchemyError:
            pass  # only a planner hint: autovacuum will analyze the tables later anyway

    def _ensure_schema(self) -> None:
        try:
            # The usual case, a current schema, needs only a read: task processes open
            # the database through the client and must never wait for the write lock
            # their own scheduler may hold. Creating a schema takes the write engine,
            # which serializes two processes creating a new database at once.
            with self.engine.connect() as conn:
                revision = _current_revision(conn)
            if revision is None:
                with self.write_engine.begin() as conn:
                    lock_schema(conn)
                    revision = _current_revision(conn)
                    if revision is None and not inspect(conn).has_table("types"):
                        metadata.create_all(conn)
                        _stamp(conn, SCHEMA_REVISION)
                        return
        except ConfigurationError:
            raise
        except Exception as exc:
            raise ConfigurationError(
                f"Cannot open the metadata database {self.url!r}: {exc}. Check that the "
                "path or server in FLOWTRACK_METADATA / FLOWTRACK_HOME is reachable and "
                "writable."
            ) from None
        if revision != SCHEMA_REVISION:
            _refuse_newer_schema(self.url, revision)
            upgrade(self.url)

    @classmethod
    def _dispose_all_in_child(cls) -> None:
        for db in cls._open.values():
            db.engine.dispose(close=False)
            db.write_engine.dispose(close=False)
        cls._open = {}
        cls._lock = threading.Lock()


# an arbitrary constant naming flowtrack's schema lock among PostgreSQL advisory locks
_SCHEMA_LOCK_KEY = 0x666C6F77  # "flow"


def lock_schema(conn: Connection) -> None:
    """Serialize schema creation and migration between processes until the
    transaction ends. SQLite's BEGIN IMMEDIATE already does; PostgreSQL needs an
    advisory lock, or two processes opening a new database both run CREATE TABLE."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})


def _current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def _stamp(conn: Connection, revision: str) -> None:
    conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version ("
                      "version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    conn.execute(text("DELETE FROM alembic_version"))
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


def known_revisions() -> set[str]:
    """Every schema revision this version of flowtrack can migrate from."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _refuse_newer_schema(url: str, revision: str | None) -> None:
    if revision is not None and revision not in known_revisions():
        raise ConfigurationError(
            f"The metadata database {url!r} has schema revision {revision!r}, which is newer "
            f"than this flowtrack knows (up to {SCHEMA_REVISION!r}); it was written by a newer "
            "flowtrack. Upgrade flowtrack (pip install -U flowtrack) instead of using this "
            "version on it.")


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` through Alembic migrations."""
    from alembic import command

    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    engine = _make_engine(url)
    try:
        with engine.connect() as conn:
            _refuse_newer_schema(url, _current_revision(conn))
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"Cannot open the metadata database {url!r}: {exc}.") from None
    finally:
        engine.dispose()
    try:
        command.upgrade(alembic_config(url), revision)
    except Exception as exc:  # driver, connection and migration errors alike
        raise ConfigurationError(
            f"Migrating the metadata database {url!r} failed: {exc}. Check FLOWTRACK_METADATA "
            "and that the database is reachable and writable.") from None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=Database._dispose_all_in_child)
