"""User step decorators and mutators (Metaflow's public API for them).

``@user_step_decorator`` generators and ``UserStepDecorator`` classes wrap a step's
body in the task process; ``StepMutator`` and ``FlowMutator`` change the flow before
it runs through ``MutableStep`` / ``MutableFlow``. Most tests run a real flow in a
subprocess and read what the decorators did back from the run's artifacts; a few
exercise the mutable views in this process on a flow imported from a file.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowtrack import Flow, Parameter, namespace
from flowtrack.flow import (
    DecoratorError,
    FlowMutator,
    MutableFlow,
    MutableStep,
    StepMutator,
    UserDecoratorError,
    UserStepDecorator,
    user_step_decorator,
)
from tests.conftest import isolated_store

WRAPPER_FLOW = """
    import time
    from flowtrack import (Config, FlowSpec, UserStepDecorator, config_expr, step,
                           user_step_decorator)

    @user_step_decorator
    def timing(step_name, flow, inputs):
        started = time.monotonic()
        yield
        flow.timing = {"step": step_name, "seconds": time.monotonic() - started,
                       "body_done": getattr(flow, "body_done", False), "inputs": inputs}

    @user_step_decorator
    def labelled(step_name, flow, inputs, attributes):
        flow.attributes_seen = dict(attributes)
        yield

    @user_step_decorator
    def outer(step_name, flow, inputs):
        flow.order = ["outer pre"]
        yield
        flow.order = flow.order + ["outer post"]

    @user_step_decorator
    def inner(step_name, flow, inputs):
        flow.order = flow.order + ["inner pre"]
        yield
        flow.order = flow.order + ["inner post"]

    @user_step_decorator
    def forgiving(step_name, flow, inputs):
        try:
            yield
        except ValueError as exc:
            flow.swallowed = str(exc)

    @user_step_decorator
    def skipping(step_name, flow, inputs):
        flow.skipped_by = step_name
        yield {}

    @user_step_decorator
    def never_yields(step_name, flow, inputs):
        flow.checked_by = step_name
        return
        yield

    @user_step_decorator
    def fan_out(step_name, flow, inputs):
        flow.items = ["x", "y", "z"]
        yield {"foreach": "items"}

    @user_step_decorator
    def replaced(step_name, flow, inputs):
        def instead(flow):
            flow.letter = flow.input
            flow.position = (flow.index, flow.input)
            flow.ran = "replacement"
            return True  # the step's own self.next
        yield instead

    @user_step_decorator
    def replaced_join(step_name, flow, inputs):
        flow.inputs_seen = len(list(inputs))

        def instead(flow, inputs):
            flow.letters = sorted(i.letter for i in inputs)
            flow.next(flow.guarded)  # returns None: it made the transition itself
        yield instead

    class Guard(UserStepDecorator):
        def init(self, *args, **kwargs):
            self.mode = kwargs.get("mode", "plain")

        def pre_step(self, step_name, flow, inputs=None):
            flow.guard_log = [f"pre {step_name} {self.mode}"]
            if self.mode == "skip":
                self.skip_step = True

        def post_step(self, step_name, flow, exception=None):
            flow.guard_log = flow.guard_log + [f"post {type(exception).__name__}"]
            if self.mode == "swallow":
                return None
            return exception, None

    class WrapperFlow(FlowSpec):
        settings = Config("settings", default_value={"precision": 2})

        @timing
        @labelled(unit="ms", precision=config_expr("settings.precision"))
        @step
        def start(self):
            time.sleep(0.2)
            self.body_done = True
            self.next(self.nested)

        @outer
        @inner
        @step
        def nested(self):
            self.order = self.order + ["body"]
            self.next(self.risky)

        @forgiving
        @step
        def risky(self):
            self.before_error = True
            raise ValueError("swallowed by the decorator")
            self.next(self.skip)

        @skipping
        @step
        def skip(self):
            self.body_ran = True
            self.next(self.unchecked)

        @never_yields
        @step
        def unchecked(self):
            self.body_ran = True
            self.next(self.split)

        @fan_out
        @step
        def split(self):
            self.items = ["never"]
            self.next(self.each, foreach="items")

        @replaced
        @step
        def each(self):
            self.letter = "from the body"
            self.next(self.join)

        @replaced_join
        @step
        def join(self, inputs):
            self.body_ran = True
            self.next(self.guarded)

        @Guard(mode="skip")
        @step
        def guarded(self):
            self.body_ran = True
            self.next(self.shielded)

        @Guard(mode="swallow")
        @step
        def shielded(self):
            raise KeyError("swallowed by post_step")
            self.next(self.end)

        @Guard
        @step
        def end(self):
            self.finished = True

    if __name__ == "__main__":
        WrapperFlow()
