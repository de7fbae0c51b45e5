"""The command line of a flow file: ``python flow.py run|resume|show|check|logs|dump|tag|card``.

Built per flow class with click. Every Parameter becomes ``--<name>`` on ``run``
(listed first in ``run --help``); every option also reads
``FLOWTRACK_<COMMAND>_<OPTION>`` (e.g. ``FLOWTRACK_RUN_MAX_NUM_SPLITS``), then
Metaflow's name for it where Metaflow has the same option (``METAFLOW_RUN_MAX_NUM_SPLITS``,
``METAFLOW_RUN_<PARAM>``; the table is ``_config.METAFLOW_ALIASES``), and the
command line wins. The graph is checked before any command; ``run`` and ``resume``
also lint the file first unless ``--no-lint``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .._config import env_names, settings
from .._errors import FlowtrackError, ParameterError
from ..client import Run, namespace
from ..flow import (
    DecoratorError,
    FlowSpec,
    IncludeFile,
    Parameter,
    current,
    flow_decorators,
    flow_mutators,
    mutate_flow,
    parse_decospec,
    pre_mutate_flow,
    resolve_project,
)
from ..flow._configs import Config, flow_configs, resolve_flow_configs
from ..flow._params import ParameterContext
from ..flow._project import flow_project
from ..runtime import EXECUTORS, RunOptions, RunRequest, resume_run, start_run
from ._cards import add_card_commands
from ._errors import run_reporting_errors
from ._extension_options import add_flow_decorator_options, flow_option_names
from ._inspect import dump_tasks, dump_to_file, print_logs, resolve_tasks, show_graph
from ._lint import lint_file


class ParameterType(click.ParamType):
    """Converts a command-line string through the flow's Parameter."""

    def __init__(self, param: Parameter) -> None:
        self.param = param
        self.name = param.type_name

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return self.param.convert(value)
        except ParameterError as exc:
            self.fail(exc.message, param, ctx)


def _parameter_options(flow_cls: type[FlowSpec]) -> list[click.Parameter]:
    options: list[click.Parameter] = []
    for p in flow_cls._parameters():
        if isinstance(p, Config):
            continue  # given with the top-level --config / --config-value
        help_text = p.help or ""
        if isinstance(p, IncludeFile):
            help_text = (help_text + " (a file; its content is stored with the run)").strip()
        extra: dict[str, Any] = {}
        if p.default is not None:  # an explicit default=None would count as a value
            extra["default"] = p.default
        options.append(click.Option(
            [f"--{p.name}", p.attr_name], type=ParameterType(p),
            required=p.required and p.default is None, help=help_text,
            show_default=p.show_default, show_envvar=True, **extra))
    return options


def _env_name(command: str, option: str) -> str:
    """``FLOWTRACK_<COMMAND>_<OPTION>``: the environment variable behind an option."""
    return f"FLOWTRACK_{command}_{option}".upper().replace("-", "_")


def _refresh_parameter_options(flow_cls: type[FlowSpec], run_cmd: click.Command,
                               count: int) -> int:
    """Replace the first ``count`` options of ``run`` (the flow's parameters) with the
    parameters the flow has now: the group's callback runs the mutators, which may add
    or remove some, before click parses ``run``'s options (as in Metaflow, a parameter
    a FlowMutator adds is an option). Returns the new count."""
    fresh = _parameter_options(flow_cls)
    run_cmd.params[:count] = fresh
    _add_metaflow_names(run_cmd, "FLOWTRACK_RUN")
    return len(fresh)


