"""The executor seam: how the scheduler starts task attempts and hears back.

An executor runs ``TaskSpec``s through the task entry point somewhere (a forked
process, a Ray worker) and reports ``LogLine`` and ``Finished`` events from
``poll``. To add one: subclass ``Executor``, implement ``submit``, ``poll``,
``cancel`` and ``shutdown`` (and ``close`` if it holds a connection); the scheduler, recording and resume stay
the same.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._errors import FlowtrackError
from ._model import Manifest, TaskSpec
from ._pypi import PythonEnv


class TaskLaunchError(FlowtrackError):
    headline = "Cannot start the task"


@dataclass
class Attempt:
    """One submitted attempt, as the scheduler and its executor share it."""

    spec: TaskSpec
    pid: int | None = None
    host: str = ""
    executor: str = ""
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    deadline: float | None = None  # monotonic time after which it is killed
    deadline_after_start: float | None = None  # seconds, for a deadline armed at start
    killed_reason: str | None = None
    resources: dict[str, Any] | None = None  # what @resources asked for
    placement: dict[str, Any] = field(default_factory=dict)  # e.g. the Ray node it ran on
    # per stream, [number of lines so far, ms since the epoch] each time lines arrived:
    # when each line was printed, compactly (lines read together share a time)
    line_times: dict[str, list[list[int]]] = field(default_factory=dict)

    def note_lines(self, stream: str, count: int) -> None:
        """Record that ``count`` more complete lines of ``stream`` arrived now."""
        if count <= 0:
            return
        times = self.line_times.setdefault(stream, [])
        total = (times[-1][0] if times else 0) + count
        now = time.time_ns() // 1_000_000
        if times and times[-1][1] == now:
            times[-1][0] = total
        else:
            times.append([total, now])


@dataclass
class LogLine:
    attempt: Attempt
    stream: str  # "stdout" or "stderr"
    text: str


@dataclass
class Finished:
    attempt: Attempt
    manifest: Manifest | None  # None when the process died without reporting
    exit_description: str = ""


class Executor(ABC):
    name = "abstract"
    # whether the scheduler limits @resources tasks to this machine's cores and memory
    # (a cluster executor leaves that to the cluster)
    uses_local_budget = True

    @abstractmethod
    def submit(self, attempt: Attempt) -> None:
        """Start the attempt; fill ``attempt.pid`` / ``host`` where known."""

    def submit_gang(self, attempts: list[Attempt]) -> None:
        """Start attempts that must run at the same time (a ``@parallel`` gang, whose
        members wait for each other): all of them or, until there is room, none. Locally
        every attempt is its own process at once; a cluster executor reserves the
        resources of the whole gang first."""
        for attempt in attempts:
            self.submit(attempt)

    @abstractmethod
    def poll(self, timeout: float) -> list[LogLine | Finished]:
        """Wait up to ``timeout`` seconds for events from running attempts."""

    @abstractmethod
    def cancel(self, attempt: Attempt, reason: str) -> None:
        """Stop a running attempt; it is reported as Finished without a manifest."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop everything still running; they are reported as Finished by ``poll``."""

    def prepare_envs(  # noqa: B027 - an optional hook: most executors need nothing
            self, envs: list[PythonEnv], log: Callable[[str], None]) -> None:
        """Get the @pypi steps' environments ready (or check they can be) before the
        run starts; raises PythonEnvError naming the problem."""

    def arm_deadline(self, attempt: Attempt, seconds: float) -> None:
        """Kill the attempt ``seconds`` from now (an executor that queues attempts
        arms it when the attempt really starts)."""
        attempt.deadline = time.monotonic() + seconds

    def close(self) -> None:  # noqa: B027 - an optional hook, like prepare_envs
        """Release what the executor holds (a cluster connection) once the run is over."""
