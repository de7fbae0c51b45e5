"""Step decorators: ``@retry``, ``@catch``, ``@timeout``, ``@resources``, ``@environment``,
``@pypi``, ``@parallel`` (and ``@pytorch_parallel``), ``@card``, ``@secrets``, the flow
decorator ``@pypi_base``, and the base classes of extensions' decorators
(``StepDecorator`` with Metaflow's task hooks, ``FlowDecorator``).

Decorators here only describe what a step asks for; the runtime honours them
(retries, fallback attempts for ``@catch``, deadlines, the local concurrency budget,
environment variables). Each is usable bare (``@retry``) or with arguments
(``@retry(times=2)``), must sit above ``@step``, and can be attached to every step
from the command line with ``--with NAME[:attr=value,...]``.

To add a decorator: subclass ``StepDecorator`` with a ``name`` and ``defaults``,
validate in ``_validate``, register it in ``DECORATORS``, and teach the runtime
what to do with its attributes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from .._errors import FlowtrackError
from ._configs import has_delayed, resolve_delayed


class DecoratorError(FlowtrackError):
    headline = "Decorator error"


class UnknownDecoratorAttributeError(DecoratorError):
    """A decorator was given an argument it does not take (Metaflow's
    ``InvalidDecoratorAttribute``, with its constructor)."""

    def __init__(self, deconame: str, attr: str, defaults: Any) -> None:
        super().__init__(f"@{deconame} got unknown argument(s) {attr}; it accepts "
                         f"{', '.join(sorted(defaults))}.")
        self.deconame, self.attr, self.defaults = deconame, attr, list(defaults)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.deconame, self.attr, self.defaults)


class StepDecorator:
    """A named set of attributes attached to a step function.

    Also Metaflow's base class for step decorators that plug into the task: a
    subclass registered as an extension (``flowtrack.step_decorators`` entry point,
    see ``_extensions.py``) overrides the hooks below, which flowtrack calls with
    Metaflow's arguments. Objects Metaflow passes that flowtrack has no counterpart
    of (its datastores, metadata provider, environment and UBF context) are None.
    """

    name = ""
    defaults: dict[str, Any] = {}
    allow_multiple = False  # whether a step may carry it more than once (@card)

    def __init__(self, attributes: dict[str, Any] | None = None,
                 statically_defined: bool = True, inserted_by: Any = None,
                 **more_attributes: Any) -> None:
        attributes = {**(attributes or {}), **more_attributes}
        self.statically_defined, self.inserted_by = statically_defined, inserted_by
        self._given: set[str] = set(attributes)
        self._delayed: dict[str, Any] | None = None
        if has_delayed(attributes):
            # a Config's value is not known yet: checked once it is (resolve_configs)
            self._delayed = attributes
            self.attributes = dict(self.defaults)
            return
        self._apply(attributes)

    def _apply(self, attributes: dict[str, Any]) -> None:
        unknown = set(attributes) - set(self.defaults)
        if unknown:
            raise UnknownDecoratorAttributeError(self.name, ", ".join(sorted(unknown)),
                                                 self.defaults)
        self.attributes = {**self.defaults, **attributes}
        self._validate()

    def resolve_configs(self) -> None:
        """Evaluate the config expressions among the attributes, then check them."""
        if self._delayed is not None:
            delayed, self._delayed = self._delayed, None
            self._apply(resolve_delayed(delayed))

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        """The arguments given to the decorator (no positional ones, the attributes
        that were set explicitly)."""
        return [], {k: self.attributes[k] for k in self._given if k in self.attributes}

    # -- hooks (Metaflow's names and arguments) -----------------------------------
    def step_init(self, flow: Any, graph: Any, step_name: str, decorators: list[Any],
                  environment: Any, flow_datastore: Any, logger: Any) -> None:
        """Before the run starts, in the process that starts it: check the step."""

    def task_pre_step(self, step_name: str, task_datastore: Any, metadata: Any, run_id: str,
                      task_id: str, flow: Any, graph: Any, retry_count: int,
                      max_user_code_retries: int, ubf_context: Any, inputs: Any) -> None:
        """In the task process, before the step body."""

    def task_decorate(self, step_func: Callable[..., Any], flow: Any, graph: Any,
                      retry_count: int, max_user_code_retries: int,
                      ubf_context: Any) -> Callable[..., Any]:
        """Return the function to run as the step body (``step_func`` or a wrapper)."""
        return step_func

    def task_post_step(self, step_name: str, flow: Any, graph: Any, retry_count: int,
                       max_user_code_retries: int) -> None:
        """After a successful step body, before its artifacts are stored."""

    def task_exception(self, exception: BaseException, step_name: str, flow: Any, graph: Any,
                       retry_count: int, max_user_code_retries: int) -> bool:
        """After the step failed; return True to count the task as a success."""
        return False

    def task_finished(self, step_name: str, flow: Any, graph: Any, is_task_ok: bool,
                      retry_count: int, max_user_code_retries: int) -> None:
        """Last, once the task's artifacts are stored (or it failed)."""

    def _validate(self) -> None:
        """Check the attributes; raise DecoratorError naming the bad one."""

    def _number(self, key: str, minimum: float = 0, integer: bool = False,
                optional: bool = False) -> None:
        raw = self.attributes[key]
        if raw is None and optional:
            return
        try:
            value = int(raw) if integer else float(raw)
        except (TypeError, ValueError):
            raise DecoratorError(f"@{self.name}({key}={raw!r}): {key} must be a number.") from None
        if value < minimum:
            raise DecoratorError(f"@{self.name}({key}={raw!r}): {key} must be >= {minimum}.")
        self.attributes[key] = value

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({args})"