def _run_options(command: click.Command) -> click.Command:
    for option in [
        click.Option(["--max-workers"], type=click.IntRange(min=1), default=16, show_default=True,
                     show_envvar=True, help="Run at most this many tasks at once."),
        click.Option(["--max-num-splits"], type=click.IntRange(min=1), default=100,
                     show_default=True, show_envvar=True,
                     help="Fail a foreach that would start more tasks than this."),
        click.Option(["--tag", "tags"], multiple=True, show_envvar=True,
                     help="Tag the run (repeatable)."),
        click.Option(["--run-id-file"], type=click.Path(dir_okay=False), show_envvar=True,
                     help="Write the run id to this file."),
        click.Option(["--with", "decospecs"], multiple=True, show_envvar=True,
                     help="Add a decorator to every step, e.g. --with retry:times=2."),
        click.Option(["--no-lint"], is_flag=True, help="Skip the pre-run lint of the flow file."),
        click.Option(["--executor"], type=click.Choice(EXECUTORS), default="local",
                     show_default=True,
                     help="Where tasks run: forked processes on this machine, or Ray tasks."),
        click.Option(["--ray-address"], metavar="auto|HOST:PORT",
                     help="The Ray cluster for --executor ray (default: RAY_ADDRESS, else the "
                          "cluster started last on this machine, else a new local one)."),
    ]:
        command.params.append(option)
    for param in command.params:
        if isinstance(param, click.Option):
            long_name = max(param.opts, key=len).lstrip("-")
            param.envvar = _env_name(command.name or "", long_name)
            param.show_envvar = True
    return command


def _add_metaflow_names(command: click.Command, prefix: str) -> None:
    """Let each option of ``command`` (and of its subcommands) whose variable has a
    Metaflow name read that name too, after its own: ``prefix`` is the command's
    ``FLOWTRACK_<COMMAND>`` (click's automatic name of an option is
    ``<prefix>_<DEST>``)."""
    for param in command.params:
        if isinstance(param, click.Option) and param.name:
            own = param.envvar if isinstance(param.envvar, str) else (
                f"{prefix}_{param.name}".upper())
            names = env_names(own, flow_parameter=isinstance(param.type, ParameterType))
            if len(names) > 1:
                param.envvar = names
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            _add_metaflow_names(sub, f"{prefix}_{name}".upper().replace("-", "_"))


def _add_config_options(cli: click.Group) -> None:
    """``--config NAME PATH`` and ``--config-value NAME JSON``: the top-level options of
    a flow with ``Config``s (their variables are FLOWTRACK_FLOW_CONFIG[_VALUE])."""
    cli.params.append(click.Option(
        ["--config", "config_paths"], nargs=2, multiple=True, metavar="NAME PATH",
        help="Read config NAME from the file PATH (repeatable)."))
    cli.params.append(click.Option(
        ["--config-value", "config_values"], nargs=2, multiple=True, metavar="NAME JSON",
        help="Set config NAME to the JSON value (repeatable)."))


def _resolve_configs(flow_cls: type[FlowSpec], values: dict[str, str],
                     paths: dict[str, str]) -> None:
    """The flow's config values, then every decorator that used them."""
    context = ParameterContext(flow_name=flow_cls.__name__, user_name=settings().user,
                               parameter_name="", logger=lambda *a, **k: None, ds_type="local",
                               configs=None)
    resolve_flow_configs(flow_cls, values, paths, context)
    for node in flow_cls._graph:
        for decorator in node.decorators:
            decorator.resolve_configs()


@contextmanager
def _decorator_code(flow_cls: type[FlowSpec], stage: str) -> Iterator[None]:
    """Report a failure of user code (a mutator, an extension decorator's hook) as
    the user's error, naming the stage, not as a flowtrack bug."""
    try:
        yield
    except FlowtrackError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code in a mutator or decorator
        raise DecoratorError(f"A decorator of flow {flow_cls.__name__} failed {stage}: "
                             f"{type(exc).__name__}: {exc}") from exc


def _mutate(flow_cls: type[FlowSpec], decorators: list[Any]) -> None:
    """The mutators' ``mutate`` once ``--with`` is known, then the step decorators'
    ``step_init`` (Metaflow's order)."""
    with _decorator_code(flow_cls, "while preparing the run"):
        mutate_flow(flow_cls, decorators)
        flow_cls._graph.check()  # what the mutators added obeys the graph rules too
        flow = flow_cls(use_cli=False)
        for node in flow_cls._graph:
            for deco in node.decorators:
                deco.step_init(flow, flow_cls._graph, node.name, node.decorators, None, None,
                               _echo_error)


def _flow_inits(flow_cls: type[FlowSpec], options: dict[str, Any]) -> None:
    """``flow_init`` of the extension flow decorators in this process (each task runs
    it again before its step)."""
    decorators = flow_decorators(flow_cls)
    if not decorators:
        return
    with _decorator_code(flow_cls, "in flow_init"):
        flow = flow_cls(use_cli=False)
        for deco in decorators:
            deco.flow_init(flow, flow_cls._graph, None, None, None, _echo_error, _echo_error,
                           dict(options))


