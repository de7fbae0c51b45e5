"""The built-in card components: what render() returns, what update() changes, and
that bad input becomes an error component instead of an exception."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from flowtrack.cards._card_types import MetaflowCardComponent
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
    image_data_uri,
)

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==")
GIF_HEADER = b"GIF89a" + b"\x00" * 20


def rendered_png(rendered: dict[str, Any]) -> bytes:
    """The PNG bytes of a rendered image component (which must be a PNG)."""
    assert rendered["type"] == "image", rendered
    prefix = "data:image/png;base64,"
    assert rendered["src"].startswith(prefix)
    data = base64.b64decode(rendered["src"][len(prefix):], validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


class Recorder:
    """A stand-in for the card runtime's logger."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str, timestamp: bool = True, bad: bool = False) -> None:
        self.lines.append(message)


class Custom(MetaflowCardComponent):
    def render(self) -> str:
        return "<b>custom</b>"


class Unserialisable(Markdown):
    """A Markdown whose text is no JSON value."""

    def __init__(self) -> None:
        super().__init__("x")
        self._text = object()  # type: ignore[assignment]


# -- ids and render contract ----------------------------------------------------------


def test_component_id_is_given_on_first_render_and_kept():
    markdown = Markdown("hi")
    assert markdown.component_id is None
    first = markdown.render()
    assert first["id"] == markdown.component_id
    assert markdown.component_id.startswith("markdown_")
    assert markdown.render()["id"] == first["id"]

    named = ProgressBar()
    named.component_id = "progress"
    assert named.render()["id"] == "progress"


@pytest.mark.parametrize("component", [
    Markdown("# t"), Table([[1, "a"]], headers=["n", "s"]), Image(PNG_1X1, label="dot"),
    Artifact({"a": [1, 2]}, name="x"), VegaChart({"mark": "point"}), ProgressBar(label="p"),
    ValueBox(title="Revenue", value=3), Error(ValueError("bad"), "t"),
    PythonCode(code_string="x = 1"),
])
def test_every_render_is_a_json_serialisable_dict_with_type_and_id(component):
    rendered = component.render()
    assert isinstance(rendered, dict)
    assert rendered["type"] and rendered["id"] == component.component_id
    json.dumps(rendered, allow_nan=False)


def test_a_render_that_is_not_json_becomes_an_error_component():
    rendered = Unserialisable().render()
    assert rendered["type"] == "error"
    assert "Unserialisable" in rendered["title"]
    assert "JSON" in rendered["message"]
    assert ProgressBar(max=float("nan")).render()["type"] == "error"  # not strict JSON


def test_a_render_that_raises_becomes_an_error_component():
    chart = VegaChart(["not", "a", "dict"])
    rendered = chart.render()
    assert rendered["type"] == "error" and "TypeError" in rendered["message"]
    assert "Traceback" in rendered["traceback"]
    assert rendered["id"] == chart.component_id


# -- Markdown ------------------------------------------------------------------------


def test_markdown_renders_dedented_source_and_updates():
    markdown = Markdown("""
        # Title
        - item
    """)
    rendered = markdown.render()
    assert rendered["type"] == "markdown"
    assert rendered["source"].splitlines()[1:3] == ["# Title", "- item"]
    assert Markdown.REALTIME_UPDATABLE
    markdown.update("new *text*")
    assert markdown.render()["source"] == "new *text*"


# -- Table ----------------------------------------------------------------------------


def test_table_renders_headers_rows_and_nested_components():
    table = Table([["a", 1, 2.5, None, True], [Markdown("**b**"), Artifact([1]), Custom(),
                                               Image(PNG_1X1), {"k": 1}]],
                  headers=["s", "i", "f", "n", "b"])
    rendered = table.render()
    assert rendered["type"] == "table" and rendered["columns"] == ["s", "i", "f", "n", "b"]
    assert rendered["data"][0] == ["a", 1, 2.5, None, True]
    markdown, artifact, custom, image, plain = rendered["data"][1]
    assert markdown["type"] == "markdown" and markdown["source"] == "**b**"
    assert artifact["type"] == "artifacts"
    assert custom == {"type": "html", "data": "<b>custom</b>"}
    assert image["type"] == "image"
    assert plain == '{"k": 1}'  # plain data stays text: never taken for a component


