"""Fixtures for the tracking server tests: real ``flowtrack server`` processes on free
loopback ports, each over its own store (a fresh PostgreSQL database when the tests
run on PostgreSQL), stopped by pid when the test or module is done.

``start_server(*args)`` starts one with extra command-line options (auth, limits);
``server`` is one shared by a module's tests; ``api`` is an httpx client for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import database_url
from tests.processes import free_port, start_listening, stop
from tests.server.mlflow_session import MlflowSession, client_env, mlflow_python


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
        stop(self.process)


def launch(home: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start ``flowtrack server`` over the store in ``home`` and wait until it answers
    (the real ``mlflow server`` instead when FLOWTRACK_TEST_SERVER=mlflow: the MLflow
    compatibility harness checks the tests' expectations against it)."""
    home.mkdir(parents=True, exist_ok=True)
    if os.environ.get("FLOWTRACK_TEST_SERVER") == "mlflow":
        return launch_mlflow(home, *args)
    metadata_url = database_url(home / "metadata.db")
    port = free_port()
    full_env = dict(os.environ, FLOWTRACK_HOME=str(home), FLOWTRACK_USER="tester",
                    **(env or {}))
    full_env.pop("FLOWTRACK_STORE", None)
    full_env["FLOWTRACK_METADATA"] = metadata_url
    log = home / "server.log"
    process = start_listening([sys.executable, "-m", "flowtrack", "server", "--port", str(port),
                               "--log-level", "warning", *args], port, full_env, log)
    return RunningServer(f"http://127.0.0.1:{port}", home, metadata_url, process, log)


def launch_mlflow(home: Path, *args: str) -> RunningServer:
    """The official ``mlflow server`` (from the client's virtualenv) over SQLite in
    ``home``, with the same options as the test gave flowtrack's."""
    port = free_port()
    mlflow = str(Path(mlflow_python()).parent / "mlflow")
    store = [] if "--artifacts-only" in args else [
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}"]
    env = dict(client_env(""), MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    env.pop("MLFLOW_TRACKING_URI")
    log = home / "server.log"
    process = start_listening([mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1", *store, "--artifacts-destination",
                               str(home / "mlartifacts"), *args], port, env, log, timeout=120)
    return RunningServer(f"http://127.0.0.1:{port}", home, "", process, log)


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


@pytest.fixture(scope="module")
def mlflow_client(server: RunningServer) -> Iterator[MlflowSession]:
    """The official mlflow client against the module's server (``run`` / ``fails``)."""
    session = MlflowSession(server.url)
    yield session
    session.close()
