"""What a failure leaves behind, as Metaflow records it: the ``@catch`` variable and
``task.exception`` are both Metaflow's ``MetaflowExceptionWrapper`` (``type`` is
``module.Class``, ``exception`` is ``str()`` of the exception, ``stacktrace`` the
traceback or None), and a crashed task says why in its stderr log as well."""

from __future__ import annotations

import copyreg
import io
import pickle
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from flowtrack import Run
from flowtrack.client import TaskException
from flowtrack.client._data import exception_type
from flowtrack.runtime._task import (
    FailureHandledByCatch,
    TaskCrashed,
    TimeoutException,
)

from .conftest import FlowStore, run_id_of

CAUGHT = """
    import os
    import time

    from flowtrack import FlowSpec, catch, retry, step, timeout
    from flowtrack.exception import ExternalCommandFailed


    class MyError(Exception):
        pass


    class CaughtFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.builtin, self.custom, self.ported, self.crashy, self.slow)

        @catch(var="ex", print_exception=False)
        @step
        def builtin(self):
            raise KeyError("Something has gone wrong")
            self.next(self.join)

        @catch(var="ex")
        @step
        def custom(self):
            raise MyError("mine")
            self.next(self.join)

        @catch(var="ex", print_exception=False)
        @step
        def ported(self):
            raise ExternalCommandFailed("catch me!")
            self.next(self.join)

        @retry(times=1)
        @catch(var="ex")
        @step
        def crashy(self):
            os._exit(5)
            self.next(self.join)

        @catch(var="ex")
        @timeout(seconds=1)
        @step
        def slow(self):
            time.sleep(30)
            self.next(self.join)

        @step
        def join(self, inputs):
            # the caught exception travels to the next step as any artifact does
            self.seen = {name: (getattr(inputs, name).ex.type, str(getattr(inputs, name).ex))
                         for name in ("builtin", "custom", "crashy")}
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        CaughtFlow()
"""

FAILED = """
    from flowtrack import FlowSpec, step


    class FailedFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.raising, self.segfault)

        @step
        def raising(self):
            raise KeyError("Something has gone wrong")
            self.next(self.join)

        @step
        def segfault(self):
            import ctypes

            print("about to crash", flush=True)
            ctypes.string_at(0)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FailedFlow()
"""


@pytest.fixture(scope="module")
def runs(flow_store: FlowStore) -> SimpleNamespace:
    caught = flow_store.run(flow_store.write(CAUGHT, "CaughtFlow.py"), "run", check=True)
    failed = flow_store.run(flow_store.write(FAILED, "FailedFlow.py"), "run")
    assert failed.returncode != 0
    return SimpleNamespace(caught=Run(f"CaughtFlow/{run_id_of(caught)}"), caught_proc=caught,
                           failed=Run(f"FailedFlow/{run_id_of(failed)}"), failed_proc=failed)


def _ex(run: Run, step: str) -> Any:
    return run[step].task.data.ex


# -- the @catch variable ------------------------------------------------------------
def test_catch_var_is_metaflows_wrapper(runs: SimpleNamespace) -> None:
    from flowtrack.exception import MetaflowExceptionWrapper

    ex = _ex(runs.caught, "builtin")
    assert isinstance(ex, MetaflowExceptionWrapper) and isinstance(ex, Exception)
    assert ex.type == "builtins.KeyError"
    assert ex.exception == "'Something has gone wrong'"  # str(KeyError(...)), quoted
    assert ex.stacktrace.startswith("Traceback (most recent call last):")
    assert "in builtin" in ex.stacktrace
    assert ex.stacktrace.rstrip().endswith("KeyError: 'Something has gone wrong'")
    assert str(ex) == ex.stacktrace and repr(ex) == str(ex)
    # flowtrack's earlier names for the same fields
    assert ex.message == ex.exception and ex.traceback == ex.stacktrace


def test_type_of_a_class_in_the_flow_file_is_main(runs: SimpleNamespace) -> None:
    ex = _ex(runs.caught, "custom")
    assert ex.type == "__main__.MyError"
    assert ex.exception == "mine"
    assert ex.stacktrace.rstrip().endswith("MyError: mine")  # as Python prints it


def test_type_of_a_ported_metaflow_exception(runs: SimpleNamespace) -> None:
    # recorded under Metaflow's name, as Metaflow records it (its test checks this)
    ex = _ex(runs.caught, "ported")
    assert ex.type == "metaflow.exception.ExternalCommandFailed"
    assert ex.exception == "catch me!"


def test_a_crash_is_failure_handled_by_catch(runs: SimpleNamespace) -> None:
    task = runs.caught["crashy"].task
    ex = task.data.ex
    assert ex.type == exception_type(FailureHandledByCatch)
    assert ex.type.endswith(".FailureHandledByCatch")  # as Metaflow's
    # Metaflow's wording, then what flowtrack saw of the last attempt
    assert ex.exception.startswith(
        "Task execution kept failing over 2 attempts. Your code did not raise an exception. "
        "Something in the execution environment caused the failure")
    assert "exited with code 5" in ex.exception
    assert ex.stacktrace is None and ex.traceback == ""
    assert str(ex) == f"[no stacktrace]\n{ex.type}: {ex.exception}"
    assert task.successful and task.current_attempt == 2


