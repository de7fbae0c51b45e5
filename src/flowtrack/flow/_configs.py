"""``Config``: values fixed before a run starts, usable anywhere in the flow, even in
decorators (Metaflow's ``Config``, ``config_expr`` and ``ConfigValue``).

A ``Config("name", default=PATH, default_value=VALUE, parser=..., required=...)`` on
the flow class gets its value, in this order, from ``--config-value NAME JSON``, from
``--config NAME PATH`` (a file, read with ``parser`` or as JSON), then
``default_value`` (a value, or a function of the ``ParameterContext``), then the file
``default``; the variables ``FLOWTRACK_FLOW_CONFIG_VALUE`` / ``FLOWTRACK_FLOW_CONFIG``
(or Metaflow's ``METAFLOW_FLOW_CONFIG_VALUE`` / ``METAFLOW_FLOW_CONFIG``, a JSON object
of name -> value or path) stand for the options. Values are read-only ``ConfigValue``
mappings (attribute and item access), stored with the run like parameters.

Because a decorator's arguments are evaluated when the class body runs, before any
value is known, ``config.x.y`` and ``config_expr("...")`` there are
``DelayEvaluator``s; the command line resolves them (``resolve_flow_configs``) once the
values are known, then checks the decorators as usual.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

from .._errors import ParameterError
from ._params import Parameter

UNPACK_KEY = "_unpacked_delayed_"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONFIG_VARIABLES = ("FLOWTRACK_FLOW_CONFIG", "METAFLOW_FLOW_CONFIG")
CONFIG_VALUE_VARIABLES = ("FLOWTRACK_FLOW_CONFIG_VALUE", "METAFLOW_FLOW_CONFIG_VALUE")

# the values of the flow whose command line runs: what DelayEvaluators see
_resolved: dict[str, Any] = {}


class ConfigValue(dict):  # type: ignore[type-arg]
    """A read-only dict of a config's values, with attribute access (``c.a.b``);
    nested dicts are ``ConfigValue`` too. Changing it raises ``TypeError``."""

    def __init__(self, data: Any = None) -> None:
        super().__init__({k: _wrap(v) for k, v in dict(data or {}).items()})

    def to_dict(self) -> dict[str, Any]:
        """A plain (mutable) copy, nested dicts included."""
        return {k: v.to_dict() if isinstance(v, ConfigValue) else v for k, v in self.items()}

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("ConfigValue is immutable: a config cannot be changed in a flow.")

    __setattr__ = __setitem__ = __delitem__ = __delattr__ = _refuse
    update = setdefault = pop = popitem = clear = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return ConfigValue, (self.to_dict(),)

    def __repr__(self) -> str:
        return f"ConfigValue({self.to_dict()!r})"


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, ConfigValue):
        return ConfigValue(value)
    return value


class DelayEvaluator:
    """An expression over the configs, evaluated once their values are known:
    ``config.a.b`` (attribute and item access are recorded) or ``config_expr(...)``."""

    def __init__(self, expression: str, saved_globals: dict[str, Any] | None = None,
                 access: list[Any] | None = None) -> None:
        self._expression = expression
        self._globals = saved_globals
        self._access = access if access is not None else (
            [] if _IDENTIFIER.match(expression) else None)

    def _extended(self, key: Any) -> DelayEvaluator:
        if self._access is None:
            raise AttributeError(key)
        return DelayEvaluator(self._expression, self._globals, [*self._access, key])

    def __getattr__(self, name: str) -> DelayEvaluator:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._extended(name)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key == f"{UNPACK_KEY}{id(self)}":
            return self
        return self._extended(key)

    def keys(self) -> list[str]:  # ``**config`` in a decorator: one placeholder key
        return [f"{UNPACK_KEY}{id(self)}"]

    def __call__(self, ctx: Any = None, deploy_time: bool = False) -> Any:
        """The expression's value, with every config's value in scope."""
        value: Any = eval(self._expression, self._globals or {},  # noqa: S307 - the flow author's expression
                          {k: v if not isinstance(v, dict) else ConfigValue(v)
                           for k, v in _resolved.items()})
        for key in self._access or []:
            key = key() if isinstance(key, DelayEvaluator) else key
            value = value[key] if isinstance(value, dict) else getattr(value, key)
        return value

    def __repr__(self) -> str:
        path = "".join(f".{a}" for a in self._access or [])
        return f"<config expression {self._expression}{path}>"


def config_expr(expression: str) -> DelayEvaluator:
    """An expression using config values where they are not directly at hand (a flow
    decorator above the class) or more than attribute access is needed:
    ``@project(name=config_expr("config").project)``,
    ``@environment(vars={"N": config_expr("str(config.n)")})``."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_globals if frame is not None and frame.f_back else {}
    return DelayEvaluator(expression, saved_globals=caller)


