"""Rendering a task's cards, in the task process right after the step body.

Each ``@card`` of the step is rendered in a forked child of the task process, which
has the finished flow object in memory: the card class is instantiated as Metaflow
does (``options``, ``components``, ``graph``, ``flow``) and its ``render(task)``
gets a ``TaskView`` of the finished task. The child sends the HTML back through a
pipe; the task stores it in the blob store. A card that raises, returns something
other than a string, crashes its process or outlives its ``timeout`` is killed if
need be and recorded as failed (with an error card when ``save_errors``, as in
Metaflow): a card never fails its task, and never takes the task down with it.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any

from ..store import BlobStore
from ._card_types import card_class
from ._collector import CardComponentCollector
from ._page import card_page, component_html

MAX_CARD_BYTES = 64 << 20  # a card bigger than this is refused (a runaway render)
_preloaded = False


@dataclass(frozen=True)
class RenderedCard:
    """One card of a task: its HTML in the blob store (``digest``, ``size``), or the
    error that stopped it (then ``digest`` is the error card's, or None without
    ``save_errors``). ``card_hash`` names the card (Metaflow's ``Card.hash``)."""

    card_type: str
    card_id: str | None
    card_hash: str | None
    digest: str | None
    size: int
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.card_type, "id": self.card_id, "hash": self.card_hash,
                "digest": self.digest, "size": self.size, "error": self.error}


def preload_renderers() -> None:
    """Import and warm up what rendering cards needs (Markdown, syntax highlighting),
    in the process that forks tasks: each task then inherits it instead of paying
    about 200 ms of imports for its first card."""
    global _preloaded
    if _preloaded:
        return
    from ._component_html import highlighted_python, markdown_html

    markdown_html("*warm*")
    highlighted_python("warm = 1")
    _preloaded = True


def render_task_cards(cards: list[dict[str, Any]], collector: CardComponentCollector,
                      flow: Any, task: Any, graph: dict[str, Any],
                      store: BlobStore) -> list[RenderedCard]:
    """Render every card of the step, in order; never raises for a card's fault."""
    done = []
    for index, attributes in enumerate(cards):
        html, error = _isolated(lambda i=index, a=attributes: _render_html(
            i, a, collector, flow, task, graph), float(attributes["timeout"]))
        done.append(_stored(attributes, html, error, store))
    return done


def _render_html(index: int, attributes: dict[str, Any], collector: CardComponentCollector,
                 flow: Any, task: Any, graph: dict[str, Any]) -> str:
    card_type = attributes["type"]
    cls = card_class(card_type)
    if cls is None:
        raise LookupError(f"Card type '{card_type}' does not exist. Define a MetaflowCard "
                          f"subclass with type = '{card_type}' in (or import it into) the flow "
                          "file, or install the package that provides it.")
    store = collector.store_of(index)
    components = [_rendered(c) for c in store]
    # as in Metaflow, each warning of current.card is shown in every card of the step
    components += [{"type": "error", "title": "@card WARNING", "message": warning}
                   for warning in collector.warnings]
    card = cls(options=dict(attributes["options"]), components=components, graph=graph,
               flow=flow)
    card.runtime_data = {"user": store.runtime_data, "components": components,
                         "render_seq": "final", "mode": "render"}
    html = card.render(task)
    if not isinstance(html, str):
        raise TypeError(f"render(task) of card type '{card_type}' returned a "
                        f"{type(html).__name__}, not a string of HTML.")
    return html


def _rendered(component: Any) -> Any:
    """A component's ``render()``, or an error component saying why it failed."""
    try:
        return component.render()
    except Exception as exc:  # noqa: BLE001 - one bad component must not sink the card
        return {"type": "error", "title": f"Component {type(component).__name__} failed",
                "message": "".join(traceback.format_exception_only(type(exc), exc)).strip()}


def _stored(attributes: dict[str, Any], html: str | None, error: str | None,
            store: BlobStore) -> RenderedCard:
    card_type, card_id = attributes["type"], attributes["id"]
    if error is not None:
        if not attributes["save_errors"]:
            return RenderedCard(card_type, card_id, None, None, 0, error)
        html = _error_card(card_type, error)
    assert html is not None
    data = html.encode("utf-8", "surrogatepass")
    digest = store.put_bytes(data)
    return RenderedCard(card_type, card_id, digest, digest, len(data), error)


def _error_card(card_type: str, error: str) -> str:
    body = component_html({"type": "error", "title": f"Error rendering card of type "
                           f"'{card_type}'", "message": error})
    return card_page(f"Card error: {card_type}", body, charts=False)


# -- isolation ----------------------------------------------------------------------
def _isolated(render: Any, timeout: float) -> tuple[str | None, str | None]:
    """Run ``render()`` in a forked child; (html, None) or (None, why it failed)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: render, report, leave without running any cleanup
        os.close(read_end)
        random.seed()  # not the task's random state: two cards must not draw alike
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(0)
        _child(render, write_end)
    os.close(write_end)
    try:
        payload, timed_out = _read_until(read_end, time.monotonic() + timeout)
    finally:
        os.close(read_end)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return None, f"The card did not render within its timeout of {timeout:g} s."
    if not payload:
        return None, f"The card's process ended without a result ({_exit_text(status)})."
    result = json.loads(payload)
    return result.get("html"), result.get("error")


def _child(render: Any, write_end: int) -> None:
    try:
        result = {"html": render()}
        if len(result["html"]) > MAX_CARD_BYTES:
            result = {"error": f"The card is {len(result['html'])} characters long, more than "
                               f"the limit of {MAX_CARD_BYTES}."}
    except BaseException as exc:  # noqa: BLE001 - reported to the task, which goes on
        result = {"error": "".join(traceback.format_exception(type(exc), exc,
                                                              exc.__traceback__)).strip()}
    data = json.dumps(result).encode()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view):]
    finally:
        os._exit(0)


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"", True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)


def _exit_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.WEXITSTATUS(status)}"
