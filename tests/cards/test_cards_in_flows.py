"""Cards through real runs: ``@card`` renders after the step, ``current.card`` adds
components by Metaflow's rules, a failing or slow card never fails its task, and the
cards come back through ``get_cards``, the ``card`` commands, lineage and the UI."""

from __future__ import annotations

import json
import os
import sys
import time

import httpx
import pytest
from sqlalchemy import select

from flowtrack import Flow, namespace
from flowtrack.cards import CardNotPresentException, get_cards
from flowtrack.client._backend import backend
from flowtrack.lineage import CARD_TYPE, EventType, TypeKind, events
from tests.processes import free_port, listening

CARD_FLOW = '''
from flowtrack import FlowSpec, Parameter, card, current, step
from flowtrack.cards import Markdown, MetaflowCard, MetaflowCardComponent, Table


class Shout(MetaflowCardComponent):
    def __init__(self, text):
        self.text = text

    def render(self):
        return self.text.upper()


class ReportCard(MetaflowCard):
    """A custom card type defined in the flow file: editable, with options."""

    type = "report"
    ALLOW_USER_COMPONENTS = True

    def __init__(self, options=None, components=None, **kwargs):
        self.title = (options or {}).get("title", "untitled")
        self.components = components or []

    def render(self, task):
        parts = [self.title, task.pathspec, str(task.data.score), str(task["score"].data)]
        return "<html><body>" + "|".join(parts + [str(c) for c in self.components]) + "</body></html>"


class CardFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @card
    @step
    def start(self):
        self.score = 41 + 1
        self.label = "sashimi <b>"
        current.card.append(Markdown("# Hello from start"))
        self.next(self.report)

    @card(type="report", id="rep", options={"title": "Weekly"})
    @card(type="blank", id="notes")
    @step
    def report(self):
        self.score = 7
        current.card["rep"].append(Shout("shout"))
        current.card["notes"].append(Table([[1, 2], [3, 4]], headers=["a", "b"]))
        current.card.append(Markdown("ambiguous"))  # two editable cards with ids: a warning
        current.card["missing"].append(Markdown("nowhere"))  # an unknown id: a warning
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
'''


