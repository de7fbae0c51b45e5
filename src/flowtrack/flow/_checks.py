"""The graph rules, applied in order by ``FlowGraph.check()``.

Each rule is a function taking the graph and raising ``GraphError`` (via
``graph.error``) with the step, line and rule name. The split-join balance rule
also annotates each node with its enclosing splits (``split_parents``; for a join,
including the split it closes, see ``StepNode.matching_split``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._graph import RESERVED_STEP_NAMES, UNCATCHABLE_TYPES

if TYPE_CHECKING:
    from ._graph import FlowGraph, StepNode


def check_basic_steps(graph: FlowGraph) -> None:
    for name in ("start", "end"):
        if name not in graph:
            raise graph.error(None, f"Flow {graph.name} has no '{name}' step. Every flow needs a "
                              f"step named '{name}' (decorated with @step).", "basic-steps")


def check_reserved_names(graph: FlowGraph) -> None:
    for node in graph:
        if node.name in RESERVED_STEP_NAMES:
            raise graph.error(node, f"Step name '{node.name}' is reserved by FlowSpec; rename "
                              "the step.", "reserved-names")


def check_num_args(graph: FlowGraph) -> None:
    for node in graph:
        if node.num_args not in (1, 2):
            raise graph.error(node, f"Step '{node.name}' takes {node.num_args} arguments; a step "
                              "takes only self, or (self, inputs) for a join step.", "num-args")


def check_end_is_end(graph: FlowGraph) -> None:
    end = graph["end"]
    if end.has_tail_next or end.next_line:
        raise graph.error(end, "Step 'end' must not call self.next(); it is the last step.",
                          "end-is-end", end.next_line)
    if end.is_join:
        raise graph.error(end, "Step 'end' cannot be a join step (take only self); add a join "
                          "step before it.", "end-is-end")


def check_static_transitions(graph: FlowGraph) -> None:
    for node in graph:
        if node.name == "end" or node.has_tail_next:
            continue
        if node.next_line:
            raise graph.error(node, f"self.next() must be the last statement of step "
                              f"'{node.name}'; move it to the end of the step.",
                              "static-transitions", node.next_line)
        raise graph.error(node, f"Step '{node.name}' does not end with self.next(...); add a "
                          "transition to the next step as its last statement.",
                          "static-transitions")


def check_valid_transitions(graph: FlowGraph) -> None:
    for node in graph:
        if node.problem:
            raise graph.error(node, f"Step '{node.name}': {node.problem}.", "valid-transitions",
                              node.next_line)
        if node.foreach_param and len(node.out_funcs) != 1:
            raise graph.error(node, f"Step '{node.name}': a foreach transition goes to exactly "
                              "one step: self.next(self.body, foreach='items').",
                              "valid-transitions", node.next_line)
        if node.foreach_param and node.condition:
            raise graph.error(node, f"Step '{node.name}': foreach= and condition= cannot be "
                              "combined in one transition.", "valid-transitions", node.next_line)
        if node.parallel_foreach and (node.foreach_param or node.condition):
            raise graph.error(node, f"Step '{node.name}': num_parallel= cannot be combined with "
                              "foreach= or condition= in one transition.", "valid-transitions",
                              node.next_line)
        if node.parallel_foreach and len(node.out_funcs) != 1:
            raise graph.error(node, f"Step '{node.name}': only one destination is allowed when "
                              "num_parallel is used in self.next(): "
                              "self.next(self.train, num_parallel=4).", "valid-transitions",
                              node.next_line)
        if len(set(node.out_funcs)) != len(node.out_funcs):
            raise graph.error(node, f"Step '{node.name}' names the same step twice in "
                              "self.next().", "valid-transitions", node.next_line)
        if node.condition and not node.switch_cases:
            raise graph.error(node, f"Step '{node.name}': condition= needs a dict of cases, "
                              "self.next({'a': self.x, 'b': self.y}, condition='attr').",
                              "valid-transitions", node.next_line)


def check_unknown_transitions(graph: FlowGraph) -> None:
    for node in graph:
        for out in node.out_funcs:
            if out not in graph:
                raise graph.error(node, f"Step '{node.name}' transitions to '{out}', which is not "
                                  "a step of this flow (is it missing @step?).",
                                  "unknown-transitions", node.next_line)


def check_reachability(graph: FlowGraph) -> None:
    reached, frontier = {"start"}, ["start"]
    while frontier:
        for out in graph[frontier.pop()].out_funcs:
            if out not in reached:
                reached.add(out)
                frontier.append(out)
    for node in graph:
        if node.name not in reached:
            raise graph.error(node, f"Step '{node.name}' cannot be reached from 'start'; no step "
                              "transitions to it.", "orphans")
    leads_to_end, changed = {"end"}, True
    while changed:
        changed = False
        for node in graph:
            if node.name not in leads_to_end and any(o in leads_to_end for o in node.out_funcs):
                leads_to_end.add(node.name)
                changed = True
    for node in graph:
        if node.name not in leads_to_end:
            raise graph.error(node, f"Step '{node.name}' never reaches 'end'.", "dead-ends")


def check_acyclic(graph: FlowGraph) -> None:
    for node in graph:
        if node.name in node.out_funcs and not node.condition:
            raise graph.error(node, f"Step '{node.name}' transitions to itself; only a switch "
                              "(condition=) may loop back to its own step.", "acyclic",
                              node.next_line)
    if len(graph.sorted_nodes()) != len(graph.nodes):
        ordered = {n.name for n in graph.sorted_nodes()}
        culprit = next(n for n in graph if n.name not in ordered)
        raise graph.error(culprit, f"Step '{culprit.name}' is part of a cycle. Flows are acyclic; "
                          "the only loop allowed is a switch step naming itself as a case.",
                          "acyclic", culprit.next_line)


def check_join_args(graph: FlowGraph) -> None:
    start = graph["start"]
    if start.is_join:
        raise graph.error(start, "Step 'start' cannot take inputs; it is the first step, so "
                          "there is nothing to join. Define it as def start(self).", "join-args")


def check_split_join_balance(graph: FlowGraph) -> None:
    """Track each step's enclosing splits; a join must close the innermost one fully."""
    # stack entries are (split step, branch step) pairs
    stacks: dict[str, tuple[tuple[str, str], ...]] = {"start": ()}
    arrivals: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}
    for node in graph.sorted_nodes():
        stack = stacks[node.name]
        node.split_parents = [split for split, _ in stack]
        if node.is_join and arrivals.get(node.name):  # include the split it closes
            node.split_parents = [s for s, _ in next(iter(arrivals[node.name].values()))]
        for out in node.out_funcs:
            if out == node.name:
                continue
            child = graph[out]
            if node.type in ("split", "foreach"):
                pushed = stack + ((node.name, out),)
            else:
                pushed = stack
            if child.is_join:
                _check_join_edge(graph, node, child, pushed)
                arrivals.setdefault(out, {})[node.name] = pushed
                pushed = pushed[:-1]
            previous = stacks.get(out)
            if previous is not None and previous != pushed and not child.is_join:
                raise _unjoined_error(graph, child, previous, pushed)
            stacks[out] = pushed
    for node in graph:
        if node.is_join:
            _check_join_complete(graph, node, arrivals.get(node.name, {}))
    if stacks["end"]:
        split = stacks["end"][-1][0]
        raise graph.error(graph["end"], f"Step 'end' is reached before the split at step "
                          f"'{split}' is joined; add a join step (def join(self, inputs)) "
                          "before 'end'.", "split-join-balance")


