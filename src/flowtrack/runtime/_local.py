"""The local executor: every task attempt is a process forked from the scheduler.

Forking the warm scheduler costs about a millisecond and re-imports nothing. The
child redirects fd 1 and 2 into pipes (so subprocesses are captured too), runs the
task entry point, writes the pickled manifest to a third pipe and leaves with
``os._exit``. A crash, ``os._exit``, segfault or kill in the child loses only that
attempt: the scheduler sees the process end without a manifest. Children run in
their own process group, so Ctrl-C reaches only the scheduler, which stops them.

Two variations use the same pipes and bookkeeping: a step with its own Python
environment (``@pypi``) cannot share the scheduler's imports, so its attempts are
spawned with that environment's interpreter (``_task_process``); and in a Ray
worker, attempts are forked by the worker's fork server (``_fork_server``), which
reports their exits.
"""

from __future__ import annotations

import gc
import os
import pickle
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from ..flow import FlowSpec
from ..store import BlobStore
from ._code import CodeInfo
from ._executor import Attempt, Executor, Finished, LogLine, TaskLaunchError
from ._fork_server import ForkServer
from ._model import Manifest
from ._pypi import PythonEnv, PythonEnvError, ensure_local_env, store_requirements
from ._task import run_task
from ._task_job import TaskJob, write_job

_READ_CHUNK = 1 << 16
_HOST = socket.gethostname()


_SERVER = (None, "fork-server")  # selector key of the fork server's socket


