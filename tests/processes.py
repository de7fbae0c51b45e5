"""Server processes for tests: start a command that listens on a loopback port, wait
until it accepts connections (or fail with its log), and stop it by pid."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_listening(command: list[str], port: int, env: dict[str, str], log: Path,
                    timeout: float = 60, new_session: bool = False) -> subprocess.Popen[bytes]:
    """Start ``command`` (output to ``log``) and return once ``port`` accepts;
    ``new_session`` puts it and its children in a process group of their own."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=new_session)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{command[0]} exited {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            if time.monotonic() > deadline:
                stop(process)
                raise AssertionError(f"{command} did not listen on {port} within {timeout} s:"
                                     f"\n{log.read_text()}") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def listening(command: list[str], port: int, env: dict[str, str], log: Path,
              timeout: float = 60) -> Iterator[subprocess.Popen[bytes]]:
    process = start_listening(command, port, env, log, timeout)
    try:
        yield process
    finally:
        stop(process)
