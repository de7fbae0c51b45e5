"""Whether a flow run's scheduler is still there, for runs that read RUNNING.

A scheduler records its host and pid when the run starts and beats (``heartbeat``,
ms since the epoch) every ``HEARTBEAT_SECONDS`` while it runs. A run that still reads
RUNNING is taken as dead, and shown as FAILED by the client, the tracking API, the CLI
and the UI, when its last beat is older than ``STALE_AFTER_SECONDS``, or at once when
it was started on this host and its scheduler process is gone (kill -9, a power cut,
a full disk that stopped even the final write). The next scheduler to start on the
same store then writes that down for good (``RunRecorder.reap_dead_runs``). Runs
recorded before heartbeats existed carry none and keep the status they have.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping
from typing import Any

HEARTBEAT_SECONDS = 10.0
# six missed beats: a scheduler stuck for a while in one slow transaction is not dead
STALE_AFTER_SECONDS = 60.0
HEARTBEAT_PROPERTY = "heartbeat"
SCHEDULER_PID_PROPERTY = "scheduler_pid"


def scheduler_gone(properties: Mapping[str, Any], custom: Mapping[str, Any],
                   now_ms: int | None = None) -> bool:
    """True for a run that reads RUNNING but whose scheduler has stopped beating."""
    heartbeat = custom.get(HEARTBEAT_PROPERTY)
    if properties.get("status") != "RUNNING" or not isinstance(heartbeat, int):
        return False
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if now - heartbeat > STALE_AFTER_SECONDS * 1000:
        return True
    pid = custom.get(SCHEDULER_PID_PROPERTY)
    return (isinstance(pid, int) and properties.get("host") == platform.node()
            and not _process_exists(pid))


def effective_status(properties: Mapping[str, Any], custom: Mapping[str, Any]) -> str:
    """The run's status as users should see it: FAILED for a run whose scheduler died."""
    status = str(properties.get("status") or "RUNNING")
    return "FAILED" if scheduler_gone(properties, custom) else status


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return _not_a_zombie(pid)


def _not_a_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):  # no /proc (macOS): os.kill said it exists
        return True
