"""Decorators that installed packages add (``flowtrack.step_decorators`` and
``flowtrack.flow_decorators`` entry points), the hooks flowtrack calls on them, and
``@pytorch_parallel``.

Each test builds a small extension package in its temporary directory (a module and
a ``*.dist-info`` directory with its entry points), puts it on the flow's
``PYTHONPATH`` and runs a real flow. The hooks append what they were given to a log
file, so calls made in the launching process and in each task process can be read
back in the order they happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowtrack import Flow, namespace
from flowtrack.flow import DecoratorError, setup_torch_distributed

EXTENSION_MODULE = """
    import json
    import os

    from flowtrack import FlowDecorator, StepDecorator, current


    def log(**record):
        record["pid"] = os.getpid()
        with open(os.environ["HOOK_LOG"], "a") as out:
            out.write(json.dumps(record) + "\\n")


    class HookedDecorator(StepDecorator):
        name = "hooked"
        defaults = {"label": "plain"}

        def step_init(self, flow, graph, step_name, decorators, environment, flow_datastore,
                      logger):
            log(hook="step_init", step=step_name, label=self.attributes["label"],
                decorators=sorted(d.name for d in decorators), graph=list(graph.nodes))

        def task_pre_step(self, step_name, task_datastore, metadata, run_id, task_id, flow,
                          graph, retry_count, max_user_code_retries, ubf_context, inputs):
            log(hook="task_pre_step", step=step_name, label=self.attributes["label"],
                run_id=run_id, task_id=task_id, retry_count=retry_count,
                max_user_code_retries=max_user_code_retries, join=inputs is not None,
                flow=type(flow).__name__)

        def task_decorate(self, step_func, flow, graph, retry_count, max_user_code_retries,
                          ubf_context):
            label = self.attributes["label"]

            def wrapped(*args):
                log(hook="body", step=current.step_name)
                flow.wrapped_by = label
                return step_func(*args)
            return wrapped

        def task_post_step(self, step_name, flow, graph, retry_count, max_user_code_retries):
            log(hook="task_post_step", step=step_name, retry_count=retry_count)

        def task_exception(self, exception, step_name, flow, graph, retry_count,
                           max_user_code_retries):
            log(hook="task_exception", step=step_name, error=repr(exception),
                retry_count=retry_count)
            return False

        def task_finished(self, step_name, flow, graph, is_task_ok, retry_count,
                          max_user_code_retries):
            log(hook="task_finished", step=step_name, ok=is_task_ok, retry_count=retry_count)


    class RescueDecorator(StepDecorator):
        name = "rescue"

        def task_exception(self, exception, step_name, flow, graph, retry_count,
                           max_user_code_retries):
            flow.rescued = repr(exception)
            return True


    class TaggerFlowDecorator(FlowDecorator):
        name = "tagger"
        options = {"foobar": dict(default=None, help="A value tasks see as current.tagger.")}

        def flow_init(self, flow, graph, environment, flow_datastore, metadata, logger, echo,
                      options):
            log(hook="flow_init", options=options, flow=type(flow).__name__)
            current._update_env({"tagger": {"foobar": options["foobar"]}})
"""

ENTRY_POINTS = """
    [flowtrack.step_decorators]
    hooked = ftx_demo:HookedDecorator
    rescue = ftx_demo:RescueDecorator

    [flowtrack.flow_decorators]
    tagger = ftx_demo:TaggerFlowDecorator
"""

BROKEN_ENTRY_POINTS = """
    [flowtrack.step_decorators]
    missing = ftx_no_such_module:Thing
    renamed = ftx_demo:HookedDecorator
    plain = ftx_demo:log
"""


def make_extension(root: Path, entry_points: str, dist: str = "ftx_demo") -> Path:
    """A package installed by hand: ``ftx_demo.py`` and a dist-info declaring
    ``entry_points`` (several dists may share the module). Returns the directory to
    put on the path."""
    site = root / "site"
    site.mkdir(exist_ok=True)
    (site / "ftx_demo.py").write_text(textwrap.dedent(EXTENSION_MODULE))
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points).lstrip())
    return site


@pytest.fixture
def extension_env(tmp_path):
    """The environment a flow needs to see the ftx_demo extension and log its hooks."""
    site = make_extension(tmp_path, ENTRY_POINTS)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "HOOK_LOG": str(tmp_path / "hooks.jsonl")}


def read_log(env: dict[str, str]) -> list[dict]:
    path = Path(env["HOOK_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


HOOK_FLOW = """
    from flowtrack import (FlowSpec, current, hooked, rescue, retry, step, tagger,
                           user_step_decorator)
    from ftx_demo import log

    @user_step_decorator
    def noted(step_name, flow, inputs):
        log(hook="pre_step", step=step_name)
        yield
        log(hook="post_step", step=step_name)

    @tagger
    class HookFlow(FlowSpec):
        @noted
        @hooked(label="own")
        @step
        def start(self):
            self.seen = {"tagger": current.tagger, "wrapped_by": self.wrapped_by}
            self.next(self.flaky)

        @retry(times=2)
        @step
        def flaky(self):
            if current.retry_count < 2:
                raise ValueError(f"attempt {current.retry_count}")
            self.next(self.saved)

        @rescue
        @step
        def saved(self):
            self.before = True
            raise KeyError("rescued by task_exception")
            self.next(self.end)

        @step
        def end(self):
            self.seen = {"tagger": current.tagger, "wrapped_by": self.wrapped_by}

    if __name__ == "__main__":
        HookFlow()
