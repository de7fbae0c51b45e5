"""Rendered components to HTML: ``component_html`` turns what a component's
``render()`` returned into an HTML fragment of a card page.

A ``str`` is HTML already (custom components return HTML) and is inserted as is;
a dict of a built-in type is drawn by that type's function below; anything else is
shown as escaped text. Every piece of data is escaped: a component's text can never
add markup or scripts to the page (Markdown is rendered with raw HTML disabled).
Each fragment's root element carries ``data-component-id`` when the component has
an id, so a page can later swap a component's fragment in place.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from typing import Any

CHART_MARKER = "data-ft-vega-chart"
_CSS_CLASS = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*$")
_IMAGE_URI = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp|svg\+xml);base64,", re.IGNORECASE)
_markdown_renderer: Any = None


def escape(value: Any) -> str:
    """Any value as HTML-escaped text (quotes too: safe in attributes)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def script_json(value: Any) -> str:
    """JSON that can sit inside ``<script type="application/json">`` without ending
    it or opening an HTML comment (``<``, ``>`` and ``&`` are \\u-escaped)."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def component_html(rendered: Any) -> str:
    """One rendered component as an HTML fragment."""
    if isinstance(rendered, str):
        return rendered
    if isinstance(rendered, dict):
        draw = _DRAWERS.get(rendered.get("type"))  # type: ignore[arg-type]
        if draw is not None:
            try:
                return draw(rendered)
            except Exception as exc:  # noqa: BLE001 - a malformed dict must not break the page
                return _error_box("Component could not be shown", repr(exc), "", rendered)
    return f'<pre class="ft-unknown">{escape(_as_text(rendered))}</pre>'


def _as_text(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _id_attr(rendered: dict[str, Any]) -> str:
    component_id = rendered.get("id")
    return "" if component_id is None else f' data-component-id="{escape(component_id)}"'


def _optional(tag: str, css: str, value: Any) -> str:
    return "" if value in (None, "") else f'<{tag} class="{css}">{escape(value)}</{tag}>'


# -- one function per component type ---------------------------------------------------


def markdown_html(source: str) -> str:
    """Markdown (CommonMark with tables and strikethrough) as HTML, raw HTML in the
    source shown as text."""
    global _markdown_renderer
    if _markdown_renderer is None:
        try:
            from markdown_it import MarkdownIt
        except ImportError:  # markdown-it-py comes with rich; if it is missing, show text
            return f'<pre class="ft-text">{escape(source)}</pre>'
        _markdown_renderer = MarkdownIt("commonmark", {"html": False}).enable(
            ["table", "strikethrough"])
    return str(_markdown_renderer.render(source))


def _markdown(rendered: dict[str, Any]) -> str:
    source = rendered.get("source") or ""
    return f'<div class="ft-markdown"{_id_attr(rendered)}>{markdown_html(str(source))}</div>'


def highlighted_python(code: str) -> str:
    """Python code (or a repr) as HTML with pygments' token classes (escaped text
    when pygments is missing)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return escape(code)
    return str(highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))).rstrip("\n")


def _python_code(rendered: dict[str, Any]) -> str:
    code = highlighted_python(str(rendered.get("data") or ""))
    return f'<pre class="ft-code"{_id_attr(rendered)}>{code}</pre>'


def _cell_html(cell: Any) -> str:
    if isinstance(cell, dict) and cell.get("type") in _DRAWERS:
        return component_html(cell)
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, (int, float)):
        return f'<span class="ft-num">{escape(cell)}</span>'
    if isinstance(cell, (dict, list, tuple)):
        return f"<code>{escape(json.dumps(cell, default=repr))}</code>"
    return escape(cell)


def _table(rendered: dict[str, Any]) -> str:
    columns = list(rendered.get("columns") or [])
    rows = [row for row in rendered.get("data") or [] if isinstance(row, list) and row]
    parts = [f'<div class="ft-table-wrap"{_id_attr(rendered)}><table class="ft-table">']
    if rendered.get("vertical"):  # one column of headers, one of values per row
        for index, header in enumerate(columns):
            values = "".join(f"<td>{_cell_html(row[index])}</td>" for row in rows
                             if index < len(row))
            parts.append(f"<tr><th>{escape(header)}</th>{values}</tr>")
    else:
        if columns:
            parts.append("<thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns)
                         + "</tr></thead>")
        parts.append("<tbody>")
        parts.extend("<tr>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>"
                     for row in rows)
        parts.append("</tbody>")
    parts.append("</table>")
    truncated = rendered.get("truncated")
    if isinstance(truncated, dict) and truncated.get("rows") is not None:
        parts.append(f'<p class="ft-note">First {len(rows)} of {escape(truncated["rows"])} '
                     "rows.</p>")
    parts.append("</div>")
    return "".join(parts)


def _image(rendered: dict[str, Any]) -> str:
    src = str(rendered.get("src") or "").strip()
    label = rendered.get("label")
    if not _IMAGE_URI.match(src):
        return _error_box("Image not shown", "Its source is not a data:image URI.", "",
                          rendered)
    caption = _optional("figcaption", "ft-caption", label)
    alt = escape(label or "image")
    return (f'<figure class="ft-image"{_id_attr(rendered)}><img src="{escape(src)}" '
            f'alt="{alt}">{caption}</figure>')


