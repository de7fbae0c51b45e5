"""What step and flow mutators work on (``MutableStep``, ``MutableFlow``, Metaflow's
names and methods) and ``prepare_flow``, which runs the mutators in Metaflow's order.

Order (as Metaflow): once the configs are resolved, every flow mutator's
``pre_mutate``, then every step mutator's; once the command line is parsed, the
``--with`` decorators are attached to the steps, then every flow mutator's ``mutate``,
then every step mutator's. Flow-level changes (parameters, flow decorators) and adding
or removing step mutators are allowed only in ``pre_mutate``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from ._configs import ConfigValue, flow_configs, install_resolved_configs, resolved_configs
from ._decorators import (
    DECORATORS,
    DecoratorError,
    FlowDecorator,
    StepDecorator,
    _parse_value,
    _split_top_level,
    add_flow_decorator,
    flow_decorators,
)
from ._extensions import FLOW_DECORATORS, load_extensions
from ._graph import UNCATCHABLE_TYPES
from ._params import Parameter
from ._user_decorators import (
    FLOW_MUTATORS_ATTRIBUTE,
    FlowMutator,
    StepMutator,
    UserDecoratorError,
    UserStepDecoratorBase,
    find_user_decorator,
    flow_mutators,
    is_step_function,
    short_decorator_name,
)

IGNORE, ERROR, OVERRIDE = 1, 2, 3  # what add_decorator does when the decorator is there

Spec = tuple[str, str, list[Any], dict[str, Any]]
# a step function: flowtrack's @step gives it .decorators, .wrappers and .config_decorators
StepFunction = Any


def _full_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__name__}"


def _matches(spec: Spec, query: str) -> bool:
    """A name with a dot is compared with the full name, otherwise with the short one."""
    return spec[1] == query if "." in query else spec[0] == query


def _parse_spec_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """``a=1,0=x,b={"k": 2}`` -> positional (by index) and keyword arguments."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for pair in _split_top_level(text):
        key, eq, raw = pair.partition("=")
        if not eq:
            raise DecoratorError(f"decorator spec {text!r}: expected name=value, got {pair!r}.")
        value, key = _parse_value(raw.strip()), key.strip()
        if key.isdigit():
            args.extend([None] * (int(key) + 1 - len(args)))
            args[int(key)] = value
        else:
            kwargs[key] = value
    return args, kwargs


class _Mutable:
    """What MutableStep and MutableFlow share: the stage and who is mutating."""

    IGNORE, ERROR, OVERRIDE = IGNORE, ERROR, OVERRIDE

    def __init__(self, flow_cls: type, pre_mutate: bool, statically_defined: bool,
                 inserted_by: list[str]) -> None:
        self._flow_cls = flow_cls
        self._pre_mutate = pre_mutate
        self._statically_defined = statically_defined
        self._inserted_by = inserted_by

    def _replace_duplicate(self, what: str, where: str, duplicates: int) -> bool:
        """Whether to replace the existing ``what`` on ``where`` (False: keep it and
        drop the new one), by the ``duplicates`` policy."""
        if duplicates == OVERRIDE:
            return True
        if duplicates == ERROR and self._statically_defined:
            raise DecoratorError(f"{what} is given twice on {where} (added by "
                                 f"{' from '.join(self._inserted_by)}).")
        if duplicates not in (IGNORE, ERROR):
            raise UserDecoratorError(f"duplicates={duplicates!r}: use IGNORE, ERROR or "
                                     "OVERRIDE (MutableStep.IGNORE, ...).")
        return False

    def _only_in_pre_mutate(self, what: str) -> None:
        if not self._pre_mutate:
            raise UserDecoratorError(
                f"{what} (from {' from '.join(self._inserted_by)}) is allowed only in "
                "pre_mutate, not in mutate: the command line has already been read.")

    @property
    def decorator_specs(self) -> Iterator[Spec]:
        raise NotImplementedError  # each view lists its own decorators

    def has_decorator(self, name: str) -> bool:
        """Whether a decorator has this short name or (with a dot) full name."""
        return any(_matches(spec, name) for spec in self.decorator_specs)

    def get_decorator_specs(self, name: str) -> list[Spec]:
        return [spec for spec in self.decorator_specs if _matches(spec, name)]