class RetryDecorator(StepDecorator):
    """Re-run a failed task up to ``times`` more times (a new process each attempt)."""

    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": 0}

    def _validate(self) -> None:
        self._number("times", 0, integer=True)
        self._number("minutes_between_retries", 0)


class CatchDecorator(StepDecorator):
    """When all attempts fail, store the exception in ``var`` and let the flow go on."""

    name = "catch"
    defaults = {"var": None, "print_exception": True}

    def _validate(self) -> None:
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise DecoratorError(f"@catch(var={var!r}): var must be a valid attribute name.")


class TimeoutDecorator(StepDecorator):
    """Fail an attempt that runs longer than seconds + minutes + hours."""

    name = "timeout"
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}

    def _validate(self) -> None:
        for key in self.defaults:
            self._number(key, 0)
        if self.total_seconds <= 0:
            raise DecoratorError("@timeout needs a positive duration, e.g. @timeout(minutes=5).")

    @property
    def total_seconds(self) -> float:
        a = self.attributes
        return float(a["seconds"]) + 60 * float(a["minutes"]) + 3600 * float(a["hours"])


class ResourcesDecorator(StepDecorator):
    """CPU, memory (MB) and GPU a task needs; a concurrency budget when run locally."""

    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": None, "disk": None, "shared_memory": None}

    def _validate(self) -> None:
        self._number("cpu", 0)
        self._number("memory", 0)
        for key in ("gpu", "disk", "shared_memory"):
            self._number(key, 0, optional=True)


class EnvironmentDecorator(StepDecorator):
    """Environment variables set in the task process before the step runs."""

    name = "environment"
    defaults = {"vars": {}}

    def _validate(self) -> None:
        env = self.attributes["vars"]
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise DecoratorError("@environment(vars=...) needs a dict of name -> value.")
        self.attributes["vars"] = {k: str(v) for k, v in env.items()}


class PypiDecorator(StepDecorator):
    """The step's own Python packages: ``@pypi(packages={'scikit-learn': '1.5.2'})``.

    The step runs in a virtualenv with these packages (over the flow's ``@pypi_base``
    ones), built with uv and cached; ``python=`` picks the interpreter version;
    ``disabled=True`` runs the step in the flow's environment.
    """

    name = "pypi"
    defaults = {"packages": {}, "python": None, "disabled": False}

    def _validate(self) -> None:
        _check_packages(self.name, self.attributes)


class ParallelDecorator(StepDecorator):
    """The step runs as a gang of ``num_parallel`` tasks started together (the step
    before it calls ``self.next(self.<step>, num_parallel=N)``; a join follows).

    Each task sees ``current.parallel`` (``main_ip``, ``num_nodes``, ``node_index``,
    ``control_task_id``); node 0 is the control task. The gang starts and is retried as
    a whole: when one task fails, the others are stopped.
    """

    name = "parallel"
    defaults: dict[str, Any] = {}
    IS_PARALLEL = True  # what makes a step a gang (subclasses keep it)