"""


@pytest.fixture(scope="module")
def module_store(tmp_path_factory):
    """One store for the flows whose single run several tests read."""
    root = tmp_path_factory.mktemp("user-decorators")
    with isolated_store(root / "ft-home"):
        yield root


def run_once(root: Path, source: str, flow_name: str):
    """Run the flow in ``source`` (it must succeed) and return its run."""
    path = root / f"{flow_name.lower()}.py"
    path.write_text(textwrap.dedent(source))
    proc = subprocess.run([sys.executable, str(path), "run"], cwd=root,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    namespace(None)
    return Flow(flow_name).latest_run


@pytest.fixture(scope="module")
def wrapper_run(module_store):
    return run_once(module_store, WRAPPER_FLOW, "WrapperFlow")


def test_generator_decorator_runs_around_the_body_with_its_attributes(wrapper_run):
    assert wrapper_run.successful
    start = wrapper_run["start"].task.data
    # the code after the yield ran once the body was done, and its artifact is stored
    assert start.timing["step"] == "start"
    assert start.timing["body_done"] is True
    assert start.timing["seconds"] >= 0.2
    assert start.timing["inputs"] is None  # not a join
    assert start.attributes_seen == {"unit": "ms", "precision": 2}  # the config's value


def test_nested_wrappers_run_top_first_and_finish_last(wrapper_run):
    assert wrapper_run["nested"].task.data.order == [
        "outer pre", "inner pre", "body", "inner post", "outer post"]


def test_a_swallowed_exception_lets_the_step_succeed_and_go_on(wrapper_run):
    task = wrapper_run["risky"].task
    assert task.successful
    assert task.data.swallowed == "swallowed by the decorator"
    assert task.data.before_error is True  # what the body set before failing is kept
    assert wrapper_run["skip"].task.successful  # the step's own self.next was taken


def test_skipping_the_body_by_yielding_a_dict_or_not_yielding(wrapper_run):
    skip = wrapper_run["skip"].task.data
    assert skip.skipped_by == "skip"
    assert "body_ran" not in skip
    unchecked = wrapper_run["unchecked"].task.data
    assert unchecked.checked_by == "unchecked"
    assert "body_ran" not in unchecked
    # a dict with self.next arguments: the foreach over the decorator's list
    assert wrapper_run["split"].task.data.items == ["x", "y", "z"]
    assert sorted(t.data.letter for t in wrapper_run["each"]) == ["x", "y", "z"]


def test_a_yielded_callable_replaces_the_body_also_in_a_join(wrapper_run):
    tasks = list(wrapper_run["each"])
    assert all(task.data.ran == "replacement" for task in tasks)
    assert sorted(task.data.position for task in tasks) == [(0, "x"), (1, "y"), (2, "z")]
    join = wrapper_run["join"].task.data
    assert join.inputs_seen == 3  # the generator got the join's inputs
    assert join.letters == ["x", "y", "z"]
    assert "body_ran" not in join


def test_user_step_decorator_class_with_init_skip_and_post_step(wrapper_run):
    guarded = wrapper_run["guarded"].task.data
    assert guarded.guard_log == ["pre guarded skip", "post NoneType"]
    assert "body_ran" not in guarded
    shielded = wrapper_run["shielded"].task
    assert shielded.successful
    assert shielded.data.guard_log == ["pre shielded swallow", "post KeyError"]
    end = wrapper_run["end"].task.data
    assert end.guard_log == ["pre end plain", "post NoneType"]  # bare @Guard: init's default
    assert end.finished is True


FAILING_FLOW = """
    from flowtrack import FlowSpec, UserStepDecorator, step, user_step_decorator

    @user_step_decorator
    def strict(step_name, flow, inputs):
        try:
            yield
        except ValueError as exc:
            raise RuntimeError(f"strict: {exc}") from exc

    @user_step_decorator
    def passive(step_name, flow, inputs):
        yield

    class Veto(UserStepDecorator):
        def post_step(self, step_name, flow, exception=None):
            return PermissionError("vetoed after the body")

    class FailingFlow(FlowSpec):
        @DECORATOR
        @step
        def start(self):
            self.started = True
            BODY
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        FailingFlow()
"""


@pytest.mark.parametrize(("decorator", "body", "error_type", "message"), [
    ("strict", "raise ValueError('bad input')", "builtins.RuntimeError", "strict: bad input"),
    ("passive", "raise ValueError('bad input')", "builtins.ValueError", "bad input"),
    ("Veto", "pass", "builtins.PermissionError", "vetoed after the body"),
])
def test_an_exception_the_decorators_raise_fails_the_run(write_flow, run_flow, decorator, body,
                                                          error_type, message):
    source = FAILING_FLOW.replace("DECORATOR", decorator).replace("BODY", body)
    proc = run_flow(write_flow(source), "run")
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    namespace(None)
    run = Flow("FailingFlow").latest_run
    assert not run.successful
    task = run["start"].task
    assert not task.successful
    assert task.exception.type == error_type
    assert message in str(task.exception)
    assert "end" not in run


STEP_MUTATOR_FLOW = """
    import os
    from flowtrack import (Config, FlowSpec, StepMutator, current, environment, step,
                           timeout)

    SPECS = {}

    class Configure(StepMutator):
        def init(self, *args, **kwargs):
            self.how = kwargs.get("how", "ignore")

        def pre_mutate(self, mutable_step):
            settings = mutable_step.flow.settings
            policy = {"ignore": mutable_step.IGNORE, "override": mutable_step.OVERRIDE}[self.how]
            mutable_step.add_decorator(environment,
                                       deco_kwargs={"vars": {"GREETING": settings.greeting}},
                                       duplicates=policy)
            mutable_step.add_decorator("retry:times=2")
            SPECS[mutable_step.name] = {
                "specs": [list(spec) for spec in mutable_step.decorator_specs],
                "has_retry": mutable_step.has_decorator("retry"),
                "retry_specs": [list(s) for s in mutable_step.get_decorator_specs("retry")],
            }

    class Strip(StepMutator):
        def pre_mutate(self, mutable_step):
            SPECS["strip"] = {
                "wrong_args": mutable_step.remove_decorator("environment",
                                                            deco_kwargs={"vars": {}}),
                "removed": mutable_step.remove_decorator("environment"),
                "timeout": mutable_step.remove_decorator("timeout", deco_kwargs={"seconds": 60}),
                "again": mutable_step.remove_decorator("environment"),
                "left": [spec[0] for spec in mutable_step.decorator_specs],
            }

    class MutatorFlow(FlowSpec):
        settings = Config("settings", default_value={"greeting": "hello from config"})

        @Configure
        @step
        def start(self):
            self.greeting = os.environ.get("GREETING")
            self.attempt = current.retry_count
            if current.retry_count < 2:
                raise ValueError(f"attempt {current.retry_count} fails")
            self.seen = SPECS["start"]
            self.next(self.kept)

        @Configure
        @environment(vars={"GREETING": "own"})
        @step
        def kept(self):
            self.greeting = os.environ["GREETING"]
            self.next(self.replaced)

        @Configure(how="override")
        @environment(vars={"GREETING": "own"})
        @step
        def replaced(self):
            self.greeting = os.environ["GREETING"]
            self.next(self.end)

        @Strip
        @timeout(seconds=60)
        @environment(vars={"GREETING": "own"})
        @step
        def end(self):
            self.greeting = os.environ.get("GREETING")
            self.seen = SPECS["strip"]

    if __name__ == "__main__":
        MutatorFlow()
