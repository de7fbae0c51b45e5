"""Fixtures for the runtime tests: a store shared by a whole module.

``flow_store`` points FLOWTRACK_HOME at one fresh directory for every test of a
module (so expensive flow runs can be made once, in module-scoped fixtures, and
inspected by several tests) and restores the environment afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import isolated_store

RUN_ID_RE = re.compile(r"run-id (\d+)")


class FlowStore:
    """One isolated store plus helpers to write and run flow files against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "ft-home"
        self.flows = root / "flows"
        self.flows.mkdir(parents=True, exist_ok=True)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["FLOWTRACK_HOME"] = str(self.home)
        env["FLOWTRACK_USER"] = "tester"
        env.pop("FLOWTRACK_STORE", None)  # FLOWTRACK_METADATA: as isolated_store set it
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    def write(self, source: str, name: str) -> Path:
        path = self.flows / name
        path.write_text(textwrap.dedent(source))
        return path

    def run(self, path: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, str(path), *args], cwd=self.flows,
                              env=self.env(env), capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"flow exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc

    def popen(self, path: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(path), *args], cwd=self.flows,
                                env=self.env(env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def blob_files(self, root: Path | None = None) -> set[str]:
        """Names (digests) of the blob files in the store, ignoring its temp dir."""
        base = root or self.home / "blobs"
        if not base.exists():
            return set()
        return {p.name for p in base.rglob("*") if p.is_file() and p.parent.name != "tmp"}


def run_id_of(proc: subprocess.CompletedProcess | str) -> str:
    text = proc if isinstance(proc, str) else proc.stdout
    found = RUN_ID_RE.search(text)
    assert found, f"no run id in output:\n{text}"
    return found.group(1)


@pytest.fixture(scope="module")
def flow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowStore]:
    store = FlowStore(tmp_path_factory.mktemp("flowstore"))
    with isolated_store(store.home):
        yield store


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
