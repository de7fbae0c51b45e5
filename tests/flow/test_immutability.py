"""Immutability rules (Metaflow's): a step cannot assign a Parameter, an IncludeFile
or a class-level constant of its flow.

Which class attributes are constants, what assigning one raises, and how
``merge_artifacts`` treats flow-level names are tested on flow instances; one real
run checks that such an assignment fails the task as an ``AttributeError``.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowtrack import FlowSpec, IncludeFile, Parameter, step
from flowtrack.client import Flow, namespace
from flowtrack.flow import ArtifactSource, Inputs


class _Marker:
    """A value of a user class: a constant like any other."""


class _Mixin:
    SHARED = "from a base class"


class ConstFlow(FlowSpec, _Mixin):
    alpha = Parameter("alpha-value", default=0.5)
    data = IncludeFile("data")
    CONST = 5
    LABELS = ["a", "b"]
    nothing = None
    marker = _Marker()
    _private = 1

    class Nested:  # a class: not a constant
        pass

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

    def helper(self) -> int:  # a method: not a constant
        return 1

    @staticmethod
    def static_helper() -> int:
        return 2

    @classmethod
    def class_helper(cls) -> int:
        return 3

    @property
    def doubled(self) -> int:
        return self.CONST * 2


def _flow(step_name: str | None = "start") -> ConstFlow:
    flow = ConstFlow(use_cli=False)
    flow._current_step = step_name
    return flow


# ---------------------------------------------------------------------------
# which class attributes are constants
# ---------------------------------------------------------------------------


def test_constants_are_the_public_plain_class_attributes():
    # Metaflow's rule: public class attributes (inherited ones too) that are not
    # Parameters, functions, methods, properties or classes
    assert ConstFlow._constants() == {
        "CONST": 5, "LABELS": ["a", "b"], "SHARED": "from a base class", "nothing": None,
        "marker": ConstFlow.marker}


def test_a_flow_without_class_attributes_has_no_constants():
    class Plain(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert Plain._constants() == {}


def test_constants_read_as_the_class_value():
    flow = _flow()
    assert (flow.CONST, flow.LABELS, flow.SHARED, flow.nothing) == (
        5, ["a", "b"], "from a base class", None)
    assert flow.doubled == 10


# ---------------------------------------------------------------------------
# assigning a flow-level attribute
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [
    ("alpha", "a Parameter"),
    ("data", "an IncludeFile"),
    ("CONST", "a class-level constant"),
    ("LABELS", "a class-level constant"),
    ("SHARED", "a class-level constant"),
    ("nothing", "a class-level constant"),
    ("marker", "a class-level constant"),
])
def test_assigning_a_flow_level_attribute_raises_attribute_error(name, kind):
    flow = _flow()
    before = getattr(flow, name)
    with pytest.raises(AttributeError) as info:
        setattr(flow, name, 6)
    message = str(info.value)
    assert f"self.{name} cannot be assigned in step 'start'" in message
    assert f"'{name}' is {kind} of flow ConstFlow" in message
    assert "Flow level attributes and Parameters are not modifiable" in message
    assert f"self.my_{name.lower()} = ..." in message  # how to fix it: another name
    assert name not in flow.__dict__  # nothing stored, so nothing persisted
    assert getattr(flow, name) == before


def test_the_message_outside_a_step_names_no_step():
    with pytest.raises(AttributeError, match=r"^self\.CONST cannot be assigned: 'CONST' is"):
        _flow(None).CONST = 1


def test_assigning_a_parameter_directly_through_its_descriptor_raises_attribute_error():
    flow = _flow()
    with pytest.raises(AttributeError, match="Parameter 'alpha' cannot be assigned"):
        object.__setattr__(flow, "alpha", 1.0)
    assert flow.alpha == 0.5


@pytest.mark.parametrize("name", ["alpha", "data", "CONST"])
def test_deleting_a_flow_level_attribute_raises_attribute_error(name):
    flow = _flow()
    with pytest.raises(AttributeError, match=f"self.{name} cannot be deleted in step 'start'"):
        delattr(flow, name)


def test_a_mutable_constant_can_still_be_changed_in_place():
    # as in Metaflow ("obj_const is mutable. Not much that can be done about it")
    flow = _flow()
    flow.LABELS.append("c")
    try:
        assert flow.LABELS == ["a", "b", "c"] and "LABELS" not in flow.__dict__
    finally:
        ConstFlow.LABELS.remove("c")


# ---------------------------------------------------------------------------
# every other assignment keeps working
# ---------------------------------------------------------------------------


def test_artifacts_private_attributes_methods_and_classes_can_be_assigned():
    flow = _flow()
    flow.result = 1
    flow.const = "lower case: another name"
    flow._private = 2
    flow.helper = "shadows the method, as in Metaflow"
    flow.static_helper = 4
    flow.class_helper = 5
    flow.Nested = 6
    assert (flow.result, flow.const, flow._private, flow.helper, flow.static_helper,
            flow.class_helper, flow.Nested) == (
        1, "lower case: another name", 2, "shadows the method, as in Metaflow", 4, 5, 6)
    del flow.result
    assert "result" not in flow.__dict__


def test_a_property_without_a_setter_still_refuses_assignment():
    with pytest.raises(AttributeError):
        _flow().doubled = 3


# ---------------------------------------------------------------------------
# merge_artifacts leaves flow-level names alone (Metaflow skips what hasattr finds)
# ---------------------------------------------------------------------------


class _Source(ArtifactSource):
    def __init__(self, step_name: str, values: dict[str, Any]) -> None:
        self.step_name = step_name
        self._values = values

    def names(self):
        return list(self._values)

    def load(self, name):
        return self._values[name]

    def digest(self, name):
        return repr(self._values[name]) if name in self._values else None

    def parameter(self, name):
        raise KeyError(name)


def _join_flow(inputs: Inputs) -> ConstFlow:
    flow = _flow("join")
    flow._inputs = inputs  # as the runtime sets it while a join runs
    return flow


def test_merge_skips_flow_level_names_and_does_not_report_them_missing():
    inputs = Inputs([_Source("a", {"CONST": 1, "x": 1}), _Source("b", {"CONST": 2, "x": 1})])
    flow = _join_flow(inputs)
    flow.merge_artifacts(inputs)  # CONST differs, but is not an artifact to merge
    assert flow._merged == {"x": 0}
    assert flow.x == 1 and flow.CONST == 5
    flow = _join_flow(inputs)
    flow.merge_artifacts(inputs, include=["x", "CONST", "alpha"])
    assert flow._merged == {"x": 0}
    assert flow.CONST == 5 and flow.alpha == 0.5


def test_merge_include_of_a_name_assigned_in_the_join_is_not_missing():
    inputs = Inputs([_Source("a", {"x": 1}), _Source("b", {"x": 1})])
    flow = _join_flow(inputs)
    flow.y = "assigned here"
    flow.merge_artifacts(inputs, include=["x", "y"])  # as Metaflow: y is hasattr(self, "y")
    assert flow._merged == {"x": 0} and flow.y == "assigned here"


# ---------------------------------------------------------------------------
# through a real run
# ---------------------------------------------------------------------------

IMMUTABLE_FLOW = '''
from flowtrack import FlowSpec, IncludeFile, Parameter, step


class ImmutableFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    data = IncludeFile("data")
    CONST = 5

    @step
    def start(self):
        self.refused = []
        for name in ("alpha", "data", "CONST"):
            try:
                setattr(self, name, 0)
            except AttributeError as exc:
                self.refused.append((name, str(exc)))
        self.seen = (self.alpha, self.data, self.CONST)
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = self.CONST
        self.next(self.join)

    @step
    def right(self):
        self.side = self.CONST + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.merge_artifacts(inputs, exclude=["side"])
        self.const_in_join = self.CONST
        self.next(self.end)

    @step
    def end(self):
        self.CONST = 6


if __name__ == "__main__":
    ImmutableFlow()
'''


def test_assigning_a_constant_fails_the_step_with_attribute_error(write_flow, run_flow):
    proc = run_flow(write_flow(IMMUTABLE_FLOW), "run")
    assert proc.returncode != 0
    assert "AttributeError: self.CONST cannot be assigned in step 'end'" in proc.stderr
    namespace(None)
    run = Flow("ImmutableFlow").latest_run
    assert run is not None and not run.successful
    failed = run["end"].task
    assert failed.exception is not None and failed.exception.type == "builtins.AttributeError"
    assert "self.my_const = ..." in failed.exception.message

    start = run["start"].task.data
    assert [name for name, _ in start.refused] == ["alpha", "data", "CONST"]
    assert all("not modifiable" in message for _, message in start.refused)
    assert start.seen == (1, None, 5)
    join = run["join"].task.data
    assert (join.sides, join.const_in_join) == ([5, 6], 5)
    assert join.alpha == 1  # parameters are still every task's data
