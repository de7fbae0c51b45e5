"""Fixtures for the tracking server tests: real ``flowtrack server`` processes on free
loopback ports, each over its own store (a fresh PostgreSQL database when the tests
run on PostgreSQL), stopped by pid when the test or module is done.

``start_server(*args)`` starts one with extra command-line options (auth, limits);
``server`` is one shared by a module's tests; ``api`` is an httpx client for it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import database_url


@dataclass
class RunningServer:
    url: str
    home: Path  # the store directory (blobs; metadata too on SQLite)
    metadata_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str) -> str:
        return f"{self.url}/api/2.0/mlflow/{path}"

    def artifacts(self, path: str = "") -> str:
        return f"{self.url}/api/2.0/mlflow-artifacts/artifacts{'/' + path if path else ''}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(home: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start ``flowtrack server`` over the store in ``home`` and wait until it answers."""
    home.mkdir(parents=True, exist_ok=True)
    metadata_url = database_url(home / "metadata.db")
    port = free_port()
    log = home / "server.log"
    full_env = dict(os.environ, FLOWTRACK_HOME=str(home), FLOWTRACK_USER="tester",
                    **(env or {}))
    full_env.pop("FLOWTRACK_STORE", None)
    full_env["FLOWTRACK_METADATA"] = metadata_url
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowtrack", "server", "--port", str(port),
             "--log-level", "warning", *args],
            stdout=out, stderr=subprocess.STDOUT, env=full_env)
    running = RunningServer(f"http://127.0.0.1:{port}", home, metadata_url, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"flowtrack server exited {process.returncode}:\n"
                                 f"{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return running
        except OSError:
            time.sleep(0.1)
    running.stop()
    raise AssertionError(f"flowtrack server did not start in 60 s:\n{log.read_text()}")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RunningServer:
        running = launch(tmp_path / f"server-{len(started)}", *args, env=env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = launch(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
