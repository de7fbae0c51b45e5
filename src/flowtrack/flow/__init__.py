"""Authoring flows: FlowSpec, step, parameters, decorators, the graph and its checks.

Pure Python with no I/O: everything here can be imported and used without a store.
"""

from ._configs import Config, ConfigValue, config_expr
from ._current import Current, Parallel, current
from ._decorators import (
    DECORATORS,
    FLOW_DECORATORS_ATTRIBUTE,
    DecoratorError,
    StepDecorator,
    card,
    catch,
    environment,
    parallel,
    parse_decospec,
    pypi,
    pypi_base,
    resources,
    retry,
    secrets,
    timeout,
)
from ._graph import PARAMETERS_STEP, UNCATCHABLE_TYPES, FlowGraph, StepNode
from ._params import IncludeFile, JSONType, Parameter
from ._project import ProjectError, ProjectInfo, project, resolve_project
from ._spec import ArtifactSource, BranchView, FlowSpec, Inputs, register_cli, step

__all__ = [
    "DECORATORS",
    "FLOW_DECORATORS_ATTRIBUTE",
    "PARAMETERS_STEP",
    "UNCATCHABLE_TYPES",
    "ArtifactSource",
    "BranchView",
    "Config",
    "ConfigValue",
    "Current",
    "DecoratorError",
    "FlowGraph",
    "FlowSpec",
    "IncludeFile",
    "Inputs",
    "JSONType",
    "Parallel",
    "Parameter",
    "ProjectError",
    "ProjectInfo",
    "StepDecorator",
    "StepNode",
    "card",
    "catch",
    "config_expr",
    "current",
    "environment",
    "parallel",
    "parse_decospec",
    "pypi",
    "project",
    "pypi_base",
    "register_cli",
    "resolve_project",
    "resources",
    "retry",
    "secrets",
    "step",
    "timeout",
]
