"""What a run prints: prefixed task log lines, status lines and foreach progress.

Lines look like ``2026-11-21 12:44:30.800 [RUN_ID/step/TASK_ID (pid N)] text``.
On a terminal a rich progress bar per wide step sits below the scrolling log; when
stdout is not a terminal, progress is reported as plain lines every 10 %.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any, TextIO

# Steps with more tasks than this show progress instead of per-task start/finish lines.
QUIET_TASK_LINES_ABOVE = 8


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class RunConsole:
    """Console output of one run; ``quiet`` keeps only errors and the summary."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._progress: Any = None
        self._live: Any = None
        self._bars: dict[str, Any] = {}
        self._reported: dict[str, int] = {}
        self._last_refresh = 0.0

    def _write(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")

    def task_line(self, prefix: str, text: str, stream: str = "stdout") -> None:
        if self.quiet and stream == "stdout":
            return
        self._write(f"{_stamp()} [{prefix}] {text}")

    def info(self, text: str) -> None:
        if not self.quiet:
            self._write(f"{_stamp()} {text}")

    def error(self, text: str) -> None:
        self._write(f"{_stamp()} {text}")

    def progress(self, step: str, done: int, total: int) -> None:
        if self.quiet or total <= QUIET_TASK_LINES_ABOVE:
            return
        if self.tty:
            self._tty_progress(step, done, total)
            return
        tenth = done * 10 // total
        if tenth > self._reported.get(step, -1) or done == total:
            self._reported[step] = tenth
            self.info(f"Step '{step}': {done}/{total} tasks done")

    def _tty_progress(self, step: str, done: int, total: int) -> None:
        if self._live is None:
            from rich.console import Console
            from rich.live import Live
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn())
            # auto_refresh=False: no refresh thread, so forking tasks stays safe
            self._live = Live(self._progress, console=Console(file=self.stream),
                              auto_refresh=False, transient=False)
            self._live.start()
        if step not in self._bars:
            self._bars[step] = self._progress.add_task(f"step {step}", total=total)
        self._progress.update(self._bars[step], completed=done, total=total)
        if done == total or time.monotonic() - self._last_refresh > 0.1:
            self._live.refresh()
            self._last_refresh = time.monotonic()

    def close(self) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None
        self.stream.flush()
