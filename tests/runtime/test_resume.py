"""Resume: re-running a run from its failed (or a named) step, cloning what finished."""

from __future__ import annotations

import pytest

from flowtrack import Flow, Run

from .conftest import FlowStore, run_id_of

CHAIN = """
    import os
    import random

    from flowtrack import FlowSpec, Parameter, current, step


    class ChainFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            # large enough to be a blob file of its own (not inlined)
            self.big = random.Random(7).randbytes(200_000)
            self.first = self.alpha
            self.next(self.middle)

        @step
        def middle(self):
            if os.environ.get("FAIL_MIDDLE") == "1":
                raise RuntimeError("middle is broken")
            self.second = self.first * 10 + self.alpha
            self.big_len = len(self.big)
            self.next(self.late)

        @step
        def late(self):
            self.third = self.second + 1
            self.late_marker = os.environ.get("LATE_MARKER", "original")
            self.origin_seen = current.origin_run_id
            self.next(self.end)

        @step
        def end(self):
            self.total = self.third


    if __name__ == "__main__":
        ChainFlow()
"""

SPLIT = """
    import os

    from flowtrack import FlowSpec, step


    class ResumeSplitFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.bad, self.good)

        @step
        def bad(self):
            if os.environ.get("FAIL_BAD") == "1":
                raise RuntimeError("bad branch fails")
            self.b = "bad fixed"
            self.next(self.join)

        @step
        def good(self):
            self.g = "good"
            self.next(self.join)

        @step
        def join(self, inputs):
            self.both = [inputs.bad.b, inputs.good.g]
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ResumeSplitFlow()
"""

FOREACH = """
    import os

    from flowtrack import FlowSpec, step


    class ResumeForeachFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3, 4]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            if self.input == 3 and os.environ.get("FAIL_ITEM") == "1":
                raise ValueError("item 3 fails")
            self.square = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.squares = sorted(inp.square for inp in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ResumeForeachFlow()
"""


@pytest.fixture(scope="module")
def chain(flow_store: FlowStore):
    return flow_store.write(CHAIN, "ChainFlow.py")


@pytest.fixture(scope="module")
def failed_then_resumed(flow_store: FlowStore, chain):
    """A run failing in 'middle' (with --alpha 3), then resumed with the fix."""
    failed = flow_store.run(chain, "run", "--alpha", "3", env={"FAIL_MIDDLE": "1"})
    assert failed.returncode != 0, failed.stdout + failed.stderr
    blobs_before = flow_store.blob_files()
    resumed = flow_store.run(chain, "resume", check=True)
    blobs_after = flow_store.blob_files()
    return {"failed": Run(f"ChainFlow/{run_id_of(failed)}"),
            "resumed": Run(f"ChainFlow/{run_id_of(resumed)}"),
            "blobs_before": blobs_before, "blobs_after": blobs_after,
            "resume_output": resumed.stdout}


def test_resume_reruns_from_failed_step(failed_then_resumed) -> None:
    failed, resumed = failed_then_resumed["failed"], failed_then_resumed["resumed"]
    assert failed.status == "FAILED"
    assert "middle" in failed and "late" not in failed
    assert resumed.successful
    assert resumed.status == "FINISHED"
    assert resumed.origin_run_id == failed.id
    assert f"origin_run_id:{failed.id}" in resumed.tags
    assert "Resuming run ChainFlow/" in failed_then_resumed["resume_output"]
    assert "from step 'middle'" in failed_then_resumed["resume_output"]
    assert resumed["middle"].task.origin_pathspec is None
    assert resumed["late"].task.origin_pathspec is None
    assert resumed.data.total == 3 * 10 + 3 + 1
    assert resumed["late"].task.data.origin_seen == failed.id


def test_resume_clones_earlier_tasks_by_reference(failed_then_resumed) -> None:
    failed, resumed = failed_then_resumed["failed"], failed_then_resumed["resumed"]
    origin_start, new_start = failed["start"].task, resumed["start"].task
    assert new_start.origin_pathspec == origin_start.pathspec
    assert new_start.pathspec != origin_start.pathspec
    assert new_start.successful
    assert new_start["big"].sha == origin_start["big"].sha
    assert new_start["first"].sha == origin_start["first"].sha
    assert new_start.data.big == origin_start.data.big
    assert resumed["middle"].task.data.big_len == 200_000
    # cloning copies no blob; the re-run steps wrote only small (inlined) values
    assert failed_then_resumed["blobs_after"] == failed_then_resumed["blobs_before"]
    assert origin_start["big"].sha in failed_then_resumed["blobs_before"]


