"""What a task's record says besides its data, under the names ported code reads: the
metadata names the client shows (Metaflow's where it has them), a task's attempts,
the control task of a ``@parallel`` gang, and a running task's wait for its own record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

from ..lineage import Node
from ._backend import backend

# a task's custom properties that Task.metadata (and metadata_dict) shows besides its
# properties
TASK_METADATA_KEYS = ("num_splits", "switch_target", "iteration", "error_type", "resources",
                      "ray_node_id", "ray_worker_pid", "ray_resources", "requirements",
                      "packages", "internal_task_type", "parallel-world-size",
                      "parallel-node-index")
# task properties metadata leaves out: one record per attempt instead, the origin of
# a cloned task under Metaflow's names, and the task's identity, which is its pathspec
# (Metaflow's metadata has no such entries, so a clone's metadata equals its origin's)
NOT_METADATA_PROPERTIES = ("attempt", "origin_run_id", "origin_task", "flow_name", "run_id",
                           "step_name", "task_id")
CONTROL_TASK_TYPE = "control"  # internal_task_type of a @parallel gang's node 0
OWN_RECORD_WAIT_SECONDS = 10.0


def own_record(pathspec: str) -> Node | None:
    """The record of the task that is running this code: the scheduler writes it just
    after starting the task, so a step that looks itself up at once (``Task(
    current.pathspec)``) waits for it, briefly, instead of finding nothing."""
    deadline = time.monotonic() + OWN_RECORD_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        node = backend().task(pathspec)
        if node is not None:
            return node
    return None


def attempt_numbers(node: Node) -> list[int]:
    """The attempts a task made, in order (its recorded attempt history, or just its
    final attempt when it had one)."""
    history = node.custom_properties.get("attempts") or []
    numbers = [int(h["attempt"]) for h in history if isinstance(h, dict) and "attempt" in h]
    final = node.properties.get("attempt")
    if final is not None and int(final) not in numbers:
        numbers.append(int(final))
    return numbers


def line_times(times: list[list[int]], count: int, fallback: datetime | None
               ) -> Iterator[datetime | None]:
    """The time of each of ``count`` log lines from the runtime's compact record,
    ``[[lines so far, ms since the epoch], ...]``; lines past it get ``fallback``."""
    number = 0
    for upto, ms in times:
        when = datetime.fromtimestamp(ms / 1000, timezone.utc)
        while number < min(upto, count):
            yield when
            number += 1
    for _ in range(number, count):
        yield fallback
