"""Run parameters: ``Parameter``, ``JSONType`` and ``IncludeFile``.

A parameter is a class attribute of the flow; on an instance it reads as the run's
value and refuses assignment with ``AttributeError`` (immutable in steps, as in
Metaflow). Values arrive as strings from the command line or ``FLOWTRACK_RUN_<NAME>``
and are converted here; the CLI layer only wires options to ``Parameter.convert``.

A function as ``default`` is Metaflow's deploy-time parameter: it is called with a
``ParameterContext`` when a run starts without a value for the parameter (the
command line calls ``Parameter.default`` with no arguments, as click does with any
callable default), its result is checked and converted like a typed value, and the
run records that value.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from .._errors import ParameterError

# FlowSpec members a parameter (or an artifact) must not shadow
RESERVED_ATTRIBUTES = frozenset({"next", "input", "index", "name", "foreach_stack",
                                 "merge_artifacts", "script_name"})

RESERVED_PARAMETER_NAMES = frozenset({
    "params", "with", "tag", "tags", "namespace", "obj", "decospecs", "run-id-file",
    "max-num-splits", "max-workers", "run-id", "task-id", "origin-run-id", "no-lint",
    "executor", "ray-address", "help", "quiet",
})


class _JSONTypeClass:
    """Marker type: the parameter's string value is parsed as JSON."""

    name = "JSON"

    def __call__(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        return json.loads(raw)

    def __repr__(self) -> str:
        return "JSON"


JSONType = _JSONTypeClass()

_BOOL_WORDS = {"1": True, "true": True, "t": True, "yes": True, "y": True, "on": True,
               "0": False, "false": False, "f": False, "no": False, "n": False, "off": False}


class ParameterFieldError(ParameterError):
    """A deploy-time function of a parameter raised (Metaflow's ``ParameterFieldFailed``)."""

    headline = "Parameter field failed"

    def __init__(self, name: str, field: str, message: str | None = None) -> None:
        super().__init__(message or f"Parameter '{name}': evaluating its {field} failed.")
        self.parameter_name, self.field = name, field

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.parameter_name, self.field, self.message)


class ParameterFieldTypeError(ParameterError):
    """A deploy-time function of a parameter returned a value of the wrong type
    (Metaflow's ``ParameterFieldTypeMismatch``)."""

    headline = "Parameter field with a mismatching type"


class ParameterContext(NamedTuple):
    """What a deploy-time function receives (Metaflow's fields, in Metaflow's order)."""

    flow_name: str | None
    user_name: str
    parameter_name: str
    logger: Callable[..., None]
    ds_type: str  # "local", or the blob store URL's scheme ("s3", ...)
    configs: Any  # the flow's Config values (a ConfigValue of name -> value)


# the flow class whose command line is running (set by FlowSpec() around it)
_flow_stack: list[type] = []


@contextlib.contextmanager
def flow_context(flow_cls: type) -> Iterator[None]:
    """While the block runs, deploy-time functions get ``flow_cls``'s name (a parameter
    defined on a base class still reports the flow being run)."""
    _flow_stack.append(flow_cls)
    try:
        yield
    finally:
        _flow_stack.pop()


def _log(line: Any, **_style: Any) -> None:
    """``ctx.logger``: print a line to stderr (Metaflow's echo; styling is ignored)."""
    sys.stderr.write(str(line) + ("\n" if _style.get("nl", True) else ""))
    sys.stderr.flush()


def _configs() -> Any:
    from ._configs import resolved_configs  # (that module builds on this one)

    return resolved_configs()


def _store_type() -> str:
    from .._config import settings

    url = settings().store_url
    return url.split("://", 1)[0] if "://" in url and not url.startswith("file://") else "local"


# types whose deploy-time result must be exactly of that type (as in Metaflow)
_EXACT_TYPES = {bool: "a bool", int: "an int", float: "a float"}