def _artifacts(rendered: dict[str, Any]) -> str:
    items = rendered.get("data") or []
    parts = [f'<div class="ft-artifacts"{_id_attr(rendered)}>']
    for item in items if isinstance(items, list) else [items]:
        item = item if isinstance(item, dict) else {"data": item}
        data = item.get("data")
        text = data if isinstance(data, str) else _as_text(data)
        head = _optional("span", "ft-name", item.get("name")) \
            + _optional("span", "ft-type", item.get("type"))
        parts.append(f'<div class="ft-artifact">{f"<div>{head}</div>" if head else ""}'
                     f'<pre class="ft-code">{highlighted_python(text)}</pre></div>')
    parts.append("</div>")
    return "".join(parts)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _progress_bar(rendered: dict[str, Any]) -> str:
    value, maximum = rendered.get("value"), rendered.get("max")
    numeric_value, numeric_max = _number(value), _number(maximum)
    attrs = ""
    if numeric_value is not None and numeric_max is not None and numeric_max > 0:
        attrs = f' max="{numeric_max:g}" value="{min(max(numeric_value, 0), numeric_max):g}"'
    unit = rendered.get("unit")
    amount = f"{escape(value)} / {escape(maximum)}" + (f" {escape(unit)}" if unit else "")
    return (f'<div class="ft-progress"{_id_attr(rendered)}>'
            f'{_optional("div", "ft-label", rendered.get("label"))}'
            f'<div class="ft-progress-row"><progress{attrs}></progress>'
            f'<span class="ft-amount">{amount}</span></div>'
            f'{_optional("div", "ft-details", rendered.get("details"))}</div>')


def _value_box(rendered: dict[str, Any]) -> str:
    theme = str(rendered.get("theme") or "default")
    theme = theme if _CSS_CLASS.match(theme) else "default"
    return (f'<div class="ft-valuebox ft-theme-{theme}"{_id_attr(rendered)}>'
            f'{_optional("div", "ft-title", rendered.get("title"))}'
            f'<div class="ft-value">{escape(rendered.get("value", ""))}</div>'
            f'{_optional("div", "ft-subtitle", rendered.get("subtitle"))}'
            f'{_optional("div", "ft-change", rendered.get("change_indicator"))}</div>')


def _vega_chart(rendered: dict[str, Any]) -> str:
    chart = {"spec": rendered.get("spec") or {}, "options": rendered.get("options") or {}}
    return (f'<div class="ft-chart"{_id_attr(rendered)} {CHART_MARKER}>'
            '<div class="ft-chart-target"></div>'
            f'<script type="application/json" class="ft-vega-spec">{script_json(chart)}</script>'
            "</div>")


def _error_box(title: Any, message: Any, tb: Any, rendered: dict[str, Any]) -> str:
    details = ""
    if tb:
        details = (f'<details><summary>Traceback</summary><pre class="ft-traceback">'
                   f"{escape(tb)}</pre></details>")
    return (f'<div class="ft-error" role="alert"{_id_attr(rendered)}>'
            f'<div class="ft-error-title">{escape(title or "Error")}</div>'
            f'{_optional("pre", "ft-error-message", message)}{details}</div>')


def _error(rendered: dict[str, Any]) -> str:
    return _error_box(rendered.get("title"), rendered.get("message"),
                      rendered.get("traceback"), rendered)


def _log(rendered: dict[str, Any]) -> str:
    return f'<pre class="ft-log"{_id_attr(rendered)}>{escape(rendered.get("data") or "")}</pre>'


def _html(rendered: dict[str, Any]) -> str:  # a custom component's HTML (in a table cell)
    return str(rendered.get("data") or "")


def _text(rendered: dict[str, Any]) -> str:
    return f'<p class="ft-text"{_id_attr(rendered)}>{escape(rendered.get("text") or "")}</p>'


def _title(rendered: dict[str, Any]) -> str:
    return f'<h2{_id_attr(rendered)}>{escape(rendered.get("text") or "")}</h2>'


def _subtitle(rendered: dict[str, Any]) -> str:
    return f'<h3{_id_attr(rendered)}>{escape(rendered.get("text") or "")}</h3>'


def _section(rendered: dict[str, Any]) -> str:
    contents = rendered.get("contents") or []
    inner = "".join(component_html(c) for c in contents if isinstance(c, (str, dict)))
    columns = rendered.get("columns")
    grid = ""
    if isinstance(columns, int) and not isinstance(columns, bool) and 1 < columns <= 12:
        grid = f' style="grid-template-columns: repeat({columns}, minmax(0, 1fr))"'
    return (f'<section class="ft-section"{_id_attr(rendered)}>'
            f'{_optional("h2", "ft-section-title", rendered.get("title"))}'
            f'{_optional("p", "ft-subtitle", rendered.get("subtitle"))}'
            f'<div class="ft-section-body{" ft-grid" if grid else ""}"{grid}>{inner}</div>'
            "</section>")


_DRAWERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "markdown": _markdown,
    "table": _table,
    "image": _image,
    "artifacts": _artifacts,
    "progressBar": _progress_bar,
    "valueBox": _value_box,
    "vegaChart": _vega_chart,
    "error": _error,
    "log": _log,
    "pythonCode": _python_code,
    "html": _html,
    "text": _text,
    "title": _title,
    "subtitle": _subtitle,
    "section": _section,
    "page": _section,
}


def has_charts(body_html: str) -> bool:
    """True when the HTML holds a Vega chart (the page then needs the chart scripts)."""
    return CHART_MARKER in body_html