"""


def test_step_mutators_add_and_remove_decorators(write_flow, run_flow):
    run_flow(write_flow(STEP_MUTATOR_FLOW), "run", check=True)
    namespace(None)
    run = Flow("MutatorFlow").latest_run
    assert run.successful
    start = run["start"].task.data
    # @environment from the config's value; @retry(times=2) from a spec string: the
    # step failed twice and succeeded on its third attempt
    assert start.greeting == "hello from config"
    assert start.attempt == 2
    specs = start.seen["specs"]
    assert specs[:2] == [
        ["environment", "flowtrack.flow._decorators.EnvironmentDecorator", [],
         {"vars": {"GREETING": "hello from config"}}],
        ["retry", "flowtrack.flow._decorators.RetryDecorator", [], {"times": 2}],
    ]
    assert specs[2][0] == "Configure" and specs[2][1].endswith(".Configure")
    assert specs[2][2:] == [[], {}]
    assert len(specs) == 3
    assert start.seen["has_retry"] is True
    assert start.seen["retry_specs"] == [specs[1]]
    # IGNORE keeps the step's own decorator, OVERRIDE replaces it
    assert run["kept"].task.data.greeting == "own"
    assert run["replaced"].task.data.greeting == "hello from config"
    end = run["end"].task.data
    assert end.greeting is None
    assert end.seen == {"wrong_args": False, "removed": True, "timeout": True,
                        "again": False, "left": ["Strip"]}


CHAIN_FLOW = """
    import os
    from flowtrack import FlowMutator, FlowSpec, StepMutator, step, user_step_decorator

    @user_step_decorator
    def labelled(step_name, flow, inputs, attributes):
        flow.attrs = dict(attributes)
        yield

    @user_step_decorator
    def timing(step_name, flow, inputs):
        flow.timed = step_name
        yield

    class SetVar(StepMutator):
        def init(self, *args, **kwargs):
            self.value = kwargs["value"]

        def pre_mutate(self, mutable_step):
            mutable_step.add_decorator("environment",
                                       deco_kwargs={"vars": {"FROM_SETVAR": self.value}})

    class AddSetVar(FlowMutator):
        def pre_mutate(self, mutable_flow):
            mutable_flow.start.add_decorator(SetVar, deco_kwargs={"value": "via flow mutator"})

    class Chain(StepMutator):
        def pre_mutate(self, mutable_step):
            mutable_step.add_decorator(SetVar, deco_kwargs={"value": "via step mutator"})
            mutable_step.remove_decorator("timing")
            mutable_step.add_decorator('labelled:unit="s"', duplicates=mutable_step.OVERRIDE)

    @AddSetVar
    class ChainFlow(FlowSpec):
        @labelled
        @step
        def start(self):
            self.var = os.environ.get("FROM_SETVAR")
            self.next(self.end)

        @Chain
        @timing
        @labelled(unit="ms")
        @step
        def end(self):
            self.var = os.environ.get("FROM_SETVAR")

    if __name__ == "__main__":
        ChainFlow()