def _echo_error(*args: Any, **_kwargs: Any) -> None:
    click.echo(" ".join(map(str, args)), err=True)


def _add_project_options(cli: click.Group) -> None:
    """``--branch`` and ``--production``: the top-level options of a flow with
    ``@project`` (Metaflow adds them only to such flows too)."""
    cli.params.append(click.Option(
        ["--branch"], default=None, show_envvar=True,
        help="Run in this branch of the @project (test.BRANCH, or prod.BRANCH with "
             "--production); the default is user.<your name>, or prod with --production."))
    cli.params.append(click.Option(
        ["--production"], is_flag=True, default=False, show_envvar=True,
        help="Run in the @project's production branch (prod, or prod.BRANCH with --branch)."))


def _request(ctx: click.Context, kwargs: dict[str, Any]) -> RunRequest:
    state = ctx.obj
    for tag in kwargs["tags"]:
        if not tag.strip() or len(tag) > 512:
            raise click.BadParameter(f"tag {tag!r} must be 1 to 512 characters", param_hint="--tag")
    try:
        decorators = [parse_decospec(s) for s in kwargs["decospecs"]]
    except FlowtrackError as exc:
        raise click.BadParameter(exc.message, param_hint="--with") from None
    _mutate(state["flow_cls"], decorators)
    user = settings().user
    project = state["project"]
    if project is not None and not state["quiet"]:
        click.echo(f"Project: {project.project_name}, Branch: {project.branch_name}", err=True)
    options = RunOptions(max_workers=kwargs["max_workers"], max_num_splits=kwargs["max_num_splits"],
                         tags=list(kwargs["tags"]), with_decorators=decorators,
                         user=user, project=project, flow_options=state["flow_options"])
    if not (kwargs["no_lint"] or state["no_lint"]):
        for warning in lint_file(state["file"]):
            if not state["quiet"]:
                click.echo(f"lint warning: {warning}", err=True)
    ray_address = kwargs["ray_address"] if kwargs["executor"] == "ray" else None
    given = ctx.get_parameter_source("ray_address") == click.core.ParameterSource.COMMANDLINE
    if kwargs["ray_address"] and kwargs["executor"] != "ray" and given:
        # (from the environment it is only a default for Ray runs, not an error)
        raise click.BadParameter("--ray-address applies only with --executor ray",
                                 param_hint="--ray-address")
    return RunRequest(state["flow_cls"], options, kwargs["run_id_file"], state["quiet"],
                      executor=kwargs["executor"], ray_address=ray_address)


