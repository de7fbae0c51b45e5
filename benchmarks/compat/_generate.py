"""Enumerate Metaflow's test/core (graph, test) pairs with Metaflow's own code.

Run by ``metaflow_core.py`` in a child process whose ``PYTHONPATH`` holds the
*real* Metaflow package and ``test/core`` extracted from the snapshot (never
flowtrack: which pairs exist must not depend on flowtrack). It mirrors
``run_tests.run_test_cases`` for one context and the ``cli`` executor: every graph x
test whose ``FlowFormatter`` is valid, minus the context's ``disabled_tests`` (and
outside its ``enabled_tests``, and without parallel graphs when the context sets
``disable_parallel``), and writes one JSON record per pair with the generated
``test_flow.py`` / ``check_flow.py`` text.

usage: python _generate.py CORE_DIR CONTEXT_NAME OUT_JSON
"""

from __future__ import annotations

import json
import os
import sys


def _context(core_dir: str, name: str) -> dict:
    with open(os.path.join(core_dir, "contexts.json"), encoding="utf-8") as f:
        contexts = json.load(f)
    for context in contexts["contexts"]:
        if context["name"] == name:
            return {**context, "check_defs": contexts["checks"]}
    raise SystemExit(f"no context {name!r} in contexts.json")


def _excluded(context: dict, test_name: str, graph: dict) -> str | None:
    """Why run_tests.py skips this valid pair in ``context``, or None."""
    if context.get("disable_parallel", False) and any(
            "num_parallel" in node for node in graph["graph"].values()):
        return "parallel graph in a disable_parallel context"
    if test_name in map(str, context.get("disabled_tests", [])):
        return "disabled_tests"
    enabled = context.get("enabled_tests", [])
    if enabled and test_name not in map(str, enabled):
        return "not in enabled_tests"
    return None


def _record(formatter, test, graph: dict) -> dict:
    return {
        "test": test.__class__.__name__,
        "graph": graph["name"],
        "priority": test.PRIORITY,
        "flow_name": formatter.flow_name,
        "flow_code": formatter.flow_code,
        "check_code": formatter.check_code,
        "copy_files": list(formatter.copy_files),
        "should_resume": bool(formatter.should_resume),
        "resume_step": formatter.resume_step,
        "should_fail": bool(formatter.should_fail),
    }


def main(core_dir: str, context_name: str, out: str) -> None:
    os.chdir(core_dir)
    sys.path.insert(0, core_dir)
    from metaflow_test.formatter import FlowFormatter  # Metaflow's own generator
    from run_tests import iter_graphs, iter_tests  # and its own enumeration

    context = _context(core_dir, context_name)
    graphs = sorted(iter_graphs(), key=lambda g: g["name"])
    tests = sorted(iter_tests(), key=lambda t: (t.PRIORITY, t.__class__.__name__))
    pairs, excluded, invalid = [], [], 0
    for test in tests:
        for graph in graphs:
            formatter = FlowFormatter(graph, test)
            if not formatter.valid:
                invalid += 1
                continue
            reason = _excluded(context, test.__class__.__name__, graph)
            if reason:
                excluded.append([test.__class__.__name__, graph["name"], reason])
            else:
                pairs.append(_record(formatter, test, graph))
    result = {"context": context, "pairs": pairs, "excluded": excluded,
              "counts": {"tests": len(tests), "graphs": len(graphs),
                         "invalid": invalid, "excluded": len(excluded), "valid": len(pairs)}}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