class _Child:
    """Parent-side state of one forked attempt."""

    def __init__(self, attempt: Attempt, fds: dict[int, str], pidfd: int | None,
                 remote: bool = False) -> None:
        self.attempt = attempt
        self.remote = remote  # forked by a fork server: its exit status comes from there
        self.fds = fds  # read fd -> "stdout" | "stderr" | "manifest"
        self.partial = {"stdout": b"", "stderr": b""}
        self.manifest = bytearray()
        self.pidfd = pidfd
        self.status: int | None = None


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, flow_cls: type[FlowSpec], store: BlobStore,
                 code: CodeInfo | None = None, spawn_envs: bool = True,
                 fork_server: ForkServer | None = None) -> None:
        self.flow_cls = flow_cls
        self.store = store
        self.code = code  # the run's code package: what spawned interpreters run
        self.interpreters: dict[str, str] = {}  # PythonEnv key -> its python (prepare_envs)
        # False where this process already runs in the step's environment (a Ray worker
        # in its runtime environment): then @pypi attempts are forked like the others
        self.spawn_envs = spawn_envs
        self._env_extra = store_requirements(store.url)  # what @pypi tasks need for the store
        self.selector = selectors.DefaultSelector()
        self.fork_server = fork_server  # forks attempts instead of this process (Ray)
        if fork_server is not None:
            self.selector.register(fork_server, selectors.EVENT_READ, _SERVER)
        self.children: dict[int, _Child] = {}
        self._has_pidfd = hasattr(os, "pidfd_open")

    def _pidfd(self, pid: int) -> int | None:
        """A descriptor that becomes readable when ``pid`` exits (Linux >= 5.3); without
        one, exits are found by polling ``waitpid``."""
        if not self._has_pidfd:
            return None
        try:
            return os.pidfd_open(pid)
        except OSError:  # an old kernel or a sandbox without the syscall
            self._has_pidfd = False
            return None

    def prepare_envs(self, envs: list[PythonEnv], log: Callable[[str], None]) -> None:
        """Build (or find cached) the virtualenvs of @pypi steps before the run starts."""
        if envs and self.code is None:
            raise PythonEnvError(
                f"Flow {self.flow_cls.__name__} has @pypi steps, which run the flow from its "
                "code package, but it was not defined in a file. Put the flow in a .py file "
                "and run it from there.")
        for env in envs:
            if env.key not in self.interpreters:
                self.interpreters[env.key] = str(ensure_local_env(env, self._env_extra, log))

    def submit(self, attempt: Attempt) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        man_r, man_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid, remote = self._launch(attempt, out_w, err_w, man_w, (out_r, err_r, man_r))
        except BaseException:
            for fd in (out_r, out_w, err_r, err_w, man_r, man_w):
                os.close(fd)
            raise
        for fd in (out_w, err_w, man_w):
            os.close(fd)
        attempt.pid, attempt.host, attempt.executor = pid, _HOST, self.name
        pidfd = None if remote else self._pidfd(pid)
        child = _Child(attempt, {out_r: "stdout", err_r: "stderr", man_r: "manifest"}, pidfd,
                       remote)
        self.children[pid] = child
        for fd in child.fds:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ, (pid, fd))
        if pidfd is not None:
            self.selector.register(pidfd, selectors.EVENT_READ, (pid, None))

    def _launch(self, attempt: Attempt, out_w: int, err_w: int, man_w: int,
                parent_ends: tuple[int, ...]) -> tuple[int, bool]:
        """Start the attempt's process; return its pid and whether a fork server
        (not this process) is its parent."""
        env = attempt.spec.python_env
        if env is not None and self.spawn_envs:
            return self._spawn(attempt, env, out_w, err_w, man_w), False
        if self.fork_server is not None:
            assert self.code is not None
            job = TaskJob(attempt.spec, self.code, self.store.url)
            return self.fork_server.launch(job, out_w, err_w, man_w), True
        return fork_attempt(attempt, self.flow_cls, self.store, out_w, err_w, man_w,
                            parent_ends, None), False

    def _spawn(self, attempt: Attempt, env: PythonEnv, out_w: int, err_w: int,
               man_w: int) -> int:
        """Start the attempt in the interpreter of the step's own environment."""
        if self.code is None:
            raise TaskLaunchError(
                f"Step '{attempt.spec.step}' has its own Python environment (@pypi), which runs "
                "the flow from its code package, but this flow was not defined in a file. Put "
                "the flow in a .py file and run it from there.")
        python = self.interpreters.get(env.key) or str(ensure_local_env(env, self._env_extra))
        job = write_job(TaskJob(attempt.spec, self.code, self.store.url))
        os.set_inheritable(man_w, True)
        child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        child_env["PYTHONUNBUFFERED"] = "1"
        try:
            return os.posix_spawn(
                python, [python, "-m", "flowtrack.runtime._task_process", job, str(man_w)],
                child_env, setpgroup=0,
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)])
        except OSError:
            os.unlink(job)  # the process that would have read it never started
            raise

    def poll(self, timeout: float) -> list[LogLine | Finished]:
        events: list[LogLine | Finished] = []
        if not self.children:
            time.sleep(min(timeout, 0.01))
            return events
        for key, _ in self.selector.select(timeout if self._has_pidfd else min(timeout, 0.02)):
            if key.data == _SERVER:
                self._server_exits()
                continue
            pid, fd = key.data
            child = self.children.get(pid)
            if child is None:
                continue
            if fd is None:
                _, child.status = os.waitpid(pid, 0)
            else:
                self._read(child, fd, events)
        for pid, child in list(self.children.items()):
            if child.status is None and not self._has_pidfd and not child.remote:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    child.status = status
            if child.status is not None:
                events.extend(self._finish(pid, child))
        return events

    def _server_exits(self) -> None:
        assert self.fork_server is not None
        for pid, status in self.fork_server.exits():
            if pid in self.children:
                self.children[pid].status = status

    def _read(self, child: _Child, fd: int, events: list[LogLine | Finished]) -> None:
        try:
            data = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return
        self._consume(child, fd, data, events)

    def _consume(self, child: _Child, fd: int, data: bytes,
                 events: list[LogLine | Finished]) -> None:
        if not data:  # EOF
            self._close_fd(child, fd)
            if not child.fds and child.status is None:
                if child.remote and _load_manifest(bytes(child.manifest)) is not None:
                    # it reported and closed its pipes: done, without waiting for the
                    # fork server's word on its exit (only used when it reports nothing)
                    child.status = 0
                elif not self._has_pidfd and not child.remote:
                    _, child.status = os.waitpid(child.attempt.pid or 0, 0)
            return
        stream = child.fds[fd]
        if stream == "manifest":
            child.manifest += data
            return
        buffer = child.attempt.stdout if stream == "stdout" else child.attempt.stderr
        buffer += data
        text = child.partial[stream] + data
        *lines, child.partial[stream] = text.split(b"\n")
        child.attempt.note_lines(stream, len(lines))
        events.extend(LogLine(child.attempt, stream, line.decode("utf-8", "replace"))
                      for line in lines)

    def _close_fd(self, child: _Child, fd: int) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        del child.fds[fd]

    def _drain(self, child: _Child, fd: int, events: list[LogLine | Finished]) -> None:
        """Read a pipe of an exited child to its end (a grandchild may still hold it)."""
        while fd in child.fds:
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                self._close_fd(child, fd)
                return
            self._consume(child, fd, data, events)

    def _finish(self, pid: int, child: _Child) -> list[LogLine | Finished]:
        events: list[LogLine | Finished] = []
        for fd in list(child.fds):
            self._drain(child, fd, events)
        for stream, rest in child.partial.items():
            if rest:
                events.append(LogLine(child.attempt, stream, rest.decode("utf-8", "replace")))
        if child.pidfd is not None:
            self.selector.unregister(child.pidfd)
            os.close(child.pidfd)
        del self.children[pid]
        manifest = _load_manifest(bytes(child.manifest))
        if child.attempt.killed_reason:
            manifest = None  # whatever it reported, the attempt was stopped from outside
        description = _describe_exit(child.status or 0, child.attempt.killed_reason)
        events.append(Finished(child.attempt, manifest, description))
        return events

    def cancel(self, attempt: Attempt, reason: str) -> None:
        attempt.killed_reason = reason
        if attempt.pid is not None and attempt.pid in self.children:
            _kill_group(attempt.pid)

    def shutdown(self) -> None:
        for pid, child in list(self.children.items()):
            child.attempt.killed_reason = child.attempt.killed_reason or "the run was interrupted"
            _kill_group(pid)

    def close(self) -> None:
        self.selector.close()


