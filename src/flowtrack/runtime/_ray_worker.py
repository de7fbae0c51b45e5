"""What runs inside a Ray worker: one task attempt, reported as a stream of events.

``run_attempt`` is a Ray generator task. It loads the flow from the run's code
package (once per worker process and package), runs the attempt exactly as the local
executor does, in a process of its own (so a step's crash, ``os._exit`` or leaked
state stays in that process and its output is captured at the file descriptor
level) forked by the worker's fork server (``_fork_server``), and yields ``WorkerLogs`` batches while the step prints, then one
``WorkerDone`` with the manifest. Only digests, manifests and log text go back
through Ray; values stay in the blob store.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ._executor import Attempt, Finished, LogLine
from ._fork_server import ForkServer
from ._local import LocalExecutor
from ._model import Manifest, TaskSpec
from ._task_job import TaskJob, job_store, load_job_flow

LOG_BATCH_SECONDS = 0.1  # how long a printed line may wait to be batched with others
LOG_BATCH_LINES = 2000


@dataclass
class WorkerLogs:
    placement: dict[str, Any]
    lines: list[tuple[str, str]]  # (stream, text)


@dataclass
class WorkerDone:
    placement: dict[str, Any]
    lines: list[tuple[str, str]]
    manifest: Manifest | None
    exit_description: str
    stdout: bytes = b""
    stderr: bytes = b""


def _placement(pid: int | None) -> dict[str, Any]:
    import ray

    context = ray.get_runtime_context()
    return {"executor": "ray", "ray_node_id": context.get_node_id(), "host": socket.gethostname(),
            "pid": pid, "ray_worker_pid": os.getpid(),
            "ray_resources": dict(context.get_assigned_resources())}


_fork_server: ForkServer | None = None


def _server() -> ForkServer:
    """This worker's fork server, started on its first task (again if it died)."""
    global _fork_server
    if _fork_server is None or not _fork_server.alive:
        if _fork_server is not None:
            _fork_server.close()
        _fork_server = ForkServer()
    return _fork_server


def run_attempt(job: TaskJob) -> Iterator[WorkerLogs | WorkerDone]:
    """The Ray task: run ``job``'s attempt and stream what it prints."""
    flow_cls, _ = load_job_flow(job)  # here too, so a flow that cannot load fails clearly
    # Ray started this worker in the step's runtime environment (@pypi), if it has one,
    # so the attempt is forked (by the fork server), never spawned in another env
    executor = LocalExecutor(flow_cls, job_store(job.store_url), code=job.code,
                             spawn_envs=False, fork_server=_server())
    spec = job.spec
    if spec.parallel is not None:
        spec = _with_gang_address(spec)
    try:
        yield from _run(executor, Attempt(spec))
    finally:
        executor.close()


def _with_gang_address(spec: TaskSpec) -> TaskSpec:
    """The spec of a ``@parallel`` member with the address of the node that holds the
    gang's first bundle (where the control task runs) as ``main_ip``."""
    import ray

    group = ray.util.get_current_placement_group()
    node_id = ray.util.placement_group_table(group)["bundles_to_node_id"][0]
    address = next(n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id)
    assert spec.parallel is not None
    parallel = spec.parallel._replace(main_ip=address)
    return replace(spec, parallel=parallel, env={**spec.env, "MF_PARALLEL_MAIN_IP": address})


def _run(executor: LocalExecutor, attempt: Attempt) -> Iterator[WorkerLogs | WorkerDone]:
    executor.submit(attempt)
    placement = _placement(attempt.pid)
    if attempt.spec.timeout_seconds:
        yield WorkerLogs(placement, [])  # started: the scheduler's @timeout deadline runs
    lines: list[tuple[str, str]] = []
    last_sent = time.monotonic()
    while True:
        finished: Finished | None = None
        for event in executor.poll(LOG_BATCH_SECONDS):
            if isinstance(event, LogLine):
                lines.append((event.stream, event.text))
            else:
                finished = event
        if finished is not None:
            yield WorkerDone(placement, lines, finished.manifest, finished.exit_description,
                             bytes(attempt.stdout), bytes(attempt.stderr))
            return
        now = time.monotonic()
        if lines and (now - last_sent >= LOG_BATCH_SECONDS or len(lines) >= LOG_BATCH_LINES):
            yield WorkerLogs(placement, lines)
            lines, last_sent = [], now
