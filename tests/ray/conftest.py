"""One real Ray cluster for the whole test session, on 127.0.0.1.

``ray start --head --block`` runs in a session of its own with a temporary directory,
two CPUs, no dashboard and token authentication off; the fixture connects once to
learn the node id, hands the address to the tests (flows run with
``--executor ray --ray-address``), and at the end terminates that process by pid,
which takes the cluster's daemons down with it (and, to be sure, its process group:
all of it was started by this fixture). ``ray stop`` is never used: it kills every
Ray process on the machine by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port, start_listening, stop

if os.environ.get("CI"):
    import ray  # noqa: F401 - CI installs the [ray] extra: missing is a failure, not a skip
else:
    pytest.importorskip("ray")

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass(frozen=True)
class RayCluster:
    address: str
    node_ids: tuple[str, ...]
    temp_dir: Path

    def env(self) -> dict[str, str]:
        """What a flow process needs to use this cluster (and nothing else)."""
        return {**RAY_ENV, "RAY_ADDRESS": self.address}


def _ray_command() -> list[str]:
    return [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]


def _node_ids(address: str, env: dict[str, str]) -> tuple[str, ...]:
    probe = (f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
             "print(' '.join(n['NodeID'] for n in ray.nodes() if n['Alive']))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return tuple(out.split())


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    # a short temp dir: Ray's socket paths must stay under the 107-byte limit
    temp_dir = Path(f"/tmp/ft-ray-{os.getpid()}")
    temp_dir.mkdir(exist_ok=True)
    port = free_port()
    env = {**os.environ, **RAY_ENV}
    env.pop("RAY_ADDRESS", None)
    log = tmp_path_factory.mktemp("ray") / "ray-head.log"
    command = [*_ray_command(), "start", "--head", "--block", f"--port={port}",
               "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
               "--disable-usage-stats", f"--temp-dir={temp_dir}"]
    head = start_listening(command, port, env, log, timeout=120, new_session=True)
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)  # flow processes (drivers) inherit them
    try:
        address = f"127.0.0.1:{port}"
        yield RayCluster(address, _node_ids(address, env), temp_dir)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _stop_session(head)
        subprocess.run(["rm", "-rf", str(temp_dir)], check=False)


def _stop_session(head: subprocess.Popen[bytes]) -> None:
    """Terminate ``ray start --block`` (it stops the daemons it started), then kill
    whatever of its own process group is left."""
    stop(head)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(head.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
