"""The flow graph: derived from the source of each step and checked before any run.

Each step's transitions come from its final statement, a ``self.next(...)`` call,
read with ``ast`` (nothing is executed). ``FlowGraph`` holds one ``StepNode`` per
step and ``check()`` applies the rules below, raising ``GraphError`` with the step,
file, line and rule name of the first violation found:

basic-steps, reserved-names, num-args, end-is-end, static-transitions,
valid-transitions, unknown-transitions, orphans, dead-ends, acyclic (only a switch
step may loop back to itself), join-args, split-join-balance and catch-placement.

Ported Metaflow code reads the graph as ``self._graph`` (Metaflow's ``FlowGraph``):
iterating nodes, ``graph[name]``, and on a node ``name``, ``type``, ``out_funcs``,
``in_funcs`` (sorted), ``split_parents``, ``matching_join``, ``is_inside_foreach``,
``func_lineno`` and ``source_file`` mean what they mean there, and are filled in when
the graph is built, before any ``check()``.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .._errors import GraphError

# the pseudo-step whose task holds a run's parameter values
PARAMETERS_STEP = "_parameters"

# step types whose transition needs the step's own result, so @catch cannot apply
UNCATCHABLE_TYPES = ("foreach", "split-switch")

RESERVED_STEP_NAMES = frozenset({"name", "next", "input", "index", "foreach_stack",
                                 "merge_artifacts", "script_name", "cmd"})


@dataclass
class StepNode:
    """One step: its transitions as written in the source, and where it is."""

    name: str
    func: Callable[..., Any]
    file: str
    line: int
    doc: str
    num_args: int
    out_funcs: list[str] = field(default_factory=list)
    foreach_param: str | None = None
    parallel_foreach: bool = False  # self.next(self.x, num_parallel=N): a gang of N tasks
    condition: str | None = None
    switch_cases: dict[str, str] = field(default_factory=dict)
    has_tail_next: bool = False
    next_line: int | None = None
    problem: str | None = None  # a malformed self.next call, reported by check()
    in_funcs: list[str] = field(default_factory=list)  # sorted by name, as in Metaflow
    split_parents: list[str] = field(default_factory=list)  # enclosing splits, outermost first
    matching_join: str | None = None  # on a split or foreach: the join that closes it
    is_inside_foreach: bool = False  # some enclosing foreach is still open at this step

    @property
    def is_join(self) -> bool:
        return self.num_args == 2

    @property
    def type(self) -> str:
        if self.name == "end":
            return "end"
        if self.is_join:
            return "join"
        if self.foreach_param or self.parallel_foreach:
            return "foreach"  # (Metaflow's type for a num_parallel split too)
        if self.condition:
            return "split-switch"
        if len(self.out_funcs) > 1:
            return "split"
        return "start" if self.name == "start" else "linear"

    @property
    def decorators(self) -> list[Any]:
        return list(getattr(self.func, "decorators", []))

    @property
    def matching_split(self) -> str | None:
        return self.split_parents[-1] if self.split_parents else None

    # -- Metaflow's DAGNode names for the same facts ------------------------------
    @property
    def source_file(self) -> str:
        return self.file

    @property
    def func_lineno(self) -> int:
        return self.line

    @property
    def tail_next_lineno(self) -> int:
        return self.next_line or 0

    @property
    def parallel_step(self) -> bool:
        """Whether the step is decorated with ``@parallel`` (or a decorator built on it,
        such as ``@pytorch_parallel``)."""
        return any(getattr(d, "IS_PARALLEL", False) for d in self.decorators)


def _self_attr(node: ast.AST) -> str | None:
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "self"):
        return node.attr
    return None


def _is_next_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and _self_attr(node.value.func) == "next")


def _parse_next(node: StepNode, call: ast.Call) -> None:
    """Fill the node's transitions from a ``self.next(...)`` call."""
    kwargs = {k.arg: k.value for k in call.keywords}
    unknown = set(kwargs) - {"foreach", "condition", "num_parallel"}
    if unknown:
        node.problem = f"self.next() got unknown keyword(s) {', '.join(sorted(map(str, unknown)))}"
        return
    for key in ("foreach", "condition"):
        value = kwargs.get(key)
        if value is None:
            continue
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            node.problem = f"{key}= must be a string literal naming an attribute, e.g. {key}='items'"
            return
        setattr(node, "foreach_param" if key == "foreach" else "condition", value.value)
    # the number of tasks is evaluated when the step runs; any expression will do
    node.parallel_foreach = "num_parallel" in kwargs
    if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
        _parse_switch(node, call.args[0])
        return
    for arg in call.args:
        target = _self_attr(arg)
        if target is None:
            node.problem = ("self.next() arguments must be steps written as self.<step>, or one "
                            "dict {'value': self.<step>, ...} with condition=")
            return
        node.out_funcs.append(target)


def _parse_switch(node: StepNode, mapping: ast.Dict) -> None:
    for key, value in zip(mapping.keys, mapping.values):
        target = _self_attr(value) if value is not None else None
        if not (isinstance(key, ast.Constant) and target):
            node.problem = "a switch dict must map constant keys to steps written as self.<step>"
            return
        node.switch_cases[str(key.value)] = target
        if target not in node.out_funcs:
            node.out_funcs.append(target)
    if not node.condition:
        node.problem = "self.next({...}) with a dict of cases needs condition='attribute'"


