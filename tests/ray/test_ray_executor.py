"""Flows on a real Ray cluster: the same artifacts as locally, tasks that really ran in
Ray workers, retries of killed workers, @timeout/@catch, streamed logs, @resources
as Ray resources, resume across executors, and clear errors."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from flowtrack import Flow, Run, namespace
from flowtrack._errors import NotFoundError
from tests.conftest import reset_client
from tests.runtime.conftest import run_id_of

BOOK_FLOW = """
import os
from flowtrack import FlowSpec, Parameter, step


class Record:
    def __init__(self, name, score):
        self.name, self.score = name, score


class BookFlow(FlowSpec):
    n = Parameter("n", default=4, type=int)

    @step
    def start(self):
        self.shared = {"seed": 7}
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.left_value = self.shared["seed"] * 2
        self.next(self.merge)

    @step
    def right(self):
        self.side = "right"
        self.right_value = self.shared["seed"] + 1
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.merge_artifacts(inputs, exclude=["side"])
        self.sides = sorted(i.side for i in inputs)
        self.next(self.fan_out)

    @step
    def fan_out(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.record = Record(f"item{self.input}", self.input ** 2)
        # who started this task process: not stored (it differs between runs), printed
        parent = open(f"/proc/{os.getppid()}/cmdline", "rb").read()
        grandparent = int(open(f"/proc/{os.getppid()}/stat").read().rsplit(")", 1)[1].split()[1])
        worker = open(f"/proc/{grandparent}/cmdline", "rb").read()
        print(f"squared {self.input} parent={parent[-60:]!r} worker={grandparent} {worker[:60]!r}")
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.records = [i.record for i in inputs]
        self.total = sum(r.score for r in self.records)
        self.mode = "big" if self.total > 10 else "small"
        self.next({"big": self.big, "small": self.small}, condition="mode")

    @step
    def big(self):
        self.label = f"big:{self.total}"
        self.next(self.end)

    @step
    def small(self):
        self.label = f"small:{self.total}"
        self.next(self.end)

    @step
    def end(self):
        print("label", self.label)


if __name__ == "__main__":
    BookFlow()
"""

HELPER = """
def double(x):
    return 2 * x
"""

ROBUST_FLOW = """
import os
import signal
import time
from flowtrack import FlowSpec, catch, current, retry, step, timeout
from helper import double


class RobustFlow(FlowSpec):
    @retry(times=1)
    @step
    def start(self):
        if current.retry_count == 0:  # kill the Ray worker running this task: the parent
            with open(f"/proc/{os.getppid()}/stat") as server:  # of its fork server
                worker = int(server.read().rsplit(")", 1)[1].split()[1])
            os.kill(worker, signal.SIGKILL)
            time.sleep(30)
        self.attempts = current.retry_count + 1
        self.doubled = double(21)
        self.next(self.slow)

    @catch(var="slow_error")
    @timeout(seconds=1)
    @step
    def slow(self):
        time.sleep(30)
        self.next(self.end)

    @step
    def end(self):
        print("finished after", self.attempts, "attempts")


if __name__ == "__main__":
    RobustFlow()
"""

RESUMABLE_FLOW = """
import os
from flowtrack import FlowSpec, step


class ResumableFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        if os.environ.get("FAIL_JOIN"):
            raise RuntimeError("join failed on purpose")
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResumableFlow()
"""

RESOURCES_FLOW = """
from flowtrack import FlowSpec, resources, step


class ResourcesFlow(FlowSpec):
    @resources(cpu=2, memory=300)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResourcesFlow()
"""


# steps see the variables @environment gives them; a Ray worker does not inherit the
# driver's environment (only FLOWTRACK_* and AWS_* are forwarded)
FAIL_JOIN = ("--with", 'environment:vars={"FAIL_JOIN": "1"}')


def on_ray(cluster) -> tuple[str, ...]:
    return ("--executor", "ray", "--ray-address", cluster.address)


def artifact_digests(run: Run) -> Counter:
    """Every stored value of a run as (step, name, digest), independent of task ids."""
    found: Counter = Counter()
    for step in run:
        for task in step:
            for artifact in task:
                found[(step.id, artifact.id, artifact.sha)] += 1
    return found


@pytest.fixture
def book_runs(ray_cluster, write_flow, run_flow, store_env):
    path = write_flow(BOOK_FLOW, "book_flow.py")
    local = run_flow(path, "run", check=True)
    remote = run_flow(path, "run", *on_ray(ray_cluster), check=True, timeout=300)
    reset_client()
    namespace(None)
    return Run(f"BookFlow/{run_id_of(local)}"), Run(f"BookFlow/{run_id_of(remote)}"), remote


def test_book_flow_gives_identical_artifacts_on_ray_and_locally(book_runs):
    local, remote, _ = book_runs
    assert remote.successful and local.successful
    assert remote.data.label == local.data.label == "big:14"
    assert remote["merge"].task.data.sides == ["left", "right"]
    assert artifact_digests(remote) == artifact_digests(local)
    assert len(list(remote["square"])) == 4


def test_tasks_record_their_ray_worker_and_node(book_runs, ray_cluster):
    local, remote, proc = book_runs
    for step in remote:
        if step.id == "_parameters":
            continue
        for task in step:
            meta = task.metadata_dict
            assert meta["executor"] == "ray"
            assert meta["ray_node_id"] in ray_cluster.node_ids
            assert meta["pid"] != meta["ray_worker_pid"]
    # each square task was forked by the fork server of the Ray worker recorded on it
    for task in remote["square"]:
        found = re.search(r"parent=b'([^']*)' worker=(\d+) b'([^']*)'", task.stdout)
        assert found, task.stdout
        assert "flowtrack.runtime._fork_server" in found.group(1)
        assert int(found.group(2)) == task.metadata_dict["ray_worker_pid"]
        assert "ray::" in found.group(3) or "default_worker" in found.group(3)
    assert all(t.metadata_dict["executor"] == "local" for t in local["square"])


def test_remote_logs_stream_to_the_console_with_the_task_prefix_and_are_stored(book_runs):
    _, remote, proc = book_runs
    lines = [line for line in proc.stdout.splitlines() if "squared 2 " in line]
    assert len(lines) == 1
    task = next(t for t in remote["square"] if "squared 2 " in t.stdout)
    assert f"[{remote.id}/square/{task.id} (pid {task.metadata_dict['pid']})]" in lines[0]
    assert "label big:14" in remote["end"].task.stdout


def test_the_run_records_its_code_package_and_workers_ran_it(book_runs, tmp_path):
    local, remote, _ = book_runs
    code = remote.code
    assert code is not None and code.files == ["book_flow.py"]
    assert code.digest == local.code.digest  # same code, one blob
    assert "class BookFlow(FlowSpec)" in code.flowspec
    target = Path(code.extract(tmp_path / "extracted"))
    assert (target / "book_flow.py").read_text() == (tmp_path / "book_flow.py").read_text()
    assert remote.code.tarball.getnames() == ["book_flow.py"]


def test_a_killed_worker_is_retried_and_timeout_and_catch_behave_as_locally(
        ray_cluster, write_flow, run_flow):
    write_flow(HELPER, "helper.py")
    path = write_flow(ROBUST_FLOW, "robust_flow.py")
    proc = run_flow(path, "run", *on_ray(ray_cluster), check=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert "The Ray worker running the task died" in output
    assert "retrying" in output
    reset_client()
    namespace(None)
    run = Run(f"RobustFlow/{run_id_of(proc)}")
    start = run["start"].task
    assert start.data.attempts == 2 and start.data.doubled == 42  # helper.py was shipped
    assert start.metadata_dict["attempt"] == "1"  # a string, as Metaflow records it
    assert run.code.files == ["helper.py", "robust_flow.py"]
    slow = run["slow"].task
    assert "exceeded its @timeout of 1 s" in str(slow.data.slow_error)
    assert run.successful


def test_resources_become_ray_resource_requests(ray_cluster, write_flow, run_flow):
    path = write_flow(RESOURCES_FLOW, "resources_flow.py")
    proc = run_flow(path, "run", *on_ray(ray_cluster), check=True, timeout=300)
    reset_client()
    namespace(None)
    run = Run(f"ResourcesFlow/{run_id_of(proc)}")
    assigned = run["start"].task.metadata_dict["ray_resources"]
    assert assigned["CPU"] == 2
    assert run["end"].task.metadata_dict["ray_resources"]["CPU"] == 1
    assert run["start"].task.metadata_dict["resources"]["memory"] == 300


@pytest.mark.parametrize("first, second", [("ray", "local"), ("local", "ray")])
def test_a_run_resumes_across_executors(ray_cluster, write_flow, run_flow, first, second):
    path = write_flow(RESUMABLE_FLOW, "resumable_flow.py")
    where = {"ray": on_ray(ray_cluster), "local": ()}
    failed = run_flow(path, "run", *where[first], *FAIL_JOIN, timeout=300)
    assert failed.returncode != 0 and "join failed on purpose" in failed.stderr
    resumed = run_flow(path, "resume", *where[second], check=True, timeout=300)
    assert "Cloned from" in resumed.stdout
    reset_client()
    namespace(None)
    run = Run(f"ResumableFlow/{run_id_of(resumed)}")
    assert run.successful and run.data.total == 60
    assert run.origin_run_id == run_id_of(failed)
    assert {t.metadata_dict["executor"] for t in run["work"]} == {first}  # cloned
    assert run["join"].task.metadata_dict["executor"] == second


def test_unreachable_cluster_is_a_clear_error_and_records_no_run(write_flow, run_flow):
    path = write_flow(RESUMABLE_FLOW, "resumable_flow.py")
    proc = run_flow(path, "run", "--executor", "ray", "--ray-address", "127.0.0.1:1",
                    timeout=60)
    assert proc.returncode != 0
    assert "No Ray cluster answers at 127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr
    reset_client()
    namespace(None)
    with pytest.raises(NotFoundError):
        Flow("ResumableFlow")  # nothing was recorded


def test_ray_address_without_the_ray_executor_is_a_usage_error(write_flow, run_flow):
    path = write_flow(RESUMABLE_FLOW, "resumable_flow.py")
    proc = run_flow(path, "run", "--ray-address", "127.0.0.1:1")
    assert proc.returncode == 2
    assert "--ray-address applies only with --executor ray" in proc.stderr


def test_the_executor_comes_from_the_environment(ray_cluster, write_flow, run_flow):
    path = write_flow(RESOURCES_FLOW, "resources_flow.py")
    proc = run_flow(path, "run", env={**ray_cluster.env(), "FLOWTRACK_RUN_EXECUTOR": "ray"},
                    check=True, timeout=300)
    reset_client()
    namespace(None)
    run = Run(f"ResourcesFlow/{run_id_of(proc)}")
    assert run["end"].task.metadata_dict["executor"] == "ray"


def test_failing_step_on_ray_fails_the_run_like_locally(ray_cluster, write_flow, run_flow):
    path = write_flow(RESUMABLE_FLOW, "resumable_flow.py")
    proc = run_flow(path, "run", *on_ray(ray_cluster), *FAIL_JOIN, timeout=300)
    assert proc.returncode == 1
    assert "Step 'join'" in proc.stderr and "join failed on purpose" in proc.stderr
    assert "RuntimeError: join failed on purpose" in proc.stdout + proc.stderr
    reset_client()
    namespace(None)
    run = Run(f"ResumableFlow/{run_id_of(proc)}")
    assert run.status == "FAILED"
    assert "join failed on purpose" in run["join"].task.stderr


STUBBORN_FLOW = """
import time
from flowtrack import FlowSpec, step, timeout


class StubbornFlow(FlowSpec):
    @timeout(seconds=1)
    @step
    def start(self):
        try:
            time.sleep(60)
        except BaseException:  # swallows StepTimeout and prints nothing
            time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StubbornFlow()
"""


def test_a_silent_step_that_swallows_its_timeout_is_killed_on_ray(
        ray_cluster, write_flow, run_flow):
    path = write_flow(STUBBORN_FLOW, "stubborn_flow.py")
    started = time.monotonic()
    proc = run_flow(path, "run", *on_ray(ray_cluster), timeout=120)
    assert proc.returncode == 1
    assert "exceeded its @timeout of 1 s and was killed" in proc.stdout + proc.stderr
    assert time.monotonic() - started < 40  # not the step's 120 s of sleeping


def test_a_ray_address_in_the_environment_does_not_stop_local_runs(write_flow, run_flow):
    path = write_flow(RESUMABLE_FLOW, "resumable_flow.py")
    proc = run_flow(path, "run", env={"FLOWTRACK_RUN_RAY_ADDRESS": "127.0.0.1:1"}, check=True)
    assert "Running tasks on Ray" not in proc.stdout


GANG_FLOW = '''
import os, time
from pathlib import Path
from flowtrack import FlowSpec, step, parallel, current

class RayGangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work, num_parallel=2)

    @parallel
    @step
    def work(self):
        p = current.parallel
        arrived = Path(os.environ["FLOWTRACK_TEST_GANG_DIR"])
        arrived.mkdir(parents=True, exist_ok=True)
        (arrived / str(p.node_index)).touch()
        deadline = time.monotonic() + 60
        while len(list(arrived.iterdir())) < p.num_nodes:  # the members run together
            assert time.monotonic() < deadline, "the gang was not started together"
            time.sleep(0.05)
        self.gang = dict(p._asdict(), env_ip=os.environ["MF_PARALLEL_MAIN_IP"])
        self.next(self.join)

    @step
    def join(self, inputs):
        self.gangs = sorted((i.gang for i in inputs), key=lambda g: g["node_index"])
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RayGangFlow()
'''


def test_a_parallel_gang_is_one_placement_group_on_ray(ray_cluster, write_flow, run_flow,
                                                        tmp_path):
    import ray

    path = write_flow(GANG_FLOW, "ray_gang_flow.py")
    proc = run_flow(path, "run", *on_ray(ray_cluster), env={"FLOWTRACK_TEST_GANG_DIR": str(tmp_path / "g")},
                    check=True, timeout=300)
    reset_client()
    namespace(None)
    run = Run(f"RayGangFlow/{run_id_of(proc)}")
    gangs = run["join"].task.data.gangs
    assert [g["node_index"] for g in gangs] == [0, 1]
    assert {g["num_nodes"] for g in gangs} == {2}
    ray.init(address=ray_cluster.address, logging_level="ERROR")
    try:
        node_ips = {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
        groups = list(ray.util.placement_group_table().values())
    finally:
        ray.shutdown()
    # the gang had a placement group of one bundle per member, removed when it ended
    assert any(len(g["bundles"]) == 2 and g["state"] == "REMOVED" for g in groups), groups
    assert not [g for g in groups if g["state"] != "REMOVED"]
    # every member knows the control node's address
    assert {g["main_ip"] for g in gangs} <= node_ips
    assert all(g["main_ip"] == g["env_ip"] for g in gangs)
    assert len(list(run["work"].control_tasks())) == 1
    assert {t.metadata_dict["executor"] for t in run["work"]} == {"ray"}


CARD_FLOW = '''
from flowtrack import FlowSpec, card, current, step
from flowtrack.cards import Markdown

class RayCardFlow(FlowSpec):
    @card
    @step
    def start(self):
        self.value = 42
        current.card.append(Markdown("# rendered on a Ray worker"))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RayCardFlow()
'''


def test_cards_render_on_ray_workers(ray_cluster, write_flow, run_flow):
    from flowtrack.cards import get_cards

    path = write_flow(CARD_FLOW, "ray_card_flow.py")
    proc = run_flow(path, "run", *on_ray(ray_cluster), check=True, timeout=300)
    reset_client()
    namespace(None)
    run = Run(f"RayCardFlow/{run_id_of(proc)}")
    assert run["start"].task.metadata_dict["executor"] == "ray"
    html = get_cards(run["start"].task)[0].get()
    assert "rendered on a Ray worker" in html and "42" in html
