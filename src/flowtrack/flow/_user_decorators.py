"""User-defined decorators, Metaflow's public API for them: ``user_step_decorator``,
``UserStepDecorator``, ``StepMutator`` and ``FlowMutator``.

* A *user step decorator* wraps a step's body in the task process: ``pre_step`` runs
  before it (and may replace it or skip it), ``post_step`` after it, before the
  artifacts are stored (it may add artifacts, swallow or replace the exception). The
  generator form (``@user_step_decorator``) is the short way to write one: the code
  before its ``yield`` is ``pre_step``, the code after it ``post_step``.
* A *step mutator* and a *flow mutator* change the flow before it runs: they add or
  remove decorators (and a flow mutator parameters), typically from config values.
  ``pre_mutate`` runs as soon as the configs are known, ``mutate`` once the command
  line (``--with``) is parsed. ``_mutable.py`` has the views they work on and
  ``prepare_flow`` below runs them.

Applied above ``@step`` (or above the class for a flow mutator), each decorator
registers itself on the step function (``func.wrappers`` / ``func.config_decorators``)
or the class, and gives the function or class back unchanged, so the flow's steps
stay plain functions. Every subclass is registered by name, so a decorator can also
be named in a string: ``MutableStep.add_decorator("my_module.timing:unit=ms")``.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Generator
from typing import Any

from .._errors import FlowtrackError
from ._configs import resolve_delayed


class UserDecoratorError(FlowtrackError):
    headline = "User decorator error"


def is_step_function(obj: Any) -> bool:
    return callable(obj) and getattr(obj, "is_step", False) is True


_UNSEEN: Any = object()


class _NamedDecorators(type):
    """Registers every user decorator class under its full name (``module.Class``)
    and its short name (the class name, when no other decorator class has it)."""

    by_full_name: dict[str, type] = {}
    by_short_name: dict[str, type | None] = {}  # None: the short name is ambiguous

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        if namespace.get("_abstract_base"):
            return
        full = namespace.get("_decorator_name") or f"{cls.__module__}.{cls.__qualname__}"
        cls.decorator_name = full
        registry = _NamedDecorators
        registry.by_full_name[full] = cls
        short = full.rsplit(".", 1)[-1]
        known = registry.by_short_name.get(short, _UNSEEN)
        # a class defined again under the same full name (a reloaded module) replaces
        # the old one; two different classes sharing a short name need the full one
        fresh = known is _UNSEEN or (known is not None and known.decorator_name == full)
        registry.by_short_name[short] = cls if fresh else None

    @staticmethod
    def lookup(name: str) -> type | None:
        """The decorator class named ``name`` (full or short name), or None."""
        if "." in name:
            return _NamedDecorators.by_full_name.get(name)
        return _NamedDecorators.by_short_name.get(name)

    @staticmethod
    def short_name(cls: type) -> str:
        full: str = cls.decorator_name  # type: ignore[attr-defined]
        short = full.rsplit(".", 1)[-1]
        return short if _NamedDecorators.by_short_name.get(short) is cls else full


class _UserStepDecoratorMeta(_NamedDecorators):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # bare ``@MyDecorator`` above ``@step``: Python calls the class with the step
        if args and is_step_function(args[0]):
            deco = super().__call__(*args[1:], **kwargs)
            return deco._attach(args[0])
        return super().__call__(*args, **kwargs)


class _DecoratorArguments:
    """The arguments a user decorator was given and their delivery to ``init``."""

    _args: list[Any]
    _kwargs: dict[str, Any]
    _ran_init: bool

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        """The positional and keyword arguments the decorator was given."""
        return list(self._args), dict(self._kwargs)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Receive the decorator's arguments (config expressions already evaluated);
        override it in a decorator that takes arguments."""

    def external_init(self) -> None:
        """Evaluate config expressions among the arguments and call ``init`` (once)."""
        if self._ran_init:
            return
        self._args = [resolve_delayed(a) for a in self._args]
        self._kwargs = {k: resolve_delayed(v) for k, v in self._kwargs.items()}
        defines_init = _defines_init(type(self))
        if (self._args or self._kwargs) and not defines_init:
            raise UserDecoratorError(f"{self} is given arguments but does not define "
                                     "init(self, *args, **kwargs) to receive them.")
        if defines_init:
            self.init(*self._args, **self._kwargs)
        self._ran_init = True


