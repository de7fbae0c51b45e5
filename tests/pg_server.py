"""A throwaway PostgreSQL server for tests: initdb in a temp directory, started on
127.0.0.1 at a free port, stopped (by its own pg_ctl) at the end.

The Makefile installs Debian's ``postgresql`` package; as root the server runs as
the ``postgres`` user (PostgreSQL refuses to run as root). Without the binaries
the tests that need it are skipped, except under CI (``CI=true``), where that is
a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the admin URL (``postgresql://postgres@127.0.0.1:PORT/postgres``)."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        message = "PostgreSQL binaries not found (make test installs Debian's postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # not under pytest's tmp dir: that is private to root, and the server runs as postgres
    workdir = Path(tempfile.mkdtemp(prefix="flowtrack-pg-"))
    data = workdir / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(workdir, user.pw_uid, user.pw_gid)
    port = _free_port()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                                    "-U", "postgres", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True)
    # each test gets a fresh database, and this process keeps a small pool per
    # database it opened for the whole session: hundreds of idle connections by the end
    options = (f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=1000")
    pg_ctl = str(bin_dir / "pg_ctl")
    subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-o", options, "-l",
                                    str(workdir / "server.log"), "-w", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w",
                                        "stop"]), capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def new_database(admin_url: str) -> str:
    """Create an empty database on the server; return its URL."""
    import psycopg

    name = f"ft_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url.replace("postgresql://", "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name