def _build_node(name: str, func: Callable[..., Any]) -> StepNode:
    raw = inspect.unwrap(func)
    file = inspect.getsourcefile(raw) or "<unknown>"
    lines, first = inspect.getsourcelines(raw)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    fdef = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    offset = first - 1
    num_args = len(fdef.args.args) + len(fdef.args.posonlyargs)
    node = StepNode(name=name, func=func, file=file, line=fdef.lineno + offset,
                    doc=inspect.getdoc(raw) or "", num_args=num_args)
    body = [s for s in fdef.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    tail = body[-1] if body else None
    if tail is not None and _is_next_call(tail):
        node.has_tail_next = True
        node.next_line = tail.lineno + offset
        _parse_next(node, tail.value)  # type: ignore[attr-defined]
    else:
        stray = next((s for s in ast.walk(fdef) if _is_next_call(s)), None)
        if stray is not None:
            node.next_line = stray.lineno + offset  # type: ignore[attr-defined]
    return node


class FlowGraph:
    """The DAG of a flow class, built from its source."""

    def __init__(self, flow_cls: type) -> None:
        self.name = flow_cls.__name__
        own_doc = flow_cls.__dict__.get("__doc__")  # not FlowSpec's, when the flow has none
        self.doc = inspect.cleandoc(own_doc) if own_doc else ""
        self.file = inspect.getsourcefile(flow_cls) or "<unknown>"
        self.nodes: dict[str, StepNode] = {}
        for attr in _step_names_in_order(flow_cls):
            self.nodes[attr] = _build_node(attr, getattr(flow_cls, attr))
        for node in self.nodes.values():
            for out in node.out_funcs:
                target = self.nodes.get(out)
                if target is not None and node.name not in target.in_funcs and out != node.name:
                    target.in_funcs.append(node.name)
        for node in self.nodes.values():
            node.in_funcs.sort()
        # Metaflow's names for the first and last step
        self.start_step: str | None = "start" if "start" in self.nodes else None
        self.end_step: str | None = "end" if "end" in self.nodes else None
        self._annotate_splits()

    def _annotate_splits(self) -> None:
        """Fill ``split_parents``, ``matching_join`` and ``is_inside_foreach`` by walking
        from start; tolerant of a broken graph (``check()`` reports what is wrong)."""
        stacks: dict[str, list[str]] = {"start": []}
        for node in self.sorted_nodes():
            parents = stacks.get(node.name, [])
            node.split_parents = list(parents)  # a join's include the split it closes
            if node.type in ("split", "foreach"):
                onward = parents + [node.name]
            elif node.is_join and parents:
                self.nodes[parents[-1]].matching_join = node.name
                onward = parents[:-1]
            else:
                onward = parents
            for out in node.out_funcs:
                if out != node.name and out in self.nodes:
                    stacks.setdefault(out, onward)
        for node in self.nodes.values():
            node.is_inside_foreach = bool(self.open_foreaches(node.name))

    def open_foreaches(self, name: str) -> list[str]:
        """The foreach steps whose split is still open at step ``name``, outermost first
        (a foreach join has closed its own): one per frame of the task's foreach stack."""
        node = self.nodes[name]
        return [p for p in node.split_parents
                if self.nodes[p].type == "foreach" and self.nodes[p].matching_join != name]

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.nodes.values())

    def sorted_nodes(self) -> list[StepNode]:
        """Steps in topological order from start (self-loops ignored)."""
        order, seen = [], set()
        indegree = {n: len(self.nodes[n].in_funcs) for n in self.nodes}
        ready = ["start"] if "start" in self.nodes else []
        while ready:
            name = ready.pop(0)
            if name in seen:
                continue
            seen.add(name)
            order.append(self.nodes[name])
            for out in self.nodes[name].out_funcs:
                if out == name or out not in self.nodes:
                    continue
                indegree[out] -= 1
                if indegree[out] == 0:
                    ready.append(out)
        return order

    def error(self, node: StepNode | None, message: str, rule: str, line: int | None = None) -> GraphError:
        if node is None:
            return GraphError(message, file=self.file, rule=rule)
        return GraphError(message, step=node.name, file=node.file, line=line or node.line, rule=rule)

    def check(self) -> None:
        """Apply every rule; raise GraphError for the first violation."""
        from ._checks import run_checks

        run_checks(self)


def _step_names_in_order(flow_cls: type) -> list[str]:
    """Step attribute names, in source order (base classes first)."""
    found: dict[str, int] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if getattr(value, "is_step", False) is True:
                try:
                    line = inspect.getsourcelines(inspect.unwrap(value))[1]
                except (OSError, TypeError):
                    line = 0
                found[attr] = line
    # keep only those still steps on the final class (a subclass may override)
    names = [n for n in found if getattr(getattr(flow_cls, n, None), "is_step", False) is True]
    return sorted(names, key=lambda n: found[n])
