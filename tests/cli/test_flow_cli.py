"""A flow file's command line (``python flow.py ...``) and the ``flowtrack`` script,
through real subprocesses.

Tests that only inspect a finished run (logs, dump, tags, --run-id-file) share one
run made once per module in its own store (``shared``); tests whose run depends on
their options use the per-test ``run_flow`` fixture.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

CLI_FLOW = '''
import sys

from flowtrack import FlowSpec, Parameter, current, step


def maybe_fail(flow):
    print(f"attempt {current.retry_count} of {current.step_name}")
    if flow.flaky and current.retry_count < 2:
        raise RuntimeError(f"flaky failure in {current.step_name}")


class CliFlow(FlowSpec):
    """Fans out over some items and adds them up."""

    count = Parameter("count", default=2, help="How many items to fan out over")
    greeting = Parameter("greeting", default="hello", help="What to say first")
    flaky = Parameter("flaky", default=False, help="Fail the first two attempts of each step")

    @step
    def start(self):
        """Make the items."""
        maybe_fail(self)
        print(f"{self.greeting} count={self.count}")
        print("to-stderr from start", file=sys.stderr)
        self.items = list(range(self.count))
        self.big = "abcdefghij" * 300
        self.next(self.body, foreach="items")

    @step
    def body(self):
        """Square one item."""
        maybe_fail(self)
        self.squared = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        """Add the squares."""
        maybe_fail(self)
        self.total = sum(i.squared for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        """Report."""
        maybe_fail(self)
        print(f"total={self.total}")


if __name__ == "__main__":
    CliFlow()
'''

LINT_FLOW = '''
from flowtrack import FlowSpec, step


class LintFlow(FlowSpec):
    @step
    def start(self):
        if False:
            print(undefined_thing)
        self.next(self.end)

    @step
    def end(self):
        print("lint flow ran")


if __name__ == "__main__":
    LintFlow()
'''

RUN_ID_RE = re.compile(r"Workflow starting \(run-id (\d+)\)")
TASK_RE = re.compile(r"\[(\d+)/(\w+)/(\d+) \(pid \d+\)\]")


def _run_id(proc: subprocess.CompletedProcess) -> str:
    match = RUN_ID_RE.search(proc.stdout)
    assert match, proc.stdout + proc.stderr
    return match.group(1)


def _task_ids(proc: subprocess.CompletedProcess, step: str) -> list[str]:
    return sorted({m.group(3) for m in TASK_RE.finditer(proc.stdout) if m.group(2) == step},
                  key=int)


def _no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------
# one run shared by the read-only tests of this module
# ---------------------------------------------------------------------------


@dataclass
class Shared:
    root: Path
    flow: Path
    env: dict[str, str]
    run: subprocess.CompletedProcess
    run_id: str

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(self.flow), *args], cwd=self.root,
                              env=self.env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    root = tmp_path_factory.mktemp("cli-shared")
    flow = root / "flow.py"
    flow.write_text(textwrap.dedent(CLI_FLOW))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOWTRACK_")}
    env.update(FLOWTRACK_HOME=str(root / "ft-home"), FLOWTRACK_USER="tester",
               PYTHONUNBUFFERED="1")
    shared = Shared(root, flow, env, None, "")  # type: ignore[arg-type]
    proc = shared.cli("run", "--tag", "first-tag", "--run-id-file", "run-id.txt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shared.run, shared.run_id = proc, _run_id(proc)
    return shared


def test_shared_run_output(shared):
    assert "hello count=2" in shared.run.stdout
    assert "total=1" in shared.run.stdout
    assert len(_task_ids(shared.run, "body")) == 2


def test_run_id_file(shared):
    assert (shared.root / "run-id.txt").read_text().strip() == shared.run_id


def test_tag_option_tags_the_run(shared):
    proc = shared.cli("tag", "list", "--run-id", shared.run_id)
    assert proc.returncode == 0, proc.stderr
    assert f"CliFlow/{shared.run_id}" in proc.stdout
    assert re.search(r"user tags:\s+.*first-tag", proc.stdout), proc.stdout
    assert re.search(r"system tags:\s+.*user:tester", proc.stdout), proc.stdout


def test_tag_add_remove_list(shared):
    added = shared.cli("tag", "add", "--run-id", shared.run_id, "alpha", "beta")
    assert added.returncode == 0, added.stderr
    assert f"CliFlow/{shared.run_id}: tags alpha, beta, first-tag" in added.stdout

    removed = shared.cli("tag", "remove", "beta")  # the latest run by default
    assert removed.returncode == 0, removed.stderr
    assert f"CliFlow/{shared.run_id}: tags alpha, first-tag" in removed.stdout

    missing = shared.cli("tag", "remove", "--run-id", shared.run_id, "beta", "alpha")
    assert missing.returncode == 1
    assert f"Run CliFlow/{shared.run_id} has no tag(s) beta." in missing.stderr
    _no_traceback(missing)

    listed = shared.cli("tag", "list", "--run-id", shared.run_id)
    user_line = next(line for line in listed.stdout.splitlines() if "user tags:" in line)
    assert user_line.split(":", 1)[1].split() == ["alpha,", "first-tag"]  # nothing removed


def test_tag_add_needs_tags(shared):
    proc = shared.cli("tag", "add")
    assert proc.returncode == 2
    assert "Missing argument" in proc.stderr


def test_tag_add_follows_metaflows_tag_rules(shared):
    empty = shared.cli("tag", "add", "--run-id", shared.run_id, "")
    assert empty.returncode == 1
    assert "Tags must not be empty string" in empty.stderr
    _no_traceback(empty)
    system = shared.cli("tag", "add", "--run-id", shared.run_id, "user:tester")
    assert system.returncode == 0, system.stderr
    listed = shared.cli("tag", "list", "--run-id", shared.run_id)
    user_line = next(line for line in listed.stdout.splitlines() if "user tags:" in line)
    assert "user:tester" not in user_line  # a system tag is not made a user tag


def test_logs_stdout_and_stderr(shared):
    start_task = _task_ids(shared.run, "start")[0]
    proc = shared.cli("logs", f"{shared.run_id}/start")
    assert proc.returncode == 0, proc.stderr
    # both streams on stdout, as Metaflow's `logs` prints them, each under a heading
    assert "hello count=2" in proc.stdout
    assert "to-stderr from start" in proc.stdout
    assert proc.stdout.index("stdout ---") < proc.stdout.index("stderr ---")

    only_out = shared.cli("logs", f"{shared.run_id}/start/{start_task}", "--stdout")
    assert only_out.returncode == 0, only_out.stderr
    assert "hello count=2" in only_out.stdout
    assert "to-stderr" not in only_out.stdout + only_out.stderr

    only_err = shared.cli("logs", f"CliFlow/{shared.run_id}/start", "--stderr")
    assert only_err.returncode == 0, only_err.stderr
    assert "to-stderr from start" in only_err.stdout  # on stdout, as in Metaflow
    assert "hello count" not in only_err.stdout + only_err.stderr


def test_logs_of_a_foreach_step_show_every_task(shared):
    proc = shared.cli("logs", f"{shared.run_id}/body", "--stdout")
    assert proc.returncode == 0, proc.stderr
    for task in _task_ids(shared.run, "body"):
        assert f"CliFlow/{shared.run_id}/body/{task} stdout" in proc.stdout
    assert proc.stdout.count("attempt 0 of body") == 2


def test_dump_shows_names_types_sizes_and_values(shared):
    start_task = _task_ids(shared.run, "start")[0]
    proc = shared.cli("dump", f"{shared.run_id}/start/{start_task}")
    assert proc.returncode == 0, proc.stderr
    assert f"Task CliFlow/{shared.run_id}/start/{start_task}" in proc.stdout
    assert re.search(r"^\s+items\s+\[list, \d+ bytes\]\s+\[0, 1\]$", proc.stdout, re.M), proc.stdout
    # 'big' is larger than the default --max-value-size 1000
    assert re.search(r"^\s+big\s+\[str, \d+ bytes\]\s+\(not shown", proc.stdout, re.M), proc.stdout

    end_task = _task_ids(shared.run, "end")[0]
    proc = shared.cli("dump", f"{shared.run_id}/end/{end_task}")
    assert re.search(r"^\s+total\s+\[int, \d+ bytes\]\s+1$", proc.stdout, re.M), proc.stdout


def test_dump_max_value_size_hides_large_values(shared):
    start_task = _task_ids(shared.run, "start")[0]
    proc = shared.cli("dump", f"{shared.run_id}/start/{start_task}", "--max-value-size", "10")
    assert proc.returncode == 0, proc.stderr
    assert "(not shown: larger than --max-value-size 10)" in proc.stdout
    assert "[0, 1]" not in proc.stdout
    assert re.search(r"items\s+\[list, \d+ bytes\]", proc.stdout)

    big = shared.cli("dump", f"{shared.run_id}/start", "--max-value-size", "100000")
    assert "'abcdefghij" in big.stdout


def test_dump_unknown_run_is_a_clean_error(shared):
    proc = shared.cli("dump", "12345/start")
    assert proc.returncode == 1
    assert "12345" in proc.stderr
    _no_traceback(proc)
    proc = shared.cli("dump", "just-one-part")
    assert proc.returncode == 1
    assert "malformed" in proc.stderr


def test_flowtrack_console_script(shared):
    script = Path(sys.executable).parent / "flowtrack"
    command = [str(script)] if script.exists() else [shutil.which("flowtrack") or "flowtrack"]
    info = subprocess.run([*command, "info"], env=shared.env, capture_output=True, text=True,
                          timeout=60, cwd=shared.root)
    assert info.returncode == 0, info.stderr
    assert f"home:      {shared.root / 'ft-home'}" in info.stdout
    assert "metadata:  sqlite:///" in info.stdout
    assert "user:      tester" in info.stdout

    flows = subprocess.run([*command, "flows"], env=shared.env, capture_output=True, text=True,
                           timeout=60, cwd=shared.root)
    assert flows.returncode == 0, flows.stderr
    assert "CliFlow" in flows.stdout
    assert f"latest run: {shared.run_id} " in flows.stdout


def test_flowtrack_flows_on_an_empty_store(store_env, tmp_path):
    script = Path(sys.executable).parent / "flowtrack"
    command = [str(script)] if script.exists() else [shutil.which("flowtrack") or "flowtrack"]
    proc = subprocess.run([*command, "flows"], env=store_env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "No flows in this store yet." in proc.stdout


# ---------------------------------------------------------------------------
# commands that need no run
# ---------------------------------------------------------------------------


def test_run_help_lists_parameters_first(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    options = re.findall(r"^\s+(--[a-z-]+)", text, re.M)
    assert options[:3] == ["--count", "--greeting", "--flaky"], options
    for later in ("--max-workers", "--max-num-splits", "--tag", "--run-id-file", "--with",
                  "--no-lint"):
        assert later in options[3:], options
    flat = " ".join(text.split())
    assert "How many items to fan out over" in flat
    assert "What to say first" in flat
    assert "FLOWTRACK_RUN_COUNT" in flat
    assert flat.index("How many items") < flat.index("--max-workers")


def test_bad_int_parameter_is_a_usage_error(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", "--count", "abc")
    assert proc.returncode == 2
    assert "Invalid value for '--count'" in proc.stderr
    assert "expected int" in proc.stderr
    assert "Usage:" in proc.stderr
    _no_traceback(proc)
    assert "Workflow starting" not in proc.stdout


def test_show_prints_steps_docstrings_and_transitions(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "show")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Fans out over some items and adds them up.")
    steps = re.findall(r"^Step (\w+)$", out, re.M)
    assert steps == ["start", "body", "join", "end"]
    for doc in ("Make the items.", "Square one item.", "Add the squares.", "Report."):
        assert doc in out
    assert "=> body (foreach over 'items')" in out
    assert "=> join" in out
    assert "=> end (join)" in out
    assert "=> (end of flow)" in out


def test_show_switch_and_decorators(write_flow, run_flow):
    path = write_flow('''
        from flowtrack import FlowSpec, retry, step


        class ShowSwitchFlow(FlowSpec):
            @retry(times=1)
            @step
            def start(self):
                self.mode = "a"
                self.next({"a": self.one, "b": self.two}, condition="mode")

            @step
            def one(self):
                self.next(self.end)

            @step
            def two(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == "__main__":
            ShowSwitchFlow()
    ''')
    proc = run_flow(path, "show")
    assert proc.returncode == 0, proc.stderr
    assert "decorators: @retry" in proc.stdout
    assert "=> switch on 'mode' {'a': one, 'b': two}" in proc.stdout


def test_check_passes_on_a_good_flow(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "check")
    assert proc.returncode == 0, proc.stderr
    assert "Flow CliFlow: the graph is valid (4 steps), lint passed." in proc.stdout


def test_lint(write_flow, run_flow):
    path = write_flow(LINT_FLOW)
    checked = run_flow(path, "check")
    assert checked.returncode == 1
    assert "Lint error" in checked.stderr
    assert "undefined name 'undefined_thing'" in checked.stderr
    assert str(path) in checked.stderr
    assert "--no-lint" in checked.stderr
    _no_traceback(checked)

    for args in (("check", "--no-lint"), ("--no-lint", "check")):
        proc = run_flow(path, *args)
        assert proc.returncode == 0, proc.stderr
        assert "the graph is valid (2 steps)." in proc.stdout
        assert "lint passed" not in proc.stdout

    blocked = run_flow(path, "run")
    assert blocked.returncode == 1
    assert "undefined name 'undefined_thing'" in blocked.stderr
    assert "Workflow starting" not in blocked.stdout
    _no_traceback(blocked)

    ran = run_flow(path, "run", "--no-lint")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "lint flow ran" in ran.stdout


def test_lint_warnings_do_not_block(write_flow, run_flow):
    path = write_flow(CLI_FLOW.replace("import sys\n", "import sys\nimport json\n", 1))
    proc = run_flow(path, "check")
    assert proc.returncode == 0, proc.stderr
    assert "lint warning:" in proc.stdout and "'json' imported but unused" in proc.stdout
    assert "lint passed" in proc.stdout


def test_bad_with_spec_is_a_usage_error(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", "--with", "nosuch:times=1")
    assert proc.returncode == 2
    assert "Invalid value for --with" in proc.stderr
    assert "unknown decorator 'nosuch'" in proc.stderr
    _no_traceback(proc)
    assert "Workflow starting" not in proc.stdout

    proc = run_flow(path, "run", "--with", "retry:times=-1")
    assert proc.returncode == 2
    assert "times must be >= 0" in proc.stderr


@pytest.mark.parametrize(("args", "fragment"), [
    (("--tag", " "), "Invalid value for --tag"),
    (("--max-num-splits", "0"), "Invalid value for '--max-num-splits'"),
    (("--max-workers", "none"), "Invalid value for '--max-workers'"),
])
def test_bad_run_options_are_usage_errors(write_flow, run_flow, args, fragment):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", *args)
    assert proc.returncode == 2
    assert fragment in proc.stderr
    _no_traceback(proc)
    assert "Workflow starting" not in proc.stdout


def test_with_null_number_is_a_usage_error(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", "--with", "retry:times=null")
    _no_traceback(proc)
    assert proc.returncode == 2


# ---------------------------------------------------------------------------
# runs whose behaviour depends on options and environment
# ---------------------------------------------------------------------------


def test_env_vars_are_honoured_and_max_num_splits_says_how_to_raise_it(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", env={"FLOWTRACK_RUN_COUNT": "4",
                                      "FLOWTRACK_RUN_MAX_NUM_SPLITS": "3"})
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "count=4" in proc.stdout
    assert "yields 4 splits, more than the limit --max-num-splits 3" in output
    assert "--max-num-splits 4" in output
    assert "FLOWTRACK_RUN_MAX_NUM_SPLITS=4" in output
    assert "Run failed" in proc.stderr
    assert _task_ids(proc, "body") == []


def test_command_line_wins_over_env_vars(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", "--count", "5", "--max-num-splits", "5",
                    env={"FLOWTRACK_RUN_COUNT": "4", "FLOWTRACK_RUN_MAX_NUM_SPLITS": "3",
                         "FLOWTRACK_RUN_GREETING": "hey"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hey count=5" in proc.stdout  # greeting from the environment, count from the flag
    assert len(_task_ids(proc, "body")) == 5
    assert "total=30" in proc.stdout


def test_bad_env_var_value_is_a_usage_error(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", env={"FLOWTRACK_RUN_COUNT": "many"})
    assert proc.returncode == 2
    assert "'--count'" in proc.stderr and "expected int" in proc.stderr
    _no_traceback(proc)


def test_with_retry_applies_to_every_step(write_flow, run_flow):
    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", "--flaky", "yes", "--count", "1", "--with", "retry:times=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for step in ("start", "body", "join", "end"):
        assert f"attempt 2 of {step}" in proc.stdout
        assert f"flaky failure in {step}" in proc.stdout + proc.stderr
    assert "total=0" in proc.stdout

    from flowtrack.client import Flow, namespace

    namespace(None)
    run = Flow("CliFlow").latest_run
    assert run is not None and run.successful
    for step in ("start", "body", "join", "end"):
        assert run[step].task.current_attempt == 2
