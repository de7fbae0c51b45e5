"""The parts of Metaflow's client contract added for issue 15, over real runs: parents
and children of objects, steps and tasks, ``_namespace_check``, tags on every object
and their mutation rules, ``origin_pathspec``, ``Task.metadata`` and ``loglines``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from flowtrack import DataArtifact, Flow, Metaflow, Run, Step, Task, namespace
from flowtrack._errors import FlowtrackError, NotFoundError
from flowtrack.client import Metadata, TaggingError, _objects
from tests.conftest import isolated_store

DAG_FLOW = """
    import os
    import sys
    import time

    from flowtrack import FlowSpec, step


    class DagFlow(FlowSpec):
        @step
        def start(self):
            self.x = 1
            self.items = [1, 2, 3]
            print("one")
            time.sleep(0.3)  # so the two lines are read at different times
            print("two")
            print("warn", file=sys.stderr)
            self.next(self.fan, self.other)

        @step
        def fan(self):
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.y = self.input * 10
            self.next(self.collect)

        @step
        def collect(self, inputs):
            self.part = sum(i.y for i in inputs)
            self.next(self.merge)

        @step
        def other(self):
            self.part = 5
            self.next(self.merge)

        @step
        def merge(self, inputs):
            if os.environ.get("FAIL_MERGE") == "1":
                raise RuntimeError("merge refused")
            self.result = sum(i.part for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        DagFlow()
"""


def _run(root: Path, home: Path, path: Path, *args: str, check: bool = True,
         **env: str) -> str:
    full = dict(os.environ)
    full.update(FLOWTRACK_HOME=str(home), FLOWTRACK_USER="tester", PYTHONUNBUFFERED="1")
    full.pop("FLOWTRACK_STORE", None)
    full.update(env)
    proc = subprocess.run([sys.executable, str(path), *args], cwd=root, env=full,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"flow exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    found = re.search(r"run-id (\d+)", proc.stdout)
    assert found, proc.stdout + proc.stderr
    return found.group(1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """DagFlow runs: ok (tag first), failed at merge (tag doomed), and its resume."""
    root = tmp_path_factory.mktemp("mfapi")
    home = root / "ft-home"
    path = root / "dag_flow.py"
    path.write_text(textwrap.dedent(DAG_FLOW))
    with isolated_store(home):
        ok = _run(root, home, path, "run", "--tag", "first")
        failed = _run(root, home, path, "run", "--tag", "doomed", check=False, FAIL_MERGE="1")
        resumed = _run(root, home, path, "resume", "--origin-run-id", failed)
        yield SimpleNamespace(ok=Run(f"DagFlow/{ok}"), failed=Run(f"DagFlow/{failed}"),
                              resumed=Run(f"DagFlow/{resumed}"))


@pytest.fixture(autouse=True)
def _default_namespace() -> Iterator[None]:
    _objects._namespace = _objects._UNSET
    yield
    _objects._namespace = _objects._UNSET


def _by_index(step: Step) -> list[Task]:
    return sorted(step, key=lambda t: t.index)


# -- parents --------------------------------------------------------------------------
def test_parent_of_each_object(runs: SimpleNamespace) -> None:
    run = runs.ok
    flow = run.parent
    assert isinstance(flow, Flow) and flow == Flow("DagFlow")
    assert flow.parent is None
    step = run["body"]
    assert step.parent == run and isinstance(step.parent, Run)
    task = _by_index(step)[1]
    assert isinstance(task.parent, Step) and task.parent == step
    artifact = task["y"]
    assert isinstance(artifact.parent, Task) and artifact.parent == task
    assert artifact.parent.parent.parent.parent == flow


def test_a_step_that_did_not_run_is_not_found(runs: SimpleNamespace) -> None:
    with pytest.raises(NotFoundError, match="has no step 'end'"):
        Step(f"{runs.failed.pathspec}/end")


# -- steps of the graph -------------------------------------------------------------
def test_child_steps_follow_the_graph(runs: SimpleNamespace) -> None:
    run = runs.ok
    children = run["start"].child_steps
    assert isinstance(children, Iterator)  # a generator, as in Metaflow
    assert list(children) == [Step(f"{run.pathspec}/fan"), Step(f"{run.pathspec}/other")]
    assert all(isinstance(s, Step) for s in run["start"].child_steps)
    assert [s.id for s in run["fan"].child_steps] == ["body"]
    assert [s.id for s in run["collect"].child_steps] == ["merge"]
    assert list(run["end"].child_steps) == []


def test_parent_steps_follow_the_graph(runs: SimpleNamespace) -> None:
    run = runs.ok
    parents = run["merge"].parent_steps
    assert isinstance(parents, Iterator)
    assert {s.id for s in parents} == {"collect", "other"}
    assert [s.id for s in run["body"].parent_steps] == ["fan"]
    assert [s.id for s in run["fan"].parent_steps] == ["start"]
    assert list(run["start"].parent_steps) == []


def test_child_steps_leave_out_steps_that_did_not_run(runs: SimpleNamespace) -> None:
    failed = runs.failed
    assert "end" not in failed
    assert list(failed["merge"].child_steps) == []  # Metaflow would raise on 'end'
    assert [s.id for s in failed["collect"].child_steps] == ["merge"]


# -- tasks of the graph -------------------------------------------------------------
def test_parent_tasks(runs: SimpleNamespace) -> None:
    run = runs.ok
    start, fan, other = run["start"].task, run["fan"].task, run["other"].task
    body = _by_index(run["body"])
    collect, merge, end = run["collect"].task, run["merge"].task, run["end"].task
    assert isinstance(start.parent_tasks, Iterator)
    assert list(start.parent_tasks) == []
    assert list(fan.parent_tasks) == [start]
    assert all(list(t.parent_tasks) == [fan] for t in body)
    assert list(collect.parent_tasks) == body  # in the order of the join's inputs
    assert set(merge.parent_tasks) == {collect, other}
    assert list(end.parent_tasks) == [merge]
    assert all(isinstance(t, Task) for t in merge.parent_tasks)
    assert isinstance(collect.parent_task_pathspecs, Iterator)
    assert list(collect.parent_task_pathspecs) == [t.pathspec for t in body]


def test_child_tasks(runs: SimpleNamespace) -> None:
    run = runs.ok
    start, fan, other = run["start"].task, run["fan"].task, run["other"].task
    body = _by_index(run["body"])
    collect, merge, end = run["collect"].task, run["merge"].task, run["end"].task
    assert isinstance(start.child_tasks, Iterator)
    assert list(start.child_tasks) == [fan, other]  # in the order of the step's next
    assert list(fan.child_tasks) == body
    assert all(list(t.child_tasks) == [collect] for t in body)
    assert list(collect.child_tasks) == [merge]
    assert list(other.child_tasks) == [merge]
    assert list(merge.child_tasks) == [end]
    assert list(end.child_tasks) == []
    assert isinstance(fan.child_task_pathspecs, Iterator)
    assert list(fan.child_task_pathspecs) == [t.pathspec for t in body]


def test_parent_and_child_tasks_of_a_resumed_run_stay_in_that_run(
        runs: SimpleNamespace) -> None:
    resumed = runs.resumed
    merge = resumed["merge"].task  # ran again
    collect = resumed["collect"].task  # cloned from the failed run
    assert collect.origin_pathspec is not None
    assert set(merge.parent_tasks) == {collect, resumed["other"].task}
    assert list(collect.child_tasks) == [merge]
    assert all(t.pathspec.startswith(resumed.pathspec + "/") for t in merge.parent_tasks)


# -- namespaces ---------------------------------------------------------------------
def test_namespace_check_can_be_skipped_on_every_object(runs: SimpleNamespace) -> None:
    run = runs.ok
    task = run["start"].task
    namespace("user:nobody")
    with pytest.raises(NotFoundError, match="not in namespace 'user:nobody'"):
        Run(run.pathspec)
    with pytest.raises(NotFoundError, match="not in namespace 'user:nobody'"):
        Step(f"{run.pathspec}/start")
    with pytest.raises(NotFoundError, match="not in namespace 'user:nobody'"):
        Task(task.pathspec)
    with pytest.raises(NotFoundError, match="not in namespace 'user:nobody'"):
        DataArtifact(f"{task.pathspec}/x")
    with pytest.raises(NotFoundError, match="no runs in namespace 'user:nobody'"):
        Flow("DagFlow")

    assert Run(run.pathspec, _namespace_check=False) == run
    assert Step(f"{run.pathspec}/start", _namespace_check=False).task == task
    assert Task(task.pathspec, _namespace_check=False).data.x == 1
    assert DataArtifact(f"{task.pathspec}/x", _namespace_check=False).data == 1
    unchecked = Flow("DagFlow", _namespace_check=False)
    # an unchecked flow lists every run; its children are unchecked too
    assert {r.id for r in unchecked.runs()} == {runs.ok.id, runs.failed.id, runs.resumed.id}
    assert unchecked[run.id]["start"].task == task
    assert Run(run.pathspec, _namespace_check=False)["start"][task.id] == task


def test_a_flow_needs_a_run_in_the_namespace(runs: SimpleNamespace) -> None:
    assert Flow("DagFlow").id == "DagFlow"
    namespace("user:nobody")
    assert "DagFlow" not in {f.id for f in Metaflow()}
    with pytest.raises(NotFoundError):
        Metaflow()["DagFlow"]
    namespace("first")  # any tag is a namespace
    assert Metaflow()["DagFlow"] == Flow("DagFlow")
    assert [r.id for r in Flow("DagFlow")] == [runs.ok.id]
    namespace(None)
    assert "DagFlow" in {f.id for f in Metaflow().flows}
    with pytest.raises(NotFoundError, match="does not exist"):
        Flow("NoSuchFlow")


def test_is_in_namespace(runs: SimpleNamespace) -> None:
    run = runs.ok
    task = run["start"].task
    assert run.is_in_namespace() and task.is_in_namespace()
    assert Flow("DagFlow").is_in_namespace()
    namespace("doomed")
    assert not run.is_in_namespace() and not task.is_in_namespace()
    assert run["start"].is_in_namespace() is False
    assert Flow("DagFlow").is_in_namespace()  # the failed run carries 'doomed'
    namespace(None)
    assert run.is_in_namespace() and task["x"].is_in_namespace()


# -- tags ---------------------------------------------------------------------------
def test_steps_tasks_and_artifacts_carry_their_runs_tags(runs: SimpleNamespace) -> None:
    run = runs.ok
    step = run["body"]
    task = step.task
    assert task is not None
    for obj in (step, task, task["y"]):
        assert obj.tags == run.tags
        assert obj.user_tags == run.user_tags == frozenset({"first"})
        assert obj.system_tags == run.system_tags
        assert "user:tester" in obj.system_tags
    flow = Flow("DagFlow")
    assert flow.tags == flow.user_tags == flow.system_tags == frozenset()


def test_steps_and_tasks_filtered_by_tags(runs: SimpleNamespace) -> None:
    run = runs.ok
    assert list(run.steps("first")) == list(run.steps())
    assert list(run.steps("first", "user:tester")) == list(run)
    assert list(run.steps("first", "doomed")) == []
    body = run["body"]
    assert list(body.tasks("first")) == list(body)
    assert list(body.tasks("nope")) == []


def test_replace_tags(runs: SimpleNamespace) -> None:
    run = runs.failed
    assert run.user_tags == frozenset({"doomed"})
    assert run.replace_tag("doomed", "retried") is None
    assert run.user_tags == frozenset({"retried"})
    assert Run(run.pathspec, _namespace_check=False).user_tags == frozenset({"retried"})
    run.replace_tags(["retried"], ["a", "b"])
    assert run.user_tags == frozenset({"a", "b"})
    run.replace_tags(["a"], ["a", "c"])  # removal first, then addition
    assert run.user_tags == frozenset({"a", "b", "c"})
    run.replace_tags(["nope"], ["d"])  # removing a tag the run lacks is no error
    assert run.user_tags == frozenset({"a", "b", "c", "d"})
    # a system tag given to add is ignored, not made a user tag
    run.replace_tags([], ["user:tester", "e"])
    assert run.user_tags == frozenset({"a", "b", "c", "d", "e"})
    assert "user:tester" in run.system_tags
    run.add_tag(["f", "g"])  # add_tag takes one tag or several (as in Metaflow)
    run.remove_tag(["f", "g"])
    run.remove_tags(["a", "b", "c", "d", "e"])
    run.add_tags(["doomed"])
    assert run.user_tags == frozenset({"doomed"})
    assert run["start"].tags == run.tags


@pytest.mark.parametrize("call, message", [
    (lambda r: r.replace_tags([], []), "Must add or remove at least one tag"),
    (lambda r: r.replace_tags("doomed", ["x"]), "tags_to_remove may not be a string"),
    (lambda r: r.replace_tags([], "x"), "tags_to_add may not be a string"),
    (lambda r: r.add_tags("xyz"), "tags_to_add may not be a string"),
    (lambda r: r.replace_tags([], 5), "tags_to_add must be iterable"),
    (lambda r: r.add_tag(""), "Tags must not be empty string"),
    (lambda r: r.add_tag("x" * 501), "Tag is too long 501 > 500"),
    (lambda r: r.add_tags([7]), "Tags must be some kind of string"),
    (lambda r: r.remove_tag("user:tester"), "Cannot remove a tag that is an existing system tag"),
    (lambda r: r.replace_tag("user:tester", "x"), "existing system tag"),
    (lambda r: r.add_tags([f"t{i}" for i in range(50)]), "Cannot increase size of tag set beyond 50"),
])
def test_tag_mutation_errors(runs: SimpleNamespace, call, message) -> None:
    run = runs.failed
    before = run.user_tags
    with pytest.raises(TaggingError, match=re.escape(message)):
        call(run)
    assert run.user_tags == before
    assert Run(run.pathspec, _namespace_check=False).user_tags == before
    assert issubclass(TaggingError, FlowtrackError)


def test_a_tag_set_above_the_limit_may_shrink(runs: SimpleNamespace) -> None:
    run = runs.failed
    many = [f"m{i}" for i in range(49)]
    run.add_tags(many)  # 50 with 'doomed'
    assert len(run.user_tags) == 50
    with pytest.raises(TaggingError):
        run.add_tag("one-more")
    run.replace_tag("m0", "swapped")  # the same size is allowed
    assert "swapped" in run.user_tags and len(run.user_tags) == 50
    run.remove_tags([*many, "swapped"])
    assert run.user_tags == frozenset({"doomed"})


# -- origins --------------------------------------------------------------------------
def test_origin_pathspec_of_a_resumed_run(runs: SimpleNamespace) -> None:
    failed, resumed = runs.failed, runs.resumed
    assert resumed.origin_pathspec == failed.pathspec
    assert resumed["start"].origin_pathspec == f"{failed.pathspec}/start"
    assert resumed["merge"].origin_pathspec == f"{failed.pathspec}/merge"
    cloned = resumed["start"].task
    assert cloned.origin_pathspec == failed["start"].task.pathspec
    assert cloned["x"].origin_pathspec == f"{failed['start'].task.pathspec}/x"
    rerun = resumed["merge"].task
    assert rerun.origin_pathspec is None
    assert rerun["result"].origin_pathspec is None
    assert Flow("DagFlow").origin_pathspec is None


def test_origin_pathspec_of_a_fresh_run_is_none(runs: SimpleNamespace) -> None:
    run = runs.ok
    assert run.origin_pathspec is None
    assert run["start"].origin_pathspec is None
    assert run["start"].task.origin_pathspec is None
    assert run["start"].task["x"].origin_pathspec is None


# -- metadata and logs ------------------------------------------------------------------
def test_task_metadata_records(runs: SimpleNamespace) -> None:
    task = runs.ok["start"].task
    metadata = task.metadata
    assert isinstance(metadata, list) and metadata
    assert Metadata._fields == ("name", "value", "created_at", "type", "task")
    assert all(isinstance(m, Metadata) for m in metadata)
    assert all(m.task is task for m in metadata)
    assert all(isinstance(m.created_at, int) and m.type == m.name for m in metadata)
    by_name = {m.name: m.value for m in metadata}
    assert by_name["attempt"] == "0"  # a string (Metaflow)
    # the identity is the pathspec, not metadata (Metaflow has no such entries)
    assert not {"flow_name", "run_id", "step_name", "task_id"} & set(by_name)
    assert isinstance(by_name["pid"], int)
    assert task.metadata_dict == {m.name: m.value for m in
                                  sorted(metadata, key=lambda m: m.created_at)}
    assert task.metadata_dict["pid"] == by_name["pid"]


def test_metaflow_resume_records(runs: SimpleNamespace) -> None:
    # every task of a resumed run says which run it resumed; a clone also which task
    failed, resumed = runs.failed, runs.resumed
    cloned, rerun = resumed["start"].task, resumed["merge"].task
    assert cloned.metadata_dict["origin-run-id"] == failed.id
    assert cloned.metadata_dict["origin-task-id"] == failed["start"].task.id
    assert rerun.metadata_dict["origin-run-id"] == failed.id
    assert "origin-task-id" not in rerun.metadata_dict
    # a fresh run's tasks carry the record too, as the string 'None' (Metaflow's value)
    assert runs.ok["start"].task.metadata_dict["origin-run-id"] == "None"


def test_loglines(runs: SimpleNamespace) -> None:
    task = runs.ok["start"].task
    lines = list(task.loglines("stdout"))
    assert [line for _, line in lines] == ["one", "two"]
    stamps = [stamp for stamp, _ in lines]
    assert all(isinstance(s, datetime) and s.tzinfo is not None for s in stamps)
    # each line carries when it was printed: "two" came 0.3 s after "one"
    assert stamps[1] - stamps[0] >= timedelta(seconds=0.25)
    slack = timedelta(milliseconds=50)
    assert task.created_at - slack <= stamps[0] and stamps[1] <= task.finished_at + slack
    assert task.stdout == "".join(line + "\n" for _, line in lines)
    assert [line for _, line in task.loglines("stderr")] == ["warn"]
    assert [line for _, line in task.loglines("stdout", as_unicode=False)] == [b"one", b"two"]
    assert list(runs.ok["end"].task.loglines("stdout")) == []
    with pytest.raises(ValueError, match="'stdout' or 'stderr'"):
        list(task.loglines("artifacts"))