class SecretsDecorator(StepDecorator):
    """Set environment variables from secrets before the step runs:
    ``@secrets(sources=['file./etc/team.env', {'type': 'inline', 'id': 'x',
    'options': {'env_vars': {...}}}], role=None, allow_override=False)``. The values
    are fetched in the task process and never stored (see runtime/_secrets.py)."""

    name = "secrets"
    defaults = {"sources": [], "role": None, "allow_override": False}

    def _validate(self) -> None:
        sources = self.attributes["sources"]
        if not isinstance(sources, (list, tuple)) or not all(
                isinstance(s, (str, dict)) for s in sources):
            raise DecoratorError("@secrets sources items must be either a string or a dict, "
                                 f"in a list; got {sources!r}.")
        self.attributes["sources"] = list(sources)
        role = self.attributes["role"]
        if role is not None and not isinstance(role, str):
            raise DecoratorError(f"@secrets(role={role!r}): role must be a string.")
        self.attributes["allow_override"] = bool(self.attributes["allow_override"])


_CARD_ID = re.compile(r"^[A-Za-z0-9_]+$")


class CardDecorator(StepDecorator):
    """Render a card (an HTML report) of the task after the step body:
    ``@card(type='default', id=None, options={}, timeout=45, save_errors=True,
    customize=False, refresh_interval=5)``. A step may have several; see cards/."""

    name = "card"
    defaults = {"type": "default", "id": None, "options": {}, "scope": "task", "timeout": 45,
                "save_errors": True, "customize": False, "refresh_interval": 5}
    allow_multiple = True

    def _validate(self) -> None:
        a = self.attributes
        if not isinstance(a["type"], str) or not a["type"]:
            raise DecoratorError(f"@card(type={a['type']!r}): type must name a card type, e.g. "
                                 "'default' or 'blank'.")
        if a["id"] is not None and not (isinstance(a["id"], str) and _CARD_ID.match(a["id"])):
            raise DecoratorError(f"@card(id={a['id']!r}): an id may contain only letters, digits "
                                 "and underscores.")
        if not isinstance(a["options"], dict):
            raise DecoratorError(f"@card(options={a['options']!r}): options must be a dict.")
        self._number("timeout", 0)
        self._number("refresh_interval", 0)
        a["save_errors"], a["customize"] = bool(a["save_errors"]), bool(a["customize"])


class FlowDecorator:
    """Metaflow's base class for flow decorators that extensions add (registered as
    ``flowtrack.flow_decorators`` entry points, see ``_extensions.py``).

    ``defaults`` are its attributes; ``options`` (name -> click option settings:
    ``default``, ``help``, ``show_default``, ``is_flag``, ``type``...) become top-level
    options of the flow's command line (``--name``, also read from
    ``FLOWTRACK_NAME`` / ``METAFLOW_NAME``). ``flow_init`` runs once the command line
    is parsed, in the process that starts the run and again in each task process
    before the step, with the options' values.
    """

    name = ""
    defaults: dict[str, Any] = {}
    options: dict[str, dict[str, Any]] = {}
    allow_multiple = False

    def __init__(self, attributes: dict[str, Any] | None = None,
                 statically_defined: bool = True, inserted_by: Any = None,
                 **more_attributes: Any) -> None:
        attributes = {**(attributes or {}), **more_attributes}
        unknown = set(attributes) - set(self.defaults)
        if unknown:
            raise UnknownDecoratorAttributeError(self.name, ", ".join(sorted(unknown)),
                                                 self.defaults)
        self.attributes = {**self.defaults, **attributes}
        self._given = set(attributes)
        self.statically_defined, self.inserted_by = statically_defined, inserted_by

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        return [], {k: self.attributes[k] for k in self._given}

    def flow_init(self, flow: Any, graph: Any, environment: Any, flow_datastore: Any,
                  metadata: Any, logger: Any, echo: Any, options: dict[str, Any]) -> None:
        """Once the command line is parsed (see the class docstring)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({args})"


FLOW_PLUGINS_ATTRIBUTE = "_flow_decorator_objects"


def make_flow_decorator(cls: type[FlowDecorator]) -> Callable[..., Any]:
    """The ``@name`` / ``@name(attr=...)`` decorator of flow decorator class ``cls``."""

    def apply(flow_cls: Any, deco: FlowDecorator) -> Any:
        if not isinstance(flow_cls, type):
            raise DecoratorError(f"@{cls.name} applies to a FlowSpec class, above "
                                 "`class ...:`.")
        add_flow_decorator(flow_cls, deco)
        return flow_cls

    return _decorator_function(cls, apply)


def _decorator_function(cls: type[Any], apply: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``@name`` (bare) and ``@name(attr=...)`` for decorator class ``cls``: ``apply``
    attaches an instance to the decorated function or class and returns it."""

    def decorator(target: Any = None, **attributes: Any) -> Any:
        if target is not None:
            return apply(target, cls())
        deco = cls(**attributes)
        return lambda decorated: apply(decorated, deco)

    decorator.__name__ = cls.name
    decorator.__doc__ = cls.__doc__
    decorator.decorator_class = cls  # type: ignore[attr-defined]  # for the mutators
    return decorator


