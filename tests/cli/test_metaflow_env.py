"""Metaflow's environment variable names as defaults of a flow's command-line options
(``METAFLOW_RUN_MAX_WORKERS``, ``METAFLOW_RUN_<PARAM>``...): the command line built in
this process and its options resolved without running anything, then one real run."""

from __future__ import annotations

from typing import Any

import click
import pytest

from flowtrack import FlowSpec, Parameter, step
from flowtrack.cli._flowcli import build_cli
from tests.cli.test_flow_cli import CLI_FLOW


class EnvFlow(FlowSpec):
    count = Parameter("count", default=2)
    rate = Parameter("learning-rate", default=0.1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


ALL_PREFIXES = ("FLOWTRACK_", "METAFLOW_")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """Clear every FLOWTRACK_/METAFLOW_ option variable; return a setter."""
    import os

    for var in list(os.environ):
        if var.startswith(ALL_PREFIXES) and var not in (
                "FLOWTRACK_HOME", "FLOWTRACK_METADATA", "FLOWTRACK_STORE"):
            monkeypatch.delenv(var)

    def set_vars(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_vars


def resolve(*path: str, args: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values the options of command ``path`` take (``args`` on the command line),
    as click resolves them; no command runs."""
    cli = build_cli(EnvFlow)
    ctx = cli.make_context("flow.py", [])
    command: click.Command = cli
    for i, name in enumerate(path):
        assert isinstance(command, click.Group)
        command = command.commands[name]
        last = i == len(path) - 1
        # an intermediate group ('tag') is given no arguments: do not ask it for help
        ctx = command.make_context(name, list(args) if last else [], parent=ctx,
                                   resilient_parsing=not last)
    return ctx.params


def test_run_options_read_metaflow_names(env):
    env(METAFLOW_RUN_MAX_WORKERS="3", METAFLOW_RUN_MAX_NUM_SPLITS="7",
        METAFLOW_RUN_TAGS="a b", METAFLOW_RUN_DECOSPECS="retry",
        METAFLOW_RUN_RUN_ID_FILE="rid.txt")
    params = resolve("run")
    assert params["max_workers"] == 3
    assert params["max_num_splits"] == 7
    assert params["tags"] == ("a", "b")
    assert params["decospecs"] == ("retry",)
    assert params["run_id_file"] == "rid.txt"


def test_flow_parameters_read_metaflow_run_names(env):
    env(METAFLOW_RUN_COUNT="4", METAFLOW_RUN_LEARNING_RATE="0.5")
    params = resolve("run")
    assert params["count"] == 4 and params["rate"] == 0.5


def test_the_flowtrack_name_wins_over_metaflows(env):
    env(METAFLOW_RUN_MAX_WORKERS="3", FLOWTRACK_RUN_MAX_WORKERS="5",
        METAFLOW_RUN_COUNT="4", FLOWTRACK_RUN_COUNT="6",
        METAFLOW_RUN_TAGS="mf", FLOWTRACK_RUN_TAG="ft")
    params = resolve("run")
    assert (params["max_workers"], params["count"], params["tags"]) == (5, 6, ("ft",))


def test_an_empty_flowtrack_variable_counts_as_unset(env):
    env(FLOWTRACK_RUN_MAX_WORKERS="", METAFLOW_RUN_MAX_WORKERS="3")
    assert resolve("run")["max_workers"] == 3


def test_the_command_line_wins_over_both(env):
    env(METAFLOW_RUN_MAX_WORKERS="3", FLOWTRACK_RUN_MAX_WORKERS="5", METAFLOW_RUN_COUNT="4")
    params = resolve("run", args=("--max-workers", "2", "--count", "9"))
    assert (params["max_workers"], params["count"]) == (2, 9)


def test_resume_options_read_metaflow_names(env):
    env(METAFLOW_RESUME_ORIGIN_RUN_ID="123", METAFLOW_RESUME_MAX_WORKERS="2",
        METAFLOW_RESUME_TAGS="again")
    params = resolve("resume")
    assert params["origin_run_id"] == "123"
    assert params["max_workers"] == 2 and params["tags"] == ("again",)


def test_other_commands_read_metaflow_names(env):
    env(METAFLOW_QUIET="1", METAFLOW_DUMP_MAX_VALUE_SIZE="5", METAFLOW_LOGS_STDOUT="1",
        METAFLOW_TAG_ADD_RUN_ID="9")
    assert resolve()["quiet"] is True
    assert resolve("dump", args=("1/start",))["max_value_size"] == 5
    assert resolve("logs", args=("1/start",))["only_stdout"] is True
    assert resolve("tag", "add", args=("t",))["run_id"] == "9"


def test_flowtrack_only_options_ignore_metaflow_names(env):
    env(METAFLOW_RUN_EXECUTOR="ray", METAFLOW_RUN_NO_LINT="1", METAFLOW_NO_LINT="1",
        METAFLOW_TRACEBACK="1")
    params = resolve("run")
    assert params["executor"] == "local" and params["no_lint"] is False
    top = resolve()
    assert top["no_lint"] is False and top["traceback"] is False


def test_run_help_shows_both_names():
    cli = build_cli(EnvFlow)
    with click.Context(cli, info_name="flow.py") as ctx:
        run = cli.commands["run"]
        text = run.get_help(click.Context(run, info_name="run", parent=ctx))
    flat = " ".join(text.split())
    assert "FLOWTRACK_RUN_MAX_WORKERS, METAFLOW_RUN_MAX_WORKERS" in flat
    assert "FLOWTRACK_RUN_LEARNING_RATE, METAFLOW_RUN_LEARNING_RATE" in flat
    assert "FLOWTRACK_RUN_TAG, METAFLOW_RUN_TAGS" in flat
    assert "METAFLOW_RUN_EXECUTOR" not in flat


def test_a_run_configured_by_metaflow_names(write_flow, run_flow):
    from flowtrack.client import Flow, namespace

    path = write_flow(CLI_FLOW)
    proc = run_flow(path, "run", env={"METAFLOW_RUN_COUNT": "3", "METAFLOW_RUN_TAGS": "mf-tag",
                                      "METAFLOW_RUN_GREETING": "ignored",
                                      "FLOWTRACK_RUN_GREETING": "hey",
                                      "FLOWTRACK_USER": "", "METAFLOW_USER": "mf-user"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hey count=3" in proc.stdout
    namespace(None)
    run = Flow("CliFlow").latest_run
    assert run is not None and run.successful
    assert "user:mf-user" in run.system_tags and "mf-tag" in run.user_tags
