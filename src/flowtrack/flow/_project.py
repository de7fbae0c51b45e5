"""``@project``: flows that belong together, and the branch a run deploys to.

Metaflow's contract, kept exactly: ``@project(name=...)`` above a flow class puts its
runs in a project; the branch is ``user.<username>`` by default, ``test.<branch>``
with ``--branch``, ``prod`` with ``--production`` and ``prod.<branch>`` with both.
``current`` gets ``project_name``, ``branch_name``, ``is_user_branch``,
``is_production`` and ``project_flow_name`` (``<project>.<branch>.<FlowName>``), and
every run gets the system tags ``project:<name>`` and ``project_branch:<branch>``, so
``namespace('project_branch:prod')`` shows only production runs.

This module owns the decorator and the resolution of the branch; the command line
adds ``--branch`` / ``--production`` to flows that have a project, the runtime
records the tags and hands the resolved ``ProjectInfo`` to every task.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from ._configs import has_delayed, resolve_delayed
from ._decorators import FLOW_DECORATORS_ATTRIBUTE, DecoratorError

# other systems that see project and branch names rely on these limits (as in Metaflow)
_INVALID_NAME_CHARACTER = re.compile(r"[^a-z0-9_]")
MAX_NAME_LENGTH = 128
PROJECT_DECORATOR = "project"
# the fields ``current`` has in a flow with a project
CURRENT_FIELDS = ("project_name", "branch_name", "is_user_branch", "is_production",
                  "project_flow_name")


class ProjectError(DecoratorError):
    headline = "Project error"


@dataclass(frozen=True)
class ProjectInfo:
    """A run's project, resolved from the decorator and the command line."""

    project_name: str
    branch_name: str
    is_user_branch: bool
    is_production: bool
    project_flow_name: str

    @property
    def system_tags(self) -> list[str]:
        return [f"project:{self.project_name}", f"project_branch:{self.branch_name}"]

    def to_current(self) -> dict[str, Any]:
        return asdict(self)


def project(cls: Any = None, *, name: str | None = None, branch: str | None = None,
            production: bool = False) -> Any:
    """Put the flow in project ``name``: ``@project(name='fraud')`` above the class.

    ``branch=`` and ``production=`` fix what ``--branch`` / ``--production`` would
    choose on the command line (giving a different value in both places is an error).
    """
    if cls is not None and not isinstance(cls, type):
        raise ProjectError("@project needs a name. Try @project(name='some_name')")
    if not has_delayed([name, branch]):  # else checked once the configs are known
        _check_name(name, "The @project name", needed=True)
        if branch is not None:
            _check_name(branch, "The branch name")
    given: dict[str, Any] = {"name": name}
    if branch is not None:
        given["branch"] = branch
    if production:
        given["production"] = True

    def apply(flow_cls: Any) -> Any:
        if not isinstance(flow_cls, type):
            raise ProjectError("@project applies to a FlowSpec class, above `class ...:`.")
        decorators = dict(getattr(flow_cls, FLOW_DECORATORS_ATTRIBUTE, {}))
        decorators[PROJECT_DECORATOR] = given
        setattr(flow_cls, FLOW_DECORATORS_ATTRIBUTE, decorators)
        return flow_cls

    return apply(cls) if cls is not None else apply


def flow_project(flow_cls: type) -> dict[str, Any] | None:
    """The ``@project`` arguments of ``flow_cls`` (None: the flow has no project)."""
    return getattr(flow_cls, FLOW_DECORATORS_ATTRIBUTE, {}).get(PROJECT_DECORATOR)


def resolve_project(flow_cls: type, *, branch: str | None, production: bool,
                    user: str) -> ProjectInfo | None:
    """The project of a run of ``flow_cls`` given the command line's ``--branch`` and
    ``--production`` (None when the flow has no ``@project``)."""
    given = flow_project(flow_cls)
    if given is None:
        return None
    if has_delayed(given):
        given = resolve_delayed(given)
        _check_name(given["name"], "The @project name", needed=True)
    for option, cli_value, default in (("branch", branch, None), ("production", production, False)):
        if option in given and cli_value != default and given[option] != cli_value:
            raise ProjectError(f"You cannot pass {option} as both a command-line argument and "
                               "an attribute of the @project decorator.")
    branch = given.get("branch", branch)
    production = bool(given.get("production", production))
    if branch:
        _check_name(branch, "The branch name")
        branch_name = f"{'prod' if production else 'test'}.{branch}"
    elif production:
        branch_name = "prod"
    else:
        # METAFLOW_OWNER names the owner where a scheduler has no user (as in Metaflow)
        branch_name = f"user.{os.environ.get('METAFLOW_OWNER', user)}"
    name = given["name"]
    return ProjectInfo(project_name=name, branch_name=branch_name,
                       is_user_branch=not branch and not production, is_production=production,
                       project_flow_name=f"{name}.{branch_name}.{flow_cls.__name__}")


def _check_name(value: Any, what: str, needed: bool = False) -> None:
    if needed and not value:
        raise ProjectError("@project needs a name. Try @project(name='some_name')")
    if not isinstance(value, str) or _INVALID_NAME_CHARACTER.search(value):
        raise ProjectError(f"{what} must contain only lowercase alphanumeric characters and "
                           f"underscores (got {value!r}).")
    if len(value) > MAX_NAME_LENGTH:
        raise ProjectError(f"{what} must be shorter than {MAX_NAME_LENGTH} characters.")