def build_cli(flow_cls: type[FlowSpec]) -> click.Group:
    graph = flow_cls._graph
    file = inspect.getsourcefile(flow_cls) or sys.argv[0]

    @click.group(invoke_without_command=True, help=f"Commands for flow {flow_cls.__name__}.",
                 context_settings={"auto_envvar_prefix": "FLOWTRACK",
                                   "help_option_names": ["-h", "--help"]})
    @click.option("--quiet", is_flag=True, help="Print only errors (no task output or progress).")
    @click.option("--traceback", is_flag=True, help="Show Python tracebacks of errors.")
    @click.option("--no-lint", is_flag=True, help="Skip the lint before run/resume.")
    @click.pass_context
    def cli(ctx: click.Context, quiet: bool, traceback: bool, no_lint: bool,
            branch: str | None = None, production: bool = False,
            config_paths: tuple[tuple[str, str], ...] = (),
            config_values: tuple[tuple[str, str], ...] = (),
            **extension_options: Any) -> None:
        if flow_configs(flow_cls):
            _resolve_configs(flow_cls, dict(config_values), dict(config_paths))
        with _decorator_code(flow_cls, "in pre_mutate"):
            pre_mutate_flow(flow_cls)
        if flow_mutators(flow_cls):  # they may have added or removed parameters
            parameter_option_count[0] = _refresh_parameter_options(
                flow_cls, run_cmd, parameter_option_count[0])
        graph.check()
        project = resolve_project(flow_cls, branch=branch, production=production,
                                  user=settings().user)
        # as in Metaflow, parameters' deploy-time defaults already see the project
        current._set_project(project.to_current() if project else None)
        flow_options = {name: extension_options[name] for name in flow_option_names(flow_cls)}
        _flow_inits(flow_cls, flow_options)
        ctx.obj = {"flow_cls": flow_cls, "file": file, "quiet": quiet, "no_lint": no_lint,
                   "project": project, "flow_options": flow_options}
        if ctx.invoked_subcommand is None:
            click.echo(f"Flow {flow_cls.__name__}: the graph is valid ({len(graph.nodes)} steps).")
            click.echo(ctx.get_help())

    def run(**kwargs: Any) -> None:
        ctx = click.get_current_context()
        request = _request(ctx, kwargs)
        values = {p.attr_name: p.default_value() if isinstance(p, Config) else kwargs[p.attr_name]
                  for p in flow_cls._parameters()}
        start_run(request, values)

    if flow_project(flow_cls) is not None:
        _add_project_options(cli)
    if flow_configs(flow_cls):
        _add_config_options(cli)
    add_flow_decorator_options(cli, flow_cls)
    run_cmd = click.Command("run", callback=run, params=_parameter_options(flow_cls),
                            help="Run the flow from start.")
    parameter_option_count = [len(run_cmd.params)]  # run's first options: the parameters
    cli.add_command(_run_options(run_cmd))

    @click.argument("step", required=False)
    @click.option("--origin-run-id", help="The run to resume (default: your latest run).")
    def resume(step: str | None, origin_run_id: str | None, **kwargs: Any) -> None:
        """Re-run a failed run from its failed step (or from STEP), reusing what succeeded."""
        if step is not None and step not in graph:
            raise click.BadParameter(f"'{step}' is not a step of {flow_cls.__name__}; steps are "
                                     f"{', '.join(graph.nodes)}", param_hint="STEP")
        request = _request(click.get_current_context(), kwargs)
        resume_run(request, step, origin_run_id)

    cli.add_command(_run_options(click.command("resume")(resume)))

    @cli.command()
    def show() -> None:
        """Show the steps, their docstrings and transitions."""
        show_graph(graph)

    @cli.command()
    @click.option("--no-lint", "no_lint_here", is_flag=True, help="Check only the graph.")
    @click.pass_obj
    def check(state: dict[str, Any], no_lint_here: bool) -> None:
        """Validate the graph and lint the flow file."""
        warnings = [] if (no_lint_here or state["no_lint"]) else lint_file(file)
        for warning in warnings:
            click.echo(f"lint warning: {warning}")
        click.echo(f"Flow {flow_cls.__name__}: the graph is valid ({len(graph.nodes)} steps)"
                   + ("" if no_lint_here or state["no_lint"] else ", lint passed") + ".")

    @cli.command()
    @click.argument("pathspec")
    @click.option("--stdout", "only_stdout", is_flag=True, help="Show only stdout.")
    @click.option("--stderr", "only_stderr", is_flag=True, help="Show only stderr.")
    def logs(pathspec: str, only_stdout: bool, only_stderr: bool) -> None:
        """Show the output of the tasks of RUN_ID/STEP[/TASK_ID]."""
        streams = ["stdout", "stderr"]
        if only_stdout != only_stderr:
            streams = ["stdout"] if only_stdout else ["stderr"]
        print_logs(resolve_tasks(flow_cls.__name__, pathspec), streams)

    @cli.command()
    @click.argument("pathspec")
    @click.option("--max-value-size", type=click.IntRange(min=0), default=1000, show_default=True,
                  help="Show values only of artifacts at most this many bytes.")
    @click.option("--private/--no-private", default=False, show_default=True,
                  help="Include artifacts whose names start with _ (flowtrack stores none).")
    @click.option("--include", help="Only these artifacts (comma-separated names).")
    @click.option("--file", "out_file", type=click.Path(dir_okay=False),
                  help="Write the values, pickled as {RUN_ID/STEP/TASK_ID: {name: value}}, "
                       "to this file (as Metaflow's dump --file) instead of printing them.")
    def dump(pathspec: str, max_value_size: int, private: bool, include: str | None,
             out_file: str | None) -> None:
        """Show the artifacts of the tasks of RUN_ID/STEP[/TASK_ID]."""
        tasks = resolve_tasks(flow_cls.__name__, pathspec)
        names = {n.strip() for n in include.split(",") if n.strip()} if include else None
        if out_file:
            dump_to_file(tasks, max_value_size, names, private, out_file)
        else:
            dump_tasks(tasks, max_value_size, names, private)

    @cli.group()
    def tag() -> None:
        """Add, remove or list the tags of a run."""

    def _run_for(run_id: str | None) -> Run:
        namespace(None)
        if run_id:
            return Run(f"{flow_cls.__name__}/{run_id}")
        from ..client import Flow

        latest = Flow(flow_cls.__name__).latest_run
        if latest is None:
            raise FlowtrackError(f"Flow {flow_cls.__name__} has no runs yet.")
        return latest

    run_id_option = click.option("--run-id", help="The run (default: the latest run).")

    @tag.command("add")
    @run_id_option
    @click.argument("tags", nargs=-1, required=True)
    def tag_add(run_id: str | None, tags: tuple[str, ...]) -> None:
        """Add TAGS to a run."""
        run = _run_for(run_id)
        run.add_tags(list(tags))
        click.echo(f"{run.pathspec}: tags {', '.join(sorted(run.user_tags))}")

    @tag.command("remove")
    @run_id_option
    @click.argument("tags", nargs=-1, required=True)
    def tag_remove(run_id: str | None, tags: tuple[str, ...]) -> None:
        """Remove TAGS from a run."""
        run = _run_for(run_id)
        missing = [t for t in tags if t not in run.user_tags]
        if missing:
            raise FlowtrackError(f"Run {run.pathspec} has no tag(s) {', '.join(missing)}.")
        run.remove_tags(list(tags))
        click.echo(f"{run.pathspec}: tags {', '.join(sorted(run.user_tags)) or '(none)'}")

    @tag.command("replace")
    @run_id_option
    @click.option("--remove", "removes", multiple=True, help="A tag to remove (repeatable).")
    @click.option("--add", "adds", multiple=True, help="A tag to add (repeatable).")
    @click.argument("pair", nargs=-1)
    def tag_replace(run_id: str | None, removes: tuple[str, ...], adds: tuple[str, ...],
                    pair: tuple[str, ...]) -> None:
        """Replace tags in one change: OLD NEW, or --remove OLD... --add NEW..."""
        if pair and (removes or adds or len(pair) != 2):
            raise click.UsageError("Give either OLD NEW, or --remove/--add options.")
        remove, add = ([pair[0]], [pair[1]]) if pair else (list(removes), list(adds))
        if not remove and not add:
            raise click.UsageError("Nothing to replace: give OLD NEW, or --remove/--add.")
        run = _run_for(run_id)
        run.replace_tags(remove, add)
        click.echo(f"{run.pathspec}: tags {', '.join(sorted(run.user_tags)) or '(none)'}")

    @tag.command("list")
    @run_id_option
    @click.option("--flat", is_flag=True,
                  help="One tag per line on stderr, after a heading line (as Metaflow's).")
    @click.option("--hide-system-tags", is_flag=True, help="Only the user tags.")
    def tag_list(run_id: str | None, flat: bool, hide_system_tags: bool) -> None:
        """List the tags of a run."""
        run = _run_for(run_id)
        if flat:
            tags = run.user_tags if hide_system_tags else run.tags
            click.echo(f"Tags of {run.pathspec}:", err=True)
            for tag_name in sorted(tags):
                click.echo(tag_name, err=True)
            return
        click.echo(f"{run.pathspec}")
        click.echo(f"  user tags:   {', '.join(sorted(run.user_tags)) or '(none)'}")
        if not hide_system_tags:
            click.echo(f"  system tags: {', '.join(sorted(run.system_tags))}")

    add_card_commands(cli, flow_cls.__name__)
    _add_metaflow_names(cli, "FLOWTRACK")
    return cli


def run_flow_cli(flow_cls: type[FlowSpec], argv: list[str] | None = None) -> None:
    """Entry point called by ``MyFlow()`` at the bottom of a flow file."""
    args = list(sys.argv[1:] if argv is None else argv)
    prog = sys.argv[0] if sys.argv and sys.argv[0] else flow_cls.__name__
    # building the command line lists the flow's parameters, which may report a mistake
    run_reporting_errors(lambda: build_cli(flow_cls).main(args, prog_name=f"python {prog}",
                                                          standalone_mode=False), args)
    sys.exit(0)