"""


@pytest.fixture(scope="module")
def chain_run(module_store):
    return run_once(module_store, CHAIN_FLOW, "ChainFlow")


def test_mutators_remove_and_override_user_decorators(chain_run):
    start = chain_run["start"].task.data
    assert start.attrs == {}  # a bare four-argument generator gets no attributes
    # a step mutator a flow mutator added in pre_mutate had its own pre_mutate run
    assert start.var == "via flow mutator"
    end = chain_run["end"].task.data
    assert end.attrs == {"unit": "s"}  # the spec string replaced @labelled(unit="ms")
    assert "timed" not in end  # @timing was removed


def test_a_step_mutator_added_by_a_step_mutator_runs_its_pre_mutate(chain_run):
    # Metaflow runs the pre_mutate of a step mutator added while the step's
    # mutators are being run (it iterates over the live list)
    assert chain_run["end"].task.data.var == "via step mutator"


FLOW_MUTATOR_FLOW = """
    from flowtrack import FlowMutator, FlowSpec, step, user_step_decorator

    @user_step_decorator
    def stamp(step_name, flow, inputs, attributes):
        yield
        stamps = dict(getattr(flow, "stamps", {}))  # the earlier steps' stamps too
        stamps[step_name] = stamps.get(step_name, []) + [attributes["by"]]
        flow.stamps = stamps

    @user_step_decorator
    def noted(step_name, flow, inputs, attributes):
        flow.notes = dict(attributes)
        yield

    class StampAll(FlowMutator):
        def init(self, *args, **kwargs):
            self.by = kwargs["by"]

        def pre_mutate(self, mutable_flow):
            for _name, mutable_step in mutable_flow.steps:
                mutable_step.add_decorator(stamp, deco_kwargs={"by": self.by})

    class Inspect(FlowMutator):
        def pre_mutate(self, mutable_flow):
            for _name, s in mutable_flow.steps:
                # the base class's mutator ran first; --with is not attached yet
                s.add_decorator(noted, deco_kwargs={
                    "saw_stamp": s.has_decorator("stamp"),
                    "saw_retry_early": s.has_decorator("retry"),
                    "flow_specs": [spec[0] for spec in mutable_flow.decorator_specs],
                    "steps": [name for name, _ in mutable_flow.steps],
                    "parameters": [name for name, _ in mutable_flow.parameters],
                })

        def mutate(self, mutable_flow):
            # the --with decorators are attached before mutate runs
            for _name, s in mutable_flow.steps:
                s.add_decorator(stamp, deco_kwargs={"by": f"late-retry={s.has_decorator('retry')}"},
                                duplicates=s.OVERRIDE)

    @StampAll(by="base")
    class BaseFlow(FlowSpec):
        pass

    @Inspect
    class ChildFlow(BaseFlow):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        ChildFlow()