def test_resume_takes_parameters_from_origin(failed_then_resumed) -> None:
    resumed = failed_then_resumed["resumed"]
    assert resumed.parameters == {"alpha": 3}
    assert resumed["middle"].task.data.second == 33


def test_resume_named_step_of_finished_run(flow_store: FlowStore, chain) -> None:
    origin = flow_store.run(chain, "run", check=True)
    origin_run = Run(f"ChainFlow/{run_id_of(origin)}")
    assert origin_run.data.late_marker == "original"
    proc = flow_store.run(chain, "resume", "late", env={"LATE_MARKER": "rerun"}, check=True)
    resumed = Run(f"ChainFlow/{run_id_of(proc)}")
    assert resumed.origin_run_id == origin_run.id
    for step in ("start", "middle"):
        assert resumed[step].task.origin_pathspec == origin_run[step].task.pathspec
    for step in ("late", "end"):
        assert resumed[step].task.origin_pathspec is None
    assert resumed.data.late_marker == "rerun"
    assert resumed.data.total == origin_run.data.total


def test_resume_origin_run_id(flow_store: FlowStore, chain) -> None:
    older = Run(f"ChainFlow/{run_id_of(flow_store.run(chain, 'run', '--alpha', '5', check=True))}")
    newer = Run(f"ChainFlow/{run_id_of(flow_store.run(chain, 'run', '--alpha', '6', check=True))}")
    assert Flow("ChainFlow").latest_run == newer
    proc = flow_store.run(chain, "resume", "middle", "--origin-run-id", older.id, check=True)
    resumed = Run(f"ChainFlow/{run_id_of(proc)}")
    assert resumed.origin_run_id == older.id
    assert resumed["start"].task.origin_pathspec == older["start"].task.pathspec
    assert resumed.parameters == {"alpha": 5}
    assert resumed.data.total == 5 * 10 + 5 + 1


def test_resume_unknown_origin_run_id(flow_store: FlowStore, chain) -> None:
    proc = flow_store.run(chain, "resume", "--origin-run-id", "999")
    assert proc.returncode != 0
    assert "ChainFlow/999 does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_resume_finished_run_without_step_is_a_clear_error(flow_store: FlowStore,
                                                           chain) -> None:
    origin = flow_store.run(chain, "run", check=True)
    runs_before = len(list(Flow("ChainFlow").runs()))
    proc = flow_store.run(chain, "resume")
    assert proc.returncode == 1
    assert f"ChainFlow/{run_id_of(origin)} finished successfully" in proc.stderr
    assert "resume STEP" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(list(Flow("ChainFlow").runs())) == runs_before


def test_resume_unknown_step_is_a_usage_error(flow_store: FlowStore, chain) -> None:
    proc = flow_store.run(chain, "resume", "nosuchstep")
    assert proc.returncode == 2
    assert "Usage:" in proc.stderr
    assert "'nosuchstep' is not a step of ChainFlow" in proc.stderr
    assert "start, middle, late, end" in proc.stderr


def test_resume_foreach_with_one_failed_split(flow_store: FlowStore) -> None:
    path = flow_store.write(FOREACH, "ResumeForeachFlow.py")
    failed = flow_store.run(path, "run", env={"FAIL_ITEM": "1"})
    assert failed.returncode != 0
    failed_run = Run(f"ResumeForeachFlow/{run_id_of(failed)}")
    body = list(failed_run["body"].tasks())
    assert len(body) == 4
    assert sorted(t.successful for t in body) == [False, True, True, True]
    assert [t.index for t in body if not t.successful] == [2]

    proc = flow_store.run(path, "resume", check=True)
    resumed = Run(f"ResumeForeachFlow/{run_id_of(proc)}")
    assert resumed.successful
    assert resumed["start"].task.origin_pathspec == failed_run["start"].task.pathspec
    new_body = sorted(resumed["body"].tasks(), key=lambda t: t.index)
    assert [t.index for t in new_body] == [0, 1, 2, 3]
    assert all(t.successful for t in new_body)
    assert [t.data.square for t in new_body] == [1, 4, 9, 16]
    assert resumed["join"].task.data.squares == [1, 4, 9, 16]
    # a plain resume reuses the items that succeeded; only the failed one ran again
    assert [t.origin_pathspec is not None for t in new_body] == [True, True, False, True]

    # resume STEP runs the whole step (and what follows) again
    proc = flow_store.run(path, "resume", "body", "--origin-run-id", resumed.id, check=True)
    again = Run(f"ResumeForeachFlow/{run_id_of(proc)}")
    assert all(t.origin_pathspec is None for t in again["body"].tasks())
    assert again["start"].task.origin_pathspec is not None


