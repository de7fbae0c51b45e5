"""Shared fixtures: an isolated store per test and a runner for flow files.

``store_env`` points FLOWTRACK_HOME at a fresh temporary directory (for this
process and for flow subprocesses); ``run_flow`` runs ``python FLOW_FILE ARGS`` in
a subprocess with that environment and returns the completed process.

With ``FLOWTRACK_TEST_METADATA=postgresql`` every such store keeps its metadata in
a fresh database on a PostgreSQL server started for the session (the Makefile
runs the flow, client and example tests a second time that way).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from flowtrack.client import _backend as client_backend

# CI runs the property tests on a fixed sequence of examples, so a submission never
# fails on a random draw; locally each run explores new examples.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

_STORE_VARS = ("FLOWTRACK_HOME", "FLOWTRACK_USER", "FLOWTRACK_METADATA", "FLOWTRACK_STORE")
ON_POSTGRES = os.environ.get("FLOWTRACK_TEST_METADATA") == "postgresql"
_postgres_admin: list[str] = []  # the session server's admin URL, once started


def _test_metadata_url() -> str | None:
    """A fresh metadata database URL when testing on PostgreSQL, else None (SQLite)."""
    if not ON_POSTGRES:
        return None
    from tests.pg_server import new_database

    return new_database(_postgres_admin[0])


def database_url(sqlite_path: Path | str) -> str:
    """A URL for a test database: the SQLite file at ``sqlite_path``, or a fresh
    PostgreSQL database when the tests run on PostgreSQL."""
    return _test_metadata_url() or f"sqlite:///{sqlite_path}"


@pytest.fixture(scope="session", autouse=True)
def _postgres_for_stores(request: pytest.FixtureRequest) -> None:
    if ON_POSTGRES:
        _postgres_admin.append(request.getfixturevalue("postgres_admin_url"))


def reset_client() -> None:
    """Forget the client's cached backends and namespace (after the env changed)."""
    from flowtrack.client import _objects

    client_backend._backends.clear()
    _objects._namespace = _objects._UNSET


@contextmanager
def isolated_store(home: Path) -> Iterator[None]:
    """Point this process's FLOWTRACK_* at a store in ``home`` (user ``tester``) for
    a whole module's tests, and put the environment back afterwards."""
    saved = {k: os.environ.get(k) for k in _STORE_VARS}
    os.environ["FLOWTRACK_HOME"] = str(home)
    os.environ["FLOWTRACK_USER"] = "tester"
    os.environ.pop("FLOWTRACK_METADATA", None)
    os.environ.pop("FLOWTRACK_STORE", None)
    metadata_url = _test_metadata_url()
    if metadata_url:
        os.environ["FLOWTRACK_METADATA"] = metadata_url
    reset_client()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_client()


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "ft-home"
    monkeypatch.setenv("FLOWTRACK_HOME", str(home))
    monkeypatch.setenv("FLOWTRACK_USER", "tester")
    for var in ("FLOWTRACK_METADATA", "FLOWTRACK_STORE"):
        monkeypatch.delenv(var, raising=False)
    metadata_url = _test_metadata_url()
    if metadata_url:
        monkeypatch.setenv("FLOWTRACK_METADATA", metadata_url)
    client_backend._backends.clear()
    from flowtrack.client import _objects

    monkeypatch.setattr(_objects, "_namespace", _objects._UNSET)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def write_flow(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a flow file (dedented source) into the test's directory."""

    def write(source: str, name: str = "flow.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def run_flow(store_env: dict[str, str], tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    def run(path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
            check: bool = False) -> subprocess.CompletedProcess:
        full_env = dict(store_env)
        full_env.update(env or {})
        proc = subprocess.run([sys.executable, str(path), *args], cwd=tmp_path, env=full_env,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"flow exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """One PostgreSQL server for the whole test session (see tests/pg_server.py)."""
    from tests.pg_server import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    from tests.pg_server import new_database

    return new_database(postgres_admin_url)