def test_table_ignores_malformed_data_and_cannot_be_updated():
    assert Table("not rows").render()["data"] == [[]]
    assert Table(["not", "rows"], headers="h").render()["columns"] == []
    assert Table().REALTIME_UPDATABLE
    assert not Table(disable_updates=True).REALTIME_UPDATABLE
    table = Table([[1]])
    table._logger = Recorder()
    table.update([[2]])
    table.update([[3]])
    assert table.render()["data"] == [[1]]
    assert len(table._logger.lines) == 1 and "WARNING" in table._logger.lines[0]


def test_table_cells_with_odd_values_stay_json():
    rendered = Table([[float("nan"), float("inf"), object(), "x" * 1000, 2**80]]).render()
    nan, inf, obj, long_text, big = rendered["data"][0]
    assert (nan, inf) == ("nan", "inf")
    assert obj.startswith("<object object")
    assert len(long_text) < 300
    assert big == str(2**80)


def test_table_from_dataframe_shows_index_and_first_rows():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": range(10), "b": [x / 2 for x in range(10)],
                          "when": pd.date_range("2024-01-01", periods=10),
                          "name": [f"n{i}" for i in range(10)]})
    table = Table.from_dataframe(frame)
    rendered = table.render()
    assert rendered["columns"] == ["", "a", "b", "when", "name"]
    assert len(rendered["data"]) == 5
    assert rendered["data"][1][:3] == [1, 1, 0.5]
    assert rendered["data"][1][3].startswith("2024-01-02")
    assert rendered["truncated"] == {"rows": 10, "columns": 4}
    assert not table.REALTIME_UPDATABLE
    json.dumps(rendered, allow_nan=False)

    full = Table.from_dataframe(frame, truncate=False).render()
    assert len(full["data"]) == 10 and "truncated" not in full


def test_table_from_dataframe_with_missing_values_and_a_multiindex():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, None]},
                         index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    rendered = Table.from_dataframe(frame).render()
    assert rendered["data"][0] == ["a / 1", 1.0]
    assert rendered["data"][1] == ["b / 2", "nan"]


def test_table_from_something_else_says_so():
    rendered = Table.from_dataframe([1, 2]).render()
    assert rendered["columns"] == ["Object type list not supported"]


# -- Image -------------------------------------------------------------------------------


def test_image_from_bytes_is_a_data_uri():
    rendered = Image(PNG_1X1, label="dot").render()
    assert rendered["label"] == "dot"
    assert rendered_png(rendered) == PNG_1X1
    assert Image(GIF_HEADER).render()["src"].startswith("data:image/gif;base64,")
    uri = image_data_uri(PNG_1X1)
    assert Image(uri).render()["src"] == uri


@pytest.mark.parametrize("source", [None, b"not an image", "https://example.com/x.png", 42,
                                    ["list"]])
def test_a_bad_image_source_is_an_error_component_not_an_exception(source):
    rendered = Image(source).render()
    assert rendered["type"] == "error"
    assert rendered["title"].startswith("[IMAGE_RENDER FAIL]")


def test_image_updates_only_when_updates_are_enabled():
    fixed = Image(PNG_1X1)
    assert not fixed.REALTIME_UPDATABLE
    fixed._logger = Recorder()
    fixed.update(GIF_HEADER)
    assert rendered_png(fixed.render()) == PNG_1X1
    assert fixed._logger.lines

    live = Image(PNG_1X1, label="a", disable_updates=False)
    live.update(GIF_HEADER)
    assert live.render()["src"].startswith("data:image/gif")
    assert live.render()["label"] == "a"
    live.update(PNG_1X1, label="b")
    assert live.render()["label"] == "b"
    live.update(b"junk")
    assert live.render()["type"] == "error"


