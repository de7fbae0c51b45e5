"""Card types and components: the two extension points of cards, and their registry.

A *card type* is a subclass of ``MetaflowCard`` with a ``type`` name; ``@card(type=T)``
on a step renders the class whose ``type`` is ``T`` after the step body runs. A
*component* is a ``MetaflowCardComponent``; a step adds components to editable cards
through ``current.card``. Both keep Metaflow's names, attributes and constructor
contract so that card code written for Metaflow runs unchanged:

- a card class is instantiated with the keywords ``options`` (the decorator's
  ``options=``), ``components`` (the rendered user components: what each
  component's ``render()`` returned), ``graph`` (the flow's graph as a dict) and
  ``flow`` (the flow object of the task); ``render(task)`` gets the finished task and
  returns HTML.
- ``ALLOW_USER_COMPONENTS = True`` makes a card editable (``current.card.append``).

To add a card type: subclass ``MetaflowCard``, set ``type``, implement ``render``.
Defining (or importing) the class is enough for the flow that uses it: subclasses
register themselves by ``type``. Installed packages can also expose card classes
through the entry-point group ``flowtrack.cards`` (loaded on first lookup).
"""

from __future__ import annotations

import uuid
from importlib import metadata
from typing import Any

ENTRY_POINT_GROUP = "flowtrack.cards"

_registry: dict[str, type[MetaflowCard]] = {}
_entry_points_loaded = False


class MetaflowCard:
    """Base class of card types (Metaflow's ``MetaflowCard``, same attributes)."""

    RELOAD_POLICY_NEVER = "never"
    RELOAD_POLICY_ALWAYS = "always"
    RELOAD_POLICY_ONCHANGE = "onchange"
    RELOAD_POLICY_TOKEN = "[METAFLOW_RELOAD_TOKEN]"

    type: str | None = None
    ALLOW_USER_COMPONENTS = False
    RUNTIME_UPDATABLE = False
    RELOAD_POLICY = RELOAD_POLICY_NEVER
    scope = "task"
    runtime_data: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if isinstance(cls.__dict__.get("type"), str) and cls.__dict__["type"]:
            _registry[cls.__dict__["type"]] = cls

    def __init__(self, options: dict[str, Any] | None = None, components: list[Any] | None = None,
                 graph: dict[str, Any] | None = None, flow: Any = None, **kwargs: Any) -> None:
        pass

    def render(self, task: Any) -> str:
        """The card's HTML for the finished ``task`` (a client ``Task``)."""
        raise NotImplementedError(f"card type {self.type!r} does not implement render(task)")

    def render_runtime(self, task: Any, data: Any) -> str:
        raise NotImplementedError

    def refresh(self, task: Any, data: Any) -> Any:
        raise NotImplementedError

    def reload_content_token(self, task: Any, data: Any) -> str:
        return "content-token"


class MetaflowCardComponent:
    """Base class of card components (Metaflow's ``MetaflowCardComponent``)."""

    REALTIME_UPDATABLE = False
    _component_id: str | None = None
    _logger: Any = None

    @property
    def component_id(self) -> str | None:
        return self._component_id

    @component_id.setter
    def component_id(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Component ID must be a string")
        self._component_id = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot be updated")

    def render(self) -> Any:
        """A string of HTML, or a dict describing the component (built-in components)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement render()")


def create_component_id(component: Any) -> str:
    """A fresh id for a component that was given none: ``<class>_<6 hex digits>``."""
    return f"{type(component).__name__.lower()}_{uuid.uuid4().hex[:6]}"


def card_class(card_type: str) -> type[MetaflowCard] | None:
    """The card class registered under ``card_type`` (None: no such type)."""
    if card_type not in _registry:
        _load_entry_points()
    return _registry.get(card_type)


def card_types() -> list[str]:
    """Every registered card type, sorted."""
    _load_entry_points()
    return sorted(_registry)


def _load_entry_points() -> None:
    """Import the card classes installed packages declare (once per process); a
    broken one is skipped, so it cannot break flows that do not use it."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception:  # noqa: BLE001, S112 - a broken plug-in must not break others
            continue
        for cls in loaded if isinstance(loaded, (list, tuple)) else [loaded]:
            if isinstance(cls, type) and issubclass(cls, MetaflowCard) and cls.type:
                _registry.setdefault(cls.type, cls)
