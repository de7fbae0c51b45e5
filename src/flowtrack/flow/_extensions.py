"""Step and flow decorators that installed packages add: flowtrack's counterpart of
Metaflow's ``metaflow_extensions`` plugins, through standard entry points.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."flowtrack.step_decorators"]
    my_step_decorator = "my_package.decorators:MyStepDecorator"

    [project.entry-points."flowtrack.flow_decorators"]
    my_flow_decorator = "my_package.decorators:MyFlowDecorator"

The classes derive from ``flowtrack.StepDecorator`` / ``flowtrack.FlowDecorator`` (the
same hook names and arguments as Metaflow's ``StepDecorator`` / ``FlowDecorator``),
and the entry point's name must be the class's ``name``. Once installed,
``from flowtrack import my_step_decorator`` gives the decorator, ``--with
my_step_decorator`` applies it to every step, and the runtime calls its hooks.

Entry points are read once per process, on the first use of an extension name. An
entry point that cannot be loaded is reported on stderr and skipped, so one broken
package does not stop flows that do not use it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any

from ._decorators import (
    DECORATORS,
    FlowDecorator,
    StepDecorator,
    _make_decorator,
    make_flow_decorator,
)

STEP_DECORATORS_GROUP = "flowtrack.step_decorators"
FLOW_DECORATORS_GROUP = "flowtrack.flow_decorators"

_loaded = False
_decorator_functions: dict[str, Callable[..., Any]] = {}  # name -> @name
FLOW_DECORATORS: dict[str, type[FlowDecorator]] = {}


def load_extensions() -> None:
    """Register the decorators of every installed extension (once per process)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for entry in metadata.entry_points(group=STEP_DECORATORS_GROUP):
        cls = _load(entry, StepDecorator)
        if cls is not None and cls.name not in DECORATORS:  # built-ins keep their names
            DECORATORS[cls.name] = cls
            _decorator_functions[cls.name] = _make_decorator(cls)
    for entry in metadata.entry_points(group=FLOW_DECORATORS_GROUP):
        flow_cls = _load(entry, FlowDecorator)
        if flow_cls is not None:
            FLOW_DECORATORS[flow_cls.name] = flow_cls
            _decorator_functions[flow_cls.name] = make_flow_decorator(flow_cls)


def _load(entry: metadata.EntryPoint, base: type) -> Any:
    where = f"entry point {entry.name!r} ({entry.value}) of group {entry.group!r}"
    try:
        cls = entry.load()
    except Exception as exc:  # noqa: BLE001 - a broken extension must not break others
        sys.stderr.write(f"flowtrack: skipped {where}: it failed to import: {exc!r}\n")
        return None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        sys.stderr.write(f"flowtrack: skipped {where}: it is not a subclass of "
                         f"flowtrack.{base.__name__}.\n")
        return None
    name = getattr(cls, "name", None)
    if name != entry.name:
        sys.stderr.write(f"flowtrack: skipped {where}: the class's name is {name!r}; the "
                         "entry point must have the same name.\n")
        return None
    return cls


def extension_decorator(name: str) -> Callable[..., Any] | None:
    """``@name`` of an installed extension, or None."""
    load_extensions()
    return _decorator_functions.get(name)


def extension_names() -> list[str]:
    load_extensions()
    return sorted(_decorator_functions)
