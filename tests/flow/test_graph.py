"""The flow graph: how it is derived from the source and every rule of ``check()``.

Each bad flow marks the line the error must point at with a ``# <-`` comment; the
test finds that line in the written file, so the expected line number is never
hand-counted.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flowtrack._errors import GraphError
from flowtrack.flow import ArtifactSource, FlowGraph, FlowSpec, Inputs

_counter = itertools.count()

MARK = "# <-"


@pytest.fixture
def load_flow(write_flow: Callable[..., Path]) -> Iterator[Callable[..., tuple[type, Path]]]:
    """Write a flow file, import it as a fresh module and return (flow class, path)."""
    modules: list[str] = []

    def load(source: str, name: str | None = None) -> tuple[type, Path]:
        module_name = f"_ft_graph_flow_{next(_counter)}"
        path = write_flow(source, name=f"{module_name}.py")
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        modules.append(module_name)
        spec.loader.exec_module(module)
        if name is not None:
            return getattr(module, name), path
        flows = [v for v in vars(module).values()
                 if isinstance(v, type) and issubclass(v, FlowSpec) and v is not FlowSpec]
        assert len(flows) == 1, flows
        return flows[0], path

    yield load
    for name in modules:
        sys.modules.pop(name, None)


def marked_line(path: Path) -> int:
    lines = path.read_text().splitlines()
    found = [i for i, line in enumerate(lines, start=1) if MARK in line]
    assert len(found) == 1, f"expected exactly one {MARK!r} marker in {path}"
    return found[0]


def check_error(load_flow: Callable[[str], tuple[type, Path]], source: str) -> tuple[GraphError, Path]:
    flow_cls, path = load_flow(source)
    with pytest.raises(GraphError) as info:
        flow_cls._graph.check()
    return info.value, path


def assert_graph_error(err: GraphError, path: Path, step: str, rule: str,
                       *fragments: str) -> None:
    line = marked_line(path)
    message = str(err)
    assert err.rule == rule
    assert err.step == step
    assert err.file == str(path)
    assert err.line == line
    assert message.startswith(f"{path}:{line}: "), message
    assert message.endswith(f"[rule: {rule}]"), message
    assert f"'{step}'" in message, message
    for fragment in fragments:
        assert fragment in message, message


HEADER = """\
from flowtrack import FlowSpec, step
"""

# ---------------------------------------------------------------------------
# rule violations
# ---------------------------------------------------------------------------


def test_basic_steps_missing_end(load_flow):
    err, path = check_error(load_flow, HEADER + """
class NoEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        pass
""")
    assert err.rule == "basic-steps"
    assert err.file == str(path)
    assert err.line is None and err.step is None
    assert str(err).startswith(f"{path}: ")
    assert "no 'end' step" in str(err) and "NoEndFlow" in str(err)
    assert str(err).endswith("[rule: basic-steps]")


def test_basic_steps_missing_start(load_flow):
    err, path = check_error(load_flow, HEADER + """
class NoStartFlow(FlowSpec):
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert err.rule == "basic-steps"
    assert "no 'start' step" in str(err)
    assert err.file == str(path)


def test_reserved_names(load_flow):
    err, path = check_error(load_flow, HEADER + """
class ReservedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.index)

    @step
    def index(self):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "index", "reserved-names", "reserved")


@pytest.mark.parametrize("signature", ["(self, inputs, extra)", "()"])
def test_num_args(load_flow, signature):
    err, path = check_error(load_flow, HEADER + f"""
class ArgsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle{signature}:  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "middle", "num-args")


def test_end_is_end_calls_next(load_flow):
    err, path = check_error(load_flow, HEADER + """
class EndNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        x = 1
        self.next(self.start)  # <-
""")
    assert_graph_error(err, path, "end", "end-is-end", "must not call self.next()")


def test_end_is_end_is_a_join(load_flow):
    err, path = check_error(load_flow, HEADER + """
class EndJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self, inputs):  # <-
        pass
""")
    assert_graph_error(err, path, "end", "end-is-end", "cannot be a join")


def test_static_transitions_missing_next(load_flow):
    err, path = check_error(load_flow, HEADER + """
class NoNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):  # <-
        \"\"\"A step that forgets its transition.\"\"\"
        self.x = 1

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "middle", "static-transitions", "does not end with self.next")


def test_static_transitions_next_not_last(load_flow):
    err, path = check_error(load_flow, HEADER + """
class NextNotLastFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)  # <-
        self.x = 1

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "middle", "static-transitions", "must be the last statement")


