"""The errors of cards, under Metaflow's names (``metaflow.plugins.cards.exception``),
with its constructors: ``CardNotPresentException`` is what ``get_cards`` raises for a
task without (matching) cards."""

from __future__ import annotations

from .._errors import MetaflowStyleError


class CardNotPresentException(MetaflowStyleError):
    headline = "Card not found in datastore"

    def __init__(self, pathspec: str, card_type: str | None = None,
                 card_hash: str | None = None, card_id: str | None = None) -> None:
        wanted = ", ".join(f"{k} {v!r}" for k, v in (("type", card_type), ("hash", card_hash),
                                                     ("id", card_id)) if v is not None)
        super().__init__(f"Task {pathspec} has no card{' with ' + wanted if wanted else ''}. "
                         "Add @card to its step (or check the type/id asked for); "
                         "`python flow.py card list` shows the cards a run has.")
        self.pathspec = pathspec


class IncorrectArgumentException(MetaflowStyleError):
    headline = "get_cards needs a Task or a task pathspec"

    def __init__(self, obj_type: type) -> None:
        super().__init__(f"get_cards() takes a Task object or a task pathspec "
                         f"'FlowName/run_id/step/task_id', not a {obj_type.__name__}.")


class IncorrectPathspecException(MetaflowStyleError):
    headline = "Pathspec is required of form `flowname/runid/stepname/taskid`"

    def __init__(self, pathspec: str) -> None:
        super().__init__(f"'{pathspec}' is not a task pathspec; give "
                         "'FlowName/run_id/step/task_id'.")