class MutableStep(_Mutable):
    """A step as a mutator sees it: its decorators, to read, add and remove."""

    def __init__(self, flow_cls: type, step_func: StepFunction, pre_mutate: bool = False,
                 statically_defined: bool = False, inserted_by: list[str] | None = None) -> None:
        if inserted_by is None:
            raise UserDecoratorError("a MutableStep is made by flowtrack for a mutator; it is "
                                     "not created directly.")
        super().__init__(flow_cls, pre_mutate, statically_defined, inserted_by)
        self._step = step_func

    @property
    def name(self) -> str:
        return self._step.__name__

    @property
    def flow(self) -> MutableFlow:
        """The flow this step belongs to."""
        return MutableFlow(self._flow_cls, self._pre_mutate, self._statically_defined,
                           self._inserted_by)

    @property
    def decorator_specs(self) -> Iterator[Spec]:
        """(short name, full name, args, kwargs) of each decorator of the step."""
        for deco in self._step.decorators:
            yield (deco.name, _full_name(deco), *deco.get_args_kwargs())
        seen: set[int] = set()
        for deco in [*self._step.wrappers, *self._step.config_decorators]:
            if id(deco) not in seen:  # a class can be both wrapper and mutator
                seen.add(id(deco))
                yield (short_decorator_name(type(deco)), deco.decorator_name,
                       *deco.get_args_kwargs())

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None,
                      duplicates: int = IGNORE) -> Any:
        """Add a decorator to the step: a flowtrack decorator (``environment``), a
        user step decorator or step mutator class, or a spec string
        (``'environment:vars={"a": "1"}'``, ``'my_module.MyDecorator:x=1'``).
        ``duplicates`` says what happens if the step has one already: IGNORE (keep
        the existing one), OVERRIDE (replace it) or ERROR (an error when the
        mutator was written in the code). Returns the decorator added, or None."""
        args, kwargs = list(deco_args or []), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            name, _, text = deco_type.partition(":")
            if text and (args or kwargs):
                raise UserDecoratorError(f"add_decorator({deco_type!r}): give the arguments "
                                         "in the spec or in deco_args/deco_kwargs, not both.")
            if text:
                args, kwargs = _parse_spec_arguments(text)
            deco_type = _named_step_decorator(name.strip())
        deco_class = getattr(deco_type, "decorator_class", deco_type)
        if isinstance(deco_class, type) and issubclass(deco_class, StepDecorator):
            if args:
                raise UserDecoratorError(f"@{deco_class.name} takes no positional arguments.")
            step_deco = deco_class(kwargs, statically_defined=self._statically_defined,
                                   inserted_by=self._inserted_by)
            step_deco.resolve_configs()
            return self._add_step_decorator(step_deco, duplicates)
        if isinstance(deco_class, type) and issubclass(deco_class, UserStepDecoratorBase):
            if issubclass(deco_class, StepMutator):
                self._only_in_pre_mutate(f"adding step mutator {deco_class.decorator_name}")
            user_deco = deco_class(*args, _statically_defined=self._statically_defined,
                                   _inserted_by=self._inserted_by, **kwargs)
            return self._add_user_decorator(user_deco, duplicates)
        raise UserDecoratorError(
            f"add_decorator({deco_type!r}): expected a flowtrack step decorator (such as "
            "environment), a UserStepDecorator or StepMutator class, or a spec string.")

    def _add_step_decorator(self, deco: StepDecorator, duplicates: int) -> StepDecorator | None:
        existing = [d for d in self._step.decorators if d.name == deco.name]
        if existing and not deco.allow_multiple:
            if not self._replace_duplicate(f"@{deco.name}", f"step '{self.name}'",
                                           duplicates):
                return None
            self._step.decorators[:] = [d for d in self._step.decorators
                                        if d.name != deco.name]
        self._step.decorators.append(deco)
        return deco

    def _add_user_decorator(self, deco: UserStepDecoratorBase,
                            duplicates: int) -> UserStepDecoratorBase | None:
        fields = deco._step_fields()
        name = deco.decorator_name
        if any(d.decorator_name == name for d in getattr(self._step, fields[0])):
            if not self._replace_duplicate(name, f"step '{self.name}'", duplicates):
                return None
            for field in fields:
                getattr(self._step, field)[:] = [d for d in getattr(self._step, field)
                                                 if d.decorator_name != name]
        deco._attach(self._step)
        deco.external_init()
        return deco

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        """Remove the step's decorators with this name (short, or full with a dot);
        with arguments, only those given exactly these. True if any was removed."""
        match_all = deco_args is None and deco_kwargs is None
        wanted = (list(deco_args or []), dict(deco_kwargs or {}))

        def chosen(spec: Spec) -> bool:
            return _matches(spec, deco_name) and (match_all or (spec[2], spec[3]) == wanted)

        before = len(self._step.decorators)
        self._step.decorators[:] = [
            d for d in self._step.decorators
            if not chosen((d.name, _full_name(d), *d.get_args_kwargs()))]
        removed = len(self._step.decorators) != before
        for field in ("wrappers", "config_decorators"):
            kept = []
            for deco in getattr(self._step, field):
                spec = (short_decorator_name(type(deco)), deco.decorator_name,
                        *deco.get_args_kwargs())
                if not chosen(spec):
                    kept.append(deco)
                    continue
                if isinstance(deco, StepMutator):
                    self._only_in_pre_mutate(f"removing step mutator {deco.decorator_name}")
                removed = True
            getattr(self._step, field)[:] = kept
        return removed