def test_static_transitions_next_inside_if(load_flow):
    err, path = check_error(load_flow, HEADER + """
class NextInIfFlow(FlowSpec):
    @step
    def start(self):
        if True:
            self.next(self.end)  # <-

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "start", "static-transitions")


VALID_TRANSITION_CASES = {
    "foreach-two-targets": ("self.next(self.a, self.b, foreach='items')", "exactly one step"),
    "dict-without-condition": ("self.next({'x': self.a, 'y': self.b})", "needs condition="),
    "condition-without-dict": ("self.next(self.a, self.b, condition='flag')",
                               "needs a dict of cases"),
    "duplicate-target": ("self.next(self.a, self.a)", "same step twice"),
    "non-step-argument": ("self.next('a')", "self.<step>"),
    "unknown-keyword": ("self.next(self.a, bogus=1)", "unknown keyword"),
    "foreach-not-literal": ("self.next(self.a, foreach=items)", "string literal"),
    "foreach-and-condition": ("self.next({'x': self.a}, foreach='items', condition='flag')",
                              "cannot be combined"),
    "switch-non-constant-key": ("self.next({key: self.a, 'y': self.b}, condition='flag')",
                                "constant keys"),
}


@pytest.mark.parametrize("case", sorted(VALID_TRANSITION_CASES))
def test_valid_transitions(load_flow, case):
    call, fragment = VALID_TRANSITION_CASES[case]
    err, path = check_error(load_flow, HEADER + f"""
class TransitionFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.flag = 'x'
        {call}  # <-

    @step
    def a(self):
        self.next(self.j)

    @step
    def b(self):
        self.next(self.j)

    @step
    def j(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "start", "valid-transitions", fragment)


def test_unknown_transitions(load_flow):
    err, path = check_error(load_flow, HEADER + """
class UnknownFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.nowhere)  # <-

    def helper(self):
        pass

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "start", "unknown-transitions", "'nowhere'")


def test_unknown_transitions_to_method_without_step(load_flow):
    err, path = check_error(load_flow, HEADER + """
class NotAStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.helper)  # <-

    def helper(self):
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "start", "unknown-transitions", "'helper'", "missing @step")


def test_orphans(load_flow):
    err, path = check_error(load_flow, HEADER + """
class OrphanFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def lonely(self):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "lonely", "orphans", "cannot be reached from 'start'")


def test_dead_ends(load_flow):
    err, path = check_error(load_flow, HEADER + """
class DeadEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.end)

    @step
    def a(self):  # <-
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "a", "dead-ends", "never reaches 'end'")


def test_acyclic_non_switch_self_loop(load_flow):
    err, path = check_error(load_flow, HEADER + """
class SelfLoopFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.a, self.end)  # <-

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "a", "acyclic", "transitions to itself")


def test_acyclic_two_step_cycle(load_flow):
    err, path = check_error(load_flow, HEADER + """
class CycleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b, self.end)  # <-

    @step
    def b(self):
        self.next(self.a)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "a", "acyclic", "part of a cycle")


def test_acyclic_switch_cycle_through_two_steps(load_flow):
    """Only a switch naming *itself* may loop; a switch back to an earlier step may not."""
    err, path = check_error(load_flow, HEADER + """
class SwitchCycleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)  # <-

    @step
    def b(self):
        self.state = 'done'
        self.next({'again': self.a, 'done': self.end}, condition='state')

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "a", "acyclic")


def test_split_join_balance_join_without_split(load_flow):
    err, path = check_error(load_flow, HEADER + """
class JoinNoSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.j)

    @step
    def j(self, inputs):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "j", "split-join-balance", "not inside a split")


def test_split_join_balance_join_mixing_two_splits(load_flow):
    err, path = check_error(load_flow, HEADER + """
class MixedJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.a1, self.a2)

    @step
    def a1(self):
        self.next(self.j)

    @step
    def a2(self):
        self.next(self.j)

    @step
    def b(self):
        self.next(self.j)

    @step
    def j(self, inputs):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "j", "split-join-balance", "different splits", "a, start")


def test_split_join_balance_branch_not_reaching_join(load_flow):
    err, path = check_error(load_flow, HEADER + """
class MissingBranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.j)

    @step
    def j(self, inputs):  # <-
        self.next(self.end)

    @step
    def b(self):
        self.next(self.j2)

    @step
    def j2(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "j", "split-join-balance",
                       "does not receive branch(es) b", "split at step 'start'")


def test_split_join_balance_branches_merge_into_non_join(load_flow):
    err, path = check_error(load_flow, HEADER + """
class MergeNoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.c)

    @step
    def b(self):
        self.next(self.c)

    @step
    def c(self):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "c", "split-join-balance", "without joining",
                       "split at step 'start'", "def c(self, inputs)")


def test_split_join_balance_end_with_open_foreach(load_flow):
    err, path = check_error(load_flow, HEADER + """
class OpenForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach='items')

    @step
    def body(self):
        self.next(self.end)

    @step
    def end(self):  # <-
        pass
