"""Metaflow names that ported code uses beyond the documented API.

Private ``FlowSpec`` members (``_current_step``, ``_foreach_stack``, ``_graph``) and
the module paths ``flowtrack.exception`` and ``flowtrack.metaflow_current``: each is
checked in-process against the shapes Metaflow gives them, then through a real run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import flowtrack
from flowtrack import FlowSpec, step
from flowtrack._errors import (
    ArtifactError,
    ConfigurationError,
    FlowtrackError,
    GraphError,
    MergeArtifactsError,
    NotFoundError,
    ParameterError,
    StepError,
)
from flowtrack.client import Flow, namespace
from flowtrack.flow import ArtifactSource, FlowGraph, Inputs, retry
from flowtrack.flow._decorators import DecoratorError
from flowtrack.flow._spec import ForeachFrame


class NestedFlow(FlowSpec):
    """Two nested foreaches around a static split."""

    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = ["p", "q", "r"]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.both)

    @step
    def right(self):
        self.next(self.both)

    @step
    def both(self, inputs):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class _FramesSource(ArtifactSource):
    """A task's view with given foreach frames, (index, num_splits, item) outermost first."""

    def __init__(self, frames: list[tuple[int, int, Any]], step_name: str = "") -> None:
        self.frames = frames
        self.step_name = step_name
        self.values: dict[str, Any] = {}

    def names(self):
        return list(self.values)

    def load(self, name):
        return self.values[name]

    def digest(self, name):
        return repr(self.values[name]) if name in self.values else None

    def parameter(self, name):
        raise KeyError(name)

    def foreach_frames(self):
        return list(self.frames)


def _task(step_name: str, frames: list[tuple[int, int, Any]]) -> NestedFlow:
    """A NestedFlow instance as the runtime sets it up for one task."""
    flow = NestedFlow(use_cli=False)
    flow._current_step = step_name  # what the runtime assigns
    flow._source = _FramesSource(frames)
    return flow


# ---------------------------------------------------------------------------
# self._graph
# ---------------------------------------------------------------------------


def test_graph_is_an_attribute_of_the_class_and_its_instances():
    graph = NestedFlow._graph
    assert isinstance(graph, FlowGraph)
    assert NestedFlow(use_cli=False)._graph is graph
    assert NestedFlow._graph is graph  # built once per class


