"""Flow shapes end to end: each flow really runs (one subprocess per flow, shared by
the tests of this module) and is then inspected through the client in-process."""

from __future__ import annotations

import subprocess

import pytest

from flowtrack import Flow, Run, current

from .conftest import FlowStore, run_id_of

LINEAR = """
    from flowtrack import FlowSpec, Parameter, current, step


    def snapshot():
        return {"flow_name": current.flow_name, "run_id": current.run_id,
                "step_name": current.step_name, "task_id": current.task_id,
                "pathspec": current.pathspec, "retry_count": current.retry_count,
                "is_running_flow": current.is_running_flow}


    class LinearFlow(FlowSpec):
        alpha = Parameter("alpha", default=3)

        @step
        def start(self):
            self.trail = ["start"]
            self.cur_start = snapshot()
            self.next(self.middle)

        @step
        def middle(self):
            self.trail = self.trail + ["middle"]
            self.value = self.alpha * 10
            self.cur_middle = snapshot()
            self.next(self.end)

        @step
        def end(self):
            self.trail = self.trail + ["end"]
            self.cur_end = snapshot()


    if __name__ == "__main__":
        LinearFlow()
"""

SPLIT = """
    from flowtrack import FlowSpec, Parameter, step


    class SplitFlow(FlowSpec):
        alpha = Parameter("alpha", default=5)

        @step
        def start(self):
            self.common = "from-start"
            self.next(self.left, self.right)

        @step
        def left(self):
            self.side = "L"
            self.next(self.join)

        @step
        def right(self):
            self.side = "R"
            self.next(self.join)

        @step
        def join(self, inputs):
            self.n_inputs = len(inputs)
            self.first_side = inputs[0].side
            self.iterated = sorted(inp.side for inp in inputs)
            self.by_name = [inputs.left.side, inputs.right.side]
            self.common_via_input = inputs[0].common
            try:
                self.common
            except AttributeError as exc:
                self.common_visible = False
                self.common_error = str(exc)
            else:
                self.common_visible = True
            self.alpha_in_join = self.alpha
            self.next(self.end)

        @step
        def end(self):
            self.alpha_in_end = self.alpha


    if __name__ == "__main__":
        SplitFlow()
"""

FOREACH = """
    from flowtrack import FlowSpec, step


    class ForeachFlow(FlowSpec):
        @step
        def start(self):
            self.items = ["a", "b", "c"]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.result = [self.index, self.input, self.input.upper()]
            self.next(self.join)

        @step
        def join(self, inputs):
            self.results = [inp.result for inp in inputs]
            self.branch_inputs = [inp.input for inp in inputs]
            self.branch_indices = [inp.index for inp in inputs]
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ForeachFlow()
"""

NESTED = """
    from flowtrack import FlowSpec, step


    class NestedFlow(FlowSpec):
        @step
        def start(self):
            self.xs = [1, 2]
            self.next(self.outer, foreach="xs")

        @step
        def outer(self):
            self.x = self.input
            self.ys = ["p", "q", "r"]
            self.next(self.inner, foreach="ys")

        @step
        def inner(self):
            self.stack = [list(frame) for frame in self.foreach_stack()]
            self.pair = [self.x, self.input]
            self.next(self.inner_join)

        @step
        def inner_join(self, inputs):
            self.pairs = [inp.pair for inp in inputs]
            self.next(self.outer_join)

        @step
        def outer_join(self, inputs):
            self.all_pairs = [p for inp in inputs for p in inp.pairs]
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        NestedFlow()
"""

SWITCH = """
    from flowtrack import FlowSpec, Parameter, step


    class SwitchFlow(FlowSpec):
        mode = Parameter("mode", default="a")

        @step
        def start(self):
            self.choice = self.mode
            self.next({"a": self.path_a, "b": self.path_b}, condition="choice")

        @step
        def path_a(self):
            self.took = "a"
            self.next(self.end)

        @step
        def path_b(self):
            self.took = "b"
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        SwitchFlow()
"""

LOOP = """
    from flowtrack import FlowSpec, step


    class LoopFlow(FlowSpec):
        @step
        def start(self):
            self.count = 0
            self.next(self.loop)

        @step
        def loop(self):
            self.count = self.count + 1
            self.again = "yes" if self.count < 4 else "no"
            self.next({"yes": self.loop, "no": self.end}, condition="again")

        @step
        def end(self):
            self.final = self.count


    if __name__ == "__main__":
        LoopFlow()
"""