class Config(Parameter):
    """A configuration of the flow (Metaflow's ``Config``): see the module docstring."""

    IS_CONFIG_PARAMETER = True

    def __init__(self, name: str, default: Any = None, default_value: Any = None,
                 help: str | None = None, required: bool | None = None,  # noqa: A002
                 parser: Any = None, plain: bool = False, **kwargs: Any) -> None:
        if default is not None and default_value is not None:
            raise ParameterError(f"For config '{name}', you can only specify default or "
                                 "default_value, not both.")
        super().__init__(name, help=help, required=bool(required))
        self.default = None
        self.config_default, self.config_default_value = default, default_value
        self.parser, self.plain = parser, plain

    # ``config.a`` and ``**config`` in a class body are evaluated later
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(DelayEvaluator(self.name), name)

    def keys(self) -> list[str]:
        return self._evaluator.keys()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key.startswith(UNPACK_KEY):
            return self._evaluator[key]
        return DelayEvaluator(self.name)[key]

    @property
    def _evaluator(self) -> DelayEvaluator:
        found = self.__dict__.get("_delayed")
        if found is None:
            found = self.__dict__["_delayed"] = DelayEvaluator(self.name)
        return found

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return self.load(instance._parameter_value(self.attr_name))

    def default_value(self) -> Any:
        """The value resolved for this run (outside a task)."""
        return _resolved.get(self.name)

    def load(self, value: Any) -> Any:
        """A stored value as the step sees it."""
        return value if value is None or self.plain else ConfigValue(value)

    def resolve(self, given_value: Any, given_path: str | None, context: Any) -> Any:
        """The config's value from the command line's ``given_value`` / ``given_path``,
        else its defaults; raises ParameterError naming the config."""
        if given_value is not None and given_path is not None:
            raise ParameterError(f"Config '{self.name}' is given both as a value and as a "
                                 "file; give one.")
        if given_value is not None:
            return self._parsed(given_value) if isinstance(given_value, str) else given_value
        if given_path is not None:
            return self._from_file(given_path)
        default_value = self.config_default_value
        if callable(default_value):
            default_value = default_value(context)
        if default_value is not None:
            return self._parsed(default_value) if isinstance(default_value, str) else default_value
        default = self.config_default
        if callable(default):
            default = default(context)
        if default is not None and Path(str(default)).expanduser().exists():
            return self._from_file(str(default))
        if self.required:
            raise ParameterError(f"Config '{self.name}' is required: give it with --config "
                                 f"{self.name} PATH or --config-value {self.name} JSON.")
        return None

    def _from_file(self, path: str) -> Any:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ParameterError(f"Config '{self.name}': cannot read {path!r}: "
                                 f"{exc.strerror or exc}.") from None
        return self._parsed(text)

    def _parsed(self, text: str) -> Any:
        parser = _parser(self.parser, self.owner)
        try:
            return parser(text) if parser is not None else json.loads(text)
        except Exception as exc:  # noqa: BLE001 - any parser failure, named with the config
            raise ParameterError(f"Config '{self.name}' could not be parsed"
                                 f"{' by its parser' if parser else ' as JSON'}: {exc}") from None