"""


def _by_process(records: list[dict]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = {}
    for record in records:
        grouped.setdefault(record["pid"], []).append(record)
    return grouped


def test_hooks_run_in_metaflow_order_with_their_arguments(write_flow, run_flow, extension_env):
    run_flow(write_flow(HOOK_FLOW), "--foobar", "from-flag", "run", "--with", "hooked:label=cli",
             env=extension_env, check=True)
    namespace(None)
    run = Flow("HookFlow").latest_run
    assert run.successful
    records = read_log(extension_env)
    launcher_pid, *task_pids = _by_process(records)
    launcher = _by_process(records)[launcher_pid]
    # in the launching process: flow_init, then step_init of every decorated step
    assert [r["hook"] for r in launcher] == ["flow_init"] + ["step_init"] * 4
    assert launcher[0]["options"] == {"foobar": "from-flag"}
    assert launcher[0]["flow"] == "HookFlow"
    step_inits = {r["step"]: r for r in launcher[1:]}
    # --with applies to every step, but start keeps its own @hooked(label="own")
    assert {s: r["label"] for s, r in step_inits.items()} == {
        "start": "own", "flaky": "cli", "saved": "cli", "end": "cli"}
    assert step_inits["flaky"]["decorators"] == ["hooked", "retry"]
    assert step_inits["start"]["graph"] == ["start", "flaky", "saved", "end"]

    tasks = [_by_process(records)[pid] for pid in task_pids]
    hooks = [[r["hook"] for r in task] for task in tasks]
    ok = ["flow_init", "task_pre_step", "body", "task_post_step", "task_finished"]
    failed = ["flow_init", "task_pre_step", "body", "task_exception", "task_finished"]
    assert hooks == [
        # the user step decorator wraps the body task_decorate returned
        ["flow_init", "task_pre_step", "pre_step", "body", "post_step", "task_post_step",
         "task_finished"],
        failed, failed, ok,  # flaky: two failed attempts, then a successful one
        failed,  # saved: its failure is taken by @rescue's task_exception
        ok,
    ]
    pre_steps = [t[1] for t in tasks]
    assert [(r["step"], r["retry_count"], r["max_user_code_retries"]) for r in pre_steps] == [
        ("start", 0, 0), ("flaky", 0, 2), ("flaky", 1, 2), ("flaky", 2, 2), ("saved", 0, 0),
        ("end", 0, 0)]
    assert {r["run_id"] for r in pre_steps} == {run.id}
    assert [r["task_id"] for r in pre_steps] == [
        run["start"].task.id, *[run["flaky"].task.id] * 3, run["saved"].task.id,
        run["end"].task.id]
    assert all(r["join"] is False and r["flow"] == "HookFlow" for r in pre_steps)
    # every task ran flow_init first, with the option's value
    assert all(t[0]["options"] == {"foobar": "from-flag"} for t in tasks)
    finished = [(t[-1]["step"], t[-1]["retry_count"], t[-1]["ok"]) for t in tasks]
    assert finished == [("start", 0, True), ("flaky", 0, False), ("flaky", 1, False),
                        ("flaky", 2, True), ("saved", 0, True), ("end", 0, True)]
    assert tasks[1][3]["error"] == "ValueError('attempt 0')"
    # task_decorate's wrapper ran the body; flow_init's current.tagger reached the steps
    assert run["start"].task.data.seen == {"tagger": {"foobar": "from-flag"},
                                           "wrapped_by": "own"}
    assert run["end"].task.data.seen == {"tagger": {"foobar": "from-flag"},
                                         "wrapped_by": "cli"}


def test_task_exception_returning_true_makes_the_task_succeed(write_flow, run_flow,
                                                               extension_env):
    run_flow(write_flow(HOOK_FLOW), "run", env=extension_env, check=True)
    namespace(None)
    run = Flow("HookFlow").latest_run
    saved = run["saved"].task
    assert saved.successful
    assert saved.data.rescued == "KeyError('rescued by task_exception')"
    assert saved.data.before is True
    assert run["end"].task.successful  # the step's own self.next was followed
    # without --foobar the option's default reaches the tasks
    assert run["end"].task.data.seen["tagger"] == {"foobar": None}


def test_flow_decorator_option_from_metaflow_variable_and_in_help(write_flow, run_flow,
                                                                   extension_env):
    path = write_flow(HOOK_FLOW)
    help_text = run_flow(path, "--help", env=extension_env, check=True).stdout
    assert "--foobar" in help_text
    assert "A value tasks see as current.tagger." in help_text
    run_flow(path, "run", env={**extension_env, "METAFLOW_FOOBAR": "from-env"}, check=True)
    namespace(None)
    run = Flow("HookFlow").latest_run
    assert run["start"].task.data.seen["tagger"] == {"foobar": "from-env"}
    assert run["end"].task.data.seen["tagger"] == {"foobar": "from-env"}


IMPORT_SCRIPT = """
    import flowtrack

    from flowtrack import hooked

    print("hooked:", hooked.__name__, hooked.decorator_class.__name__)
    try:
        flowtrack.no_such_decorator
    except AttributeError as exc:
        print("attribute error:", exc)
    try:
        from flowtrack import renamed  # noqa: F401
    except ImportError:
        print("renamed: import error")
    print("names:", ",".join(flowtrack.flow.extension_names()))