def _named_step_decorator(name: str) -> Any:
    load_extensions()
    if name in DECORATORS:
        return DECORATORS[name]
    found = find_user_decorator(name)
    if found is None or not issubclass(found, UserStepDecoratorBase):
        raise UserDecoratorError(
            f"no step decorator is called {name!r}: use a flowtrack decorator "
            f"({', '.join(sorted(DECORATORS))}) or the name of a user step decorator or "
            "step mutator (its class name, or module.Class when that is ambiguous).")
    return found


class MutableFlow(_Mutable):
    """A flow as a mutator sees it: its configs, parameters, steps and decorators."""

    def __init__(self, flow_cls: type, pre_mutate: bool = False,
                 statically_defined: bool = False, inserted_by: list[str] | None = None) -> None:
        if inserted_by is None:
            raise UserDecoratorError("a MutableFlow is made by flowtrack for a mutator; it is "
                                     "not created directly.")
        super().__init__(flow_cls, pre_mutate, statically_defined, inserted_by)

    @property
    def _where(self) -> str:
        return f"flow {self._flow_cls.__name__}"

    @property
    def decorator_specs(self) -> Iterator[Spec]:
        for deco in flow_decorators(self._flow_cls):
            yield (deco.name, _full_name(deco), *deco.get_args_kwargs())
        for mutator in flow_mutators(self._flow_cls):
            yield (short_decorator_name(type(mutator)), mutator.decorator_name,
                   *mutator.get_args_kwargs())

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of each config: a ConfigValue for a dict (``value.key``)."""
        resolved = resolved_configs()
        for config in flow_configs(self._flow_cls):
            value = resolved.get(config.name)
            yield config.name, ConfigValue(value) if isinstance(value, dict) else value

    @property
    def parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(attribute name, Parameter) of each parameter (configs excluded)."""
        configs = set(map(id, flow_configs(self._flow_cls)))
        for param in self._flow_cls._parameters():  # type: ignore[attr-defined]
            if id(param) not in configs:
                yield param.attr_name, param

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        for name in self._flow_cls._graph.nodes:  # type: ignore[attr-defined]
            yield name, self._mutable_step(getattr(self._flow_cls, name))

    def _mutable_step(self, func: StepFunction) -> MutableStep:
        return MutableStep(self._flow_cls, func, self._pre_mutate, self._statically_defined,
                           self._inserted_by)

    def add_parameter(self, name: str, value: Parameter, overwrite: bool = False) -> None:
        """Add a Parameter (or IncludeFile) as class attribute ``name`` (pre_mutate only)."""
        self._only_in_pre_mutate(f"adding parameter {name!r}")
        if hasattr(self._flow_cls, name) and not overwrite:
            raise UserDecoratorError(
                f"flow {self._flow_cls.__name__} already has a member {name!r}; pass "
                "overwrite=True to add_parameter to replace it.")
        if not isinstance(value, Parameter) or value in flow_configs(self._flow_cls):
            raise UserDecoratorError(f"add_parameter({name!r}, ...) takes a Parameter or an "
                                     f"IncludeFile; got {type(value).__name__}.")
        setattr(self._flow_cls, name, value)
        value.__set_name__(self._flow_cls, name)

    def remove_parameter(self, parameter_name: str) -> bool:
        """Remove the parameter called ``parameter_name`` (its name, not necessarily its
        attribute's); configs cannot be removed. pre_mutate only."""
        self._only_in_pre_mutate(f"removing parameter {parameter_name!r}")
        for attr, param in list(self.parameters):
            if param.name == parameter_name:
                for klass in self._flow_cls.__mro__:
                    if attr in vars(klass):
                        delattr(klass, attr)
                        break
                return True
        return False

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None,
                      duplicates: int = IGNORE) -> Any:
        """Add a flow decorator of an extension or a FlowMutator (class, or spec string
        naming either) to the flow; pre_mutate only."""
        self._only_in_pre_mutate("adding a flow decorator")
        args, kwargs = list(deco_args or []), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            name, _, text = deco_type.partition(":")
            if text:
                args, kwargs = _parse_spec_arguments(text)
            deco_type = _named_flow_decorator(name.strip())
        deco_class = getattr(deco_type, "decorator_class", deco_type)
        if isinstance(deco_class, type) and issubclass(deco_class, FlowDecorator):
            return self._add_flow_decorator(deco_class(kwargs, self._statically_defined,
                                                       self._inserted_by), duplicates)
        if isinstance(deco_class, type) and issubclass(deco_class, FlowMutator):
            return self._add_flow_mutator(deco_class(*args, **kwargs), duplicates)
        raise UserDecoratorError(f"add_decorator({deco_type!r}): expected a flow decorator "
                                 "of an extension, a FlowMutator class or a spec string.")

    def _add_flow_decorator(self, deco: FlowDecorator, duplicates: int) -> Any:
        existing = [d for d in flow_decorators(self._flow_cls) if d.name == deco.name]
        if existing and not deco.allow_multiple:
            if not self._replace_duplicate(f"@{deco.name}", self._where, duplicates):
                return None
            self._remove_flow_decorators(lambda d: d.name == deco.name)
        add_flow_decorator(self._flow_cls, deco)
        return deco

    def _add_flow_mutator(self, mutator: FlowMutator, duplicates: int) -> Any:
        name = mutator.decorator_name
        if any(m.decorator_name == name for m in flow_mutators(self._flow_cls)):
            if not self._replace_duplicate(name, self._where, duplicates):
                return None
            self._remove_flow_mutators(lambda m: m.decorator_name == name)
        mutator.statically_defined, mutator.inserted_by = (self._statically_defined,
                                                           self._inserted_by)
        mutator(self._flow_cls)
        mutator.external_init()
        mutator.pre_mutate(MutableFlow(self._flow_cls, True, self._statically_defined,
                                       [name, *self._inserted_by]))
        return mutator

    def _remove_flow_decorators(self, chosen: Callable[[Any], bool]) -> bool:
        return _remove_from_classes(self._flow_cls, "_flow_decorator_objects", chosen)

    def _remove_flow_mutators(self, chosen: Callable[[Any], bool]) -> bool:
        return _remove_from_classes(self._flow_cls, FLOW_MUTATORS_ATTRIBUTE, chosen)

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        """Remove the flow's decorators or mutators with this name (pre_mutate only)."""
        self._only_in_pre_mutate(f"removing flow decorator {deco_name!r}")
        match_all = deco_args is None and deco_kwargs is None
        wanted = (list(deco_args or []), dict(deco_kwargs or {}))

        def chosen(spec: Spec) -> bool:
            return _matches(spec, deco_name) and (match_all or (spec[2], spec[3]) == wanted)

        removed = self._remove_flow_decorators(
            lambda d: chosen((d.name, _full_name(d), *d.get_args_kwargs())))
        return self._remove_flow_mutators(
            lambda m: chosen((short_decorator_name(type(m)), m.decorator_name,
                              *m.get_args_kwargs()))) or removed

    def __getattr__(self, name: str) -> Any:
        """A config's value, a step (as a MutableStep) or a parameter, by name."""
        if name.startswith("_"):
            raise AttributeError(name)
        for config_name, value in self.configs:
            if config_name == name:
                return value
        member = getattr(self._flow_cls, name, None)
        if is_step_function(member):
            return self._mutable_step(member)
        if isinstance(member, Parameter):
            return member
        raise AttributeError(f"flow {self._flow_cls.__name__} has no config, step or "
                             f"parameter {name!r}")


