"""Run-time half of the ``metaflow`` -> ``flowtrack`` alias shim.

The harness (``metaflow_core.py``) copies this file to ``<tmp>/shim/metaflow/`` next to
``shim_table.json`` (written from the table in ``_shim.py``) and one tiny module per
aliased Metaflow module, each of which only calls :func:`install`. Nothing here
implements a Metaflow feature:

* a name whose target resolves in flowtrack is that flowtrack object (``is``-identical);
* a Metaflow name flowtrack lacks becomes a *placeholder*: importing it works (the
  generated flows import ``Config``, ``parallel``... on every pair), but calling it,
  subclassing it or reading an attribute raises :class:`FlowtrackLacks` (an
  ``ImportError``), so only the pairs that really use the feature fail;
* ``helper:NAME`` entries are the few generic helpers only Metaflow's *checkers* need
  (``metaflow.util.is_stringish``), defined in ``CHECK_HELPERS`` below;
* any other name raises ``AttributeError`` (``ImportError`` for ``from ... import``).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

_TABLE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim_table.json")
with open(_TABLE_FILE, encoding="utf-8") as _f:
    TABLE: dict[str, dict[str, Any]] = json.load(_f)

LACKS_PREFIX = "metaflow shim: flowtrack has no equivalent of"


class FlowtrackLacks(ImportError):
    """Raised when a flow or checker uses a Metaflow name flowtrack does not have."""


class _PlaceholderMeta(type):
    """Metaclass of placeholders: calling, subclassing or probing one raises."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise FlowtrackLacks(f"{LACKS_PREFIX} {cls._shim_name} (called)")

    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(f"{LACKS_PREFIX} {cls._shim_name} (attribute {attr!r} read)")

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        for base in bases:
            if isinstance(base, _PlaceholderMeta) and "_shim_name" in base.__dict__:
                raise FlowtrackLacks(f"{LACKS_PREFIX} {base._shim_name} (subclassed)")
        return super().__new__(mcs, name, bases, ns)


class _PlaceholderBase(Exception, metaclass=_PlaceholderMeta):
    """An exception class so that ``except Placeholder:`` is legal (and catches nothing)."""


def placeholder(qualname: str) -> type:
    """A stand-in for the Metaflow object ``qualname`` that flowtrack lacks."""
    return _PlaceholderMeta(qualname.rsplit(".", 1)[-1], (_PlaceholderBase,),
                            {"_shim_name": qualname, "__module__": "metaflow"})


def is_stringish(x: Any) -> bool:
    """Check-only helper (``metaflow.util.is_stringish``): str, bytes or bytearray."""
    return isinstance(x, (str, bytes, bytearray))


CHECK_HELPERS = {"is_stringish": is_stringish}


def flowtrack_module(name: str | None) -> Any:
    """The flowtrack module ``name``, or None when flowtrack has no such module.

    Only a *missing* module counts as absent: any other import error (a bug in
    flowtrack) propagates, so that it is not mistaken for a missing feature."""
    if name is None:
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


def resolve(target: str | None, qualname: str) -> Any:
    """The object ``target`` names (``flowtrack.x.y``, ``helper:NAME``), or a placeholder."""
    if target is None:
        return placeholder(qualname)
    if target.startswith("helper:"):
        return CHECK_HELPERS[target[len("helper:"):]]
    module_name, _, attr = target.rpartition(".")
    module = flowtrack_module(module_name)
    if module is None or not hasattr(module, attr):
        return placeholder(qualname)
    return getattr(module, attr)


def install(module_name: str) -> None:
    """Give the shim module ``module_name`` its lazy ``__getattr__`` and ``__dir__``."""
    entry = TABLE[module_name]
    module = sys.modules[module_name]
    names: dict[str, str | None] = entry["names"]
    target_name: str | None = entry["module"]

    def __getattr__(name: str) -> Any:
        target = flowtrack_module(target_name)
        if name in names:
            value = resolve(names[name], f"{module_name}.{name}")
        elif target is not None and not name.startswith("__"):
            value = getattr(target, name)
        else:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        target = flowtrack_module(target_name)
        return sorted(set(names) | set(dir(target) if target is not None else []))

    module.__dict__["__getattr__"] = __getattr__
    module.__dict__["__dir__"] = __dir__
