"""The card types of Metaflow's test extension package (``test_org``), written against
flowtrack's API and offered to flowtrack the way an installed package offers card
types: through the ``flowtrack.cards`` entry-point group (the harness writes a
``.dist-info`` naming this module). Metaflow's ``brokencard`` module fails to import
on purpose; its entry point here names a module that does not exist, and flowtrack
must skip it quietly."""

from __future__ import annotations

from typing import Any

from metaflow.plugins.cards.card_modules.test_cards import TestEditableCard

from flowtrack.cards import MetaflowCard


class TestNonEditableImportCard(MetaflowCard):
    type = "non_editable_import_test_card"

    def render(self, task: Any) -> str:
        return str(task.pathspec)


class TestEditableImportCard(TestEditableCard):
    type = "editable_import_test_card"
    ALLOW_USER_COMPONENTS = True


CARDS = [TestEditableImportCard, TestNonEditableImportCard]