class UserStepDecoratorBase(_DecoratorArguments, metaclass=_UserStepDecoratorMeta):
    """What user step decorators and step mutators share: arguments, ``init``, and
    registering on a step function."""

    _abstract_base = True
    _step_field = ""  # the step function's list this kind registers in
    _allowed_args = False
    _allowed_kwargs: bool | list[str] = False
    decorator_name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.statically_defined = bool(kwargs.pop("_statically_defined", True))
        self.inserted_by: list[str] | None = kwargs.pop("_inserted_by", None)
        self._args, self._kwargs = list(args), dict(kwargs)
        self._ran_init = False
        if self._args and not self._allowed_args:
            raise UserDecoratorError(f"{self} does not take positional arguments; pass "
                                     "keyword arguments instead.")
        allowed = self._allowed_kwargs
        if self._kwargs and not allowed:
            raise UserDecoratorError(f"{self} does not take keyword arguments.")
        if isinstance(allowed, list) and set(self._kwargs) - set(allowed):
            raise UserDecoratorError(f"{self} takes only the keyword arguments "
                                     f"{', '.join(allowed)}.")

    def __call__(self, step_func: Callable[..., Any]) -> Callable[..., Any]:
        return self._attach(step_func)

    def __str__(self) -> str:
        return f"@{type(self).decorator_name}"

    def _attach(self, step_func: Callable[..., Any]) -> Callable[..., Any]:
        if not is_step_function(step_func):
            raise UserDecoratorError(
                f"{self} applies only to steps and must be written above @step (it was "
                f"applied to {getattr(step_func, '__name__', step_func)!r}).")
        for field in self._step_fields():
            getattr(step_func, field).append(self)
        return step_func

    @classmethod
    def _step_fields(cls) -> list[str]:
        """Every list this decorator registers in: a class that is both a user step
        decorator and a step mutator is in both."""
        fields: list[str] = []
        for klass in cls.__mro__:
            field = vars(klass).get("_step_field")
            if field and field not in fields:
                fields.append(field)
        return fields



def _defines_init(cls: type) -> bool:
    """Whether ``cls`` has an ``init`` of its own (not the bases' empty one)."""
    return any("init" in vars(klass) for klass in cls.__mro__
               if klass not in _BASES_WITHOUT_INIT)


class UserStepDecorator(UserStepDecoratorBase):
    """Derive from this to run code around a step's body in the task process.

    ``pre_step(step_name, flow, inputs)`` runs first (``inputs`` is the join's inputs,
    None elsewhere); it may return a function to run instead of the body
    (``fn(flow)`` or ``fn(flow, inputs)``), or set ``self.skip_step`` (True, or a
    dict of ``self.next`` arguments) to skip the body. ``post_step(step_name, flow,
    exception)`` runs after the body, before the artifacts are stored; it returns
    None (the step succeeded: an exception is swallowed), an exception (raised), or
    ``(exception, next_args)``. The decorator nearest ``@step`` is innermost.
    """

    _abstract_base = True
    _step_field = "wrappers"
    _allowed_kwargs = True

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        return None

    def post_step(self, step_name: str, flow: Any, exception: Exception | None = None) -> Any:
        return (exception, None) if exception else (None, None)

    @property
    def skip_step(self) -> bool | dict[str, Any]:
        """False; True to skip the body; or the arguments of the ``self.next`` call
        made in its place."""
        return self.__dict__.get("_skip_step", False)

    @skip_step.setter
    def skip_step(self, value: bool | dict[str, Any]) -> None:
        self._skip_step = value


class StepMutator(UserStepDecoratorBase):
    """Derive from this to change a step before the run: ``pre_mutate(mutable_step)``
    runs once the configs are known (it may add step mutators too), ``mutate`` once
    the command line is parsed. Both get a ``MutableStep``."""

    _abstract_base = True
    _step_field = "config_decorators"
    _allowed_args = True
    _allowed_kwargs = True

    def pre_mutate(self, mutable_step: Any) -> None:
        return None

    def mutate(self, mutable_step: Any) -> None:
        return None


def user_step_decorator(*args: Any, **kwargs: Any) -> Any:
    """Make a user step decorator of a generator function
    ``gen(step_name, flow, inputs[, attributes])``: the code before its single
    ``yield`` runs before the step body, the code after it once the body is done (an
    exception of the body is raised at the ``yield``; catching it makes the step
    succeed). Yielding a function runs it instead of the body; yielding a dict skips
    the body (``{}``, or the arguments of the ``self.next`` call to make). Use
    ``attributes`` to receive the decorator's keyword arguments:
    ``@timing(unit="ms")``."""
    if not args:
        return lambda func: user_step_decorator(func, **kwargs)
    func = args[0]
    if not isinstance(func, types.FunctionType) or not inspect.isgeneratorfunction(func):
        raise UserDecoratorError("@user_step_decorator applies to a generator function (one "
                                 f"that yields once); {func!r} is not one.")
    arity = len(inspect.signature(func).parameters)
    if arity not in (3, 4):
        raise UserDecoratorError(
            f"@user_step_decorator: {func.__name__} must take (step_name, flow, inputs) or "
            f"(step_name, flow, inputs, attributes); it takes {arity} argument(s).")
    return type(func.__name__, (_GeneratorStepDecorator,), {
        "_generator_function": staticmethod(func), "_arity": arity,
        "_decorator_name": f"{func.__module__}.{func.__qualname__}",
        "__module__": func.__module__, "__doc__": func.__doc__})


