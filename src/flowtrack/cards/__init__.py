"""Cards: HTML reports of tasks, as Metaflow's ``@card`` makes them.

``@card(type=..., id=..., options=..., timeout=...)`` on a step renders a card after
the step body (``_render``), from the components the step added through
``current.card`` (``_collector``) and the card type's ``render(task)``
(``_card_types``; built-ins ``default`` and ``blank`` in ``_builtin``). A card is a
self-contained HTML document (``_page``) in the blob store and a ``Card`` artifact in
lineage; ``get_cards(task)`` reads them back (``_client``), ``python flow.py card
list|get|view`` prints or opens them and the UI shows them on the task page.
"""

from ..flow import card
from ._builtin import BlankCard, DefaultCard
from ._builtin import graph_description as card_graph
from ._card_types import MetaflowCard, MetaflowCardComponent, card_class, card_types
from ._client import Card, CardContainer, get_cards, task_cards
from ._collector import CardComponentCollector, ComponentStore
from ._components import (
    Artifact,
    Error,
    Image,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
)
from ._errors import CardNotPresentException
from ._render import RenderedCard, preload_renderers, render_task_cards
from ._task_view import TaskView

__all__ = [
    "Artifact",
    "BlankCard",
    "Card",
    "CardComponentCollector",
    "CardContainer",
    "CardNotPresentException",
    "ComponentStore",
    "DefaultCard",
    "Error",
    "Image",
    "Markdown",
    "MetaflowCard",
    "MetaflowCardComponent",
    "ProgressBar",
    "PythonCode",
    "RenderedCard",
    "Table",
    "TaskView",
    "ValueBox",
    "VegaChart",
    "card",
    "card_class",
    "card_graph",
    "card_types",
    "get_cards",
    "preload_renderers",
    "render_task_cards",
    "task_cards",
]