MERGE = """
    from flowtrack import FlowSpec, step


    class MergeFlow(FlowSpec):
        @step
        def start(self):
            self.shared = "s"
            self.keep = 1
            self.next(self.a, self.b)

        @step
        def a(self):
            self.diverge = "A"
            self.only_a = "oa"
            self.conflict = "x1"
            self.next(self.join1)

        @step
        def b(self):
            self.diverge = "B"
            self.only_b = "ob"
            self.conflict = "x2"
            self.next(self.join1)

        @step
        def join1(self, inputs):
            self.diverge = "set-in-join"
            self.merge_artifacts(inputs, exclude=["conflict"])
            self.only_b = "assigned-after-merge"
            self.next(self.mid)

        @step
        def mid(self):
            self.mid_sees = [self.shared, self.keep, self.only_a, self.only_b, self.diverge]
            try:
                self.conflict
            except AttributeError:
                self.conflict_visible = False
            else:
                self.conflict_visible = True
            self.next(self.c, self.d)

        @step
        def c(self):
            self.flag = "c-only"
            self.diff = "c"
            self.next(self.join2)

        @step
        def d(self):
            self.diff = "d"
            self.next(self.join2)

        @step
        def join2(self, inputs):
            self.merge_artifacts(inputs, include=["shared", "flag"])
            try:
                self.keep
            except AttributeError:
                self.keep_visible = False
            else:
                self.keep_visible = True
            self.next(self.end)

        @step
        def end(self):
            self.end_sees = [self.shared, self.flag]


    if __name__ == "__main__":
        MergeFlow()
"""

MERGE_CONFLICT = """
    from flowtrack import FlowSpec, step


    class MergeConflictFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.disputed_value = 1
            self.next(self.join)

        @step
        def b(self):
            self.disputed_value = 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.merge_artifacts(inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MergeConflictFlow()
"""


MERGE_READ = """
    from flowtrack import FlowSpec, step


    class MergeReadFlow(FlowSpec):
        @step
        def start(self):
            self.shared = "s"
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.merge_artifacts(inputs)
            self.seen_in_join = self.shared
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MergeReadFlow()
"""


def _run(store: FlowStore, source: str, name: str, *args: str) -> tuple[Run, subprocess.CompletedProcess]:
    proc = store.run(store.write(source, name), "run", *args, check=True)
    return Run(f"{name[:-3]}/{run_id_of(proc)}"), proc


@pytest.fixture(scope="module")
def linear(flow_store: FlowStore) -> Run:
    return _run(flow_store, LINEAR, "LinearFlow.py", "--alpha", "4")[0]


@pytest.fixture(scope="module")
def split(flow_store: FlowStore) -> Run:
    return _run(flow_store, SPLIT, "SplitFlow.py")[0]


@pytest.fixture(scope="module")
def foreach(flow_store: FlowStore) -> Run:
    return _run(flow_store, FOREACH, "ForeachFlow.py")[0]


@pytest.fixture(scope="module")
def nested(flow_store: FlowStore) -> Run:
    return _run(flow_store, NESTED, "NestedFlow.py")[0]


@pytest.fixture(scope="module")
def merged(flow_store: FlowStore) -> Run:
    return _run(flow_store, MERGE, "MergeFlow.py")[0]


def _task_ids(run: Run, step: str) -> list[str]:
    return [t.id for t in run[step].tasks()]


# -- linear -------------------------------------------------------------------------
def test_linear_runs_every_step_in_order(linear: Run) -> None:
    assert linear.successful and linear.finished
    assert linear.data.trail == ["start", "middle", "end"]
    assert linear["middle"].task.data.value == 40
    assert [s.id for s in linear] == ["end", "middle", "start"]
    for step in ("start", "middle", "end"):
        assert len(_task_ids(linear, step)) == 1


def test_current_fields_inside_steps(linear: Run) -> None:
    for step in ("start", "middle", "end"):
        task = linear[step].task
        cur = task[f"cur_{step}"].data
        assert cur == {
            "flow_name": "LinearFlow",
            "run_id": linear.id,
            "step_name": step,
            "task_id": task.id,
            "pathspec": task.pathspec,
            "retry_count": 0,
            "is_running_flow": True,
        }


def test_current_outside_a_flow() -> None:
    assert current.is_running_flow is False
    assert current.flow_name is None
    assert current.pathspec is None


# -- static split -------------------------------------------------------------------
def test_split_join_inputs(split: Run) -> None:
    join = split["join"].task.data
    assert join.n_inputs == 2
    assert join.first_side == "L"
    assert join.iterated == ["L", "R"]
    assert join.by_name == ["L", "R"]
    assert join.common_via_input == "from-start"
    assert sorted(t.data.side for s in ("left", "right") for t in split[s]) == ["L", "R"]