class _GeneratorStepDecorator(UserStepDecorator):
    """A user step decorator written as a generator (see ``user_step_decorator``)."""

    _abstract_base = True
    _generator_function: Callable[..., Generator[Any, Any, Any]]
    _arity = 3
    _running: Generator[Any, Any, Any] | None = None

    def init(self, *args: Any, **kwargs: Any) -> None:
        if kwargs and self._arity != 4:
            raise UserDecoratorError(
                f"{self} is given arguments ({', '.join(kwargs)}), so its generator must "
                "take a fourth parameter, attributes, to receive them.")

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        call_args = (step_name, flow, inputs) + ((self._kwargs,) if self._arity == 4 else ())
        self._running = self._generator_function(*call_args)
        self.skip_step = False
        try:
            yielded = next(self._running)
        except StopIteration:
            # no yield at all: the body is not run (Metaflow's rule)
            self._running = None
            self.skip_step = True
            return None
        if isinstance(yielded, dict):
            self.skip_step = yielded or True
            return None
        return yielded

    def post_step(self, step_name: str, flow: Any, exception: Exception | None = None) -> Any:
        running, self._running = self._running, None
        if running is None:
            return (exception, None) if exception else None
        try:
            if exception is not None:
                running.throw(exception)
            else:
                next(running)
        except StopIteration as stop:
            return stop.value
        except Exception as raised:  # noqa: BLE001 - the generator's own verdict
            return raised
        running.close()
        return UserDecoratorError(f"{self} yielded more than once; a user step decorator "
                                  "yields exactly once.")


class _FlowMutatorMeta(_NamedDecorators):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # bare ``@MyMutator`` above the class: Python calls it with the class
        if args and _is_flow_class(args[0]):
            mutator = super().__call__(*args[1:], **kwargs)
            return mutator(args[0])
        return super().__call__(*args, **kwargs)


def _is_flow_class(obj: Any) -> bool:
    from ._spec import FlowSpec

    return isinstance(obj, type) and issubclass(obj, FlowSpec)


FLOW_MUTATORS_ATTRIBUTE = "_flow_mutators"


class FlowMutator(_DecoratorArguments, metaclass=_FlowMutatorMeta):
    """Derive from this to change a flow before the run: ``pre_mutate(mutable_flow)``
    runs once the configs are known and may add or remove parameters and decorators;
    ``mutate`` runs once the command line is parsed and may change the steps only.
    Both get a ``MutableFlow``. Arguments (``@MyMutator(x=1)``) go to ``init``."""

    _abstract_base = True
    decorator_name = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = list(args), dict(kwargs)
        self.statically_defined = True
        self.inserted_by: list[str] | None = None
        self._ran_init = False
        self._flow_cls: type | None = None

    def __call__(self, flow_cls: type) -> type:
        if not _is_flow_class(flow_cls):
            raise UserDecoratorError(f"{self} applies to a FlowSpec class, above `class ...:` "
                                     f"(it was applied to {flow_cls!r}).")
        own = list(vars(flow_cls).get(FLOW_MUTATORS_ATTRIBUTE, []))
        own.append(self)
        setattr(flow_cls, FLOW_MUTATORS_ATTRIBUTE, own)
        self._flow_cls = flow_cls
        return flow_cls

    def __str__(self) -> str:
        return f"@{type(self).decorator_name}"

    def pre_mutate(self, mutable_flow: Any) -> None:
        return None

    def mutate(self, mutable_flow: Any) -> None:
        return None


_BASES_WITHOUT_INIT = (_DecoratorArguments, UserStepDecoratorBase, UserStepDecorator, StepMutator, FlowMutator,
                       object)


def flow_mutators(flow_cls: type) -> list[FlowMutator]:
    """The flow's mutators, those of its base classes first."""
    found: list[FlowMutator] = []
    for klass in reversed(flow_cls.__mro__):
        found.extend(vars(klass).get(FLOW_MUTATORS_ATTRIBUTE, []))
    return found


def find_user_decorator(name: str) -> type | None:
    """The user step decorator, step mutator or flow mutator class called ``name``."""
    return _NamedDecorators.lookup(name)


def short_decorator_name(cls: type) -> str:
    return _NamedDecorators.short_name(cls)
