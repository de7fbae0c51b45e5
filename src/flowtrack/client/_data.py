"""What a task holds besides its identity: ``task.data`` (its artifacts as attributes)
and ``task.exception`` (the error that failed it, which is also what ``@catch`` stores)."""

from __future__ import annotations

import traceback as _traceback
from typing import TYPE_CHECKING, Any

from ._backend import backend

if TYPE_CHECKING:
    from ._objects import Task


def exception_type(cls: type[BaseException]) -> str:
    """The name Metaflow records for an exception class: ``module.Name``
    (``builtins.KeyError``; ``__main__.MyError`` for a class in the flow file). A
    class of flowtrack's that stands for one of Metaflow's own failures names it in
    ``RECORDED_TYPE`` (e.g. ``metaflow.plugins.timeout_decorator.TimeoutException``),
    so code that checks the recorded type works unchanged."""
    recorded = cls.__dict__.get("RECORDED_TYPE")
    return recorded if isinstance(recorded, str) else f"{cls.__module__}.{cls.__name__}"


class TaskException(Exception):
    """A task's failure, as Metaflow's ``MetaflowExceptionWrapper`` holds it.

    ``type`` is the class as ``module.Name``, ``exception`` the ``str()`` of the
    exception and ``stacktrace`` its traceback (None when there was none, e.g. for a
    crashed process); ``str()`` and ``repr()`` are the traceback, or
    ``"[no stacktrace]\ntype: exception"``. ``message`` and ``traceback`` are the
    earlier names of ``exception`` and ``stacktrace`` (``""`` for none).

    It is what ``task.exception`` returns and what ``@catch(var=...)`` stores, and
    ``flowtrack.exception.MetaflowExceptionWrapper`` is this class.
    ``TaskException(exc)`` wraps a live exception as Metaflow does (with a traceback
    if it was raised); ``TaskException(type, exception, stacktrace)`` rebuilds a
    recorded one.
    """

    def __init__(self, exc: BaseException | str | None = None, exception: str = "",
                 stacktrace: str | None = None) -> None:
        super().__init__()
        self.type, self.exception, self.stacktrace = "", exception, stacktrace or None
        if isinstance(exc, BaseException):
            self.type, self.exception = exception_type(type(exc)), str(exc)
            self.stacktrace = ("".join(_traceback.format_exception(exc))
                               if exc.__traceback__ is not None else None)
        elif exc is not None:
            self.type = exc

    @property
    def message(self) -> str:
        return self.exception

    @property
    def traceback(self) -> str:
        return self.stacktrace or ""

    # Exception's own pickling keeps only ``args``: keep the fields instead
    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (None,), self.__dict__

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        if "stacktrace" not in state:  # a CaughtException stored by an earlier version
            state = {"type": state.get("type", ""), "exception": state.get("message", ""),
                     "stacktrace": state.get("traceback") or None}
        self.__dict__.update(state)

    def __str__(self) -> str:
        if self.stacktrace:
            return self.stacktrace
        return f"[no stacktrace]\n{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return str(self)


class MetaflowData:
    """``task.data``: artifacts as attributes (``task.data.x``)."""

    def __init__(self, task: Task) -> None:
        object.__setattr__(self, "_task", task)
        object.__setattr__(self, "_nodes", task._artifact_nodes())

    def __getattr__(self, name: str) -> Any:
        node = self._nodes.get(name)
        if node is None:
            raise AttributeError(f"Task '{self._task.pathspec}' has no artifact '{name}'; it has "
                                 f"{', '.join(sorted(self._nodes)) or 'none'}.")
        return backend().load_value(node)

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __dir__(self) -> list[str]:
        return sorted(self._nodes)

    def __repr__(self) -> str:
        return f"<data of {self._task.pathspec}: {', '.join(sorted(self._nodes))}>"