def _named_flow_decorator(name: str) -> Any:
    load_extensions()
    if name in FLOW_DECORATORS:
        return FLOW_DECORATORS[name]
    found = find_user_decorator(name)
    if found is None or not issubclass(found, FlowMutator):
        raise UserDecoratorError(f"no flow decorator or FlowMutator is called {name!r}.")
    return found


def _remove_from_classes(flow_cls: type, attribute: str, chosen: Callable[[Any], bool]) -> bool:
    """Drop the matching items of ``attribute`` on the class and its bases; a base's
    list is copied onto ``flow_cls`` so the base class itself is left unchanged."""
    items = []
    for klass in reversed(flow_cls.__mro__):
        items.extend(vars(klass).get(attribute, []))
    kept = [item for item in items if not chosen(item)]
    if len(kept) == len(items):
        return False
    for klass in flow_cls.__mro__[1:]:
        if attribute in vars(klass):
            setattr(flow_cls, attribute, kept)
            return True
    setattr(flow_cls, attribute, kept)
    return True


# -- running the mutators -------------------------------------------------------
_PREPARED = "_flowtrack_prepared_stage"


def pre_mutate_flow(flow_cls: type) -> None:
    """Run every mutator's ``pre_mutate`` (once per class and process); the configs
    are resolved before."""
    if vars(flow_cls).get(_PREPARED):
        return
    setattr(flow_cls, _PREPARED, "pre_mutate")
    for mutator in flow_mutators(flow_cls):
        mutator.external_init()
        mutator.pre_mutate(MutableFlow(flow_cls, True, mutator.statically_defined,
                                       [mutator.decorator_name, *(mutator.inserted_by or [])]))
    steps = [getattr(flow_cls, name) for name in flow_cls._graph.nodes]  # type: ignore[attr-defined]
    for func in steps:
        for mutator in list(func.config_decorators):
            mutator.external_init()
    for func in steps:
        # by position: a step mutator that adds another one to its step (allowed in
        # pre_mutate) gets that one's pre_mutate run too, as in Metaflow
        position = 0
        while position < len(func.config_decorators):
            mutator = func.config_decorators[position]
            mutator.external_init()
            mutator.pre_mutate(_step_view(flow_cls, func, mutator, pre_mutate=True))
            position += 1
    for func in steps:
        for wrapper in func.wrappers:
            wrapper.external_init()


