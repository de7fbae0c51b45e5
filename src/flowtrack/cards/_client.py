"""Reading cards back: ``get_cards(task)`` returns a ``CardContainer`` of ``Card``s.

A task's cards are listed on its record (type, id, hash, blob digest); the HTML is
read from the blob store only when ``Card.get()`` is called or a notebook shows the
card. A task cloned by ``resume`` shows its origin task's cards (``follow_resumed``),
as in Metaflow.
"""

from __future__ import annotations

import html as html_lib
import tempfile
import webbrowser
from collections.abc import Iterator
from typing import Any

from ..client import Task, namespace
from ..client._backend import backend
from ._errors import CardNotPresentException, IncorrectArgumentException, IncorrectPathspecException

CARDS_PROPERTY = "cards"  # a task execution's custom property: the list of its cards


class Card:
    """One card of a task: a self-contained HTML document."""

    def __init__(self, info: dict[str, Any], pathspec: str, from_resumed: bool = False,
                 origin_pathspec: str | None = None) -> None:
        self._info = info
        self._html: str | None = None
        self.type: str = info["type"]
        self.hash: str = info["hash"]
        self.pathspec = pathspec
        self.from_resumed, self.origin_pathspec = from_resumed, origin_pathspec

    @property
    def id(self) -> str | None:
        return self._info.get("id")

    @property
    def path(self) -> str:
        """Where the HTML is: the blob store's content address."""
        return f"blob:{self._info['digest']}"

    @property
    def error(self) -> str | None:
        """Why the card failed to render, if it did (its HTML is then an error card)."""
        return self._info.get("error")

    def get(self) -> str:
        """The card's HTML."""
        if self._html is None:
            self._html = backend().load_bytes(self._info["digest"]).decode("utf-8")
        return self._html

    def view(self) -> None:
        """Open the card in a web browser (from a temporary file)."""
        with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False,
                                         encoding="utf-8") as handle:
            handle.write(self.get())
        webbrowser.open(f"file://{handle.name}")

    def _repr_html_(self) -> str:
        # an iframe keeps the card's styles and scripts away from the notebook's
        return (f'<iframe srcdoc="{html_lib.escape(self.get(), quote=True)}" '
                'style="width:100%;height:600px;border:none"></iframe>')

    def __str__(self) -> str:
        return f"<Card at '{self.path}'>"

    __repr__ = __str__


class CardContainer:
    """An immutable list of the ``Card``s of a task."""

    def __init__(self, cards: list[Card]) -> None:
        self._cards = cards

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, index: int) -> Card:
        return self._cards[index]

    def _repr_html_(self) -> str:
        return "\n".join(f"<h1>Displaying Card Of Type : {html_lib.escape(c.type.title())}</h1>"
                         + c._repr_html_() for c in self._cards)


def _task_of(task: Any) -> Task:
    if isinstance(task, Task):
        return task
    if isinstance(task, str):
        if len(task.strip("/").split("/")) != 4:
            raise IncorrectPathspecException(task)
        previous = namespace(None)  # a pathspec names the task exactly, as in Metaflow
        try:
            return Task(task)
        finally:
            namespace(previous)
    raise IncorrectArgumentException(type(task))


def task_cards(task: Task) -> list[dict[str, Any]]:
    """The card entries recorded on a task (rendered and failed ones)."""
    return list(task._node.custom_properties.get(CARDS_PROPERTY) or [])


def get_cards(task: Any, id: str | None = None, type: str | None = None,  # noqa: A002
              follow_resumed: bool = True) -> CardContainer:
    """The cards of ``task`` (a ``Task`` or its pathspec), optionally only those with
    ``id`` and/or ``type``; raises ``CardNotPresentException`` when there are none."""
    found = _task_of(task)
    entries, from_resumed, origin = task_cards(found), False, None
    if not entries and follow_resumed and found.origin_pathspec:
        origin = found.origin_pathspec
        entries, from_resumed = task_cards(_task_of(origin)), True
    cards = [Card(e, found.pathspec, from_resumed, origin) for e in entries
             if e.get("digest") and (id is None or e.get("id") == id)
             and (type is None or e.get("type") == type)]
    if not cards:
        raise CardNotPresentException(found.pathspec, card_type=type, card_id=id)
    return CardContainer(cards)