""")
    assert_graph_error(err, path, "end", "split-join-balance",
                       "before the split at step 'start' is joined")


def test_split_join_balance_end_with_open_inner_split(load_flow):
    err, path = check_error(load_flow, HEADER + """
class OpenInnerFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.outer, foreach='items')

    @step
    def outer(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.j)

    @step
    def b(self):
        self.next(self.j)

    @step
    def j(self, inputs):
        self.next(self.end)

    @step
    def end(self):  # <-
        pass
""")
    assert_graph_error(err, path, "end", "split-join-balance", "split at step 'start'")


def test_join_args_start_cannot_take_inputs(load_flow):
    err, path = check_error(load_flow, HEADER + """
class StartJoinFlow(FlowSpec):
    @step
    def start(self, inputs):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "start", "join-args", "cannot take inputs")


def test_line_of_decorated_step_is_the_def_line(load_flow):
    err, path = check_error(load_flow, """\
from flowtrack import FlowSpec, step, retry


class DecoratedOrphanFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @retry(times=1)
    @step
    def lonely(self):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass
""")
    assert_graph_error(err, path, "lonely", "orphans")


# ---------------------------------------------------------------------------
# valid shapes
# ---------------------------------------------------------------------------

LINEAR = HEADER + '''
class LinearFlow(FlowSpec):
    """A linear flow."""

    @step
    def start(self):
        """First."""
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        """Last."""
'''

STATIC_SPLIT = HEADER + """
class SplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, self.evaluate)

    @step
    def train(self):
        self.next(self.join)

    @step
    def evaluate(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.train_value = inputs.train.value
        self.next(self.end)

    @step
    def end(self):
        pass
"""

