"""flowtrack: Metaflow-style flows, MLflow-style tracking and ML-Metadata-style lineage
over one lineage graph.

Porting a Metaflow flow is an import change: ``from flowtrack import FlowSpec, step``.
The authoring names load eagerly (they are light); client names load on first use
so ``import flowtrack`` stays fast.
"""

from __future__ import annotations

import os as _os
import sys as _sys
import typing as _typing

from ._errors import FlowtrackError
from .flow import (
    FlowSpec,
    IncludeFile,
    JSONType,
    Parameter,
    catch,
    current,
    environment,
    resources,
    retry,
    step,
    timeout,
)
from .flow import register_cli as _register_cli

__version__ = "0.1.0"

_CLIENT_NAMES = {"Flow", "Run", "Step", "Task", "DataArtifact", "Metaflow", "namespace",
                 "get_namespace", "default_namespace", "get_metadata"}

__all__ = [
    "DataArtifact",
    "Flow",
    "FlowSpec",
    "FlowtrackError",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "Parameter",
    "Run",
    "Step",
    "Task",
    "catch",
    "current",
    "default_namespace",
    "environment",
    "get_metadata",
    "get_namespace",
    "namespace",
    "resources",
    "retry",
    "step",
    "timeout",
]


def __getattr__(name: str) -> _typing.Any:
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'flowtrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLIENT_NAMES)


def _run_cli(flow_cls: type) -> None:
    from .cli import run_flow_cli

    run_flow_cli(flow_cls)


_register_cli(_run_cli)


def _excepthook(kind: type[BaseException], exc: BaseException, tb: _typing.Any) -> None:
    """Show user errors raised while a flow file loads (a bad Parameter or decorator)
    as one paragraph, like the CLI does; everything else goes to the previous hook."""
    if isinstance(exc, FlowtrackError) and _os.environ.get("FLOWTRACK_TRACEBACK") != "1":
        _sys.stderr.write(f"{exc.headline}: {exc.message}\n")
        return
    _previous_excepthook(kind, exc, tb)


_previous_excepthook = _sys.excepthook
if _sys.excepthook is _sys.__excepthook__:  # leave IPython's and other custom hooks alone
    _sys.excepthook = _excepthook