def add_flow_decorator(flow_cls: type, deco: FlowDecorator) -> None:
    own = list(vars(flow_cls).get(FLOW_PLUGINS_ATTRIBUTE, []))
    if not deco.allow_multiple and any(d.name == deco.name for d in flow_decorators(flow_cls)):
        raise DecoratorError(f"@{deco.name} is given twice on flow {flow_cls.__name__}.")
    own.append(deco)
    setattr(flow_cls, FLOW_PLUGINS_ATTRIBUTE, own)


def flow_decorators(flow_cls: type) -> list[FlowDecorator]:
    """The extension flow decorators on the flow class (its bases' first)."""
    found: list[FlowDecorator] = []
    for klass in reversed(flow_cls.__mro__):
        found.extend(vars(klass).get(FLOW_PLUGINS_ATTRIBUTE, []))
    return found


def _check_packages(name: str, attributes: dict[str, Any]) -> None:
    packages = attributes["packages"]
    if not isinstance(packages, dict) or not all(
            isinstance(k, str) and k.strip() and isinstance(v, (str, int, float))
            for k, v in packages.items()):
        raise DecoratorError(f"@{name}(packages=...) needs a dict of package name -> version "
                             "string, e.g. packages={'scikit-learn': '1.5.2'}.")
    attributes["packages"] = {k.strip(): str(v) for k, v in packages.items()}
    python = attributes["python"]
    if python is not None and not (isinstance(python, str) and python.strip()):
        raise DecoratorError(f"@{name}(python={python!r}) must be a version string such as "
                             "'3.11', or None for the driver's Python.")


class PytorchParallelDecorator(ParallelDecorator):
    """``@parallel`` for PyTorch distributed training: before the step, each task of
    the gang gets the variables ``torch.distributed`` and PyTorch Lightning read
    (``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK``, ``WORLD_SIZE``, ``NUM_NODES``),
    from ``current.parallel``. ``master_port`` defaults to one derived from the run
    id, so concurrent runs on one machine do not collide."""

    name = "pytorch_parallel"
    defaults = {"master_port": None}

    def task_pre_step(self, step_name: str, task_datastore: Any, metadata: Any, run_id: str,
                      task_id: str, flow: Any, graph: Any, retry_count: int,
                      max_user_code_retries: int, ubf_context: Any, inputs: Any) -> None:
        self.setup_distributed_env(flow)

    def setup_distributed_env(self, flow: Any) -> None:
        setup_torch_distributed(self.attributes["master_port"])