"""


def test_broken_entry_points_are_skipped_with_a_message(tmp_path, write_flow, run_flow,
                                                        extension_env):
    make_extension(tmp_path, BROKEN_ENTRY_POINTS, dist="ftx_broken")
    script = tmp_path / "imports.py"
    script.write_text(textwrap.dedent(IMPORT_SCRIPT))
    proc = subprocess.run([sys.executable, str(script)], env={**os.environ, **extension_env},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "hooked: hooked HookedDecorator"
    assert lines[1] == "attribute error: module 'flowtrack' has no attribute 'no_such_decorator'"
    assert lines[2] == "renamed: import error"
    names = set(lines[3].removeprefix("names: ").split(","))
    assert {"hooked", "rescue", "tagger"} <= names
    assert not names & {"missing", "renamed", "plain"}
    assert "skipped entry point 'missing' (ftx_no_such_module:Thing)" in proc.stderr
    assert "failed to import" in proc.stderr
    assert "skipped entry point 'renamed'" in proc.stderr
    assert "the class's name is 'hooked'" in proc.stderr
    assert "skipped entry point 'plain'" in proc.stderr
    assert "not a subclass of flowtrack.StepDecorator" in proc.stderr
    # a flow using the working decorators of the same environment still runs
    flow = run_flow(write_flow(HOOK_FLOW), "run", env=extension_env)
    assert flow.returncode == 0, flow.stderr
    assert "skipped entry point 'missing'" in flow.stderr
    namespace(None)
    assert Flow("HookFlow").latest_run.successful


def test_with_an_unknown_decorator_is_a_clear_error(write_flow, run_flow, extension_env):
    proc = run_flow(write_flow(HOOK_FLOW), "run", "--with", "nothing_like_it",
                    env=extension_env)
    assert proc.returncode != 0
    assert "unknown decorator 'nothing_like_it'" in proc.stderr
    assert "hooked" in proc.stderr  # the extension's names are among the choices
    assert "Traceback" not in proc.stderr


TORCH_FLOW = """
    import os
    from flowtrack import FlowSpec, current, pytorch_parallel, step

    NAMES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "WORLD_SIZE", "NUM_NODES")

    class TorchFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.train, num_parallel=2)

        @pytorch_parallel
        @step
        def train(self):
            self.env = {name: os.environ.get(name) for name in NAMES}
            self.node = current.parallel.node_index
            self.next(self.join)

        @step
        def join(self, inputs):
            self.envs = sorted((i.env for i in inputs), key=lambda env: env["NODE_RANK"])
            self.next(self.end)

        @step
        def end(self):
            self.leftover = {name: os.environ.get(name) for name in NAMES}

    if __name__ == "__main__":
        TorchFlow()
"""


def test_pytorch_parallel_sets_the_distributed_variables_per_node(write_flow, run_flow):
    run_flow(write_flow(TORCH_FLOW), "run", check=True)
    namespace(None)
    run = Flow("TorchFlow").latest_run
    assert run.successful
    envs = run["join"].task.data.envs
    port = envs[0]["MASTER_PORT"]
    assert port.isdigit()
    assert envs == [
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NODE_RANK": str(rank),
         "WORLD_SIZE": "2", "NUM_NODES": "2"} for rank in (0, 1)]
    for task in run["train"]:
        assert task.data.env["NODE_RANK"] == str(task.data.node)
    # the variables belong to the gang's tasks only
    assert run["end"].task.data.leftover == dict.fromkeys(envs[0])


def test_setup_torch_distributed_outside_a_gang_is_an_error():
    with pytest.raises(DecoratorError, match="inside a task of a @parallel step"):
        setup_torch_distributed()
