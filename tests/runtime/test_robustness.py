"""Failure handling found in review: hashing across forks, foreach over a
parameter, parameters added before a resume, a bad --run-id-file, @catch on a
task killed for its timeout, and a fault inside the scheduler itself."""

from __future__ import annotations

import os

import pytest

from flowtrack import Flow
from flowtrack._config import settings
from flowtrack.lineage import Database
from flowtrack.runtime import Executor, RunOptions, Scheduler
from flowtrack.runtime._console import RunConsole
from flowtrack.runtime._recorder import RunRecorder
from flowtrack.store import BlobStore

BIG_INCLUDE_FLOW = """
    from flowtrack import FlowSpec, IncludeFile, step

    class BigIncludeFlow(FlowSpec):
        blob = IncludeFile("blob", is_text=False)

        @step
        def start(self):
            import numpy as np
            self.size = len(self.blob)
            self.arr = np.random.default_rng(1).random(1_000_000)  # 8 MB, hashed in threads
            self.next(self.end)

        @step
        def end(self):
            print("sum", float(self.arr.sum()) > 0)

    if __name__ == "__main__":
        BigIncludeFlow()
"""


def test_large_hash_in_the_scheduler_does_not_hang_tasks(write_flow, run_flow, tmp_path):
    # the scheduler hashes the 6 MB IncludeFile with several threads before forking
    # the task, which then hashes an 8 MB array: this used to deadlock the task
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    flow = write_flow(BIG_INCLUDE_FLOW)
    proc = run_flow(flow, "run", "--blob", str(big), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert Flow("BigIncludeFlow").latest_run.data.size == 6 * 1024 * 1024


FOREACH_PARAM_FLOW = """
    from flowtrack import FlowSpec, JSONType, Parameter, step

    class ParamForeachFlow(FlowSpec):
        items = Parameter("items", type=JSONType, default='[1, 2, 3]')

        @step
        def start(self):
            self.next(self.square, foreach="items")

        @step
        def square(self):
            self.sq = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.sq for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        ParamForeachFlow()
"""


def test_foreach_over_a_parameter(write_flow, run_flow):
    proc = run_flow(write_flow(FOREACH_PARAM_FLOW), "run", "--items", "[2, 3, 4]")
    assert proc.returncode == 0, proc.stderr
    assert Flow("ParamForeachFlow").latest_run.data.total == 4 + 9 + 16


RESUME_V1 = """
    import os
    from flowtrack import FlowSpec, Parameter, step

    class GrowFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            self.x = self.alpha
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END"):
                raise RuntimeError("end fails")
            self.result = self.x
    if __name__ == "__main__":
        GrowFlow()
"""

RESUME_V2 = RESUME_V1.replace('alpha = Parameter("alpha", default=1)',
                              'alpha = Parameter("alpha", default=1)\n'
                              '        beta = Parameter("beta", default=10)').replace(
    "self.result = self.x", "self.result = self.x + self.beta")


def test_resume_fills_a_new_parameter_from_its_default(write_flow, run_flow):
    flow = write_flow(RESUME_V1)
    failed = run_flow(flow, "run", "--alpha", "5", env={"FAIL_END": "1"})
    assert failed.returncode == 1
    write_flow(RESUME_V2)
    resumed = run_flow(flow, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "beta" in resumed.stdout and "defaults" in resumed.stdout
    run = Flow("GrowFlow").latest_run
    assert run.data.result == 15
    assert run.parameters == {"alpha": 5, "beta": 10}


def test_bad_run_id_file_is_a_clean_error_before_any_run(write_flow, run_flow, tmp_path):
    flow = write_flow(FOREACH_PARAM_FLOW)
    proc = run_flow(flow, "run", "--run-id-file", str(tmp_path / "no" / "such" / "dir" / "id"))
    assert proc.returncode == 1
    assert "--run-id-file" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(Exception, match="does not exist"):
        Flow("ParamForeachFlow")


CATCH_TIMEOUT_FLOW = """
    import signal, time
    from flowtrack import FlowSpec, catch, step, timeout

    class StubbornFlow(FlowSpec):
        @catch(var="failure")
        @timeout(seconds=1)
        @step
        def start(self):
            signal.signal(signal.SIGALRM, signal.SIG_IGN)  # defeat the in-task timer
            time.sleep(60)
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        StubbornFlow()
"""


def test_catch_stores_a_timeout_kill(write_flow, run_flow):
    proc = run_flow(write_flow(CATCH_TIMEOUT_FLOW), "run", timeout=60)
    assert proc.returncode == 0, proc.stderr
    run = Flow("StubbornFlow").latest_run
    failure = run["start"].task.data.failure
    assert failure.type.endswith(".TimeoutException")  # Metaflow's class for a timeout
    assert "@timeout of 1 s" in failure.message


class _BrokenExecutor(Executor):
    """An executor whose poll fails: stands for any fault inside the scheduler loop."""

    name = "broken"

    def submit(self, attempt):
        attempt.pid, attempt.host, attempt.executor = 0, "nowhere", self.name

    def poll(self, timeout):
        raise OSError("disk full")

    def cancel(self, attempt, reason):
        pass

    def shutdown(self):
        pass


def test_a_scheduler_fault_marks_the_run_failed(store_env, write_flow, monkeypatch):
    import importlib.util
    import sys

    from flowtrack._errors import RunFailedError

    path = write_flow(FOREACH_PARAM_FLOW)
    spec = importlib.util.spec_from_file_location("param_foreach_flow", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # inspect finds the source here
    spec.loader.exec_module(module)
    flow_cls = module.ParamForeachFlow
    cfg = settings()
    recorder = RunRecorder(Database.open(cfg.metadata_url), BlobStore(cfg.store_url))
    recorder.start_run("ParamForeachFlow", "1", "tester", [], None, str(path))
    scheduler = Scheduler(flow_cls, flow_cls._graph, recorder, _BrokenExecutor(),
                          RunConsole(quiet=True), RunOptions(user="tester"), "1", {})
    with pytest.raises(RunFailedError, match="internal error .*disk full"):
        scheduler.run()
    from flowtrack import namespace

    namespace(None)
    run = Flow("ParamForeachFlow").latest_run
    assert run.status == "FAILED"
    (task,) = run["start"].tasks()
    assert task.state == "failed"  # nothing is left RUNNING