def _parser(parser: Any, owner: type | None) -> Any:
    """A parser given as a function, a dotted path, or a name in the flow's module."""
    if parser is None or callable(parser):
        return parser
    module_name, _, attr = str(parser).rpartition(".")
    if module_name:
        return getattr(importlib.import_module(module_name), attr)
    module = importlib.import_module(owner.__module__) if owner is not None else None
    return getattr(module, attr)


def flow_configs(flow_cls: type) -> list[Config]:
    return [p for p in flow_cls._parameters() if isinstance(p, Config)]  # type: ignore[attr-defined]


def _env_dict(names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        raw = os.environ.get(name)
        if raw:
            try:
                loaded = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ParameterError(f"{name} must be a JSON object of config name -> "
                                     f"value: {exc}") from None
            if not isinstance(loaded, dict):
                raise ParameterError(f"{name} must be a JSON object of config name -> value.")
            return loaded
    return {}


def resolve_flow_configs(flow_cls: type, values: dict[str, str], paths: dict[str, str],
                         context: Any) -> dict[str, Any]:
    """Every config's value (command line first, then the variables, then defaults);
    they become what ``config.x`` and ``config_expr`` expressions evaluate against."""
    given_values = {**_env_dict(CONFIG_VALUE_VARIABLES), **values}
    given_paths = {**_env_dict(CONFIG_VARIABLES), **paths}
    known = {c.name for c in flow_configs(flow_cls)}
    unknown = sorted((set(given_values) | set(given_paths)) - known)
    if unknown:
        raise ParameterError(f"Unknown config(s) {', '.join(unknown)}; the flow's configs are "
                             f"{', '.join(sorted(known)) or '(none)'}.")
    _resolved.clear()
    for config in flow_configs(flow_cls):
        value = config.resolve(given_values.get(config.name), given_paths.get(config.name),
                               context)
        if isinstance(value, ConfigValue):
            value = value.to_dict()
        _resolved[config.name] = value
    return dict(_resolved)


def install_resolved_configs(values: dict[str, Any]) -> None:
    """Take configs another process resolved (a task loading the flow from its code
    package gets the launching process's values, not its files)."""
    _resolved.clear()
    _resolved.update(values)


def resolved_configs() -> ConfigValue:
    """The configs resolved for this run (``ctx.configs`` of deploy-time functions)."""
    return ConfigValue({k: v for k, v in _resolved.items()})


def has_delayed(value: Any) -> bool:
    """Whether ``value`` holds a config expression anywhere (dicts, lists, tuples)."""
    if isinstance(value, (DelayEvaluator, Config)):
        return True
    if isinstance(value, dict):
        return any(has_delayed(k) or has_delayed(v) for k, v in value.items()) or any(
            isinstance(k, str) and k.startswith(UNPACK_KEY) for k in value)
    if isinstance(value, (list, tuple, set)):
        return any(has_delayed(v) for v in value)
    return False


def resolve_delayed(value: Any) -> Any:
    """``value`` with every config expression replaced by its value."""
    if isinstance(value, DelayEvaluator):
        found = value()
        return found.to_dict() if isinstance(found, ConfigValue) else found
    if isinstance(value, Config):
        return resolve_delayed(DelayEvaluator(value.name))
    if isinstance(value, dict):
        return unpack({resolve_delayed(k) if not isinstance(k, str) else k:
                       resolve_delayed(v) for k, v in value.items()})
    if isinstance(value, list):
        return [resolve_delayed(v) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_delayed(v) for v in value)
    return value


def unpack(values: dict[str, Any]) -> dict[str, Any]:
    """Merge ``**config`` entries (placeholder keys) into the dict they were unpacked in."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(key, str) and key.startswith(UNPACK_KEY):
            if not isinstance(value, dict):
                raise ParameterError(f"**{value!r} in a decorator must be a dict of arguments.")
            out.update(value)
        else:
            out[key] = value
    return out