FOREACH = HEADER + """
class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach='items')

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""

NESTED_FOREACH = HEADER + """
class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.xs = [1, 2]
        self.next(self.outer, foreach='xs')

    @step
    def outer(self):
        self.ys = [1, 2]
        self.next(self.inner, foreach='ys')

    @step
    def inner(self):
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
"""

SWITCH = HEADER + """
class SwitchFlow(FlowSpec):
    @step
    def start(self):
        self.mode = 'fast'
        self.next({'fast': self.quick, 'slow': self.careful}, condition='mode')

    @step
    def quick(self):
        self.next(self.after)

    @step
    def careful(self):
        self.next(self.after)

    @step
    def after(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""

SWITCH_LOOP = HEADER + """
class LoopFlow(FlowSpec):
    @step
    def start(self):
        self.n = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.n += 1
        self.state = 'done' if self.n >= 3 else 'again'
        self.next({'again': self.loop, 'done': self.end}, condition='state')

    @step
    def end(self):
        pass
"""


def _names(nodes: list[Any]) -> list[str]:
    return [n.name for n in nodes]


def test_linear_flow(load_flow):
    flow_cls, path = load_flow(LINEAR)
    graph = flow_cls._graph
    graph.check()
    assert isinstance(graph, FlowGraph)
    assert graph.name == "LinearFlow" and graph.doc == "A linear flow."
    assert graph.file == str(path)
    assert [graph[n].type for n in ("start", "middle", "end")] == ["start", "linear", "end"]
    assert _names(graph.sorted_nodes()) == ["start", "middle", "end"]
    assert graph["start"].out_funcs == ["middle"] and graph["middle"].in_funcs == ["start"]
    assert graph["start"].doc == "First." and graph["end"].doc == "Last."
    assert "middle" in graph and "nope" not in graph
    assert [n.name for n in graph] == ["start", "middle", "end"]
    lines = path.read_text().splitlines()
    assert lines[graph["middle"].line - 1].strip() == "def middle(self):"
    assert lines[graph["middle"].next_line - 1].strip() == "self.next(self.end)"


def test_graph_is_cached_per_class(load_flow):
    flow_cls, _ = load_flow(LINEAR)
    assert flow_cls._graph is flow_cls._graph


def test_static_split_join(load_flow):
    flow_cls, _ = load_flow(STATIC_SPLIT)
    graph = flow_cls._graph
    graph.check()
    assert graph["start"].type == "split"
    assert graph["train"].type == "linear"
    assert graph["join"].type == "join" and graph["join"].is_join
    assert graph["end"].type == "end"
    assert sorted(graph["join"].in_funcs) == ["evaluate", "train"]
    order = _names(graph.sorted_nodes())
    assert order == ["start", "train", "evaluate", "join", "end"]
    assert graph["train"].split_parents == ["start"]
    assert graph["train"].matching_split == "start"
    assert graph["end"].split_parents == []


def test_foreach(load_flow):
    flow_cls, _ = load_flow(FOREACH)
    graph = flow_cls._graph
    graph.check()
    assert graph["start"].type == "foreach"
    assert graph["start"].foreach_param == "items"
    assert graph["start"].out_funcs == ["body"]
    assert graph["body"].type == "linear"
    assert graph["join"].type == "join"
    assert _names(graph.sorted_nodes()) == ["start", "body", "join", "end"]
    assert graph["body"].split_parents == ["start"]


def test_nested_foreach(load_flow):
    flow_cls, _ = load_flow(NESTED_FOREACH)
    graph = flow_cls._graph
    graph.check()
    assert graph["start"].type == "foreach" and graph["outer"].type == "foreach"
    assert graph["inner_join"].type == "join" and graph["outer_join"].type == "join"
    assert _names(graph.sorted_nodes()) == ["start", "outer", "inner", "inner_join",
                                            "outer_join", "end"]
    assert graph["inner"].split_parents == ["start", "outer"]
    assert graph["outer"].split_parents == ["start"]
    assert graph["end"].split_parents == []


def test_join_matching_split_is_the_split_it_closes(load_flow):
    flow_cls, _ = load_flow(NESTED_FOREACH)
    graph = flow_cls._graph
    graph.check()
    assert graph["inner_join"].matching_split == "outer"
    assert graph["outer_join"].matching_split == "start"


def test_switch_converging(load_flow):
    flow_cls, _ = load_flow(SWITCH)
    graph = flow_cls._graph
    graph.check()
    start = graph["start"]
    assert start.type == "split-switch"
    assert start.condition == "mode"
    assert start.switch_cases == {"fast": "quick", "slow": "careful"}
    assert start.out_funcs == ["quick", "careful"]
    assert graph["after"].type == "linear"
    assert sorted(graph["after"].in_funcs) == ["careful", "quick"]
    assert _names(graph.sorted_nodes()) == ["start", "quick", "careful", "after", "end"]
    assert graph["after"].split_parents == []


def test_switch_self_loop(load_flow):
    flow_cls, _ = load_flow(SWITCH_LOOP)
    graph = flow_cls._graph
    graph.check()
    loop = graph["loop"]
    assert loop.type == "split-switch"
    assert loop.switch_cases == {"again": "loop", "done": "end"}
    assert "loop" not in loop.in_funcs  # a self-loop is not an incoming edge
    assert _names(graph.sorted_nodes()) == ["start", "loop", "end"]


def test_steps_in_source_order_with_inheritance(load_flow):
    flow_cls, _ = load_flow(HEADER + """
class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    @step
    def middle(self):
        \"\"\"Overridden.\"\"\"
        self.next(self.end)
""", name="ChildFlow")
    graph = flow_cls._graph
    graph.check()
    assert graph.name == "ChildFlow"
    assert set(graph.nodes) == {"start", "middle", "end"}
    assert graph["middle"].doc == "Overridden."
    assert _names(graph.sorted_nodes()) == ["start", "middle", "end"]


# ---------------------------------------------------------------------------
# inputs.<branch> in a join (no store needed: a fake ArtifactSource)
# ---------------------------------------------------------------------------


class _FakeSource(ArtifactSource):
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


def test_inputs_by_branch_name():
    inputs = Inputs([_FakeSource("train", {"value": 1}), _FakeSource("evaluate", {"value": 2})])
    assert len(inputs) == 2
    assert inputs.train.value == 1
    assert inputs.evaluate.value == 2
    assert inputs[1].value == 2
    assert [b.value for b in inputs] == [1, 2]
    with pytest.raises(AttributeError, match="no input from step 'other'.*train, evaluate"):
        inputs.other  # noqa: B018
    with pytest.raises(AttributeError, match="Branch 'train' has no artifact 'missing'"):
        inputs.train.missing  # noqa: B018


# ---------------------------------------------------------------------------
# through the command line
# ---------------------------------------------------------------------------

BAD_CLI_FLOW = HEADER + """
class BadCliFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def lonely(self):  # <-
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadCliFlow()
"""


@pytest.mark.parametrize("args", [(), ("run",), ("show",)])
def test_cli_bad_graph_exits_without_traceback(write_flow, run_flow, args):
    path = write_flow(BAD_CLI_FLOW)
    proc = run_flow(path, *args)
    assert proc.returncode != 0
    line = marked_line(path)
    assert f"{path}:{line}:" in proc.stderr
    assert "'lonely'" in proc.stderr and "[rule: orphans]" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Workflow starting" not in proc.stdout


def test_cli_no_command_validates_and_prints_usage(write_flow, run_flow):
    path = write_flow(LINEAR + '\n\nif __name__ == "__main__":\n    LinearFlow()\n')
    proc = run_flow(path)
    assert proc.returncode == 0, proc.stderr
    assert "the graph is valid (3 steps)" in proc.stdout
    assert "Usage:" in proc.stdout
    for command in ("run", "resume", "show", "check", "logs", "dump", "tag"):
        assert command in proc.stdout
