"""Shared helpers for the flowtrack benchmarks.

Every benchmark runs the same flow text twice over: once with flowtrack and,
when a Metaflow interpreter is given (``--metaflow-python`` or the
``METAFLOW_PYTHON`` environment variable), once with Metaflow, the only change
being the ``from flowtrack import`` line. Each framework runs in its own
temporary directory with its store confined there:

* flowtrack: ``FLOWTRACK_HOME=<tmp>/.flowtrack``;
* Metaflow: ``METAFLOW_HOME=<tmp>/metaflow-home`` (an empty config directory),
  ``METAFLOW_DATASTORE_SYSROOT_LOCAL=<tmp>`` (so the store is
  ``<tmp>/.metaflow``), local datastore and local metadata.

Inherited ``FLOWTRACK_*`` and ``METAFLOW_*`` variables are dropped so the
caller's configuration cannot leak into a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

FLOWTRACK = "flowtrack"
METAFLOW = "metaflow"
USER = "bench"


class BenchmarkError(RuntimeError):
    """A benchmarked command failed or its framework is not usable."""


@dataclass(frozen=True)
class Framework:
    """One framework under test: its name and the interpreter that runs it."""

    name: str
    python: str

    @property
    def store_name(self) -> str:
        """Name of the store directory created in the working directory."""
        return ".flowtrack" if self.name == FLOWTRACK else ".metaflow"

    def flow_text(self, text: str) -> str:
        """Return flow source written for flowtrack, adapted to this framework."""
        if self.name == FLOWTRACK:
            return text
        return text.replace("from flowtrack import", "from metaflow import")

    def env(self, workdir: Path) -> dict[str, str]:
        """Environment confining this framework's store to ``workdir``."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("FLOWTRACK_", "METAFLOW_"))
        }
        env["USERNAME"] = env["USER"] = USER
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.name == FLOWTRACK:
            env["FLOWTRACK_HOME"] = str(workdir / ".flowtrack")
            env["FLOWTRACK_USER"] = USER
        else:
            env["METAFLOW_HOME"] = str(workdir / "metaflow-home")
            env["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = str(workdir)
            env["METAFLOW_DEFAULT_DATASTORE"] = "local"
            env["METAFLOW_DEFAULT_METADATA"] = "local"
        return env

    def top_level_options(self) -> list[str]:
        """Options placed before the ``run`` command (Metaflow: skip pylint)."""
        return [] if self.name == FLOWTRACK else ["--no-pylint"]


@dataclass
class Result:
    """One headline number, with an optional target (lower is better)."""

    metric: str
    value: float
    unit: str
    target: float | None = None

    @property
    def status(self) -> str:
        """``ok``, ``MISS`` or ``-`` when there is no target."""
        if self.target is None:
            return "-"
        return "ok" if self.value <= self.target else "MISS"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def make_parser(description: str, repeat: int) -> argparse.ArgumentParser:
    """Argument parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--metaflow-python",
        default=os.environ.get("METAFLOW_PYTHON") or None,
        help="Python with Metaflow installed; enables the comparison (default: $METAFLOW_PYTHON)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="Python with flowtrack installed (default: this interpreter)",
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=repeat, help=f"timed runs (default {repeat})"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed per command (default 1800)"
    )
    parser.add_argument("--json", help="also write the headline results to this JSON file")
    return parser


def frameworks(args: argparse.Namespace) -> list[Framework]:
    """flowtrack, plus Metaflow when a Metaflow interpreter was given."""
    found = [Framework(FLOWTRACK, args.python)]
    if args.metaflow_python:
        found.append(Framework(METAFLOW, args.metaflow_python))
    return found


def check_importable(framework: Framework) -> None:
    """Fail early, and clearly, when the framework cannot be imported."""
    proc = subprocess.run(
        [framework.python, "-c", f"import {framework.name}"],
        capture_output=True,
        text=True,
        env=framework.env(Path(tempfile.gettempdir())),
    )
    if proc.returncode != 0:
        raise BenchmarkError(
            f"{framework.python} cannot import {framework.name}:\n{proc.stderr.strip()}"
        )


@contextlib.contextmanager
def temp_workdir(prefix: str) -> Iterator[Path]:
    """A fresh temporary directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"flowtrack-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_flow(workdir: Path, text: str, framework: Framework, name: str = "flow.py") -> Path:
    """Write flow ``text`` (written for flowtrack) for ``framework`` into ``workdir``."""
    path = workdir / name
    path.write_text(framework.flow_text(text))
    return path


def time_command(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[float, str]:
    """Run ``cmd``; return ``(wall seconds, stdout)``. Raise BenchmarkError on failure."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"timed out after {timeout:.0f}s: {' '.join(cmd)}") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise BenchmarkError(f"exit {proc.returncode}: {' '.join(cmd)} (in {cwd})\n{tail}")
    return elapsed, proc.stdout


def run_flow(
    framework: Framework, workdir: Path, flow: Path, run_args: Sequence[str], timeout: float
) -> float:
    """Run ``python flow.py run ARGS`` for ``framework`` in ``workdir``; return wall seconds.

    Dirty pages are flushed first (untimed) so earlier runs' writes do not throttle this one.
    """
    os.sync()
    cmd = [framework.python, flow.name, *framework.top_level_options(), "run", *run_args]
    elapsed, _ = time_command(cmd, workdir, framework.env(workdir), timeout)
    return elapsed


def time_runs(
    framework: Framework,
    workdir: Path,
    flow: Path,
    run_args: Sequence[str],
    args: argparse.Namespace,
) -> tuple[float, list[float]]:
    """Time a first run (which creates the store), then ``args.repeat`` more in the same store."""
    first = run_flow(framework, workdir, flow, run_args, args.timeout)
    timed = [run_flow(framework, workdir, flow, run_args, args.timeout) for _ in range(args.repeat)]
    return first, timed


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def dir_size(root: Path, select: Callable[[Path], bool] = lambda _: True) -> tuple[int, int]:
    """``(apparent bytes, allocated bytes)`` of the files under ``root`` that ``select`` keeps."""
    apparent = allocated = 0
    if not root.exists():
        return 0, 0
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath) / filename
            if not select(path):
                continue
            st = path.lstat()
            apparent += st.st_size
            allocated += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return apparent, allocated


def fmt_seconds(seconds: float) -> str:
    """Human-readable duration."""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(size: float) -> str:
    """Human-readable size (binary units)."""
    for unit in ("B", "KiB", "MiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.2f} GiB"


def fmt_ratio(numerator: float, denominator: float) -> str:
    """``numerator / denominator`` as ``1.23x``, or ``n/a``."""
    if denominator <= 0:
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def fmt_value(value: float, unit: str) -> str:
    """Format a Result value by its unit."""
    if unit == "s":
        return fmt_seconds(value)
    if unit == "B":
        return fmt_bytes(value)
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g} {unit}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain fixed-width table with a title line."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    for row in [list(map(str, headers)), ["-" * w for w in widths], *cells]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def report(benchmark: str, results: Sequence[Result], json_path: str | None) -> None:
    """Print the headline results against their targets; optionally write them as JSON."""
    rows = [
        (
            r.metric,
            fmt_value(r.value, r.unit),
            "-" if r.target is None else f"<= {fmt_value(r.target, r.unit)}",
            r.status,
        )
        for r in results
    ]
    print_table(f"{benchmark}: targets", ("metric", "flowtrack", "target", "status"), rows)
    if json_path:
        payload = {"benchmark": benchmark, "results": [asdict(r) for r in results]}
        Path(json_path).write_text(json.dumps(payload, indent=2))


def main_wrapper(run: Callable[[], None]) -> None:
    """Run a benchmark's main, turning BenchmarkError into a clean exit 1."""
    try:
        run()
    except BenchmarkError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)


# -- servers the benchmarks start ------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(command: list[str], port: int, env: dict[str, str], log: Path,
            new_session: bool = False) -> Iterator[str]:
    """Run a server command until it answers on ``port`` (its output in ``log``);
    yield its URL; stop it by pid afterwards. With ``new_session`` it gets a process
    group of its own, and whatever of that group outlives it is killed too."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=new_session)
    try:
        wait_for_port(process, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if new_session:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once ``port`` on 127.0.0.1 accepts; fail if ``process`` exits first."""
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise BenchmarkError(f"server exited {process.returncode}:\n"
                                 f"{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"server did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.2)