"""


def test_flow_mutators_are_inherited_and_decorate_every_step(write_flow, run_flow):
    run_flow(write_flow(FLOW_MUTATOR_FLOW), "run", "--with", "retry:times=1", check=True)
    namespace(None)
    run = Flow("ChildFlow").latest_run
    assert run.successful
    for name in ("start", "end"):
        data = run[name].task.data
        assert data.notes == {"saw_stamp": True, "saw_retry_early": False,
                              "flow_specs": ["StampAll", "Inspect"],
                              "steps": ["start", "end"], "parameters": []}
    # mutate() replaced the base's stamp (OVERRIDE) and saw the --with decorator
    assert run["end"].task.data.stamps == {"start": ["late-retry=True"],
                                           "end": ["late-retry=True"]}


PARAMETER_MUTATOR_FLOW = """
    from flowtrack import FlowMutator, FlowSpec, Parameter, step

    class AddAlpha(FlowMutator):
        def init(self, *args, **kwargs):
            self.default = kwargs["default"]

        def pre_mutate(self, mutable_flow):
            mutable_flow.add_parameter("alpha", Parameter(
                "alpha", default=self.default, type=int, help="Added by the AddAlpha mutator."))

    @AddAlpha(default=3)
    class ParamFlow(FlowSpec):
        @step
        def start(self):
            self.alpha_seen = self.alpha
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        ParamFlow()
"""


def test_a_parameter_added_in_pre_mutate_is_on_the_command_line(write_flow, run_flow):
    path = write_flow(PARAMETER_MUTATOR_FLOW)
    help_text = run_flow(path, "run", "--help", check=True).stdout
    assert "--alpha" in help_text
    assert "Added by the AddAlpha mutator." in help_text
    run_flow(path, "run", "--alpha", "7", check=True)
    run_flow(path, "run", check=True)
    namespace(None)
    runs = list(Flow("ParamFlow"))  # newest first
    assert [r["start"].task.data.alpha_seen for r in runs[:2]] == [3, 7]


MUTATE_ERROR_FLOW = """
    from flowtrack import FlowMutator, FlowSpec, Parameter, StepMutator, step

    class Quiet(StepMutator):
        pass

    class TooLate(FlowMutator):
        def mutate(self, mutable_flow):
            WHAT

    @TooLate
    class LateFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        LateFlow()
