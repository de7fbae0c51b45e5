"""Top-level command-line options that extension flow decorators declare
(``FlowDecorator.options``, Metaflow's contract): ``options = {"foobar": {"default":
None, "help": "..."}}`` on a decorator of the flow adds ``--foobar`` to the flow's
command line, read also from ``FLOWTRACK_FOOBAR`` / ``METAFLOW_FOOBAR``."""

from __future__ import annotations

from typing import Any

import click

from ..flow import flow_decorators


def _declared_options(flow_cls: type) -> dict[str, tuple[str, dict[str, Any]]]:
    """option name -> (decorator name, click settings), in declaration order."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for deco in flow_decorators(flow_cls):
        for option, settings in deco.options.items():
            found.setdefault(option, (deco.name, dict(settings)))
    return found


def add_flow_decorator_options(cli: click.Group, flow_cls: type) -> None:
    taken = {name for param in cli.params for name in getattr(param, "opts", [])}
    for option, (deco_name, settings) in _declared_options(flow_cls).items():
        flag = f"--{option.replace('_', '-')}"
        if flag in taken:
            raise click.UsageError(f"@{deco_name} declares option {flag}, which the flow's "
                                   "command line already has; rename the option.")
        settings.setdefault("help", f"(from @{deco_name})")
        variable = option.replace("-", "_").upper()
        # Metaflow reads METAFLOW_<OPTION>: ported deployments keep working
        settings.setdefault("envvar", [f"FLOWTRACK_{variable}", f"METAFLOW_{variable}"])
        cli.params.append(click.Option([flag, option.replace("-", "_")], **settings))


def flow_option_names(flow_cls: type) -> list[str]:
    """The variables of the options the flow's extension decorators declared."""
    return [option.replace("-", "_") for option in _declared_options(flow_cls)]