def test_a_timeout_is_timeout_exception(runs: SimpleNamespace) -> None:
    ex = _ex(runs.caught, "slow")
    assert ex.type == exception_type(TimeoutException)
    assert ex.type.endswith(".TimeoutException")  # as Metaflow's
    assert "timed out" in ex.exception and "@timeout of 1 s" in ex.exception
    assert "in slow" in ex.stacktrace


def test_caught_exception_is_an_artifact_downstream(runs: SimpleNamespace) -> None:
    seen = runs.caught["join"].task.data.seen
    assert seen["builtin"][0] == "builtins.KeyError"
    assert seen["custom"][0] == "__main__.MyError"
    assert seen["crashy"][1].startswith("[no stacktrace]\n")


def test_console_shows_short_type_names(runs: SimpleNamespace) -> None:
    out = runs.caught_proc.stdout
    assert "@catch stored the exception (MyError: mine)" in out
    assert "MyError: mine" in runs.caught["custom"].task.stderr  # the printed traceback


# -- task.exception -----------------------------------------------------------------
def test_task_exception_of_a_failed_task(runs: SimpleNamespace) -> None:
    exc = runs.failed["raising"].task.exception
    assert isinstance(exc, TaskException)
    assert exc.type == "builtins.KeyError"
    assert exc.exception == "'Something has gone wrong'"
    assert "KeyError" in str(exc)  # Metaflow's task_exception test
    assert str(exc) == exc.stacktrace and repr(exc) == str(exc)
    assert "in raising" in exc.stacktrace
    assert exc.message == exc.exception and exc.traceback == exc.stacktrace


def test_segfault_in_stderr_and_exception(runs: SimpleNamespace) -> None:
    task = runs.failed["segfault"].task
    assert "about to crash" in task.stdout
    assert "Task failed with a segmentation fault." in task.stderr  # Metaflow's line
    exc = task.exception
    assert exc is not None
    assert exc.type == exception_type(TaskCrashed)
    assert "segmentation fault" in exc.exception and "SIGSEGV" in exc.exception
    assert exc.stacktrace is None
    assert "segmentation fault" in str(exc)


def test_run_failure_message_keeps_short_names(runs: SimpleNamespace) -> None:
    # the console and the final error name the class as Python prints it
    assert "KeyError: 'Something has gone wrong'" in runs.failed_proc.stdout
    assert "builtins.KeyError" not in runs.failed_proc.stdout


# -- the class itself ---------------------------------------------------------------
def test_wrapping_a_live_exception_as_metaflow_does() -> None:
    outside = TaskException(ValueError("no traceback"))
    assert outside.type == "builtins.ValueError" and outside.exception == "no traceback"
    assert outside.stacktrace is None
    assert str(outside) == "[no stacktrace]\nbuiltins.ValueError: no traceback"
    try:
        raise ZeroDivisionError("inside")
    except ZeroDivisionError as err:
        inside = TaskException(err)
    assert inside.type == "builtins.ZeroDivisionError"
    assert inside.stacktrace is not None and "raise ZeroDivisionError" in inside.stacktrace
    assert str(inside) == inside.stacktrace


def test_pickles_with_its_fields() -> None:
    original = TaskException("__main__.MyError", "mine", "Traceback ...\n")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is TaskException
    assert (copy.type, copy.exception, copy.stacktrace) == ("__main__.MyError", "mine",
                                                           "Traceback ...\n")


class _OldStylePickler(pickle.Pickler):
    """Pickles a TaskException as a CaughtException of earlier versions was pickled:
    a plain object rebuilt with ``__newobj__`` and given its dict."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, TaskException):
            state = {"type": "ValueError", "message": "caught-me", "traceback": "",
                     "exception": "ValueError: caught-me"}
            return copyreg.__newobj__, (type(obj),), state  # type: ignore[attr-defined]
        return NotImplemented


def test_reads_what_earlier_versions_stored() -> None:
    buffer = io.BytesIO()
    _OldStylePickler(buffer, protocol=0).dump(TaskException())
    # under the module and name it had then (protocol 0 names classes as plain text)
    data = buffer.getvalue().replace(b"cflowtrack.client._data\nTaskException\n",
                                     b"cflowtrack.runtime._task\nCaughtException\n")
    assert b"CaughtException" in data
    old = pickle.loads(data)
    assert isinstance(old, TaskException)
    assert (old.type, old.exception, old.stacktrace) == ("ValueError", "caught-me", None)
    assert old.message == "caught-me"
    assert str(old) == "[no stacktrace]\nValueError: caught-me"


def test_exception_wrapper_alias_is_lazy_and_the_catch_class() -> None:
    code = ("import sys, flowtrack.exception as e\n"
            "assert 'flowtrack.client._data' not in sys.modules\n"
            "from flowtrack.client import TaskException\n"
            "from flowtrack.runtime._task import CaughtException\n"
            "assert e.MetaflowExceptionWrapper is TaskException is CaughtException\n")
    subprocess.run([sys.executable, "-c", code], check=True)
