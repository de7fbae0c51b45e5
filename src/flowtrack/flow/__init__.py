"""Authoring flows: FlowSpec, step, parameters, decorators, the graph and its checks.

Pure Python with no I/O: everything here can be imported and used without a store.
"""

from ._configs import Config, ConfigValue, config_expr
from ._current import Current, Parallel, current
from ._decorators import (
    DECORATORS,
    FLOW_DECORATORS_ATTRIBUTE,
    DecoratorError,
    FlowDecorator,
    PytorchParallelDecorator,
    StepDecorator,
    card,
    catch,
    environment,
    flow_decorators,
    parallel,
    parse_decospec,
    pypi,
    pypi_base,
    pytorch_parallel,
    resources,
    retry,
    secrets,
    setup_torch_distributed,
    timeout,
)
from ._extensions import extension_decorator, extension_names, load_extensions
from ._graph import PARAMETERS_STEP, UNCATCHABLE_TYPES, FlowGraph, StepNode
from ._mutable import MutableFlow, MutableStep, mutate_flow, pre_mutate_flow, replay_flow_setup
from ._params import IncludeFile, JSONType, Parameter
from ._project import ProjectError, ProjectInfo, project, resolve_project
from ._spec import ArtifactSource, BranchView, FlowSpec, Inputs, register_cli, step
from ._user_decorators import (
    FlowMutator,
    StepMutator,
    UserDecoratorError,
    UserStepDecorator,
    UserStepDecoratorBase,
    user_step_decorator,
)

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
    "FlowDecorator",
    "FlowMutator",
    "FlowGraph",
    "FlowSpec",
    "IncludeFile",
    "Inputs",
    "MutableFlow",
    "MutableStep",
    "JSONType",
    "Parallel",
    "Parameter",
    "ProjectError",
    "ProjectInfo",
    "PytorchParallelDecorator",
    "StepDecorator",
    "StepMutator",
    "StepNode",
    "UserDecoratorError",
    "UserStepDecorator",
    "UserStepDecoratorBase",
    "card",
    "catch",
    "config_expr",
    "current",
    "environment",
    "extension_decorator",
    "flow_decorators",
    "extension_names",
    "load_extensions",
    "mutate_flow",
    "parallel",
    "parse_decospec",
    "pre_mutate_flow",
    "pypi",
    "project",
    "pypi_base",
    "pytorch_parallel",
    "register_cli",
    "replay_flow_setup",
    "resolve_project",
    "resources",
    "retry",
    "secrets",
    "setup_torch_distributed",
    "step",
    "timeout",
    "user_step_decorator",
]