def test_each_flow_class_has_its_own_graph():
    class Other(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert Other._graph is not NestedFlow._graph
    assert Other._graph.name == "Other"


def test_graph_nodes_as_metaflow_reads_them():
    graph = NestedFlow._graph  # not checked: Metaflow's graph is complete on creation
    names = [node.name for node in graph]
    assert set(names) == set(graph.nodes) and len(names) == 9
    assert graph["start"].name == "start"
    assert "inner" in graph and "nope" not in graph
    types = {node.name: node.type for node in graph}
    assert types == {"start": "foreach", "outer": "foreach", "inner": "split", "left": "linear",
                     "right": "linear", "both": "join", "inner_join": "join",
                     "outer_join": "join", "end": "end"}
    assert graph["inner"].out_funcs == ["left", "right"]
    assert graph["both"].in_funcs == ["left", "right"]
    assert graph["start"].in_funcs == []
    assert graph["start"].foreach_param == "xs"
    assert graph.start_step == "start" and graph.end_step == "end"


def test_in_funcs_are_sorted_by_name_as_in_metaflow():
    class Converge(FlowSpec):
        @step
        def start(self):
            self.next(self.zeta, self.alpha)

        @step
        def zeta(self):
            self.next(self.join)

        @step
        def alpha(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert Converge._graph["join"].in_funcs == ["alpha", "zeta"]


def test_graph_split_structure_without_check():
    graph = NestedFlow._graph
    assert graph["inner"].split_parents == ["start", "outer"]
    assert graph["left"].split_parents == ["start", "outer", "inner"]
    assert graph["both"].split_parents == ["start", "outer", "inner"]  # the split it closes too
    assert graph["end"].split_parents == []
    assert graph["start"].matching_join == "outer_join"
    assert graph["outer"].matching_join == "inner_join"
    assert graph["inner"].matching_join == "both"
    assert graph["left"].matching_join is None
    inside = {node.name for node in graph if node.is_inside_foreach}
    assert inside == {"outer", "inner", "left", "right", "both", "inner_join"}


def test_graph_node_source_locations_and_flags():
    node = NestedFlow._graph["outer"]
    assert node.source_file == node.file and node.source_file.endswith("test_metaflow_compat.py")
    assert node.func_lineno == node.line
    with open(node.source_file) as f:
        assert f.read().splitlines()[node.func_lineno - 1].strip() == "def outer(self):"
    assert node.tail_next_lineno == node.next_line
    assert node.parallel_step is False and node.parallel_foreach is False
    assert node.num_args == 1 and NestedFlow._graph["both"].num_args == 2
    assert node.has_tail_next is True


def test_graph_checks_still_annotate_the_same_structure():
    graph = NestedFlow._graph
    before = {n.name: list(n.split_parents) for n in graph}
    graph.check()
    assert {n.name: n.split_parents for n in graph} == before


# ---------------------------------------------------------------------------
# self._current_step
# ---------------------------------------------------------------------------


def test_current_step_is_the_running_step():
    flow = _task("left", [])
    assert flow._current_step == "left"
    assert flow._graph[flow._current_step].type == "linear"


def test_current_step_outside_a_task_is_none():
    assert NestedFlow(use_cli=False)._current_step is None


def test_current_step_can_be_assigned_as_metaflow_does():
    flow = NestedFlow(use_cli=False)
    flow._current_step = "outer"
    assert flow._current_step == "outer"


def test_current_step_names_the_step_in_error_messages():
    flow = _task("inner_join", [(0, 2, 1)])
    with pytest.raises(AttributeError, match="in step 'inner_join'"):
        flow.missing  # noqa: B018


# ---------------------------------------------------------------------------
# self._foreach_stack
# ---------------------------------------------------------------------------


def test_foreach_frame_is_metaflows_named_tuple():
    assert ForeachFrame._fields == ("step", "var", "num_splits", "index", "value")
    assert ForeachFrame() == (None, None, None, None, None)
    frame = ForeachFrame("body", "items", 3, 1, "b")
    assert frame.index == 1 and frame._replace(value=0).value == 0


def test_foreach_stack_frames_name_the_step_after_each_split_and_its_variable():
    flow = _task("left", [(1, 2, 2), (0, 3, "p")])
    stack = flow._foreach_stack
    assert stack == [ForeachFrame(step="outer", var="xs", num_splits=2, index=1, value="2"),
                     ForeachFrame(step="inner", var="ys", num_splits=3, index=0, value="p")]
    assert all(isinstance(frame, ForeachFrame) for frame in stack)
    assert [f.index for f in stack] == [1, 0]
    # the public method keeps the values themselves
    assert flow.foreach_stack() == [(1, 2, 2), (0, 3, "p")]


def test_foreach_stack_in_joins_and_outside_foreaches():
    # a static join keeps the stack, a foreach join drops the foreach it closes
    assert [f.step for f in _task("both", [(0, 2, 1), (2, 3, "r")])._foreach_stack] == [
        "outer", "inner"]
    assert [f.var for f in _task("inner_join", [(0, 2, 1)])._foreach_stack] == ["xs"]
    assert _task("outer_join", [])._foreach_stack == []
    assert _task("start", [])._foreach_stack == []
    assert NestedFlow(use_cli=False)._foreach_stack == []


@pytest.mark.parametrize(("item", "value"), [
    ("short", "short"),
    ("x" * 40, "x" * 30),
    (7, "7"),
    (2.5, "2.5"),
    (True, "True"),
    (list(range(100)), "[0, 1, 2, 3, 4, 5, ...]"),
    ({"k": 1}, "{'k': 1}"),
])
def test_foreach_frame_value_is_a_short_string_as_in_metaflow(item, value):
    frame = _task("outer", [(0, 1, item)])._foreach_stack[0]
    assert frame.value == value
    assert isinstance(frame.value, str) and len(frame.value) <= 30


def test_foreach_frame_value_of_a_long_structure_is_cut_at_30_characters():
    frame = _task("outer", [(0, 1, {"key": "v" * 50, "other": list(range(50))})])._foreach_stack[0]
    assert frame.value.startswith("{'key': 'vvv") and len(frame.value) == 30


def test_foreach_stack_is_an_attribute_not_a_method():
    flow = _task("outer", [(0, 2, 1)])
    assert isinstance(flow._foreach_stack, list)
    with pytest.raises(TypeError):
        flow._foreach_stack()  # as in Metaflow: a list is not callable


# ---------------------------------------------------------------------------
# merge_artifacts errors carry Metaflow's classes
# ---------------------------------------------------------------------------


class _Branch(_FramesSource):
    def __init__(self, step_name: str, values: dict[str, Any]) -> None:
        super().__init__([], step_name)
        self.values = values


def _join(*branches: dict[str, Any]) -> tuple[NestedFlow, Inputs]:
    flow = _task("both", [])
    return flow, Inputs([_Branch(f"b{i}", v) for i, v in enumerate(branches)])


def test_merge_conflict_raises_unhandled_in_merge_artifacts():
    from flowtrack.exception import MetaflowException, UnhandledInMergeArtifactsException

    flow, inputs = _join({"a": 1, "b": 2, "same": 0}, {"a": 3, "b": 4, "same": 0})
    with pytest.raises(UnhandledInMergeArtifactsException) as info:
        flow.merge_artifacts(inputs)
    assert info.value.artifact_names == ["a", "b"]
    assert type(info.value) is MergeArtifactsError and isinstance(info.value, MetaflowException)
    assert "cannot merge artifact(s) a, b" in str(info.value)
    assert not hasattr(flow, "same")  # nothing merged


def test_merge_include_of_a_missing_name_raises_missing_in_merge_artifacts():
    from flowtrack.exception import MissingInMergeArtifactsException

    flow, inputs = _join({"a": 1}, {"a": 1})
    with pytest.raises(MissingInMergeArtifactsException) as info:
        flow.merge_artifacts(inputs, include=["a", "nope", "gone"])
    assert info.value.artifact_names == ["gone", "nope"]
    assert isinstance(info.value, MergeArtifactsError)


def test_merge_outside_a_join_is_a_metaflow_exception():
    from flowtrack.exception import MetaflowException

    with pytest.raises(MetaflowException, match="join step"):
        _task("end", []).merge_artifacts([])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# flowtrack.exception
# ---------------------------------------------------------------------------

METAFLOW_EXCEPTION_NAMES = {
    "MetaflowException", "MetaflowExceptionWrapper", "MetaflowNotFound",
    "MetaflowNamespaceMismatch", "MetaflowInvalidPathspec", "MetaflowInternalError",
    "MetaflowTaggingError", "MetaflowUnknownUser", "MetaflowDataMissing", "CommandException",
    "ExternalCommandFailed", "InvalidDecoratorAttribute", "ParameterFieldFailed",
    "ParameterFieldTypeMismatch", "UnhandledInMergeArtifactsException",
    "MissingInMergeArtifactsException",
}


def test_exception_module_has_metaflows_names():
    import flowtrack.exception as exception

    assert set(exception.__all__) == METAFLOW_EXCEPTION_NAMES
    for name in set(exception.__all__) - {"MetaflowExceptionWrapper"}:
        value = getattr(exception, name)
        assert isinstance(value, type) and issubclass(value, FlowtrackError), name


def test_metaflow_exception_catches_every_flowtrack_error():
    from flowtrack.exception import MetaflowException
    from flowtrack.lineage.errors import NotFoundError as LineageNotFound
    from flowtrack.tracking.errors import InvalidParameterError

    assert MetaflowException is FlowtrackError
    for error in (GraphError("g"), ParameterError("p"), StepError("s"), NotFoundError("n"),
                  DecoratorError("d"), LineageNotFound("l"), InvalidParameterError("i")):
        try:
            raise error
        except MetaflowException as caught:
            assert caught is error


def test_metaflow_not_found_is_what_flowtrack_raises_for_missing_objects(store_env):
    from flowtrack.exception import MetaflowNamespaceMismatch, MetaflowNotFound

    assert MetaflowNotFound is NotFoundError
    namespace(None)
    with pytest.raises(MetaflowNotFound, match="NoSuchFlow"):
        Flow("NoSuchFlow")
    with pytest.raises(MetaflowNamespaceMismatch):  # flowtrack reports both as not found
        Flow("NoSuchFlow")
    from flowtrack.lineage.errors import NotFoundError as LineageNotFound

    assert issubclass(LineageNotFound, MetaflowNotFound)


@pytest.mark.parametrize(("factory", "base", "fragment"), [
    (lambda e: e.MetaflowNamespaceMismatch("user:someone"), NotFoundError, "user:someone"),
    (lambda e: e.MetaflowInvalidPathspec("bad/path"), NotFoundError, "bad/path"),
    (lambda e: e.MetaflowInternalError("oops"), FlowtrackError, "oops"),
    (lambda e: e.MetaflowTaggingError("bad tag"), FlowtrackError, "bad tag"),
    (lambda e: e.MetaflowUnknownUser(), ConfigurationError, "user name"),
    (lambda e: e.MetaflowDataMissing("no data"), ArtifactError, "no data"),
    (lambda e: e.CommandException("bad command"), FlowtrackError, "bad command"),
    (lambda e: e.ExternalCommandFailed("catch me!"), FlowtrackError, "catch me!"),
    (lambda e: e.InvalidDecoratorAttribute("retry", "tries", ["times", "minutes"]),
     DecoratorError, "tries"),
    (lambda e: e.ParameterFieldFailed("alpha", "default"), ParameterError, "alpha"),
    (lambda e: e.ParameterFieldTypeMismatch("wrong type"), ParameterError, "wrong type"),
])
def test_metaflow_constructors_work_and_land_in_flowtrack_classes(factory, base, fragment):
    import flowtrack.exception as exception

    error = factory(exception)
    assert isinstance(error, base) and isinstance(error, exception.MetaflowException)
    assert fragment in str(error) and fragment in error.message
    assert error.headline


def test_merge_exceptions_are_what_merge_artifacts_raises():
    # one flowtrack class for both, so a caught error keeps the name runs record
    from flowtrack.exception import (
        MissingInMergeArtifactsException,
        UnhandledInMergeArtifactsException,
    )

    assert UnhandledInMergeArtifactsException is MergeArtifactsError
    assert MissingInMergeArtifactsException is MergeArtifactsError


def test_unknown_decorator_attribute_is_invalid_decorator_attribute():
    from flowtrack.exception import InvalidDecoratorAttribute

    with pytest.raises(InvalidDecoratorAttribute, match="@retry got unknown argument"):
        retry(tries=2)


def test_external_command_failed_pickles_for_catch():
    import pickle

    from flowtrack.exception import ExternalCommandFailed

    copy = pickle.loads(pickle.dumps(ExternalCommandFailed("catch me!")))
    assert isinstance(copy, ExternalCommandFailed) and copy.message == "catch me!"


def test_exception_wrapper_is_what_catch_stores():
    from flowtrack.exception import MetaflowExceptionWrapper
    from flowtrack.runtime._task import CaughtException

    assert MetaflowExceptionWrapper is CaughtException


# ---------------------------------------------------------------------------
# flowtrack.metaflow_current
# ---------------------------------------------------------------------------


def test_metaflow_current_module():
    from flowtrack.metaflow_current import Current, current

    assert current is flowtrack.current
    assert isinstance(current, Current)
    assert current.is_running_flow is False


def test_compatibility_modules_import_light():
    code = ("import json, sys\nimport flowtrack.exception, flowtrack.metaflow_current\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}
    assert not loaded & {"sqlalchemy", "click", "rich", "numpy", "pandas", "alembic"}
    assert "flowtrack.runtime" not in json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# through a real run
# ---------------------------------------------------------------------------

RUN_FLOW = '''
from flowtrack import FlowSpec, current, step
from flowtrack.exception import MetaflowException, UnhandledInMergeArtifactsException
from flowtrack.metaflow_current import current as mf_current


def seen(flow):
    """What a ported Metaflow step reads about itself."""
    return {
        "step": flow._current_step,
        "type": flow._graph[flow._current_step].type,
        "stack": [[f.step, f.var, f.num_splits, f.index, f.value] for f in flow._foreach_stack],
        "same_current": mf_current is current and current.step_name == flow._current_step,
    }


class CompatFlow(FlowSpec):
    @step
    def start(self):
        self.xs = ["a", "b"]
        self.start_seen = seen(self)
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = [10, 20, 30]
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        self.inner_seen = seen(self)
        self.vars_read = [getattr(self, f.var) for f in self._foreach_stack]
        self.clash = self.index
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.join_seen = seen(self)
        try:
            self.merge_artifacts(inputs)
        except UnhandledInMergeArtifactsException as exc:
            assert isinstance(exc, MetaflowException)
            self.unhandled = exc.artifact_names
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.outer_join_seen = seen(self)
        self.next(self.end)

    @step
    def end(self):
        self.end_seen = seen(self)


if __name__ == "__main__":
    CompatFlow()
'''


def test_private_members_in_a_real_run(write_flow, run_flow):
    path = write_flow(RUN_FLOW)
    run_flow(path, "run", check=True)
    namespace(None)
    run = Flow("CompatFlow").latest_run
    assert run is not None and run.successful
    start = run["start"].task.data.start_seen
    assert start == {"step": "start", "type": "foreach", "stack": [], "same_current": True}
    inner = sorted((t.data.inner_seen["stack"] for t in run["inner"].tasks()), key=str)
    assert inner == sorted(([["outer", "xs", 2, i, x], ["inner", "ys", 3, j, str(y)]]
                            for i, x in enumerate("ab") for j, y in enumerate([10, 20, 30])),
                           key=str)
    task = next(iter(run["inner"].tasks()))
    assert task.data.inner_seen["type"] == "linear"
    assert task.data.vars_read == [["a", "b"], [10, 20, 30]]
    joins = [t.data for t in run["inner_join"].tasks()]
    assert sorted(d.join_seen["stack"][0][3] for d in joins) == [0, 1]
    for data in joins:
        assert data.join_seen["type"] == "join"
        assert [f[:3] for f in data.join_seen["stack"]] == [["outer", "xs", 2]]
        assert data.unhandled == ["clash", "inner_seen"]
    outer_join = run["outer_join"].task.data.outer_join_seen
    assert outer_join == {"step": "outer_join", "type": "join", "stack": [],
                          "same_current": True}
    assert run["end"].task.data.end_seen["type"] == "end"