@pytest.fixture
def card_run(write_flow, run_flow):
    proc = run_flow(write_flow(CARD_FLOW, "card_flow.py"), "run", timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    namespace(None)
    return Flow("CardFlow").latest_run, proc


def test_default_card_shows_the_task_and_the_appended_components(card_run):
    run, _ = card_run
    cards = get_cards(run["start"].task)
    assert len(cards) == 1
    card = cards[0]
    assert (card.type, card.id) == ("default", None)
    html = card.get()
    assert "CardFlow" in html and "score" in html and "42" in html
    assert "alpha" in html and "0.5" in html  # parameters are shown
    assert "Hello from start" in html
    assert "sashimi &lt;b&gt;" in html  # values are escaped, never injected
    assert "http://" not in html and "https://" not in html and "<script src" not in html


def test_custom_card_types_ids_and_component_rules(card_run):
    run, proc = card_run
    task = run["report"].task
    report = get_cards(task, id="rep")[0]
    assert report.type == "report"
    html = report.get()
    assert html.startswith(f"<html><body>Weekly|{task.pathspec}|7|7|SHOUT|")
    # the warnings of current.card reach every card of the step, as in Metaflow
    assert "cannot disambiguate" in html and "`current.card['missing']` is not present" in html
    notes = get_cards(task, type="blank")[0]
    assert notes.id == "notes" and "<table" in notes.get()
    assert "ambiguous" not in notes.get() and "ambiguous" not in report.get()
    output = proc.stdout + proc.stderr
    assert "[@card WARNING]" in output
    assert "cannot disambiguate" in output
    assert "`current.card['missing']` is not present" in output
    with pytest.raises(CardNotPresentException):
        get_cards(run["end"].task)
    with pytest.raises(CardNotPresentException, match="type 'default'"):
        get_cards(task, type="default")


def test_cards_are_artifacts_in_lineage(card_run):
    run, _ = card_run
    task = run["report"].task
    with backend().session() as s:
        ids = list(s.conn.execute(select(events.c.artifact_id).where(
            events.c.execution_id == task._node.id,
            events.c.type == int(EventType.OUTPUT))).scalars())
        card_type = s.find_type_id(TypeKind.ARTIFACT, CARD_TYPE)
        cards = [n for n in s.nodes_by_ids("artifact", ids) if n.type_id == card_type]
    assert sorted(n.properties["card_type"] for n in cards) == ["blank", "report"]
    assert {n.properties["digest"] for n in cards} == {c.hash for c in get_cards(task)}


FAILING_CARDS_FLOW = '''
import os, time
from flowtrack import FlowSpec, card, step
from flowtrack.cards import MetaflowCard


class Broken(MetaflowCard):
    type = "broken"

    def render(self, task):
        raise RuntimeError("the card is broken")


class Slow(MetaflowCard):
    type = "slow"

    def render(self, task):
        time.sleep(60)
        return "never"


class Crash(MetaflowCard):
    type = "crash"

    def render(self, task):
        os._exit(3)


class NotText(MetaflowCard):
    type = "not_text"

    def render(self, task):
        return 42


class RobustFlow(FlowSpec):
    @card(type="broken")
    @card(type="broken", id="quiet", save_errors=False)
    @card(type="slow", timeout=1, save_errors=False)
    @card(type="crash")
    @card(type="not_text")
    @card(type="no_such_type", id="ghost")
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        self.after = self.value + 1


if __name__ == "__main__":
    RobustFlow()
'''


def test_failing_slow_and_crashing_cards_never_fail_the_task(write_flow, run_flow):
    started = time.monotonic()
    proc = run_flow(write_flow(FAILING_CARDS_FLOW, "robust_flow.py"), "run", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - started < 40  # the slow card was stopped at its timeout
    namespace(None)
    run = Flow("RobustFlow").latest_run
    assert run["end"].task.data.after == 2
    start = run["start"].task
    shown = {(c.type, c.id): c for c in get_cards(start)}
    # save_errors=False: no card; otherwise an error card that says what went wrong
    assert set(shown) == {("broken", None), ("crash", None), ("not_text", None),
                          ("no_such_type", "ghost")}
    assert "the card is broken" in shown[("broken", None)].get()
    assert "exit code 3" in shown[("crash", None)].get()
    assert "not a string" in shown[("not_text", None)].get()
    assert "does not exist" in shown[("no_such_type", "ghost")].get()
    errors = {(c["type"], c["id"]): c["error"] for c in start._node.custom_properties["cards"]}
    assert "timeout of 1 s" in errors[("slow", None)]
    assert "the card is broken" in errors[("broken", "quiet")]


PLAIN_FLOW = '''
from flowtrack import FlowSpec, step


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PlainFlow()
'''


def test_with_card_adds_a_default_card_to_every_step(write_flow, run_flow):
    proc = run_flow(write_flow(PLAIN_FLOW, "plain_flow.py"), "run", "--with", "card",
                    timeout=120)
    assert proc.returncode == 0, proc.stderr
    namespace(None)
    run = Flow("PlainFlow").latest_run
    for step in ("start", "end"):
        assert [c.type for c in get_cards(run[step].task)] == ["default"]


def test_card_commands_list_get_and_report_missing_cards(card_run, write_flow, run_flow,
                                                         tmp_path):
    run, _ = card_run
    path = tmp_path / "card_flow.py"
    task = run["report"].task
    listing_file = tmp_path / "listing.json"
    proc = run_flow(path, "--quiet", "card", "list", f"{run.id}/report/{task.id}", "--as-json",
                    "--file", str(listing_file))
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(listing_file.read_text())
    assert listing["pathspec"] == task.pathspec
    assert sorted(c["type"] for c in listing["cards"]) == ["blank", "report"]
    report_hash = next(c["hash"] for c in listing["cards"] if c["type"] == "report")
    out = tmp_path / "card.html"
    proc = run_flow(path, "card", "get", f"{run.id}/report/{task.id}", str(out), "--type",
                    "report", "--hash", report_hash)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("<html><body>Weekly|")
    proc = run_flow(path, "card", "get", f"{run.id}/end/{run['end'].task.id}", "--type",
                    "default")
    assert proc.returncode == 1
    assert "Card not found in datastore" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_flow(path, "card", "list", run.id, "--as-json")
    assert proc.returncode == 0, proc.stderr
    per_task = json.loads(proc.stdout)
    assert sum(len(t["cards"]) for t in per_task) == 3


def test_the_ui_shows_cards_sandboxed(card_run, tmp_path):
    run, _ = card_run
    task = run["start"].task
    card = get_cards(task)[0]
    env = dict(os.environ)
    port = free_port()
    with listening([sys.executable, "-m", "flowtrack", "ui", "--port", str(port)], port, env,
                   tmp_path / "ui.log"):
        url = f"http://127.0.0.1:{port}"
        page = httpx.get(f"{url}/tasks/{task._node.id}")
        assert page.status_code == 200
        assert f"/tasks/{task._node.id}/cards/{card.hash}" in page.text
        assert 'sandbox="allow-scripts"' in page.text
        served = httpx.get(f"{url}/tasks/{task._node.id}/cards/{card.hash}")
        assert served.status_code == 200
        assert served.text == card.get()
        assert served.headers["content-security-policy"] == "sandbox allow-scripts"
        assert httpx.get(f"{url}/tasks/{task._node.id}/cards/nope").status_code == 404


CHART_FLOW = '''
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from flowtrack import FlowSpec, card, current, step
from flowtrack.cards import Image, ProgressBar, VegaChart


class ChartFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2])
        current.card.append(Image.from_matplotlib(fig, label="curve"))
        bar = ProgressBar(max=10, label="epochs")
        current.card.append(bar)
        bar.update(7)  # the card shows the last state
        current.card.append(VegaChart({
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"values": [{"x": 1, "y": 2}, {"x": 2, "y": 3}]},
            "mark": "line", "encoding": {"x": {"field": "x"}, "y": {"field": "y"}}}))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChartFlow()
'''


def test_plots_and_charts_render_offline(write_flow, run_flow):
    proc = run_flow(write_flow(CHART_FLOW, "chart_flow.py"), "run", timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    namespace(None)
    html = get_cards(Flow("ChartFlow").latest_run["start"].task)[0].get()
    assert "data:image/png;base64," in html
    assert 'value="7"' in html or ">7<" in html
    assert "vegaEmbed" in html and "vega-lite" in html.lower()
    assert "<script src" not in html
