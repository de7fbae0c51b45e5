"""The executor seam: how the scheduler starts task attempts and hears back.

An executor runs ``TaskSpec``s through the task entry point somewhere (a forked
process, a Ray worker) and reports ``LogLine`` and ``Finished`` events from
``poll``. To add one: subclass ``Executor``, implement ``submit``, ``poll``,
``cancel`` and ``shutdown``; the scheduler, recording and resume stay
the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ._model import Manifest, TaskSpec


@dataclass
class Attempt:
    """One submitted attempt; executors keep their own handle in ``handle``."""

    spec: TaskSpec
    pid: int | None = None
    host: str = ""
    executor: str = ""
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    deadline: float | None = None  # monotonic time after which it is killed
    killed_reason: str | None = None


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

    @abstractmethod
    def submit(self, attempt: Attempt) -> None:
        """Start the attempt; fill ``attempt.pid`` / ``host`` where known."""

    @abstractmethod
    def poll(self, timeout: float) -> list[LogLine | Finished]:
        """Wait up to ``timeout`` seconds for events from running attempts."""

    @abstractmethod
    def cancel(self, attempt: Attempt, reason: str) -> None:
        """Stop a running attempt; it is reported as Finished without a manifest."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop everything still running; they are reported as Finished by ``poll``."""