def test_resume_failed_branch_clones_the_other_branch(flow_store: FlowStore) -> None:
    path = flow_store.write(SPLIT, "ResumeSplitFlow.py")
    failed = flow_store.run(path, "run", env={"FAIL_BAD": "1"})
    assert failed.returncode != 0
    origin = Run(f"ResumeSplitFlow/{run_id_of(failed)}")
    assert origin["good"].task.successful and not origin["bad"].task.successful
    resumed = Run(f"ResumeSplitFlow/{run_id_of(flow_store.run(path, 'resume', check=True))}")
    assert resumed["good"].task.origin_pathspec == origin["good"].task.pathspec
    assert resumed["start"].task.origin_pathspec == origin["start"].task.pathspec
    assert resumed["bad"].task.origin_pathspec is None
    assert resumed["join"].task.data.both == ["bad fixed", "good"]


def test_resume_a_resumed_run(flow_store: FlowStore, chain) -> None:
    first = flow_store.run(chain, "run", "--alpha", "2", env={"FAIL_MIDDLE": "1"})
    second = flow_store.run(chain, "resume", env={"FAIL_MIDDLE": "1"})
    assert first.returncode != 0 and second.returncode != 0
    first_run, second_run = Run(f"ChainFlow/{run_id_of(first)}"), Run(f"ChainFlow/{run_id_of(second)}")
    assert second_run.origin_run_id == first_run.id
    third_run = Run(f"ChainFlow/{run_id_of(flow_store.run(chain, 'resume', check=True))}")
    assert third_run.origin_run_id == second_run.id
    assert third_run["start"].task.origin_pathspec == second_run["start"].task.pathspec
    assert third_run["start"].task["big"].sha == first_run["start"].task["big"].sha
    assert third_run.parameters == {"alpha": 2}
    assert third_run.data.total == 2 * 10 + 2 + 1


def _record_run_stopped_while_starting(flow_name: str) -> str:
    """A run recorded with no parameters and no task, as a run killed while it started
    was left by earlier flowtrack versions (now the run and its parameters are one
    transaction)."""
    from flowtrack.runtime._recorder import RunRecorder
    from flowtrack.runtime._run import _new_run_id, _open_backends

    recorder = RunRecorder(*_open_backends())
    run_id = _new_run_id()
    recorder.start_run(flow_name, run_id, "tester", [], None, "ChainFlow.py")
    recorder.close()
    return run_id


def test_resume_skips_and_refuses_a_run_stopped_while_starting(flow_store: FlowStore,
                                                              chain) -> None:
    failed = flow_store.run(chain, "run", "--alpha", "4", env={"FAIL_MIDDLE": "1"})
    assert failed.returncode != 0
    stale_id = _record_run_stopped_while_starting("ChainFlow")
    runs_before = len(list(Flow("ChainFlow").runs()))
    # named: refused before anything is recorded, saying why
    refused = flow_store.run(chain, "resume", "--origin-run-id", stale_id)
    assert refused.returncode == 1
    assert f"ChainFlow/{stale_id} cannot be resumed" in refused.stderr
    assert "before it recorded its parameters or ran any task" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(list(Flow("ChainFlow").runs())) == runs_before
    # plain resume passes over it to the latest run that started
    resumed = Run(f"ChainFlow/{run_id_of(flow_store.run(chain, 'resume', check=True))}")
    assert resumed.origin_run_id == run_id_of(failed)
    assert resumed.parameters == {"alpha": 4}
    assert resumed.successful


def test_a_refused_resume_leaves_no_run_behind(flow_store: FlowStore, chain) -> None:
    _record_run_stopped_while_starting("ChainFlow")
    stale_id = _record_run_stopped_while_starting("ChainFlow")
    runs_before = {r.id for r in Flow("ChainFlow").runs()}
    for _ in range(3):  # before, each try added a RUNNING run that the next one targeted
        proc = flow_store.run(chain, "resume", "--origin-run-id", stale_id)
        assert proc.returncode == 1
    assert {r.id for r in Flow("ChainFlow").runs()} == runs_before