class DeployTimeField:
    """A parameter's ``default`` given as a function of a ``ParameterContext``.

    Called with no arguments (how the command line asks for a callable default) it
    runs the function and returns its result as a string, which the parameter then
    converts like a value typed by the user, exactly as Metaflow's ``DeployTimeField``.
    """

    def __init__(self, param: Parameter, fun: Callable[..., Any], field: str = "default") -> None:
        self.param = param
        self.fun = fun
        self.field = field

    def _context(self) -> ParameterContext:
        from .._config import settings

        flow = _flow_stack[-1] if _flow_stack else self.param.owner
        return ParameterContext(flow_name=flow.__name__ if flow is not None else None,
                                user_name=settings().user, parameter_name=self.param.name,
                                logger=_log, ds_type=_store_type(), configs=_configs())

    def _takes_deploy_time_flag(self) -> bool:
        try:
            inspect.signature(self.fun).bind(None, False)
        except TypeError:
            return False
        except ValueError:  # no signature (some builtins): try one argument
            return False
        return True

    def __call__(self) -> Any:
        ctx = self._context()
        name = self.param.name
        try:
            value = self.fun(ctx, False) if self._takes_deploy_time_flag() else self.fun(ctx)
        except Exception as exc:
            env = "FLOWTRACK_RUN_" + name.upper().replace("-", "_")
            raise ParameterFieldError(
                name, self.field,
                f"Parameter '{name}': its {self.field} is a function, called when the run "
                f"starts, and it raised {type(exc).__name__}: {exc}. Fix the function, or give "
                f"a value with --{name} VALUE (or {env}).") from exc
        return self._checked(value)

    def _checked(self, value: Any) -> Any:
        name, kind = self.param.name, self.param.type
        expected = _EXACT_TYPES.get(kind)
        if expected is None:  # str, JSON and other types take the text to convert
            expected = "a string"
            ok = isinstance(value, str)
        else:
            ok = type(value) is kind
        if not ok:
            hint = " (JSON text: return json.dumps(value))" if kind is JSONType else ""
            raise ParameterFieldTypeError(
                f"Parameter '{name}': its {self.field} function returned {value!r} (a "
                f"{type(value).__name__}), but the parameter is of type {self.param.type_name}, "
                f"so the function must return {expected}{hint}, as in Metaflow.")
        return value if isinstance(value, str) else str(value)

    def __reduce__(self) -> Any:
        # never stored in place of a value (a run stores what the function returned)
        raise TypeError(
            f"parameter '{self.param.name}' has a deploy-time default (a function), which is "
            "evaluated when a run starts and cannot be stored itself; `resume` does not "
            "evaluate it for a parameter added since the origin run, so start a new run")

    def __str__(self) -> str:  # shown as the default in --help; never calls the function
        return f"deploy-time value of '{self.param.name}'"

    def __repr__(self) -> str:
        return f"<deploy-time {self.field} {getattr(self.fun, '__qualname__', self.fun)!r}>"


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in _BOOL_WORDS:
        raise ValueError(f"{raw!r} is not a valid boolean (use true/false, yes/no, 1/0)")
    return _BOOL_WORDS[word]


