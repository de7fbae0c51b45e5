"""``current.card``: the components a step adds to its cards while it runs.

Metaflow's rules, kept exactly (its ``CardComponentCollector``):

- ``current.card.append`` / ``extend`` / ``clear`` edit the step's *default editable
  card*: the only card whose type allows user components; among several, the only
  one without an ``id``; a card with ``customize=True`` wins over both. When no single
  card qualifies, the call does nothing and warns once (a warning, never an error,
  so a card can never fail a step).
- ``current.card['id']`` is the card with that ``id`` (editable or not); an unknown
  id warns once and returns a throwaway list. ``current.card['id'] = [...]`` replaces
  its components. Duplicate ids disable ``current.card['id']`` for that id, with a
  warning.
- Each card's components form a ``ComponentStore``: list-like (``append``,
  ``extend``, ``clear``, ``len``, iteration) and dict-like by component id.

Warnings go to stderr prefixed ``[@card WARNING]``; those about ``current.card``
itself (an ambiguous append, an unknown id) are also added to every card of the step
as an error component, while a value that is no component is only logged. Neither
when ``FLOWTRACK_CARD_NO_WARNING`` (or Metaflow's ``METAFLOW_CARD_NO_WARNING``) is set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from ._card_types import MetaflowCardComponent, card_class, create_component_id

NO_WARNING_VARIABLES = ("FLOWTRACK_CARD_NO_WARNING", "METAFLOW_CARD_NO_WARNING")


class ComponentStore:
    """The components of one card, in order, addressable by component id."""

    def __init__(self, warn: Any, components: Iterable[Any] = ()) -> None:
        self._warn = warn
        self._components: dict[str, Any] = {}
        self.runtime_data: Any = None  # what the last refresh(data) passed
        self.extend(components)

    def _store(self, component: Any, component_id: str | None) -> None:
        if not isinstance(component, MetaflowCardComponent):
            self._warn(f"Component ({type(component).__name__}) is not a card component "
                       "(a subclass of MetaflowCardComponent) and is not added to the card.")
            return
        if component_id is not None:
            component.component_id = component_id
        elif component.component_id is None:
            component.component_id = create_component_id(component)
        self._components[component.component_id] = component  # type: ignore[index]

    def append(self, component: Any, id: str | None = None) -> None:  # noqa: A002 - Metaflow's name
        self._store(component, id)

    def extend(self, components: Iterable[Any]) -> None:
        for component in components:
            self._store(component, None)

    def clear(self) -> None:
        self._components.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Keep ``data`` for the card's render (``MetaflowCard.runtime_data['user']``);
        the card shows the components' latest state when the task finishes."""
        if data is not None:
            self.runtime_data = data

    @property
    def components(self) -> ComponentStore:
        return self

    def keys(self) -> list[str]:
        return list(self._components)

    def values(self) -> list[Any]:
        return list(self._components.values())

    def __getitem__(self, component_id: str) -> Any:
        return self._components[component_id]

    def __setitem__(self, component_id: str, component: Any) -> None:
        self._store(component, component_id)

    def __delitem__(self, component_id: str) -> None:
        del self._components[component_id]

    def __contains__(self, component_id: object) -> bool:
        return component_id in self._components

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._components.values()))

    def __len__(self) -> int:
        return len(self._components)

    def __str__(self) -> str:
        return f"ComponentStore({', '.join(self._components)})"


