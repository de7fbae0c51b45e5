"""``current``: what the running task knows about itself (Metaflow's singleton).

The task entry point fills it in; outside a running flow every field is ``None``
and ``current.is_running_flow`` is ``False``. The ``@project`` fields
(``project_name``, ``branch_name``, ...) exist only in a flow that has a project, as in
Metaflow, where reading them elsewhere raises ``AttributeError``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

_FIELDS = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
           "namespace", "username", "tags", "parameter_names")
_COMPUTED = ("pathspec", "is_running_flow", "parallel", "is_parallel", "card", "task", "run")
# set only in a flow decorated with @project (see flow._project)
_PROJECT_FIELDS = ("project_name", "branch_name", "is_user_branch", "is_production",
                   "project_flow_name")


class Parallel(NamedTuple):
    """``current.parallel``: where a task stands in its ``@parallel`` gang (Metaflow's
    namedtuple, field for field). Outside a ``@parallel`` step: one node, index 0."""

    main_ip: str
    num_nodes: int
    node_index: int
    control_task_id: str | None


NOT_PARALLEL = Parallel(main_ip="127.0.0.1", num_nodes=1, node_index=0, control_task_id=None)


class Current:
    """Read-only view of the running task's identity."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._parallel: Parallel | None = None
        self._project: dict[str, Any] = {}
        self._card: Any = None
        # set by the task runtime: builds the client's Task / Run of the running task
        # (the client sits above this layer)
        self._objects: Any = None
        self._extra: dict[str, Any] = {}  # fields extensions add (_update_env)

    def _set(self, project: dict[str, Any] | None = None, parallel: Parallel | None = None,
             objects: Any = None, **values: Any) -> None:
        unknown = set(values) - set(_FIELDS)
        if unknown or (project and set(project) != set(_PROJECT_FIELDS)):
            raise TypeError(f"unknown current fields: {sorted(unknown or set(project or ()))}")
        self._values = dict(values)
        self._project = dict(project or {})
        self._parallel = parallel
        self._card = None
        self._objects = objects

    @property
    def task(self) -> Any:
        """The running task as a client ``Task`` (None outside a running task)."""
        return self._objects("task") if self._values and self._objects else None

    @property
    def run(self) -> Any:
        """The running run as a client ``Run`` (None outside a running task)."""
        return self._objects("run") if self._values and self._objects else None

    @property
    def card(self) -> Any:
        """The step's cards, to add components to (``current.card.append(...)``,
        ``current.card['id']``); see flowtrack.cards. None outside a running task."""
        return self._card if self._values else None

    @property
    def parallel(self) -> Parallel | None:
        """The task's place in its ``@parallel`` gang (one node, index 0 in other
        steps; None outside a running flow)."""
        if not self._values:
            return None
        return self._parallel or NOT_PARALLEL

    @property
    def is_parallel(self) -> bool:
        """Whether the running task is one of a ``@parallel`` step's gang."""
        return self._parallel is not None

    def _set_cards(self, collector: Any) -> None:
        """The step's cards (a ``cards.CardComponentCollector``), set by the task."""
        self._card = collector

    def _set_project(self, project: dict[str, Any] | None) -> None:
        """The project fields alone: set by the command line of a flow with
        ``@project`` before parameters' deploy-time defaults are evaluated."""
        self._project = dict(project or {})

    def _update_env(self, env: dict[str, Any]) -> None:
        """Add fields (Metaflow's extension hook: a decorator's ``flow_init`` or
        ``task_pre_step`` publishes values as ``current.<name>``). They last until
        the task ends; built-in fields cannot be replaced."""
        clashing = sorted(set(env) & set(_FIELDS + _COMPUTED + _PROJECT_FIELDS))
        if clashing:
            raise AttributeError(f"current.{clashing[0]} is flowtrack's own field; an "
                                 "extension cannot replace it.")
        self._extra.update(env)

    def _clear(self) -> None:
        self._extra = {}
        self._values = {}
        self._project = {}
        self._parallel = None
        self._card = None
        self._objects = None

    @property
    def is_running_flow(self) -> bool:
        return bool(self._values)

    @property
    def pathspec(self) -> str | None:
        v = self._values
        if not v:
            return None
        return f"{v['flow_name']}/{v['run_id']}/{v['step_name']}/{v['task_id']}"

    def get(self, name: str, default: Any = None) -> Any:
        """The field ``name``, or ``default`` when it is not set (Metaflow's ``get``)."""
        value = getattr(self, name, None)
        return default if value is None else value

    def __contains__(self, name: str) -> bool:
        return getattr(self, name, None) is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # not a field: keeps copy/pickle protocols working
            raise AttributeError(name)
        if name in _FIELDS:
            return self._values.get(name)
        if name in self._extra:
            return self._extra[name]
        if name in _PROJECT_FIELDS:
            if name in self._project:
                return self._project[name]
            raise AttributeError(f"current.{name} is set only while a flow decorated with "
                                 "@project(name=...) runs.")
        raise AttributeError(f"current has no attribute {name!r}; available: "
                             f"{', '.join(_FIELDS + _COMPUTED)}")

    def __repr__(self) -> str:
        if not self._values:
            return "current(not running a flow)"
        return f"current({self.pathspec}, retry_count={self.retry_count})"


current = Current()