class Parameter:
    """A run parameter, given on the command line as ``--<name> VALUE``.

    ``type`` is inferred from ``default`` (str, int, float, bool) when not given;
    ``JSONType`` parses JSON. ``separator`` splits a string value into a list.
    """

    IS_INCLUDE_FILE = False

    def __init__(self, name: str, default: Any = None, type: Any = None, help: str | None = None,
                 required: bool = False, show_default: bool = True,
                 separator: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ParameterError("Parameter() needs a non-empty string name as its first argument.")
        if name in RESERVED_PARAMETER_NAMES or name.replace("_", "-") in RESERVED_PARAMETER_NAMES:
            raise ParameterError(
                f"Parameter name '{name}' is a reserved word of the flowtrack command line; "
                "choose a different name for this parameter.")
        for field, value in (("required", required), ("show_default", show_default),
                             ("separator", separator)):
            if callable(value):
                raise ParameterError(f"Parameter '{name}': {field}= cannot be a function; only "
                                     "default= may be computed when the run starts.")
        self.name = name
        self.type = type if type is not None else self._infer_type(default)
        # a function is a deploy-time default, evaluated when a run starts
        self.default = DeployTimeField(self, default) if callable(default) else default
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.attr_name = name  # replaced by the class attribute name in __set_name__
        self.owner: type | None = None  # the class the parameter is defined on
        # a mistake in how the flow class uses this parameter, raised when it is listed
        self.definition_error: ParameterError | None = None
        if separator and self.type is not str:
            raise ParameterError(f"Parameter '{name}': separator is allowed only for string "
                                 "parameters.")

    @staticmethod
    def _infer_type(default: Any) -> Any:
        if default is None:
            return str
        for candidate in (bool, int, float, str):
            if isinstance(default, candidate):
                return candidate
        if isinstance(default, (dict, list)):
            return JSONType
        return str

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr_name = attr
        self.owner = owner
        if attr in RESERVED_ATTRIBUTES or attr.replace("_", "-") in RESERVED_PARAMETER_NAMES:
            # Not raised here: Python 3.11 would wrap it in "RuntimeError: Error calling
            # __set_name__" with two tracebacks, at import of the flow file. The flow's
            # parameters are listed (FlowSpec._parameters) by the command line, which
            # reports it as one paragraph.
            self.definition_error = ParameterError(
                f"Parameter '{self.name}' is assigned to the attribute '{attr}', which is "
                f"reserved by FlowSpec or the command line; use another attribute name, e.g. "
                f"{attr}_param = Parameter({self.name!r}, ...).")

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._parameter_value(self.attr_name)

    def __set__(self, instance: Any, value: Any) -> None:
        # FlowSpec.__setattr__ raises first, naming the step; this covers other paths
        raise AttributeError(
            f"Parameter '{self.attr_name}' cannot be assigned: flow level attributes and "
            "Parameters are not modifiable (as in Metaflow); store the value under another "
            f"name instead (e.g. self.my_{self.attr_name.lower()} = ...)")

    @property
    def type_name(self) -> str:
        if self.type is JSONType:
            return "JSON"
        return getattr(self.type, "__name__", str(self.type))

    def default_value(self) -> Any:
        """The default as the run would take it: a deploy-time default is evaluated
        and converted; a plain default is returned as given."""
        if isinstance(self.default, DeployTimeField):
            return self.convert(self.default())
        return self.default

    def convert(self, raw: Any) -> Any:
        """Convert a command-line or environment string to the parameter's type."""
        try:
            value = self._convert(raw)
        except (ValueError, TypeError) as exc:
            raise ParameterError(
                f"Invalid value {raw!r} for parameter '--{self.name}': expected {self.type_name}"
                f" ({exc}).") from None
        return value

    def _convert(self, raw: Any) -> Any:
        if raw is None:
            return None
        if self.type is bool:
            return _to_bool(raw)
        if self.type is JSONType:
            try:
                return JSONType(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON: {exc.msg} at position {exc.pos}") from None
        if self.separator and isinstance(raw, str):
            return [self.type(part) for part in raw.split(self.separator)]
        if isinstance(raw, self.type) or (self.type is float and isinstance(raw, int)):
            return raw
        return self.type(raw)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r}, type={self.type_name})"


class IncludeFile(Parameter):
    """A parameter naming a local file whose content is stored with the run.

    In steps the parameter reads as the file's content: ``str`` when ``is_text``
    (the default) and ``bytes`` otherwise.
    """

    IS_INCLUDE_FILE = True

    def __init__(self, name: str, is_text: bool = True, encoding: str = "utf-8",
                 default: str | None = None, help: str | None = None, required: bool = False,
                 show_default: bool = True) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required,
                         show_default=show_default)
        self.is_text = is_text
        self.encoding = encoding

    @property
    def type_name(self) -> str:
        return "PATH"

    def decode_content(self, data: bytes, path: str) -> Any:
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise ParameterError(
                f"IncludeFile '--{self.name}': {path} is not valid {self.encoding} text ({exc}). "
                "Pass a text file, or declare IncludeFile(..., is_text=False) to get bytes."
            ) from None