"""


@pytest.mark.parametrize(("what", "message"), [
    ("mutable_flow.add_parameter('beta', Parameter('beta', default=1))",
     "adding parameter 'beta'"),
    ("mutable_flow.start.add_decorator(Quiet)", "adding step mutator"),
])
def test_changes_allowed_only_in_pre_mutate_are_clear_errors_in_mutate(write_flow, run_flow,
                                                                        what, message):
    proc = run_flow(write_flow(MUTATE_ERROR_FLOW.replace("WHAT", what)), "run")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "allowed only in pre_mutate" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Workflow starting" not in proc.stdout + proc.stderr  # before any run began


ARGUMENT_ERROR_FLOW = """
    from flowtrack import FlowSpec, UserStepDecorator, step, user_step_decorator

    class NoInit(UserStepDecorator):
        pass

    @user_step_decorator
    def three_args(step_name, flow, inputs):
        yield

    class ArgsFlow(FlowSpec):
        @DECORATOR
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        ArgsFlow()
"""


@pytest.mark.parametrize(("decorator", "message"), [
    ("NoInit(x=1)", "does not define init(self, *args, **kwargs)"),
    ("three_args(x=1)", "must take a fourth parameter, attributes"),
])
def test_arguments_a_decorator_cannot_receive_are_an_error(write_flow, run_flow, decorator,
                                                           message):
    proc = run_flow(write_flow(ARGUMENT_ERROR_FLOW.replace("DECORATOR", decorator)), "run")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


# -- in this process ------------------------------------------------------------

PLAIN_FLOW = """
    from flowtrack import FlowSpec, Parameter, environment, step

    class PlainFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @environment(vars={"A": "own"})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.fixture