def mutate_flow(flow_cls: type, with_decorators: list[StepDecorator]) -> None:
    """Attach the ``--with`` decorators, then run every mutator's ``mutate`` (once per
    class and process, after ``pre_mutate_flow``)."""
    if vars(flow_cls).get(_PREPARED) == "mutated":
        return
    pre_mutate_flow(flow_cls)
    setattr(flow_cls, _PREPARED, "mutated")
    graph = flow_cls._graph  # type: ignore[attr-defined]
    for node in graph:
        _attach_with_decorators(getattr(flow_cls, node.name), node.type, with_decorators)
    for mutator in flow_mutators(flow_cls):
        mutator.mutate(MutableFlow(flow_cls, False, mutator.statically_defined,
                                   [mutator.decorator_name, *(mutator.inserted_by or [])]))
    for node in graph:
        func = getattr(flow_cls, node.name)
        for mutator in list(func.config_decorators):
            mutator.mutate(_step_view(flow_cls, func, mutator, pre_mutate=False))
        for wrapper in func.wrappers:
            wrapper.external_init()  # wrappers a mutator added


def _attach_with_decorators(func: StepFunction, node_type: str,
                            with_decorators: list[StepDecorator]) -> None:
    """``--with`` as Metaflow applies it: on each step that does not have a decorator
    of that name already (``@catch`` not where the graph forbids it)."""
    for deco in with_decorators:
        if deco.name == "catch" and node_type in UNCATCHABLE_TYPES:
            continue
        same = [d for d in func.decorators if d.name == deco.name]
        if deco.allow_multiple:  # @card: one per (type, id)
            key = (deco.attributes.get("type"), deco.attributes.get("id"))
            same = [d for d in same if (d.attributes.get("type"), d.attributes.get("id")) == key]
        if not same:
            added = copy.copy(deco)
            added.statically_defined = False
            func.decorators.append(added)


def _step_view(flow_cls: type, func: StepFunction, mutator: StepMutator,
               pre_mutate: bool) -> MutableStep:
    return MutableStep(flow_cls, func, pre_mutate, mutator.statically_defined,
                       [mutator.decorator_name, *(mutator.inserted_by or [])])


def replay_flow_setup(flow_cls: type, configs: dict[str, Any],
                      with_decorators: list[StepDecorator]) -> None:
    """Prepare a freshly imported flow class as the launching process prepared its
    own: the same config values, then the decorators that use them, then the
    mutators with the same ``--with`` decorators."""
    if flow_configs(flow_cls):
        install_resolved_configs(configs)
        for node in flow_cls._graph:  # type: ignore[attr-defined]
            for decorator in node.decorators:
                decorator.resolve_configs()
    mutate_flow(flow_cls, with_decorators)
