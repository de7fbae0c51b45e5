"""Unbounded foreach: a foreach over an ``UnboundedForeachInput`` is counted by a
control task of the foreach step, then runs one mapper task per item.

Each test runs a real flow and reads it back with the client.
"""

from __future__ import annotations

from flowtrack import Flow

UBF_FLOW = '''
import os
from flowtrack import FlowSpec, StepDecorator, step
from flowtrack.unbounded_foreach import UBF_CONTROL, UBF_TASK, UnboundedForeachInput

class Lazy(UnboundedForeachInput):
    """Items the splitting step never counts: a generator made on each pass."""
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        return (f"item{i}" for i in range(self.n))
    def __getitem__(self, i):
        return f"item{i}"

class UbfFlow(FlowSpec):
    @step
    def start(self):
        self.groups = ["a", "b"]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.group = self.input
        self.items = Lazy(3)
        self.next(self.inner, foreach="items")

    @step
    def inner(self):
        self.stack = [(index, size) for index, size, _ in self.foreach_stack()]
        self.got = (self.group, self.index, self.input)
        self.next(self.after)

    @step
    def after(self):
        self.next(self.join_items)

    @step
    def join_items(self, inputs):
        if os.environ.get("FAIL_JOIN"):
            raise RuntimeError("join failed on purpose")
        self.got = sorted(i.got for i in inputs)
        self.next(self.join_groups)

    @step
    def join_groups(self, inputs):
        self.got = sorted(g for i in inputs for g in i.got)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    UbfFlow()
'''

EXPECTED = sorted((g, i, f"item{i}") for g in "ab" for i in range(3))


def test_mappers_run_once_per_item_and_the_join_gets_them(write_flow, run_flow) -> None:
    run_flow(write_flow(UBF_FLOW), "--no-lint", "run", check=True)
    run = Flow("UbfFlow").latest_run
    assert run.successful
    assert run["end"].task.data.got == EXPECTED
    inner = list(run["inner"].tasks())
    controls = list(run["inner"].control_tasks())
    # one control task per split task (2 groups), one mapper per item
    assert len(controls) == 2 and len(inner) == 2 + 6
    assert all(c.metadata_dict["internal_task_type"] == "control" for c in controls)
    mappers = [t for t in inner if t.pathspec not in {c.pathspec for c in controls}]
    # a mapper sees its item; the unbounded level's size is None, as in Metaflow
    assert len(mappers) == 6
    assert all(t.data.stack[0][1] == 2 and t.data.stack[1] == (t.data.got[1], None)
               for t in mappers)
    # the control task did not run the step body
    assert all("got" not in c for c in controls)
    assert {t.data.got for t in run["after"]} == set(EXPECTED)


def test_resume_clones_the_control_and_mapper_tasks(write_flow, run_flow) -> None:
    path = write_flow(UBF_FLOW)
    failed = run_flow(path, "--no-lint", "run", env={"FAIL_JOIN": "1"})
    assert failed.returncode != 0 and "join failed on purpose" in failed.stderr
    run_flow(path, "--no-lint", "resume", check=True)
    run = Flow("UbfFlow").latest_run
    assert run.successful and run["end"].task.data.got == EXPECTED
    inner = list(run["inner"].tasks())
    assert len(inner) == 8 and len(list(run["inner"].control_tasks())) == 2
    assert all(t.metadata_dict.get("origin-task-id") for t in inner)


HOOK_FLOW = '''
from flowtrack import FlowSpec, StepDecorator, StepMutator, step
from flowtrack.unbounded_foreach import UnboundedForeachInput

class RoleRecorder(StepDecorator):
    name = "role_recorder"
    def task_pre_step(self, step_name, task_datastore, metadata, run_id, task_id, flow, graph,
                      retry_count, max_user_code_retries, ubf_context, inputs):
        flow.role = ubf_context

class RecordRoles(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator(RoleRecorder)

class Three(UnboundedForeachInput):
    def __iter__(self):
        return iter(range(3))
    def __getitem__(self, i):
        return i * 10

class RoleFlow(FlowSpec):
    @step
    def start(self):
        self.values = Three()
        self.next(self.work, foreach="values")

    @RecordRoles
    @step
    def work(self):
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values_seen = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RoleFlow()
'''


def test_decorator_hooks_see_the_task_role(write_flow, run_flow) -> None:
    run_flow(write_flow(HOOK_FLOW), "--no-lint", "run", check=True)
    run = Flow("RoleFlow").latest_run
    assert run["join"].task.data.values_seen == [0, 10, 20]  # items by position
    control = {t.pathspec for t in run["work"].control_tasks()}
    roles = sorted((t.pathspec in control, t.data.role) for t in run["work"])
    assert roles == [(False, "ubf_task")] * 3 + [(True, "ubf_control")]
    assert run["start"].task.metadata_dict.get("internal_task_type") is None


def test_an_empty_input_fails_clearly(write_flow, run_flow) -> None:
    empty = HOOK_FLOW.replace("iter(range(3))", "iter(())").replace("RoleFlow", "EmptyFlow")
    proc = run_flow(write_flow(empty, "empty.py"), "--no-lint", "run")
    assert proc.returncode != 0
    assert "has no items, so there is nothing to run" in proc.stderr
    assert "Traceback" not in proc.stderr.split("Task failed")[-1]
