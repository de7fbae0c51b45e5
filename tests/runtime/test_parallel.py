"""``@parallel`` gangs: ``self.next(step, num_parallel=N)`` starts N tasks together.

Each test runs a real flow. The gang's members wait for each other at a file barrier,
so a gang that was not started as a whole (or a member left running after a sibling
failed) shows up as a timeout rather than passing by luck.
"""

from __future__ import annotations

import importlib
import re
import sys
import time

import pytest

from flowtrack import Flow, parallel
from flowtrack._errors import GraphError
from flowtrack.client import namespace

BARRIER = '''
import os, time
from pathlib import Path

def barrier(name, node_index, num_nodes, timeout=30):
    """Wait until every node of the gang has arrived (files in a shared directory)."""
    here = Path(os.environ["GANG_DIR"]) / name
    here.mkdir(parents=True, exist_ok=True)
    (here / str(node_index)).touch()
    deadline = time.monotonic() + timeout
    while len(list(here.iterdir())) < num_nodes:
        if time.monotonic() > deadline:
            raise RuntimeError("the gang was not started together")
        time.sleep(0.02)
'''

GANG_FLOW = BARRIER + '''
from flowtrack import FlowSpec, step, parallel, current

class GangFlow(FlowSpec):
    @step
    def start(self):
        self.shared = "from start"
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        p = current.parallel
        barrier("train", p.node_index, p.num_nodes)
        self.node = p.node_index
        self.seen = dict(p._asdict(), input=self.input, index=self.index,
                         is_parallel=current.is_parallel, shared=self.shared,
                         env={k: os.environ[k] for k in os.environ if k.startswith("MF_PARALLEL_")})
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes = sorted(i.node for i in inputs)
        self.control_ids = sorted({i.seen["control_task_id"] for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        self.outside = dict(current.parallel._asdict(), is_parallel=current.is_parallel)

if __name__ == "__main__":
    GangFlow()
'''


@pytest.fixture
def gang_env(tmp_path):
    return {"GANG_DIR": str(tmp_path / "gang")}


def test_a_gang_starts_together_and_is_joined_like_a_foreach(write_flow, run_flow, gang_env):
    # --max-workers 1: a gang still starts as a whole (its members wait for each other)
    proc = run_flow(write_flow(GANG_FLOW), "run", "--max-workers", "1", env=gang_env,
                    timeout=120)
    assert proc.returncode == 0, proc.stderr
    run = Flow("GangFlow").latest_run
    tasks = list(run["train"])
    assert len(tasks) == 4
    seen = sorted((t.data.seen for t in tasks), key=lambda s: s["node_index"])
    control = run["train"].control_tasks()
    control_task = next(control)
    assert next(control, None) is None  # one control task per gang
    for index, info in enumerate(seen):
        assert info["node_index"] == index == info["input"] == info["index"]
        assert info["num_nodes"] == 4
        assert info["main_ip"] == "127.0.0.1"
        assert info["control_task_id"] == control_task.id
        assert info["is_parallel"] is True
        assert info["shared"] == "from start"
        assert info["env"] == {"MF_PARALLEL_MAIN_IP": "127.0.0.1", "MF_PARALLEL_NUM_NODES": "4",
                               "MF_PARALLEL_NODE_INDEX": str(index),
                               "MF_PARALLEL_CONTROL_TASK_ID": control_task.id}
    assert control_task.data.node == 0
    assert control_task.metadata_dict["internal_task_type"] == "control"
    assert {t.metadata_dict["parallel-world-size"] for t in tasks} == {4}
    join = run["join"].task
    assert join.data.nodes == [0, 1, 2, 3]
    assert join.data.control_ids == [control_task.id]
    assert len(list(join.parent_tasks)) == 4
    # outside the gang: one node, index 0, as in Metaflow
    assert run["end"].task.data.outside == {"main_ip": "127.0.0.1", "num_nodes": 1,
                                            "node_index": 0, "control_task_id": None,
                                            "is_parallel": False}


RETRY_FLOW = BARRIER + '''
from flowtrack import FlowSpec, step, parallel, retry, current

class RetryGangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work, num_parallel=3)

    @retry(times=1)
    @parallel
    @step
    def work(self):
        p = current.parallel
        barrier(f"work-{current.retry_count}", p.node_index, p.num_nodes)
        if p.node_index == 2 and current.retry_count == 0:
            raise ValueError("node 2 fails on its first attempt")
        if current.retry_count == 0:
            time.sleep(60)  # the failure above must stop this attempt of the others
        self.attempt = current.retry_count
        self.next(self.join)

    @step
    def join(self, inputs):
        self.attempts = sorted(i.attempt for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RetryGangFlow()
'''