def plain_flow(tmp_path, monkeypatch, request):
    """PlainFlow imported from a file (the graph is read from the source), under a
    module name of its own so each test gets a fresh class."""
    name = f"plain_flow_{request.node.name.replace('[', '_').replace(']', '_')}"
    (tmp_path / f"{name}.py").write_text(PLAIN_FLOW.replace("\n    ", "\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module.PlainFlow
    sys.modules.pop(name, None)


def test_mutable_flow_lists_steps_parameters_and_finds_them_by_name(plain_flow):
    view = MutableFlow(plain_flow, pre_mutate=True, inserted_by=["test"])
    assert [name for name, _ in view.steps] == ["start", "end"]
    assert all(isinstance(s, MutableStep) for _, s in view.steps)
    assert [(name, p.name) for name, p in view.parameters] == [("alpha", "alpha")]
    assert view.start.name == "start"
    assert view.alpha is plain_flow.alpha
    assert list(view.configs) == []
    with pytest.raises(AttributeError, match="no config, step or parameter 'nothing'"):
        _ = view.nothing
    view.add_parameter("beta", Parameter("beta", default=2))
    assert [name for name, _ in view.parameters] == ["alpha", "beta"]
    with pytest.raises(UserDecoratorError, match="already has a member 'beta'"):
        view.add_parameter("beta", Parameter("beta", default=3))
    assert view.remove_parameter("beta") is True
    assert view.remove_parameter("beta") is False
    with pytest.raises(UserDecoratorError, match="not created directly"):
        MutableFlow(plain_flow)
    with pytest.raises(UserDecoratorError, match="not created directly"):
        MutableStep(plain_flow, plain_flow.start)


def test_mutable_flow_adds_a_flow_mutator_and_runs_its_pre_mutate(plain_flow):
    class AddGamma(FlowMutator):
        def init(self, *args, **kwargs):
            self.default = kwargs.get("default", 0)

        def pre_mutate(self, mutable_flow):
            mutable_flow.add_parameter("gamma", Parameter("gamma", default=self.default))

    view = MutableFlow(plain_flow, pre_mutate=True, statically_defined=True,
                       inserted_by=["test"])
    added = view.add_decorator(AddGamma, deco_kwargs={"default": 5})
    assert isinstance(added, AddGamma)
    assert plain_flow.gamma.default == 5
    assert [spec[0] for spec in view.decorator_specs] == ["AddGamma"]
    assert next(view.decorator_specs)[2:] == ([], {"default": 5})
    assert view.add_decorator(AddGamma) is None  # IGNORE: the flow has one
    with pytest.raises(DecoratorError, match="given twice on flow PlainFlow"):
        view.add_decorator(AddGamma, duplicates=view.ERROR)
    assert view.remove_decorator("AddGamma") is True
    assert list(view.decorator_specs) == []
    with pytest.raises(UserDecoratorError, match="allowed only in pre_mutate"):
        MutableFlow(plain_flow, inserted_by=["late"]).add_decorator(AddGamma)


def test_mutable_step_adds_decorators_from_spec_strings_with_duplicate_policies(plain_flow):
    view = MutableStep(plain_flow, plain_flow.start, pre_mutate=True, statically_defined=True,
                       inserted_by=["test"])
    assert view.add_decorator('environment:vars={"A": "1"}') is None  # IGNORE: own one stays
    assert view.get_decorator_specs("environment") == [
        ("environment", "flowtrack.flow._decorators.EnvironmentDecorator", [],
         {"vars": {"A": "own"}})]
    with pytest.raises(DecoratorError, match="given twice on step 'start'"):
        view.add_decorator('environment:vars={"A": "1"}', duplicates=view.ERROR)
    added = view.add_decorator('environment:vars={"A": "1"}', duplicates=view.OVERRIDE)
    assert added.attributes["vars"] == {"A": "1"}
    assert [d.attributes["vars"] for d in plain_flow.start.decorators
            if d.name == "environment"] == [{"A": "1"}]
    view.add_decorator("retry:times=2")
    assert view.has_decorator("retry")
    assert view.has_decorator("flowtrack.flow._decorators.RetryDecorator")
    assert [spec[0] for spec in view.decorator_specs] == ["environment", "retry"]
    assert view.remove_decorator("retry", deco_kwargs={"times": 5}) is False
    assert view.remove_decorator("retry", deco_kwargs={"times": 2}) is True
    assert not view.has_decorator("retry")
    with pytest.raises(UserDecoratorError, match="no step decorator is called 'nope'"):
        view.add_decorator("nope")
    # a mutator added at run time (not in the code): ERROR keeps the existing one
    dynamic = MutableStep(plain_flow, plain_flow.start, pre_mutate=True,
                          statically_defined=False, inserted_by=["test"])
    assert dynamic.add_decorator("environment", duplicates=dynamic.ERROR) is None


def test_mutate_stage_forbids_flow_level_changes(plain_flow):
    class Later(StepMutator):
        pass

    flow_view = MutableFlow(plain_flow, pre_mutate=False, inserted_by=["late"])
    with pytest.raises(UserDecoratorError, match="allowed only in pre_mutate"):
        flow_view.add_parameter("beta", Parameter("beta", default=2))
    with pytest.raises(UserDecoratorError, match="allowed only in pre_mutate"):
        flow_view.remove_parameter("alpha")
    with pytest.raises(UserDecoratorError, match="adding step mutator"):
        flow_view.start.add_decorator(Later)
    # step decorators may still be added in mutate
    flow_view.end.add_decorator("retry:times=1")
    assert flow_view.end.has_decorator("retry")


def test_decorator_argument_rules():
    class NoInit(UserStepDecorator):
        pass

    class WithInit(UserStepDecorator):
        def init(self, *args, **kwargs):
            self.got = kwargs

    with pytest.raises(UserDecoratorError, match="does not define init"):
        NoInit(x=1).external_init()
    with pytest.raises(UserDecoratorError, match="does not take positional arguments"):
        WithInit(1)
    deco = WithInit(x=1)
    deco.external_init()
    assert deco.got == {"x": 1}
    assert deco.get_args_kwargs() == ([], {"x": 1})

    def not_a_generator(step_name, flow, inputs):
        return None

    def two_args(step_name, flow):
        yield

    with pytest.raises(UserDecoratorError, match="applies to a generator function"):
        user_step_decorator(not_a_generator)
    with pytest.raises(UserDecoratorError, match="it takes 2 argument"):
        user_step_decorator(two_args)
    with pytest.raises(UserDecoratorError, match="must be written above @step"):
        WithInit(x=1)(lambda self: None)
