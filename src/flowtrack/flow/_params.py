"""Run parameters: ``Parameter``, ``JSONType`` and ``IncludeFile``.

A parameter is a class attribute of the flow; on an instance it reads as the run's
value and refuses assignment (parameters are immutable in steps). Values arrive as
strings from the command line or ``FLOWTRACK_RUN_<NAME>`` and are converted here;
the CLI layer only wires options to ``Parameter.convert``.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import ParameterError, StepError

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
        self.name = name
        self.default = default
        self.type = type if type is not None else self._infer_type(default)
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.attr_name = name  # replaced by the class attribute name in __set_name__
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
        raise StepError(
            f"Parameter '{self.attr_name}' is read-only inside steps; assign the value to a "
            f"different attribute, e.g. self.my_{self.attr_name} = ...")

    @property
    def type_name(self) -> str:
        if self.type is JSONType:
            return "JSON"
        return getattr(self.type, "__name__", str(self.type))

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