def test_one_failure_retries_the_whole_gang(write_flow, run_flow, gang_env):
    started = time.monotonic()
    proc = run_flow(write_flow(RETRY_FLOW), "run", env=gang_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 50  # the sleeping members were stopped
    assert "retrying all 3 tasks of the gang" in proc.stdout + proc.stderr
    run = Flow("RetryGangFlow").latest_run
    assert run["join"].task.data.attempts == [1, 1, 1]
    assert sorted(t.current_attempt for t in run["work"]) == [1, 1, 1]


FAILING_FLOW = BARRIER + '''
from flowtrack import FlowSpec, step, parallel, current

class FailingGangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work, num_parallel=3)

    @parallel
    @step
    def work(self):
        p = current.parallel
        barrier("work", p.node_index, p.num_nodes)
        if p.node_index == 1:
            raise KeyError("bad shard")
        time.sleep(60)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    FailingGangFlow()
'''


def test_a_failed_member_stops_its_gang_and_the_run(write_flow, run_flow, gang_env):
    started = time.monotonic()
    proc = run_flow(write_flow(FAILING_FLOW), "run", env=gang_env, timeout=120)
    assert proc.returncode != 0
    assert time.monotonic() - started < 50
    output = proc.stdout + proc.stderr
    assert "KeyError: 'bad shard'" in output
    assert "same @parallel gang failed" in output
    namespace(None)
    run = Flow("FailingGangFlow").latest_run
    assert run.status == "FAILED"
    by_node = {t.metadata_dict["parallel-node-index"]: t for t in run["work"]}
    assert by_node[1].exception.type == "builtins.KeyError"
    for node in (0, 2):
        assert not by_node[node].successful
        assert "same @parallel gang failed" in str(by_node[node].exception)


def test_a_gang_that_succeeded_is_cloned_by_resume(write_flow, run_flow, gang_env, tmp_path):
    source = GANG_FLOW.replace(
        "        self.outside = dict(",
        "        if os.path.exists(os.environ['GANG_DIR'] + '/fail-end'):\n"
        "            raise RuntimeError('end fails')\n"
        "        self.outside = dict(")
    path = write_flow(source)
    (tmp_path / "gang").mkdir()
    (tmp_path / "gang" / "fail-end").touch()
    assert run_flow(path, "run", env=gang_env).returncode != 0
    (tmp_path / "gang" / "fail-end").unlink()
    proc = run_flow(path, "resume", env=gang_env)
    assert proc.returncode == 0, proc.stderr
    run = Flow("GangFlow").latest_run
    assert run.origin_pathspec is not None
    tasks = list(run["train"])
    assert len(tasks) == 4
    assert all(t.metadata_dict.get("origin-task-id") for t in tasks)
    assert len(list(run["train"].control_tasks())) == 1


@pytest.mark.parametrize(("next_call", "decorated", "join", "message"), [
    ("self.next(self.work, num_parallel=2)", False, True,
     "called as a parallel step with self.next(num_parallel=..) but does not have a @parallel"),
    ("self.next(self.work)", True, True,
     "has a @parallel decorator, but is not called with self.next(num_parallel=...)"),
    ("self.next(self.work, num_parallel=2)", True, False,
     "An @parallel step should be followed by a join step"),
    ("self.next(self.work, self.join, num_parallel=2)", True, True,
     "only one destination is allowed when num_parallel is used"),
])
def test_graph_rules_of_parallel_steps(next_call, decorated, join, message, tmp_path,
                                       monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "broken_flow.py"
    # the graph is read from the source, so the class must live in a real file
    source.write_text(_flow_source(next_call, decorated, join))
    module = importlib.import_module("broken_flow")
    try:
        with pytest.raises(GraphError, match=re.escape(message)):
            module.Broken._graph.check()
    finally:
        sys.modules.pop("broken_flow", None)


def _flow_source(next_call: str, decorated: bool, join: bool) -> str:
    return ("from flowtrack import FlowSpec, step, parallel\n"
            "class Broken(FlowSpec):\n"
            "    @step\n"
            "    def start(self):\n"
            f"        {next_call}\n"
            + ("    @parallel\n" if decorated else "")
            + "    @step\n"
            "    def work(self):\n"
            "        self.next(self.join)\n"
            "    @step\n"
            f"    def join(self{', inputs' if join else ''}):\n"
            "        self.next(self.end)\n"
            "    @step\n"
            "    def end(self):\n"
            "        pass\n")


@pytest.mark.parametrize("value", ["0", "-1", "'4'", "2.5", "True"])
def test_num_parallel_must_be_a_positive_integer(value, write_flow, run_flow):
    source = (GANG_FLOW.replace("num_parallel=4", f"num_parallel={value}"))
    proc = run_flow(write_flow(source), "run")
    assert proc.returncode != 0
    assert "num_parallel must be a positive integer" in proc.stdout + proc.stderr


def test_parallel_decorator_takes_no_arguments():
    from flowtrack.flow._decorators import UnknownDecoratorAttributeError

    with pytest.raises(UnknownDecoratorAttributeError):
        parallel(nodes=2)