class CardComponentCollector:
    """What ``current.card`` is inside a step: one ``ComponentStore`` per ``@card``."""

    def __init__(self, cards: list[dict[str, Any]]) -> None:
        self._cards = cards  # the @card attributes, in order
        self._no_warnings = any(os.environ.get(v) for v in NO_WARNING_VARIABLES)
        self._warned: set[str] = set()
        self._stores = [ComponentStore(self._log) for _ in cards]
        self._warnings: list[str] = []  # shown in the cards as an error component
        self._by_id: dict[str, int] = {}
        self._default: int | None = None
        self._resolve()

    # -- which card is which ----------------------------------------------------
    def _editable(self, index: int) -> bool:
        cls = card_class(self._cards[index]["type"])
        return bool(cls is not None and cls.ALLOW_USER_COMPONENTS)

    def _resolve(self) -> None:
        ids = [c["id"] for c in self._cards if c["id"] is not None]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        for index, attrs in enumerate(self._cards):
            if attrs["id"] is not None and attrs["id"] not in duplicates:
                self._by_id[attrs["id"]] = index
        if duplicates:
            self._warning(f"Multiple @card decorators have been annotated with duplicate ids: "
                          f"{', '.join(duplicates)}. `current.card['{duplicates[0]}']` will not "
                          "work.")
        editable = [i for i in range(len(self._cards)) if self._editable(i)]
        if len(editable) == 1:
            self._default = editable[0]
            return
        without_id = [i for i in editable if self._cards[i]["id"] is None]
        if len(without_id) == 1:
            self._default = without_id[0]
        customized = [i for i in editable if self._cards[i]["customize"]]
        if len(customized) > 1:
            self._warning("Multiple @card decorators have `customize=True`. Only one @card per "
                          "@step can have `customize=True`. `current.card.append` will ignore "
                          "all decorators marked `customize=True`.")
        elif len(customized) == 1:
            self._default = customized[0]

    # -- warnings ---------------------------------------------------------------
    def _log(self, message: str) -> None:
        """A warning for the task's log only (e.g. a value that is no component)."""
        if not self._no_warnings:
            print(f"[@card WARNING] {message}", file=sys.stderr)

    def _warning(self, message: str) -> None:
        """A warning for the log and for every card of the step (Metaflow's rule for
        misuses of current.card)."""
        if self._no_warnings:
            return
        self._log(message)
        self._warnings.append(message)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._warning(message)

    # -- Metaflow's current.card API --------------------------------------------
    def _default_store(self, verb: str) -> ComponentStore | None:
        if self._default is not None:
            return self._stores[self._default]
        if len(self._cards) == 1:
            card_type = self._cards[0]["type"]
            problem = (f"Card of type `{card_type}` is not an editable card."
                       if card_class(card_type) is not None
                       else f"Card of type `{card_type}` doesn't exist.")
        elif not self._cards:
            problem = "The step has no @card decorator."
        else:
            problem = f"`current.card.{verb}` cannot disambiguate between multiple editable cards."
        self._warn_once(verb, f"{problem} Component will not be added and `current.card.{verb}` "
                        "will not work for any call during this task. Use an editable card (or "
                        "set the `id` argument of each @card and use `current.card['id']`).")
        return None

    def append(self, component: Any, id: str | None = None) -> None:  # noqa: A002
        store = self._default_store("append")
        if store is not None:
            store.append(component, id=id)

    def extend(self, components: Iterable[Any]) -> None:
        store = self._default_store("extend")
        if store is not None:
            store.extend(components)

    def clear(self) -> None:
        store = self._default_store("clear")
        if store is not None:
            store.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        store = self._default_store("refresh")
        if store is not None:
            store.refresh(data, force)

    @property
    def components(self) -> ComponentStore | list[Any]:
        store = self._default_store("components")
        return store if store is not None else []

    def get(self, type: str | None = None) -> list[ComponentStore]:  # noqa: A002
        """The component stores of the step's cards of ``type`` (all with None)."""
        return [s for s, c in zip(self._stores, self._cards) if type is None or c["type"] == type]

    def __getitem__(self, card_id: str) -> ComponentStore | list[Any]:
        if card_id in self._by_id:
            return self._stores[self._by_id[card_id]]
        self._warn_once(f"getitem:{card_id}",
                        f"`current.card['{card_id}']` is not present. Please set the `id` argument "
                        f"in @card to '{card_id}' to access `current.card['{card_id}']`. "
                        f"`current.card['{card_id}']` will return an empty `list` which is not "
                        "referenced to `current.card` object.")
        return []

    def __setitem__(self, card_id: str, components: Any) -> None:
        if card_id not in self._by_id:
            self._warning(f"`current.card['{card_id}']` is not present. Please set the `id` "
                          f"argument in @card to '{card_id}' to access "
                          f"`current.card['{card_id}']`.")
            return
        if not isinstance(components, list):
            self._warning(f"`current.card['{card_id}']` not set. `current.card['{card_id}']` "
                          "should be a `list` of `MetaflowCardComponent`.")
            return
        self._stores[self._by_id[card_id]] = ComponentStore(self._log, components)

    # -- for the renderer -------------------------------------------------------
    def store_of(self, index: int) -> ComponentStore:
        return self._stores[index]

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)