def test_after_join_unmerged_artifacts_hidden_but_parameters_visible(split: Run) -> None:
    join = split["join"].task
    assert join.data.common_visible is False
    assert "common" in join.data.common_error
    assert "join" in join.data.common_error
    assert "common" not in join
    assert join.data.alpha_in_join == 5
    assert split["end"].task.data.alpha_in_end == 5


# -- foreach ------------------------------------------------------------------------
def test_foreach_input_index_and_join(foreach: Run) -> None:
    tasks = sorted(foreach["body"].tasks(), key=lambda t: t.index)
    assert [t.index for t in tasks] == [0, 1, 2]
    assert [t.data.result for t in tasks] == [[0, "a", "A"], [1, "b", "B"], [2, "c", "C"]]
    join = foreach["join"].task.data
    assert join.results == [[0, "a", "A"], [1, "b", "B"], [2, "c", "C"]]
    assert join.branch_inputs == ["a", "b", "c"]
    assert join.branch_indices == [0, 1, 2]
    assert len(_task_ids(foreach, "join")) == 1


def test_nested_foreach_stack(nested: Run) -> None:
    inner = list(nested["inner"].tasks())
    assert len(inner) == 6
    assert len(list(nested["outer"].tasks())) == 2
    assert len(list(nested["inner_join"].tasks())) == 2
    stacks = sorted(t.data.stack for t in inner)
    expected = sorted([[i, 2, x], [j, 3, y]] for i, x in enumerate([1, 2])
                      for j, y in enumerate("pqr"))
    assert stacks == expected
    for t in inner:
        outer_frame, inner_frame = t.data.stack
        assert t.data.pair == [outer_frame[2], inner_frame[2]]
        assert t.index == inner_frame[0]
    assert sorted(nested["outer_join"].task.data.all_pairs) == sorted(
        [x, y] for x in (1, 2) for y in "pqr")


# -- switch -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["a", "b"])
def test_switch_takes_one_branch(flow_store: FlowStore, mode: str) -> None:
    run, _ = _run(flow_store, SWITCH, "SwitchFlow.py", "--mode", mode)
    other = "b" if mode == "a" else "a"
    assert run.successful
    assert f"path_{mode}" in run
    assert f"path_{other}" not in run
    assert run[f"path_{mode}"].task.data.took == mode
    assert run["start"].task.metadata_dict["switch_target"] == f"path_{mode}"


def test_switch_self_loop_bounded_by_counter(flow_store: FlowStore) -> None:
    run, _ = _run(flow_store, LOOP, "LoopFlow.py")
    loop_tasks = list(run["loop"].tasks())
    assert len(loop_tasks) == 4
    assert sorted(t.data.count for t in loop_tasks) == [1, 2, 3, 4]
    assert run.data.final == 4


# -- merge_artifacts ----------------------------------------------------------------
def test_merge_copies_non_divergent_and_join_value_wins(merged: Run) -> None:
    join1 = merged["join1"].task
    assert join1.data.shared == "s"
    assert join1.data.keep == 1
    assert join1.data.only_a == "oa"
    assert join1.data.only_b == "assigned-after-merge"
    assert join1.data.diverge == "set-in-join"
    assert merged["mid"].task.data.mid_sees == ["s", 1, "oa", "assigned-after-merge",
                                                "set-in-join"]


def test_merge_exclude_leaves_artifact_out(merged: Run) -> None:
    assert "conflict" not in merged["join1"].task
    assert merged["mid"].task.data.conflict_visible is False


def test_merge_include_merges_only_named(merged: Run) -> None:
    join2 = merged["join2"].task
    assert join2.data.shared == "s"
    assert join2.data.flag == "c-only"
    assert join2.data.keep_visible is False
    assert "keep" not in join2
    assert "diff" not in join2
    assert merged.data.end_sees == ["s", "c-only"]


def test_merge_divergent_raises_naming_artifact(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(MERGE_CONFLICT, "MergeConflictFlow.py"), "run")
    assert proc.returncode != 0
    assert "disputed_value" in proc.stderr
    assert "MergeArtifactsError" in proc.stderr
    run = Flow("MergeConflictFlow").latest_run
    assert run is not None and not run.successful
    exc = run["join"].task.exception
    assert exc is not None and exc.type == "flowtrack._errors.MergeArtifactsError"  # module.Class
    assert "disputed_value" in exc.message


def test_merged_artifact_readable_in_the_join(flow_store: FlowStore) -> None:
    proc = flow_store.run(flow_store.write(MERGE_READ, "MergeReadFlow.py"), "run")
    assert proc.returncode == 0, proc.stderr
    run = Run(f"MergeReadFlow/{run_id_of(proc)}")
    assert run["join"].task.data.seen_in_join == "s"
