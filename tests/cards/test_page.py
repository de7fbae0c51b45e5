"""Card HTML: component fragments (escaped: no component text can add markup), whole
pages (self-contained: nothing loaded from anywhere; chart scripts only when there
are charts) and the default card's body (bounded previews that never fail)."""

from __future__ import annotations

import datetime
import json
import re
import time
from html.parser import HTMLParser
from typing import Any

import pytest

from flowtrack.cards._component_html import component_html, has_charts
from flowtrack.cards._components import (
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
from flowtrack.cards._page import (
    CARD_PREVIEW_CHARS,
    DefaultCardInput,
    blank_card_body,
    card_page,
    dag_levels,
    default_card_body,
    value_preview,
)

from .test_components import PNG_1X1, SPEC

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
GRAPH = [{"name": "start", "type": "split", "next": ["a", "b"]},
         {"name": "a", "type": "linear", "next": ["join"]},
         {"name": "b", "type": "linear", "next": ["join"]},
         {"name": "join", "type": "join", "next": ["end"]},
         {"name": "end", "type": "end", "next": []}]


class Elements(HTMLParser):
    """The start tags of a document, with their attributes; and script contents."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def without_scripts(page: str) -> str:
    return re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)


def assert_loads_nothing(page: str) -> None:
    """No element of the page fetches anything: no src/href but data: URIs and
    fragments, and no URL anywhere outside the (inlined) scripts."""
    for tag, attrs in Elements(page).tags:
        for name in ("src", "href", "srcset", "action", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert not re.search(r"https?://", without_scripts(page))


def info(**overrides: Any) -> DefaultCardInput:
    fields: dict[str, Any] = dict(
        pathspec="TrainFlow/7/train/42", flow_name="TrainFlow", step_name="a", task_id="42",
        attempt=1, started=datetime.datetime(2024, 5, 1, 12, 0, 0),
        finished=datetime.datetime(2024, 5, 1, 12, 1, 30, 500),
        parameters={"alpha": 0.5, "mode": "fast"},
        artifacts=[("alpha", 0.5), ("model_name", "resnet"), ("scores", [1, 2, 3])],
        graph=GRAPH, components=[])
    fields.update(overrides)
    return DefaultCardInput(**fields)


# -- component fragments -------------------------------------------------------------------


def test_strings_are_html_and_other_values_are_escaped_text():
    assert component_html("<b>mine</b>") == "<b>mine</b>"
    shown = component_html({"no": XSS})
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "&lt;script&gt;" in component_html({"type": "unknown-type", "x": XSS})
    assert "<script>" not in component_html(["list", XSS])


def test_markdown_is_rendered_with_raw_html_disabled():
    shown = component_html(Markdown(f"# Title\n\n**bold** {XSS}\n\n[x](javascript:alert(1))"
                                    ).render())
    assert "<h1>Title</h1>" in shown and "<strong>bold</strong>" in shown
    assert "<script" not in shown and "<img" not in shown
    assert 'href="javascript' not in shown
    table = component_html(Markdown("| a | b |\n|---|---|\n| 1 | 2 |").render())
    assert "<table>" in table and "<td>1</td>" in table


def test_table_cells_are_escaped_and_nested_components_drawn():
    rendered = Table([[XSS, Markdown("*m*"), Artifact({"k": XSS}), 3.5, None]],
                     headers=[XSS, "m", "a", "n", "none"]).render()
    shown = component_html(rendered)
    assert "<script" not in shown and "<img" not in shown
    assert shown.count("&lt;script&gt;") == 3
    assert "<em>m</em>" in shown
    assert "<table" in shown and "<th>" in shown
    assert f'data-component-id="{rendered["id"]}"' in shown


def test_truncated_dataframe_table_says_so():
    pd = pytest.importorskip("pandas")
    shown = component_html(Table.from_dataframe(pd.DataFrame({"a": range(50)})).render())
    assert "First 5 of 50 rows" in shown


def test_image_is_an_inline_data_uri_and_a_bad_source_is_refused():
    shown = component_html(Image(PNG_1X1, label=XSS).render())
    (img,) = Elements(shown).named("img")
    assert img["src"].startswith("data:image/png;base64,")
    assert "<script" not in shown
    forged = component_html({"type": "image", "src": "javascript:alert(1)", "label": "x"})
    assert "<img" not in forged and "ft-error" in forged
    remote = component_html({"type": "image", "src": "https://example.com/a.png"})
    assert "<img" not in remote


def test_artifact_is_highlighted_and_escaped():
    shown = component_html(Artifact({"html": XSS}, name="cfg").render())
    assert "<script" not in shown
    assert 'class="ft-name">cfg<' in shown and "dict" in shown
    assert '<span class="s1">' in shown or '<span class="s2">' in shown  # pygments tokens


def test_progress_bar_value_box_error_and_code():
    bar = component_html(ProgressBar(max=10, value=4, label=XSS, unit="steps",
                                     metadata="1/s").render())
    (progress,) = Elements(bar).named("progress")
    assert progress == {"max": "10", "value": "4"}
    assert "4 / 10 steps" in bar and "1/s" in bar and "<script" not in bar

    box = component_html(ValueBox(title="Rows", value=1234, theme="danger").render())
    assert "ft-theme-danger" in box and "1234" in box
    forged_theme = component_html({"type": "valueBox", "value": 1, "theme": '"><script>'})
    assert "<script" not in forged_theme and "ft-theme-default" in forged_theme

    try:
        raise ValueError(XSS)
    except ValueError as exc:
        error = component_html(Error(exc, "Step failed").render())
    assert "ft-error" in error and "Step failed" in error and "Traceback" in error
    assert "<script" not in error

    code = component_html(PythonCode(code_string="def f():\n    return '<b>'").render())
    assert '<span class="k">def</span>' in code and "&lt;b&gt;" in code


def test_vega_chart_is_a_div_with_an_inert_json_spec():
    spec = dict(SPEC, description="</script><script>alert(1)</script>")
    shown = component_html(VegaChart(spec).render())
    assert has_charts(shown)
    parsed = Elements(shown)
    (script,) = parsed.named("script")
    assert script["type"] == "application/json"
    assert "</script><script>" not in shown
    chart = json.loads(parsed.scripts[0])
    assert chart["spec"]["description"] == spec["description"]
    assert chart["options"] == {"actions": False}
    assert not has_charts(component_html(Markdown("vegaChart").render()))


def test_a_malformed_component_dict_is_shown_as_an_error():
    shown = component_html({"type": "table", "columns": 5, "data": 7})
    assert "ft-error" in shown


# -- pages -------------------------------------------------------------------------------


def test_a_page_without_charts_has_no_scripts_and_loads_nothing():
    body = blank_card_body([Markdown("# Hello").render(), Image(PNG_1X1).render(),
                            Table([[1]]).render()])
    page = card_page(f"Card {XSS}", body, charts=False)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "<title>Card &lt;script&gt;" in page
    assert "<style>" in page and "--accent" in page  # our CSS, inlined
    assert_loads_nothing(page)


def test_a_page_with_a_chart_inlines_the_vega_scripts_and_the_spec():
    body = blank_card_body([VegaChart(SPEC).render()])
    assert has_charts(body)
    page = card_page("Charts", body, charts=True)
    scripts = Elements(page).scripts
    assert any("vegaEmbed" in s and len(s) > 50_000 for s in scripts)  # vega-embed
    assert any('"5.33.1"' in s for s in scripts)  # vega
    assert any("vegaLite" in s and len(s) > 200_000 for s in scripts)  # vega-lite
    assert any("flowtrackDrawCharts" in s for s in scripts)
    assert "ft-vega-spec" in page and '"mark":"bar"' in page
    assert "sourceMappingURL" not in page
    assert not any(attrs.get("src") for attrs in Elements(page).named("script"))
    assert_loads_nothing(page)
    assert len(page) < 1_200_000


def test_refresh_token_is_published():
    page = card_page("t", "", charts=False, refresh_token='tok"</script>')
    assert 'content="tok&quot;&lt;/script&gt;"' in page
    assert 'window.METAFLOW_RELOAD_TOKEN = "tok\\"\\u003c/script\\u003e";' in page
    assert "flowtrack-reload-token" not in card_page("t", "", charts=False)


def test_blank_card_body_is_only_the_components():
    body = blank_card_body([Markdown("one").render(), "<p>two</p>"])
    assert "one" in body and "<p>two</p>" in body
    assert "Artifacts" not in body and "Parameters" not in body
    assert blank_card_body([]) == ""


# -- the default card ----------------------------------------------------------------------


def test_default_card_shows_task_parameters_artifacts_and_current_step():
    body = default_card_body(info(components=[Markdown("## From the step").render()]))
    assert "TrainFlow/7/train/42" in body
    assert "0:01:30" in body and "2024-05-01 12:00:00" in body
    assert "<h2>From the step</h2>" in body
    params = body[body.index(">Parameters<"):body.index(">Artifacts<")]
    assert "alpha" in params and "0.5" in params and "fast" in params
    artifacts = body[body.index(">Artifacts<"):body.index(">DAG<")]
    assert "model_name" in artifacts and "resnet" in artifacts and "scores" in artifacts
    assert "alpha" not in artifacts  # a parameter, shown once
    current = re.findall(r'class="ft-dag-step ft-current"[^>]*><span class="ft-step-name">(\w+)',
                         body)
    assert current == ["a"]
    assert "<script" not in body
    assert_loads_nothing(card_page("c", body, charts=has_charts(body)))


def test_default_card_without_parameters_artifacts_or_graph():
    body = default_card_body(info(parameters={}, artifacts=[], graph=[], started=None,
                                  finished=None))
    assert "No parameters." in body and "No artifacts." in body and "DAG" not in body


def test_a_huge_artifact_renders_fast_and_small():
    huge = list(range(10_000_000))
    started = time.perf_counter()
    body = default_card_body(info(artifacts=[("huge", huge), ("text", "x" * 50_000_000)]))
    assert time.perf_counter() - started < 2.0
    assert len(body) < 200_000
    assert "10,000,000 items" in body and "9,999,950 more items" in body
    assert "50,000,000 characters" in body


def test_unprintable_values_do_not_fail_the_card():
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no")

        def __str__(self) -> str:
            raise RuntimeError("no")

    class HostileLen(list):
        def __len__(self) -> int:
            raise RuntimeError("no len")

    body = default_card_body(info(artifacts=[("bad", Unprintable()), ("worse", HostileLen()),
                                             ("nested", {"deep": Unprintable()})],
                                  parameters={"p": Unprintable()}))
    assert "&lt;unprintable Unprintable&gt;" in body
    assert "&lt;unprintable HostileLen&gt;" in body
    assert body.count("unprintable Unprintable") == 3


def test_previews_of_common_types():
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    frame = pd.DataFrame(np.arange(3000.0).reshape(100, 30) / 7)
    shown = value_preview(frame)
    assert "100 rows × 30 columns" in shown and "first 10 rows, 20 columns shown" in shown
    assert shown.count("<tr>") == 11 and "0.142857" in shown

    array = value_preview(np.zeros((2000, 3000), dtype=np.float32))
    assert "ndarray 2,000×3,000, dtype float32" in array and "..." in array
    assert len(array) < 2_000

    assert value_preview(b"\x00" * 3_000_000) == '<code class="ft-inline">bytes, 3.0 MB</code>'
    (img,) = Elements(value_preview(PNG_1X1)).named("img")
    assert img["src"].startswith("data:image/png")
    assert value_preview(42) == '<code class="ft-inline">42</code>'
    assert "&lt;int of about" in value_preview(10**20_000)
    assert "2024-01-02" in value_preview(datetime.date(2024, 1, 2))
    assert "<pre" in value_preview({"a": {"b": [1, 2, 3]}})


def test_matplotlib_figure_artifact_is_shown_as_an_image():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure()
    figure.subplots().plot([1, 2])
    (img,) = Elements(value_preview(figure)).named("img")
    assert img["src"].startswith("data:image/png;base64,")


def test_pil_image_artifact_is_scaled_down():
    PILImage = pytest.importorskip("PIL.Image")
    big = value_preview(PILImage.new("RGB", (4000, 3000)))
    assert "4000×3000" in big and len(big) < 200_000


def test_many_large_artifacts_stop_being_previewed_past_the_budget():
    chunk = "y" * 4_000  # shown in full (under the text limit), each about 4 KB of HTML
    count = CARD_PREVIEW_CHARS // 4_000 + 50
    body = default_card_body(info(artifacts=[(f"a{i}", chunk + "\n") for i in range(count)]))
    assert "Not previewed: the card reached its size limit." in body
    assert len(body) < CARD_PREVIEW_CHARS + 200_000


def test_dag_levels_rows_and_cycles():
    names = [[step["name"] for step in row] for row in dag_levels(GRAPH)]
    assert names == [["start"], ["a", "b"], ["join"], ["end"]]
    looped = [{"name": "start", "type": "linear", "next": ["loop"]},
              {"name": "loop", "type": "split-switch", "next": ["loop2", "end"]},
              {"name": "loop2", "type": "linear", "next": ["loop"]},
              {"name": "end", "type": "end", "next": []}]
    rows = [[step["name"] for step in row] for row in dag_levels(looped)]
    assert rows[0] == ["start"] and sorted(sum(rows, [])) == ["end", "loop", "loop2", "start"]
