"""Card pages: the complete, self-contained HTML document of a card, and the bodies
of the built-in ``default`` and ``blank`` cards.

A card is viewed offline, long after its run, possibly from a plain file: a page
loads nothing. Its CSS (``static/card.css``) is inlined, images are ``data:`` URIs,
and only a page with charts inlines the Vega, Vega-Lite and Vega-Embed builds
(``static/vendor/``, about 830 KB) and the script that draws the charts
(``static/charts.js``). A page without charts holds no script at all (but for the
optional reload token).

The default card shows the task (pathspec, attempt, times), the components the step
appended, the flow's parameters, a preview of each artifact and the flow's DAG with
the current step highlighted. Previews are bounded: a value is never printed in full
(heads of containers, frames and arrays; images up to a size), a value that cannot
be printed shows as ``<unprintable TypeName>``, and past a total budget further
artifacts are listed without a preview, so no artifact can make a huge card.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import json
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._component_html import component_html, escape, has_charts, highlighted_python, script_json
from ._components import (
    cell_value,
    figure_png,
    full_classname,
    image_data_uri,
    image_kind,
    matplotlib_figure,
    native_scalar,
    pil_png,
    safe_repr,
)

STATIC = Path(__file__).parent / "static"
CHART_SCRIPTS = ("vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js",
                 "charts.js")

INLINE_CHARS = 200  # a string this short (one line) is shown inline
TEXT_CHARS = 5_000  # longer text is cut here
CONTAINER_ITEMS = 50  # items shown per dict, list, set...
CONTAINER_NODES = 1_000  # values shown per container preview, all levels together
CONTAINER_DEPTH = 4
FRAME_ROWS = 10
FRAME_COLUMNS = 20
IMAGE_BYTES = 2_000_000  # larger images are described, not embedded
THUMBNAIL_PIXELS = 1024  # PIL images are scaled down to this size first
CARD_PREVIEW_CHARS = 5_000_000  # past this, artifacts are listed without preview

_SOURCE_MAP = re.compile(r"//[#@] sourceMappingURL=\S*\s*$")
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


# -- the page ------------------------------------------------------------------------


@functools.cache
def static_text(name: str) -> str:
    """A file of ``static/`` as text (read once per process)."""
    return (STATIC / name).read_text(encoding="utf-8")


def _inline_script(source: str) -> str:
    """A script element of ``source``, which cannot end the element early."""
    source = _SOURCE_MAP.sub("", source.rstrip())
    source = _SCRIPT_END.sub(r"<\\/\1", source)
    return f"<script>{source}</script>"


@functools.lru_cache(maxsize=1)
def _chart_scripts() -> str:
    return "\n".join(_inline_script(static_text(name)) for name in CHART_SCRIPTS)


def card_page(title: str, body_html: str, *, charts: bool,
              refresh_token: str | None = None) -> str:
    """A complete HTML document around ``body_html``; ``charts`` inlines the chart
    scripts (``has_charts(body_html)`` tells whether the body needs them). A
    ``refresh_token`` is published as ``window.METAFLOW_RELOAD_TOKEN`` (as Metaflow's
    card viewer reads it) and as a ``flowtrack-reload-token`` meta tag."""
    head = ['<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="flowtrack cards">',
            '<link rel="icon" href="data:,">',  # no request for /favicon.ico
            f"<title>{escape(title)}</title>"]
    if refresh_token is not None:
        head.append(f'<meta name="flowtrack-reload-token" content="{escape(refresh_token)}">')
        head.append(f"<script>window.METAFLOW_RELOAD_TOKEN = {script_json(refresh_token)};"
                    "</script>")
    head.append(f"<style>\n{static_text('card.css')}</style>")
    scripts = f"\n{_chart_scripts()}\n" if charts else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n" + "\n".join(head) + "\n</head>\n"
            f'<body>\n<main class="ft-card">\n{body_html}\n</main>{scripts}\n</body>\n</html>\n')


def blank_card_body(components: Iterable[Any]) -> str:
    """The ``blank`` card: only the components the step appended."""
    return "\n".join(component_html(rendered) for rendered in components)


# -- the default card ------------------------------------------------------------------


@dataclass
class DefaultCardInput:
    """What the ``default`` card shows of one task.

    ``artifacts`` are ``(name, value)`` pairs in the order to show (names also in
    ``parameters`` are left out: they are shown as parameters); ``graph`` lists the
    flow's steps as dicts with ``name``, ``type`` and ``next`` (a list of step
    names); ``components`` are the rendered components the step appended.
    """

    pathspec: str
    flow_name: str
    step_name: str
    task_id: str
    attempt: int = 0
    started: datetime.datetime | None = None
    finished: datetime.datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: list[tuple[str, Any]] = field(default_factory=list)
    graph: list[dict[str, Any]] = field(default_factory=list)
    components: list[Any] = field(default_factory=list)


def default_card_body(info: DefaultCardInput) -> str:
    """The ``default`` card's body: task facts, the step's components, parameters,
    artifact previews and the DAG."""
    parts = [_task_header(info)]
    if info.components:
        parts.append(f'<section class="ft-section ft-components">'
                     f"{blank_card_body(info.components)}</section>")
    parts.append(_section("Parameters", _parameters_html(info.parameters)))
    shown = [(name, value) for name, value in info.artifacts if name not in info.parameters]
    parts.append(_section("Artifacts", _artifacts_html(shown)))
    if info.graph:
        parts.append(_section("DAG", dag_html(info.graph, info.step_name)))
    return "\n".join(parts)


def _section(title: str, inner: str) -> str:
    return (f'<section class="ft-section"><h2 class="ft-section-title">{escape(title)}</h2>'
            f'<div class="ft-section-body">{inner}</div></section>')


def _when(moment: datetime.datetime | None) -> str:
    return "—" if moment is None else moment.isoformat(sep=" ", timespec="seconds")


def _task_header(info: DefaultCardInput) -> str:
    facts = [("Flow", info.flow_name), ("Step", info.step_name), ("Task", info.task_id),
             ("Attempt", info.attempt), ("Started", _when(info.started)),
             ("Finished", _when(info.finished))]
    if info.started is not None and info.finished is not None:
        facts.append(("Duration", str(info.finished - info.started).split(".")[0]))
    items = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in facts)
    return (f'<header class="ft-head"><div class="ft-kind">Task card</div>'
            f'<h1>{escape(info.pathspec)}</h1><dl class="ft-facts">{items}</dl></header>')


def _parameters_html(parameters: dict[str, Any]) -> str:
    if not parameters:
        return '<p class="ft-muted">No parameters.</p>'
    rows = "".join(f"<tr><td>{escape(name)}</td><td>{value_preview(value)}</td></tr>"
                   for name, value in sorted(parameters.items()))
    return (f'<div class="ft-table-wrap"><table class="ft-table ft-params"><thead><tr>'
            f"<th>Name</th><th>Value</th></tr></thead><tbody>{rows}</tbody></table></div>")


def _artifacts_html(artifacts: list[tuple[str, Any]]) -> str:
    if not artifacts:
        return '<p class="ft-muted">No artifacts.</p>'
    budget = CARD_PREVIEW_CHARS
    parts = []
    for name, value in artifacts:
        if budget > 0:
            preview = value_preview(value)
            budget -= len(preview)
        else:
            preview = ('<p class="ft-note">Not previewed: the card reached its size '
                       "limit.</p>")
        parts.append(f'<div class="ft-artifact"><div class="ft-artifact-head">'
                     f'<span class="ft-name">{escape(name)}</span>'
                     f'<span class="ft-type">{escape(_type_name(value))}</span></div>'
                     f"{preview}</div>")
    return f'<div class="ft-artifact-list">{"".join(parts)}</div>'


def _type_name(value: Any) -> str:
    try:
        return full_classname(value)
    except Exception:  # noqa: BLE001 - a type name should not fail, but never fail the card
        return "object"


# -- value previews -------------------------------------------------------------------


def value_preview(value: Any) -> str:
    """A bounded HTML preview of any value; never raises."""
    try:
        return _preview(value)
    except Exception:  # noqa: BLE001 - an unprintable value shows its type only
        return _inline(f"<unprintable {type(value).__name__}>")


def _inline(text: str) -> str:
    return f'<code class="ft-inline">{escape(text)}</code>'


def _note(text: str) -> str:
    return f'<p class="ft-note">{escape(text)}</p>'


def _block(text: str, highlight: bool = True) -> str:
    cut = text[:TEXT_CHARS]
    body = highlighted_python(cut) if highlight else escape(cut)
    more = _note(f"First {TEXT_CHARS:,} of {len(text):,} characters.") \
        if len(text) > TEXT_CHARS else ""
    return f'<pre class="ft-code">{body}</pre>{more}'


def _preview(value: Any) -> str:
    value = native_scalar(value)
    if value is None or isinstance(value, (bool, float, complex)):
        return _inline(repr(value))
    if isinstance(value, int):
        return _inline(_int_text(value))
    if isinstance(value, str):
        return _string_preview(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_preview(value)
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return _container_preview(value)
    for matches, preview in _SPECIAL_PREVIEWS:
        if matches(value):
            return preview(value)
    text = safe_repr(value)
    return _inline(text) if len(text) <= INLINE_CHARS and "\n" not in text else _block(text)


def _int_text(value: int) -> str:
    if value.bit_length() > 3_000:  # str() of a huge int is slow (and limited to 4300 digits)
        return f"<int of about {int(value.bit_length() * math.log10(2)):,} digits>"
    return str(value)


def _string_preview(value: str) -> str:
    if len(value) <= INLINE_CHARS and "\n" not in value:
        return _inline(value)
    return _block(value, highlight=False)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{count:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count:,} bytes"


def _bytes_preview(value: bytes | bytearray | memoryview) -> str:
    size = value.nbytes if isinstance(value, memoryview) else len(value)
    kind = image_kind(bytes(value[:16]))
    if kind is not None and size <= IMAGE_BYTES:
        uri = image_data_uri(bytes(value))
        return component_html({"type": "image", "src": uri, "label": f"{kind.upper()} image, "
                               f"{_size(size)}"})
    what = f"{kind.upper()} image" if kind else type(value).__name__
    return _inline(f"{what}, {_size(size)}")


def _image_preview(png: bytes, label: str) -> str:
    if len(png) > IMAGE_BYTES:
        return _inline(f"{label}: PNG of {_size(len(png))}, too large to show")
    return component_html({"type": "image", "src": image_data_uri(png), "label": label})


class _ContainerHead:
    """A JSON-ready copy of the head of a nested container: at most
    ``CONTAINER_ITEMS`` items per container, ``CONTAINER_DEPTH`` levels and
    ``CONTAINER_NODES`` values in all; what is left out is counted in a marker."""

    def __init__(self) -> None:
        self.nodes_left = CONTAINER_NODES

    def copy(self, value: Any, depth: int) -> Any:
        self.nodes_left -= 1
        value = native_scalar(value)
        if isinstance(value, dict):
            return self._dict(value, depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            return self._sequence(value, depth)
        if isinstance(value, int) and not isinstance(value, bool):
            return value if value.bit_length() < 53 else _int_text(value)
        if value is None or isinstance(value, (bool, float)):
            return value if not isinstance(value, float) or math.isfinite(value) else repr(value)
        if isinstance(value, str):
            return value if len(value) <= INLINE_CHARS else value[:INLINE_CHARS] + "..."
        return cell_value(value)

    def _dict(self, value: dict[Any, Any], depth: int) -> Any:
        if depth <= 0 or self.nodes_left <= 0:
            return f"{{... {len(value):,} keys}}"
        head: dict[str, Any] = {}
        for key, item in itertools.islice(value.items(), CONTAINER_ITEMS):
            if self.nodes_left <= 0:
                break
            head[key if isinstance(key, str) else safe_repr(key)] = self.copy(item, depth - 1)
        if len(value) > len(head):
            head["..."] = f"{len(value) - len(head):,} more keys"
        return head

    def _sequence(self, value: Any, depth: int) -> Any:
        if depth <= 0 or self.nodes_left <= 0:
            return f"[... {len(value):,} items]"
        head = []
        for item in itertools.islice(value, CONTAINER_ITEMS):
            if self.nodes_left <= 0:
                break
            head.append(self.copy(item, depth - 1))
        if len(value) > len(head):
            head.append(f"... {len(value) - len(head):,} more items")
        return head


def compact_json(value: Any, indent: int = 0, width: int = 100) -> str:
    """Pretty JSON that keeps short containers on one line and wraps lists of
    scalars (``json.dumps(indent=...)`` would give every number its own line)."""
    flat = json.dumps(value, ensure_ascii=False, default=safe_repr)
    if len(flat) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(key, ensure_ascii=False)}: "
                 f"{compact_json(item, indent + 2, width).lstrip()}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if all(not isinstance(item, (dict, list)) for item in value):
        lines, line = [], pad
        for item in value:
            piece = json.dumps(item, ensure_ascii=False, default=safe_repr) + ", "
            if len(line) + len(piece) > width and line.strip():
                lines.append(line.rstrip())
                line = pad
            line += piece
        lines.append(line.rstrip().rstrip(","))
        return "[\n" + "\n".join(lines) + "\n" + " " * indent + "]"
    items = [pad + compact_json(item, indent + 2, width).lstrip() for item in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _container_preview(value: Any) -> str:
    head = _ContainerHead().copy(value, CONTAINER_DEPTH)
    text = compact_json(head)
    noun = "keys" if isinstance(value, dict) else "items"
    count = _note(f"{type(value).__name__} of {len(value):,} {noun}") if len(value) > 5 else ""
    return count + _block(text)


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series))


def _frame_preview(frame: Any) -> str:
    if not hasattr(frame, "columns"):  # a Series
        frame = frame.to_frame()
    rows, columns = frame.shape
    shown = frame.iloc[:FRAME_ROWS, :FRAME_COLUMNS]
    headers = [""] + [_label(column) for column in shown.columns]
    data = [[_frame_cell(_label(index) if isinstance(index, tuple) else index)]
            + [_frame_cell(cell) for cell in values]
            for index, values in zip(shown.index, shown.itertuples(index=False, name=None))]
    note = f"{rows:,} rows × {columns:,} columns"
    if rows > FRAME_ROWS or columns > FRAME_COLUMNS:
        note += f" (first {min(rows, FRAME_ROWS)} rows, {min(columns, FRAME_COLUMNS)} columns shown)"
    table = component_html({"type": "table", "columns": headers, "data": data})
    return _note(note) + table


def _frame_cell(value: Any) -> Any:
    """A frame cell as shown: floats to 6 significant digits, as pandas prints them."""
    value = cell_value(value)
    return float(f"{value:.6g}") if isinstance(value, float) else value


def _label(value: Any) -> str:
    text = " / ".join(str(part) for part in value) if isinstance(value, tuple) else str(value)
    return text[:INLINE_CHARS]


def _is_ndarray(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _ndarray_preview(array: Any) -> str:
    numpy = sys.modules["numpy"]
    shape = "×".join(f"{n:,}" for n in array.shape) or "scalar"
    note = _note(f"ndarray {shape}, dtype {array.dtype}")
    if array.dtype == object and array.size > 100:  # only a corner: object reprs can be big
        array = array[(slice(0, 3),) * array.ndim]
    try:
        with numpy.printoptions(threshold=100, edgeitems=3, linewidth=100):
            text = numpy.array2string(array)
    except Exception:  # noqa: BLE001 - an element that cannot be printed
        return note + _inline("<unprintable elements>")
    return note + _block(text, highlight=False)


def _is_figure(value: Any) -> bool:
    return "matplotlib" in type(value).__module__ and matplotlib_figure(value) is not None


def _figure_preview(value: Any) -> str:
    return _image_preview(figure_png(matplotlib_figure(value)), "matplotlib figure")


def _is_pil(value: Any) -> bool:
    pil_image = sys.modules.get("PIL.Image")
    return pil_image is not None and isinstance(value, pil_image.Image)


def _pil_preview(image: Any) -> str:
    label = f"{image.format or 'PIL'} image {image.width}×{image.height}, mode {image.mode}"
    if image.width > THUMBNAIL_PIXELS or image.height > THUMBNAIL_PIXELS:
        image = image.copy()
        image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
    return _image_preview(pil_png(image), label)


def _is_moment(value: Any) -> bool:
    return isinstance(value, (datetime.date, datetime.time, datetime.timedelta))


_SPECIAL_PREVIEWS = (
    (_is_moment, lambda value: _inline(str(value))),
    (_is_dataframe, _frame_preview),
    (_is_ndarray, _ndarray_preview),
    (_is_figure, _figure_preview),
    (_is_pil, _pil_preview),
)


# -- the DAG --------------------------------------------------------------------------


def dag_levels(graph: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The steps in rows: each step one row below the lowest of the steps that lead
    to it (steps of a cycle, if any, in a last row), in graph order within a row."""
    steps = {step["name"]: step for step in graph}
    parents: dict[str, list[str]] = {name: [] for name in steps}
    for step in graph:
        for child in step.get("next") or []:
            if child in parents and child != step["name"]:
                parents[child].append(step["name"])
    level: dict[str, int] = {}
    remaining = list(steps)
    while remaining:
        ready = [name for name in remaining if all(p in level for p in parents[name])]
        if not ready:
            break
        for name in ready:
            level[name] = max((level[p] + 1 for p in parents[name]), default=0)
        remaining = [name for name in remaining if name not in level]
    depth = max(level.values(), default=-1) + 1
    for name in remaining:
        level[name] = depth
    rows: list[list[dict[str, Any]]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name, step in steps.items():
        rows[level[name]].append(step)
    return rows


def dag_html(graph: list[dict[str, Any]], current_step: str | None = None) -> str:
    """The flow's DAG as rows of step boxes joined by arrows; ``current_step`` is
    highlighted. Plain HTML and CSS, no script."""
    rows = []
    for row in dag_levels(graph):
        rows.append('<div class="ft-dag-row">' + "".join(_step_box(step, current_step)
                                                          for step in row) + "</div>")
    arrow = '<div class="ft-dag-arrow" aria-hidden="true">↓</div>'
    return f'<div class="ft-dag" role="list">{arrow.join(rows)}</div>'


def _step_box(step: dict[str, Any], current_step: str | None) -> str:
    name = str(step.get("name"))
    current = name == current_step
    following = ", ".join(str(n) for n in step.get("next") or [])
    attrs = ' aria-current="step"' if current else ""
    return (f'<div class="ft-dag-step{" ft-current" if current else ""}" role="listitem"{attrs}>'
            f'<span class="ft-step-name">{escape(name)}</span>'
            f'<small>{escape(step.get("type") or "")}</small>'
            f'{f"<small>→ {escape(following)}</small>" if following else ""}</div>')


__all__ = ["DefaultCardInput", "blank_card_body", "card_page", "component_html",
           "dag_html", "default_card_body", "has_charts", "value_preview"]