def test_image_from_matplotlib_figure_and_axes():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], [3, 1, 2])
    image = Image.from_matplotlib(axes, label="line")
    assert image.REALTIME_UPDATABLE
    png = rendered_png(image.render())
    assert image.render()["label"] == "line"
    assert not plt.fignum_exists(figure.number)  # closed, as Metaflow does

    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(png)) as decoded:
        assert decoded.format == "PNG" and decoded.width > 100

    from matplotlib.figure import Figure

    standalone = Figure()
    standalone.subplots().bar(["a", "b"], [1, 2])
    rendered_png(Image.from_matplotlib(standalone).render())

    grid_figure, grid = plt.subplots(2, 2)
    rendered_png(Image.from_matplotlib(grid).render())
    plt.close(grid_figure)


def test_image_from_matplotlib_failures_are_error_components(monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    rendered = Image.from_matplotlib("not a plot").render()
    assert rendered["type"] == "error" and "matplotlib" in rendered["title"]

    figure = Figure()

    def broken_savefig(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no canvas")

    monkeypatch.setattr(figure, "savefig", broken_savefig)
    rendered = Image.from_matplotlib(figure).render()
    assert rendered["type"] == "error"
    assert "no canvas" in rendered["message"]


def test_image_from_pil_image():
    PILImage = pytest.importorskip("PIL.Image")
    image = PILImage.new("RGB", (8, 4), "red")
    rendered = Image.from_pil_image(image, label="red").render()
    png = rendered_png(rendered)
    with PILImage.open(io.BytesIO(png)) as decoded:
        assert decoded.size == (8, 4)
    rendered_png(Image.from_pil_image(PILImage.new("CMYK", (2, 2))).render())
    assert Image.from_pil_image(b"bytes").render()["type"] == "error"
    assert Image.from_pil_image(image).REALTIME_UPDATABLE


def test_image_update_takes_pil_images():
    PILImage = pytest.importorskip("PIL.Image")
    image = Image(PNG_1X1, disable_updates=False)
    image.update(PILImage.new("L", (3, 3)))
    assert rendered_png(image.render()) != PNG_1X1


# -- Artifact, Error, PythonCode ---------------------------------------------------------


def test_artifact_shows_a_pretty_bounded_repr_and_updates():
    rendered = Artifact({"b": [1, 2], "a": "x"}, name="params").render()
    assert rendered["type"] == "artifacts"
    (item,) = rendered["data"]
    assert item["name"] == "params" and item["type"] == "dict"
    assert "'b': [1, 2]" in item["data"]

    big = Artifact(list(range(100_000)))
    text = big.render()["data"][0]["data"]
    assert "..." in text and len(text) < 2_000
    assert big.render()["data"][0]["name"] is None
    big.update("small")
    assert big.render()["data"][0]["data"] == "'small'"

    loose = Artifact(list(range(2_000)), compressed=False).render()["data"][0]["data"]
    assert "1999" not in loose and "999" in loose  # more shown, still bounded


def test_artifact_of_an_unprintable_object():
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    rendered = Artifact(Unprintable()).render()
    assert rendered["type"] == "artifacts"
    assert rendered["data"][0]["data"] == "<unprintable Unprintable>"


def test_error_component_shows_title_message_and_traceback():
    try:
        raise KeyError("missing")
    except KeyError as exc:
        rendered = Error(exc, "Lookup failed").render()
    assert rendered["type"] == "error"
    assert rendered["title"] == "Lookup failed"
    assert rendered["message"] == "KeyError('missing')"
    assert "raise KeyError" in rendered["traceback"]
    assert Error(ValueError("never raised")).render()["traceback"] == ""


def test_python_code_from_a_function_or_a_string():
    def example(x: int) -> int:
        return x + 1

    rendered = PythonCode(example).render()
    assert rendered["type"] == "pythonCode"
    assert rendered["data"].startswith("def example(x: int) -> int:")
    assert PythonCode(code_string="print(1)").render()["data"] == "print(1)"
    assert PythonCode().render()["type"] == "error"
    assert PythonCode(len).render()["type"] == "error"  # no source: shown, not raised


# -- VegaChart -------------------------------------------------------------------------


SPEC = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": [{"a": 1, "b": 2}]}, "mark": "bar",
        "encoding": {"x": {"field": "a", "type": "quantitative"}}}


def test_vega_chart_render_and_update():
    spec = json.loads(json.dumps(SPEC))
    chart = VegaChart(spec)
    rendered = chart.render()
    assert rendered["type"] == "vegaChart"
    assert rendered["spec"]["width"] == "container"
    assert rendered["options"] == {"actions": False}
    assert "width" not in spec  # the caller's spec is left alone

    assert "options" not in VegaChart(spec, show_controls=True).render()
    assert VegaChart({**spec, "width": 300}).render()["spec"]["width"] == 300

    chart.update({"mark": "line"})
    assert chart.render()["spec"]["mark"] == "line"
    chart.update()
    assert chart.render()["spec"]["mark"] == "line"


def test_vega_chart_inside_a_table_fits_the_cell():
    cell = Table([[VegaChart(dict(SPEC))]]).render()["data"][0][0]
    assert cell["spec"]["autosize"] == "fit-x" and "width" not in cell["spec"]


def test_vega_chart_from_altair():
    with pytest.raises(ValueError, match="not an altair chart"):
        VegaChart.from_altair_chart({"mark": "bar"})
    alt = pytest.importorskip("altair")
    pd = pytest.importorskip("pandas")
    chart = alt.Chart(pd.DataFrame({"a": [1, 2]})).mark_bar().encode(x="a")
    rendered = VegaChart.from_altair_chart(chart).render()
    assert rendered["spec"]["mark"]["type"] == "bar" or rendered["spec"]["mark"] == "bar"
    live = VegaChart({"mark": "point"})
    live.update(chart)
    assert "encoding" in live.render()["spec"]


# -- ProgressBar, ValueBox -----------------------------------------------------------


def test_progress_bar_render_and_update():
    bar = ProgressBar(max=200, label="Epochs", value=5, unit="epochs", metadata="2/s")
    assert bar.render() == {"type": "progressBar", "id": bar.component_id, "max": 200,
                            "value": 5, "label": "Epochs", "unit": "epochs", "details": "2/s"}
    bar.update(150)
    assert bar.render()["value"] == 150 and bar.render()["details"] == "2/s"
    bar.update(160, metadata="3/s")
    assert bar.render()["details"] == "3/s"
    plain = ProgressBar().render()
    assert plain["max"] == 100 and plain["value"] == 0
    assert not {"label", "unit", "details"} & set(plain)


def test_progress_bar_takes_numpy_numbers():
    np = pytest.importorskip("numpy")
    bar = ProgressBar(max=np.int64(10), value=np.float32(2.5))
    assert bar.render()["value"] == 2.5


def test_value_box_render_update_and_validation():
    box = ValueBox(title="Revenue", value="$1.2M", subtitle="Monthly", theme="success",
                   change_indicator="Up 15%")
    rendered = box.render()
    assert rendered["type"] == "valueBox"
    assert (rendered["title"], rendered["value"], rendered["theme"]) == ("Revenue", "$1.2M",
                                                                           "success")
    box.update(value=42, change_indicator="Up 16%")
    assert box.render()["value"] == 42 and box.render()["title"] == "Revenue"
    assert "subtitle" not in ValueBox(value=1).render()

    for kwargs, error in [({"value": None}, ValueError), ({"value": [1]}, TypeError),
                          ({"value": 1e16}, ValueError), ({"value": "x" * 101}, ValueError),
                          ({"value": 1, "title": "t" * 201}, ValueError),
                          ({"value": 1, "title": "  "}, ValueError),
                          ({"value": 1, "subtitle": 5}, TypeError),
                          ({"value": 1, "theme": "not a class!"}, ValueError)]:
        with pytest.raises(error):
            ValueBox(**kwargs)
    with pytest.raises(ValueError):
        box.update(value="")
    assert box.render()["value"] == 42
    assert ValueBox(value=1, theme="my-theme").render()["theme"] == "my-theme"


def test_components_without_update_only_warn():
    error = Error(ValueError("x"))
    error._logger = Recorder()
    error.update("anything")
    assert error._logger.lines
    PythonCode(code_string="x").update()  # no logger: silent