def _check_join_edge(graph: FlowGraph, parent: StepNode, join: StepNode,
                     stack: tuple[tuple[str, str], ...]) -> None:
    if not stack:
        raise graph.error(join, f"Join step '{join.name}' (it takes inputs) is reached from "
                          f"'{parent.name}', which is not inside a split. Remove the inputs "
                          "argument or join the branches of a split.", "split-join-balance")


def _check_join_complete(graph: FlowGraph, join: StepNode,
                         arrivals: dict[str, tuple[tuple[str, str], ...]]) -> None:
    if not arrivals:
        return
    splits = {stack[-1][0] for stack in arrivals.values()}
    prefixes = {stack[:-1] for stack in arrivals.values()}
    if len(splits) > 1 or len(prefixes) > 1:
        raise graph.error(join, f"Join step '{join.name}' joins branches of different splits "
                          f"({', '.join(sorted(splits))}); a join may only join the branches of "
                          "one split.", "split-join-balance")
    split = graph[splits.pop()]
    branches = {stack[-1][1] for stack in arrivals.values()}
    missing = [b for b in split.out_funcs if b not in branches]
    if split.type == "split" and missing:
        raise graph.error(join, f"Join step '{join.name}' does not receive branch(es) "
                          f"{', '.join(missing)} of the split at step '{split.name}'; every "
                          "branch of a split must reach its join.", "split-join-balance")


def _unjoined_error(graph: FlowGraph, child: StepNode, a: tuple, b: tuple) -> Exception:
    deeper = a if len(a) >= len(b) else b
    split = deeper[-1][0] if deeper else "?"
    return graph.error(child, f"Step '{child.name}' is reached from several branches of the split "
                       f"at step '{split}' without joining them; make '{child.name}' a join step "
                       f"(def {child.name}(self, inputs)) or add one before it.",
                       "split-join-balance")


def check_catch_placement(graph: FlowGraph) -> None:
    for node in graph:
        if node.type in UNCATCHABLE_TYPES and any(d.name == "catch" for d in node.decorators):
            raise graph.error(node, f"@catch cannot be used on step '{node.name}': it is a "
                              f"{node.type} step, whose transition depends on values a failed "
                              "step never produced. Catch errors inside the step, or put @catch "
                              "on the steps around it.", "catch-placement")


def check_parallel(graph: FlowGraph) -> None:
    """``num_parallel=`` goes to a ``@parallel`` step, only ``num_parallel=`` reaches
    one, and a join follows it (Metaflow's three rules, in its words)."""
    for node in graph:
        if node.parallel_foreach and not all(graph[o].parallel_step for o in node.out_funcs):
            raise graph.error(node, f"Step *{node.out_funcs[0]}* is called as a parallel step "
                              "with self.next(num_parallel=..) but does not have a @parallel "
                              "decorator.", "parallel", node.next_line)
        if not node.parallel_step:
            continue
        for parent in node.in_funcs:
            if not graph[parent].parallel_foreach:
                raise graph.error(node, f"Step *{node.name}* has a @parallel decorator, but is "
                                  f"not called with self.next(num_parallel=...) from step "
                                  f"*{parent}*.", "parallel")
        after = graph[node.out_funcs[0]] if node.out_funcs else None
        if after is None or not after.is_join:
            raise graph.error(node, "An @parallel step should be followed by a join step. Step "
                              f"*{after.name if after else '?'}* is called after an @parallel "
                              "step but is not a join step. Please add an extra `inputs` "
                              "argument to the step.", "parallel", node.next_line)


RULES = [check_basic_steps, check_reserved_names, check_num_args, check_end_is_end,
         check_static_transitions, check_valid_transitions, check_unknown_transitions,
         check_reachability, check_acyclic, check_join_args, check_parallel,
         check_split_join_balance, check_catch_placement]


def run_checks(graph: FlowGraph) -> None:
    for rule in RULES:
        rule(graph)
