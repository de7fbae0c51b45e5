"""A fork server: a small, warm process that forks task attempts for a Ray worker.

Forking a Ray worker costs several milliseconds (it maps gigabytes of shared memory
and runs dozens of threads; here about 7 ms per fork and exit), more than a trivial
task itself. So each Ray worker starts one fork server, a fresh interpreter that
imports the runtime and the flow once and forks every attempt from there, like the
local executor forks from the scheduler. The worker keeps the attempt's pipes
(stdout, stderr, manifest) and reads them exactly as the local executor does; only
the fork happens in the server.

Protocol, over a Unix socket pair: the worker sends ``(TaskJob, environment)``
with the three write ends of the attempt's pipes attached (SCM_RIGHTS); the
server answers ``("started", pid)`` (or ``("failed", why)``), and
``("exited", pid, wait_status)`` when that child ends. The child runs with the
worker's environment of that moment (Ray sets per-task variables such as
``CUDA_VISIBLE_DEVICES``). When the worker dies (Ray cancels a task by killing
it), the server gets SIGTERM and kills its children's process groups, so nothing
a step started outlives it.

    python -m flowtrack.runtime._fork_server SOCKET_FD
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
from typing import Any

from ..cards import preload_renderers
from ._code import install_as_main
from ._executor import Attempt, TaskLaunchError
from ._task_job import TaskJob, job_store, load_job_flow

_HEADER = struct.Struct("!I")
_FDS_PER_JOB = 3


def send_message(sock: socket.socket, message: Any, fds: tuple[int, ...] = ()) -> None:
    payload = pickle.dumps(message, protocol=5)
    header = _HEADER.pack(len(payload))
    if fds:
        socket.send_fds(sock, [header], list(fds))
    else:
        sock.sendall(header)
    sock.sendall(payload)


def receive_message(sock: socket.socket) -> tuple[Any, list[int]] | None:
    """One message and the descriptors sent with it; None when the peer is gone."""
    header, fds, _, _ = socket.recv_fds(sock, _HEADER.size, _FDS_PER_JOB)
    if not header:
        return None
    while len(header) < _HEADER.size:
        more = sock.recv(_HEADER.size - len(header))
        if not more:
            return None
        header += more
    (size,) = _HEADER.unpack(header)
    payload = bytearray()
    while len(payload) < size:
        chunk = sock.recv(min(size - len(payload), 1 << 20))
        if not chunk:
            return None
        payload += chunk
    return pickle.loads(payload), fds


class ForkServer:
    """The worker's side: starts the server and asks it to fork attempts."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        # the server imports what this process can (Ray adds entries to sys.path)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowtrack.runtime._fork_server", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self.sock = ours
        self._exits: list[tuple[int, int]] = []  # reported before anyone asked

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def launch(self, job: TaskJob, out_w: int, err_w: int, man_w: int) -> int:
        """Fork the job's attempt in the server, with this process's environment as
        it is now; return the child's pid."""
        send_message(self.sock, (job, dict(os.environ)), (out_w, err_w, man_w))
        while True:
            reply = receive_message(self.sock)
            if reply is None:
                raise RuntimeError("the flowtrack fork server exited; see the worker's log")
            message, _ = reply
            if message[0] == "started":
                return int(message[1])
            if message[0] == "failed":
                raise TaskLaunchError(f"The task could not be started: {message[1]}")
            self._exits.append((message[1], message[2]))

    def exits(self) -> list[tuple[int, int]]:
        """``(pid, wait status)`` of children that ended (call when readable)."""
        reply = receive_message(self.sock)
        if reply is None:
            raise RuntimeError("the flowtrack fork server exited; see the worker's log")
        found, self._exits = self._exits, []
        message, _ = reply
        if message[0] == "exited":
            found.append((message[1], message[2]))
        return found

    def close(self) -> None:
        self.sock.close()  # the server sees EOF, stops its children and leaves
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(sock: socket.socket) -> None:
    """The server loop: fork what is asked, report exits, stop at EOF."""
    from ._local import die_with_parent  # see _fork

    children: dict[int, int | None] = {}  # pid -> pidfd (None without pidfd support)

    def worker_died(_signum: int, _frame: Any) -> None:
        _stop(children)
        os._exit(0)

    signal.signal(signal.SIGTERM, worker_died)
    die_with_parent(signal.SIGTERM)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, None)
    while True:
        timeout = 0.02 if None in children.values() else None
        for key, _ in selector.select(timeout):
            if key.data is None:
                request = receive_message(sock)
                if request is None:
                    _stop(children)
                    return
                _start(sock, selector, children, *request)
            else:
                _reap(sock, selector, children, key.data)
        for pid in [p for p, fd in children.items() if fd is None]:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                _reap(sock, selector, children, pid, status)


def _start(sock: socket.socket, selector: selectors.BaseSelector,
           children: dict[int, int | None], request: tuple[TaskJob, dict[str, str]],
           fds: list[int]) -> None:
    job, environment = request
    try:
        pid = _fork(job, environment, fds)
    except Exception as exc:  # noqa: BLE001 - the worker reports it as the attempt's failure
        send_message(sock, ("failed", f"{type(exc).__name__}: {exc}"))
        return
    try:
        children[pid] = os.pidfd_open(pid)
        selector.register(children[pid], selectors.EVENT_READ, pid)  # type: ignore[arg-type]
    except (AttributeError, OSError):  # no pidfd (an old kernel): poll with waitpid
        children[pid] = None
    send_message(sock, ("started", pid))


def _reap(sock: socket.socket, selector: selectors.BaseSelector,
          children: dict[int, int | None], pid: int, status: int | None = None) -> None:
    """Report a child's end (``status``: already collected by ``waitpid``)."""
    if status is None:
        status = os.waitpid(pid, 0)[1]
    pidfd = children.pop(pid)
    if pidfd is not None:
        selector.unregister(pidfd)
        os.close(pidfd)
    send_message(sock, ("exited", pid, status))


def _fork(job: TaskJob, environment: dict[str, str], fds: list[int]) -> int:
    from ._local import fork_attempt  # _local starts fork servers: imported when serving

    def setup() -> None:  # in the child, before the task
        install_as_main(module)
        os.environ.clear()
        os.environ.update(environment)

    try:
        out_w, err_w, man_w = fds
        flow_cls, module = load_job_flow(job)
        if job.spec.cards:
            preload_renderers()  # once per server (cheap after): its forks inherit it
        return fork_attempt(Attempt(job.spec), flow_cls, job_store(job.store_url),
                            out_w, err_w, man_w, (), setup)
    finally:
        for fd in fds:
            os.close(fd)


def _stop(children: dict[int, int | None]) -> None:
    for pid in children:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