def fork_attempt(attempt: Attempt, flow_cls: type[FlowSpec], store: BlobStore,
                 out_w: int, err_w: int, man_w: int, parent_ends: tuple[int, ...],
                 setup: Callable[[], None] | None) -> int:
    """Fork a child that runs the attempt (see ``_child_main``); return its pid."""
    # CPython's recipe: freeze so the child's collections never touch (and so
    # copy) the parent's objects; unfreeze in the parent right after the fork
    parent = os.getpid()
    gc.disable()
    gc.freeze()
    try:
        pid = os.fork()
    finally:
        if os.getpid() == parent:
            gc.unfreeze()
            gc.enable()
    if pid == 0:  # child
        for fd in parent_ends:
            os.close(fd)
        _child_main(attempt, flow_cls, store, out_w, err_w, man_w, setup)
    return pid


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError):
            continue


def _load_manifest(data: bytes) -> Manifest | None:
    if not data:
        return None
    try:
        manifest = pickle.loads(data)
    except Exception:  # a child killed mid-write leaves a truncated manifest
        return None
    return manifest if isinstance(manifest, Manifest) else None


def _describe_exit(status: int, killed_reason: str | None) -> str:
    if killed_reason:
        return killed_reason
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"the task process was killed by signal {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"the task process exited with code {code} without reporting a result"


def _child_main(attempt: Attempt, flow_cls: type[FlowSpec], store: BlobStore,
                out_w: int, err_w: int, man_w: int,
                setup: Callable[[], None] | None) -> None:
    """Body of the forked child; never returns."""
    code = 0
    try:
        # collection stays off (as at the fork) except around the user's step code,
        # which run_task switches it on for: it costs ~0.5 ms per task otherwise
        die_with_parent()
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        line_buffered_stdio()
        if setup is not None:
            setup()
        manifest = run_task(attempt.spec, flow_cls, store)
        report_manifest(man_w, manifest)
    except BaseException:  # noqa: BLE001 - report anything rather than die silently
        code = 1
        report_crash()
    finally:
        os._exit(code)


def report_manifest(fd: int, manifest: Manifest) -> None:
    """Flush the task's output, then hand its manifest to the executor."""
    sys.stdout.flush()
    sys.stderr.flush()
    _write_all(fd, pickle.dumps(manifest, protocol=5))


def report_crash() -> None:
    try:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies, so no task
    outlives its run."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, sig)


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PR_SET_PDEATHSIG = 1
_PRCTL = _load_prctl()


def line_buffered_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure: Any = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(line_buffering=True)
            except Exception:  # a replaced stream (e.g. under a notebook) may refuse
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)
