"""``python flow.py card list|get|view``: the cards of a flow's tasks, as Metaflow's
``card`` command group has them.

- ``card list [RUN_ID[/STEP[/TASK_ID]]] [--type T] [--id I] [--as-json] [--file F]``:
  the cards of a task, step or run (default: the latest run). With ``--as-json``, a
  task gives ``{"pathspec": ..., "cards": [{"id", "hash", "type", "filename"}]}``
  and a step or run a list of those, as in Metaflow.
- ``card get RUN_ID/STEP/TASK_ID [FILE] [--type T] [--id I] [--hash H]``: the HTML of
  the first matching card, into FILE or to stdout.
- ``card view RUN_ID/STEP/TASK_ID [--type T] [--id I] [--hash H]``: open it in a browser.

A task without a matching card is the error ``Card not found in datastore`` (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .._errors import FlowtrackError
from ..cards import Card, CardNotPresentException, get_cards
from ..client import Flow, Run, Task, namespace
from ._inspect import resolve_tasks


def _cards_of(task: Task, card_type: str | None, card_id: str | None,
              card_hash: str | None = None) -> list[Card]:
    try:
        cards = list(get_cards(task, id=card_id, type=card_type))
    except CardNotPresentException:
        cards = []
    if card_hash is not None:
        cards = [c for c in cards if c.hash.startswith(card_hash)]
    return cards


def _one_card(flow_name: str, pathspec: str, card_type: str | None, card_id: str | None,
              card_hash: str | None) -> Card:
    tasks = resolve_tasks(flow_name, pathspec)
    if len(tasks) != 1:
        raise FlowtrackError(f"'{pathspec}' names {len(tasks)} tasks; give one task as "
                             "RUN_ID/STEP/TASK_ID.")
    cards = _cards_of(tasks[0], card_type, card_id, card_hash)
    if not cards:
        raise CardNotPresentException(tasks[0].pathspec, card_type=card_type,
                                      card_hash=card_hash, card_id=card_id)
    return cards[0]


def _listing(task: Task, cards: list[Card]) -> dict[str, Any]:
    return {"pathspec": task.pathspec,
            "cards": [{"id": c.id, "hash": c.hash, "type": c.type,
                       "filename": f"{c.type}-{c.id or 'none'}-{c.hash}.html"} for c in cards]}


def _latest_run_id(flow_name: str) -> str:
    namespace(None)
    latest = Flow(flow_name).latest_run
    if latest is None:
        raise FlowtrackError(f"Flow {flow_name} has no runs yet.")
    return latest.id


def add_card_commands(cli: click.Group, flow_name: str) -> None:
    """Add the ``card`` command group to a flow's command line."""
    type_option = click.option("--type", "card_type", help="Only cards of this type.")
    id_option = click.option("--id", "card_id", help="Only the card with this id.")
    hash_option = click.option("--hash", "card_hash", help="The card with this hash (a prefix).")

    @cli.group()
    def card() -> None:
        """List, get or view the cards (@card reports) of tasks."""

    @card.command("list")
    @click.argument("pathspec", required=False)
    @type_option
    @id_option
    @click.option("--as-json", is_flag=True, help="Print (or write) the listing as JSON.")
    @click.option("--file", "out_file", type=click.Path(dir_okay=False),
                  help="Write the listing to this file.")
    def list_cards(pathspec: str | None, card_type: str | None, card_id: str | None,
                   as_json: bool, out_file: str | None) -> None:
        """List the cards of a task, a step or a run (default: the latest run)."""
        spec = pathspec or _latest_run_id(flow_name)
        parts = [p for p in spec.split("/") if p]
        if parts and parts[0] == flow_name:
            parts = parts[1:]
        tasks = (_run_tasks(flow_name, parts[0]) if len(parts) == 1
                 else resolve_tasks(flow_name, spec))
        listings = [_listing(t, _cards_of(t, card_type, card_id)) for t in tasks]
        single = len(parts) == 3
        if as_json:
            payload = listings[0] if single and len(listings) == 1 else listings
            text = json.dumps(payload, indent=4)
        else:
            text = "\n".join(_describe(listing) for listing in listings if listing["cards"])
            text = text or f"No cards in {spec}."
        if out_file:
            Path(out_file).write_text(text)
        else:
            click.echo(text)

    @card.command("get")
    @click.argument("pathspec")
    @click.argument("out_file", required=False, type=click.Path(dir_okay=False))
    @type_option
    @id_option
    @hash_option
    def get_card(pathspec: str, out_file: str | None, card_type: str | None,
                 card_id: str | None, card_hash: str | None) -> None:
        """Write the HTML of a task's card to OUT_FILE (or print it)."""
        found = _one_card(flow_name, pathspec, card_type, card_id, card_hash)
        if out_file:
            Path(out_file).write_text(found.get(), encoding="utf-8")
        else:
            click.echo(found.get())

    @card.command("view")
    @click.argument("pathspec")
    @type_option
    @id_option
    @hash_option
    def view_card(pathspec: str, card_type: str | None, card_id: str | None,
                  card_hash: str | None) -> None:
        """Open a task's card in a web browser."""
        _one_card(flow_name, pathspec, card_type, card_id, card_hash).view()


def _run_tasks(flow_name: str, run_id: str) -> list[Task]:
    """Every task of a run, step by step."""
    namespace(None)
    run = Run(f"{flow_name}/{run_id}")
    return [task for step in run for task in step.tasks()]


def _describe(listing: dict[str, Any]) -> str:
    lines = [listing["pathspec"]]
    lines += [f"  {c['type']:<20} id={c['id'] or '-':<12} hash={c['hash'][:16]}"
              for c in listing["cards"]]
    return "\n".join(lines)
