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
from ._lazy_names import CLIENT_NAMES as _CLIENT_NAMES
from ._lazy_names import TRACKING_NAMES as _TRACKING_NAMES
from .flow import (
    Config,
    FlowDecorator,
    FlowMutator,
    FlowSpec,
    IncludeFile,
    JSONType,
    Parameter,
    StepDecorator,
    StepMutator,
    UserStepDecorator,
    card,
    catch,
    config_expr,
    current,
    environment,
    parallel,
    project,
    pypi,
    pypi_base,
    pytorch_parallel,
    resources,
    retry,
    secrets,
    step,
    timeout,
    user_step_decorator,
)
from .flow import register_cli as _register_cli

__version__ = "0.1.0"

__all__ = [
    "Config",
    "DataArtifact",
    "Flow",
    "FlowDecorator",
    "FlowMutator",
    "FlowSpec",
    "FlowtrackError",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "Parameter",
    "Run",
    "Step",
    "StepDecorator",
    "StepMutator",
    "Task",
    "TrackingClient",
    "UserStepDecorator",
    "active_run",
    "card",
    "catch",
    "config_expr",
    "create_experiment",
    "current",
    "default_namespace",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "environment",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_metadata",
    "get_namespace",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "namespace",
    "parallel",
    "project",
    "pypi",
    "pypi_base",
    "pytorch_parallel",
    "register_model",
    "resources",
    "retry",
    "search_experiments",
    "search_runs",
    "secrets",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "step",
    "timeout",
    "user_step_decorator",
]


def __getattr__(name: str) -> _typing.Any:
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    if name in _TRACKING_NAMES:
        from . import tracking

        value = globals()[name] = getattr(tracking, name)  # later lookups skip this hook
        return value
    if not name.startswith("_"):
        from .flow import extension_decorator

        # a decorator an installed extension adds (flow/_extensions.py)
        found = extension_decorator(name)
        if found is not None:
            return found
    raise AttributeError(f"module 'flowtrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLIENT_NAMES | _TRACKING_NAMES)


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