def setup_torch_distributed(master_port: int | str | None = None) -> None:
    """Set the environment variables of PyTorch's distributed launch for this task of
    a ``@parallel`` gang (Metaflow's function of the same name)."""
    from ._current import current

    info = current.parallel
    if info is None:
        raise DecoratorError("setup_torch_distributed() runs inside a task of a @parallel "
                             "step (current.parallel is not set).")
    if master_port is None:
        run_id = str(current.run_id)
        master_port = 51000 + abs(int(run_id)) % 10000 if run_id.lstrip("-").isdigit() else 51001
    os.environ.update({"MASTER_PORT": str(master_port), "MASTER_ADDR": info.main_ip,
                       "NODE_RANK": str(info.node_index), "WORLD_SIZE": str(info.num_nodes),
                       "NUM_NODES": str(info.num_nodes),
                       # gloo: NCCL needs GPUs and a network setup not every cluster has
                       "PL_TORCH_DISTRIBUTED_BACKEND": "gloo"})


DECORATORS: dict[str, type[StepDecorator]] = {
    cls.name: cls for cls in (RetryDecorator, CatchDecorator, TimeoutDecorator,
                              ResourcesDecorator, EnvironmentDecorator, PypiDecorator,
                              CardDecorator, SecretsDecorator)
}

FLOW_DECORATORS_ATTRIBUTE = "_flow_decorators"


def pypi_base(cls: Any = None, *, packages: dict[str, str] | None = None,
              python: str | None = None) -> Any:
    """Packages for every step of the flow (a step's ``@pypi`` adds to or overrides
    them): ``@pypi_base(packages={'pandas': '2.2.3'}, python='3.11')`` above the class."""
    attributes: dict[str, Any] = {"packages": packages or {}, "python": python}
    _check_packages("pypi_base", attributes)

    def apply(flow_cls: Any) -> Any:
        if not isinstance(flow_cls, type):
            raise DecoratorError("@pypi_base applies to a FlowSpec class, above `class ...:`.")
        decorators = dict(getattr(flow_cls, FLOW_DECORATORS_ATTRIBUTE, {}))
        decorators["pypi_base"] = attributes
        setattr(flow_cls, FLOW_DECORATORS_ATTRIBUTE, decorators)
        return flow_cls

    return apply(cls) if cls is not None else apply


def _attach(func: Callable[..., Any], deco: StepDecorator) -> Callable[..., Any]:
    if getattr(func, "is_step", False) is not True:
        raise DecoratorError(
            f"@{deco.name} on '{getattr(func, '__name__', func)}': step decorators apply only to "
            f"steps and must be written above @step (so @step is applied first).")
    if not deco.allow_multiple and any(
            d.name == deco.name for d in func.decorators):  # type: ignore[attr-defined]
        raise DecoratorError(f"@{deco.name} is given twice on step '{func.__name__}'.")
    func.decorators.append(deco)  # type: ignore[attr-defined]
    return func


def _make_decorator(cls: type[StepDecorator]) -> Callable[..., Any]:
    return _decorator_function(cls, _attach)


retry = _make_decorator(RetryDecorator)
catch = _make_decorator(CatchDecorator)
timeout = _make_decorator(TimeoutDecorator)
resources = _make_decorator(ResourcesDecorator)
environment = _make_decorator(EnvironmentDecorator)
pypi = _make_decorator(PypiDecorator)
parallel = _make_decorator(ParallelDecorator)
pytorch_parallel = _make_decorator(PytorchParallelDecorator)
card = _make_decorator(CardDecorator)
secrets = _make_decorator(SecretsDecorator)


def parse_decospec(spec: str) -> StepDecorator:
    """Parse a ``--with`` spec: ``retry``, ``retry:times=2``, ``environment:vars={...}``,
    ``pypi:packages={"a": "1", "b": "2"},python=3.11`` (commas inside brackets or quotes
    belong to the value)."""
    from ._extensions import load_extensions

    load_extensions()  # decorators of installed extensions are valid names too
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in DECORATORS:
        raise DecoratorError(f"--with {spec!r}: unknown decorator {name!r}; choose from "
                             f"{', '.join(sorted(DECORATORS))}.")
    attributes: dict[str, Any] = {}
    for pair in _split_top_level(rest):
        key, eq, raw = pair.partition("=")
        if not eq:
            raise DecoratorError(f"--with {spec!r}: expected attr=value, got {pair!r}.")
        key = key.strip()
        # a version stays text: as JSON, python=3.10 would become the number 3.1
        attributes[key] = raw.strip().strip("'\"") if key == "python" else _parse_value(raw.strip())
    return DECORATORS[name](**attributes)


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and quotes (empty parts dropped)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
