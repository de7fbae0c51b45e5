"""The built-in card components: what a step appends to ``current.card``.

Each component keeps the name, constructor, class methods and ``update()`` of its
Metaflow counterpart (``from metaflow.cards import Markdown`` becomes ``from
flowtrack.cards import Markdown``). ``render()`` returns a JSON-serialisable dict
``{"type": ..., "id": ..., ...}``; ``flowtrack.cards._component_html`` turns such a
dict into HTML. A component gets its ``component_id`` on first render when it was
given none.

Rendering never raises: a component whose data cannot be shown (an image that is not
an image, a chart spec that is not JSON...) renders as an ``error`` dict, shown in
the card as an error box, so a bad card never fails the step that made it. The
optional libraries (pandas, numpy, PIL, matplotlib, altair) are never imported here:
an object of theirs is recognised through the modules its user already imported.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import functools
import inspect
import io
import json
import math
import pprint
import re
import reprlib
import sys
import textwrap
import traceback
from collections.abc import Callable
from typing import Any

from ._card_types import MetaflowCardComponent, create_component_id

# Table.from_dataframe(truncate=True) shows the frame's first rows, as Metaflow does.
DATAFRAME_HEAD_ROWS = 5
CELL_CHARS = 200
ERROR_MESSAGE_CHARS = 20_000
IMAGE_FAIL = "[IMAGE_RENDER FAIL]: "

_CSS_CLASS = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*$")
_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


# -- shared helpers --------------------------------------------------------------


class _BoundedRepr(reprlib.Repr):
    """``reprlib.Repr`` showing an object whose ``repr`` fails as ``<unprintable T>``."""

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:  # noqa: BLE001 - an unprintable value shows its type only
            return f"<unprintable {type(x).__name__}>"
        if len(text) > self.maxother:
            keep = max(0, (self.maxother - 3) // 2)
            return text[:keep] + "..." + text[len(text) - (self.maxother - 3 - keep):]
        return text


def _short_repr(items: int, chars: int, levels: int) -> reprlib.Repr:
    """A ``reprlib.Repr`` showing at most ``items`` items per container, ``chars``
    characters per string or other object, ``levels`` levels deep."""
    shown = _BoundedRepr()
    shown.maxlevel = levels
    for name in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset",
                 "maxdeque"):
        setattr(shown, name, items)
    shown.maxstring = shown.maxother = chars
    shown.maxlong = max(chars, 40)
    return shown


# Artifact(compressed=True) shows what Metaflow's does (100 items, 3 levels);
# compressed=False shows much more, still bounded: the object stays in memory.
_COMPRESSED = _short_repr(100, 100, 3)
_UNCOMPRESSED = _short_repr(1_000, 10_000, 4)
PRETTY_TEXT_CHARS = 1_000_000
_PPRINT_BELOW_CHARS = 20_000


def safe_repr(value: Any, compressed: bool = True) -> str:
    """The value's short repr, or ``<unprintable TypeName>`` when its repr fails."""
    try:
        return (_COMPRESSED if compressed else _UNCOMPRESSED).repr(value)
    except Exception:  # noqa: BLE001 - an unprintable value shows its type only
        return f"<unprintable {type(value).__name__}>"


def full_classname(value: Any) -> str:
    """``module.QualName`` of the value's class (builtins: just the name)."""
    cls = type(value)
    module = getattr(cls, "__module__", None)
    if module in (None, "builtins", "__builtin__"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def error_dict(title: str, message: str = "", tb: str = "", component_id: str | None = None
               ) -> dict[str, Any]:
    """The rendered form of an error: a title, a message and an optional traceback."""
    rendered: dict[str, Any] = {"type": "error", "title": title,
                                "message": message[:ERROR_MESSAGE_CHARS],
                                "traceback": tb[-ERROR_MESSAGE_CHARS:]}
    if component_id is not None:
        rendered["id"] = component_id
    return rendered


def _warn(component: MetaflowCardComponent, message: str) -> None:
    """Tell the step's log (once per component) through the logger the card runtime
    sets on ``_logger``; without one, stay silent."""
    logger = component._logger
    if logger is None or getattr(component, "_warned_once", False):
        return
    component._warned_once = True  # type: ignore[attr-defined]
    text = f"[@card-component WARNING] {message}"
    try:
        logger(text, timestamp=False, bad=True)
    except TypeError:
        logger(text)
    except Exception:  # noqa: BLE001 - a broken logger must not fail the step
        pass


def _safe_render(render: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a component's ``render``: give the component an id, and turn any failure
    (or a result that is not strict JSON) into an ``error`` dict."""

    @functools.wraps(render)
    def wrapper(self: MetaflowCardComponent) -> Any:
        if self.component_id is None:
            self.component_id = create_component_id(self)
        title = f"Render failed of component named `{type(self).__name__}`"
        try:
            rendered = render(self)
        except Exception as exc:  # noqa: BLE001 - a bad component must not fail the step
            return error_dict(title, repr(exc), traceback.format_exc(), self.component_id)
        try:
            json.dumps(rendered, allow_nan=False)
        except (TypeError, ValueError, OverflowError) as exc:
            return error_dict(title, f"The rendered component is not JSON serialisable: {exc}",
                              component_id=self.component_id)
        return rendered

    return wrapper


def native_scalar(value: Any) -> Any:
    """A numpy number as the matching Python number; anything else unchanged."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.integer, numpy.floating, numpy.bool_)):
        return value.item()
    return value


def cell_value(value: Any) -> Any:
    """A plain table cell (no component) as a JSON value: numbers, strings, booleans
    and None as they are; dicts and lists as JSON text; non-finite floats and other
    objects as short text."""
    value = native_scalar(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= CELL_CHARS else value[:CELL_CHARS] + "..."
    if isinstance(value, (dict, list, tuple)):  # as JSON text: never taken for a component
        try:
            text = json.dumps(value, allow_nan=False, default=safe_repr)
        except (TypeError, ValueError, OverflowError, RecursionError):
            text = safe_repr(value)
        return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "..."
    if isinstance(value, _STR_SHOWN) or _is_numpy_scalar(value):
        return str(value)[:CELL_CHARS]
    return safe_repr(value)[:CELL_CHARS]


# values shown by their str() in a table cell: dates, times, durations, decimals
# (pandas' Timestamp and Timedelta are subclasses)
_STR_SHOWN = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal)


def _is_numpy_scalar(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.generic)


def pretty_text(value: Any, compressed: bool = True) -> str:
    """A readable, size-bounded text of any object: pretty-printed when its short
    repr is complete, else the short repr (``...`` marks what was left out)."""
    shown = safe_repr(value, compressed)
    if "..." in shown or len(shown) > _PPRINT_BELOW_CHARS or shown.startswith("<unprintable"):
        return _cut(shown, PRETTY_TEXT_CHARS)
    try:
        return _cut(pprint.pformat(value, indent=1, width=60, compact=True), PRETTY_TEXT_CHARS)
    except Exception:  # noqa: BLE001 - fall back to the short repr
        return shown


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


# -- images -----------------------------------------------------------------------


def image_kind(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``gif`` or ``webp`` when the bytes start like such an image."""
    head = bytes(data[:16])
    for signature, kind in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def image_data_uri(data: bytes) -> str | None:
    """A ``data:image/...;base64,`` URI of web-image bytes (None: not such an image)."""
    kind = image_kind(data)
    if kind is None:
        return None
    return f"data:image/{kind};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


def matplotlib_figure(plot: Any) -> Any:
    """The matplotlib ``Figure`` of a figure, an ``Axes`` or an array of axes (None:
    not a matplotlib object)."""
    figure_module = sys.modules.get("matplotlib.figure")
    if figure_module is None:
        return None
    if isinstance(plot, figure_module.Figure):
        return plot
    if hasattr(plot, "flat") and not hasattr(plot, "get_figure"):  # an array of axes
        plot = next(iter(plot.flat), None)
    get_figure = getattr(plot, "get_figure", None)
    if get_figure is None:
        return None
    figure = get_figure()
    for _ in range(20):  # a SubFigure: up to its root figure
        if figure is None or isinstance(figure, figure_module.Figure):
            return figure
        figure = figure.get_figure()
    return None


def figure_png(figure: Any, close: bool = False) -> bytes:
    """PNG bytes of a matplotlib figure; with ``close``, the figure is then closed in
    pyplot (when pyplot is in use), so figures made in a loop do not pile up."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot = sys.modules.get("matplotlib.pyplot")
    if close and pyplot is not None:
        pyplot.close(figure)
    return buffer.getvalue()


def pil_png(image: Any) -> bytes:
    """PNG bytes of a PIL image (modes PNG cannot hold are converted to RGBA)."""
    buffer = io.BytesIO()
    try:
        image.save(buffer, format="PNG")
    except (OSError, ValueError, KeyError):
        buffer = io.BytesIO()
        image.convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _is_pil_image(value: Any) -> bool:
    pil_image = sys.modules.get("PIL.Image")
    return pil_image is not None and isinstance(value, pil_image.Image)


# -- components ------------------------------------------------------------------


class UserComponent(MetaflowCardComponent):
    """Base of the built-in components: ``update()`` of a component that cannot be
    updated warns in the step's log instead of failing."""

    _warned_once = False

    def update(self, *args: Any, **kwargs: Any) -> None:
        _warn(self, f"`{type(self).__name__}` has no `update` method: it cannot be "
                    "updated while the step runs.")


class Markdown(UserComponent):
    """A block of Markdown text; an indented multi-line string is dedented."""

    type = "markdown"
    REALTIME_UPDATABLE = True

    def __init__(self, text: str | None = None) -> None:
        self._text = _dedent(text)

    def update(self, text: str | None = None) -> None:
        self._text = _dedent(text)

    @_safe_render
    def render(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.component_id, "source": self._text}


def _dedent(text: str | None) -> str | None:
    return None if text is None else textwrap.dedent(text)


class Table(UserComponent):
    """A table of text, numbers or other components (``Artifact``, ``Image``,
    ``Markdown``...); ``Table.from_dataframe`` makes one of a pandas DataFrame.

    A table cannot be updated as a whole; the components in its cells can.
    """

    type = "table"
    REALTIME_UPDATABLE = True

    def __init__(self, data: list[list[Any]] | None = None, headers: list[str] | None = None,
                 disable_updates: bool = False) -> None:
        data = data or [[]]
        headers = headers or []
        self._headers: list[Any] = headers if isinstance(headers, list) else []
        rows_ok = isinstance(data, list) and bool(data) and isinstance(data[0], list)
        self._data: list[list[Any]] = data if rows_ok else [[]]
        self._truncated: dict[str, int] | None = None
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    def update(self, *args: Any, **kwargs: Any) -> None:
        _warn(self, "`Table` cannot be updated as a whole; update the components in its "
                    "cells instead.")

    @classmethod
    def from_dataframe(cls, dataframe: Any = None, truncate: bool = True) -> Table:
        """A table of a pandas DataFrame (its index as the first column); with
        ``truncate``, only the first rows."""
        pandas = sys.modules.get("pandas")
        if pandas is None or not isinstance(dataframe, pandas.DataFrame):
            return cls(headers=[f"Object type {full_classname(dataframe)} not supported"],
                       disable_updates=True)
        shown = dataframe.head(DATAFRAME_HEAD_ROWS) if truncate else dataframe
        headers = [""] + [_label(column) for column in dataframe.columns]
        rows = [[cell_value(_label(index) if isinstance(index, tuple) else index)]
                + [cell_value(value) for value in values]
                for index, values in zip(shown.index, shown.itertuples(index=False, name=None))]
        table = cls(data=rows or [[]], headers=headers, disable_updates=True)
        if len(shown) < len(dataframe):
            table._truncated = {"rows": len(dataframe), "columns": len(dataframe.columns)}
        return table

    def _render_cell(self, cell: Any) -> Any:
        if isinstance(cell, VegaChart):
            cell._chart_inside_table = True
        if not isinstance(cell, MetaflowCardComponent):
            return cell_value(cell)
        rendered = cell.render()
        if isinstance(rendered, str):  # a custom component's HTML
            return {"type": "html", "data": rendered}
        if isinstance(rendered, dict):
            return rendered
        return error_dict(f"Render failed of component named `{type(cell).__name__}`",
                          "Component render didn't return a string or dict")

    @_safe_render
    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "type": self.type, "id": self.component_id,
            "columns": [cell_value(header) for header in self._headers],
            "data": [[self._render_cell(cell) for cell in row] for row in self._data],
            "vertical": False,
        }
        if self._truncated is not None:
            rendered["truncated"] = self._truncated
        return rendered


def _label(value: Any) -> str:
    """A column or index label as text (a tuple of a MultiIndex joined by ``/``)."""
    if isinstance(value, tuple):
        return " / ".join(str(part) for part in value)
    return str(value)


class Image(UserComponent):
    """An image embedded in the card: PNG, JPEG, GIF or WebP bytes, or a
    ``data:image/...`` URI (``from_pil_image`` and ``from_matplotlib`` make one of a
    PIL image or a matplotlib figure). Bad input renders as an error, never raises."""

    type = "image"
    REALTIME_UPDATABLE = True

    def __init__(self, src: Any = None, label: str | None = None,
                 disable_updates: bool = True) -> None:
        if disable_updates:
            self.REALTIME_UPDATABLE = False
        self._label = label
        self._src: str | None = None
        self._error: dict[str, Any] | None = None
        self._set_source(src)

    @staticmethod
    def render_fail_headline(message: str) -> str:
        return IMAGE_FAIL + message

    def _fail(self, headline: str, message: str = "", tb: str = "") -> None:
        self._src = None
        self._error = error_dict(self.render_fail_headline(headline), message, tb)

    def _set_source(self, src: Any) -> None:
        """Take ``src`` (bytes, data URI, PIL image or matplotlib figure/axes)."""
        self._src, self._error = None, None
        try:
            self._src = self._source_uri(src)
        except Exception as exc:  # noqa: BLE001 - shown in the card instead
            self._fail("Image is not parsable", repr(exc), traceback.format_exc())

    def _source_uri(self, src: Any) -> str | None:
        if src is None:
            self._fail("`Image` Component `src` cannot be `None`")
            return None
        if isinstance(src, str):
            if src.strip().startswith("data:image/"):
                return src.strip()
            self._fail("The `Image` `src` argument should be of type `bytes` or a valid "
                       "image base64 string", f"String {src[:200]!r} is not a data:image URI")
            return None
        if isinstance(src, (bytes, bytearray, memoryview)):
            uri = image_data_uri(bytes(src))
            if uri is None:
                self._fail("Bytes not parsable as image",
                           "Supported formats: PNG, JPEG, GIF and WebP")
            return uri
        if _is_pil_image(src):
            return image_data_uri(pil_png(src))
        figure = matplotlib_figure(src)
        if figure is not None:
            return image_data_uri(figure_png(figure, close=True))
        self._fail(f"Invalid type. Object of type {full_classname(src)} is not supported",
                   "Supported types: str (data:image URI), bytes, PIL.Image.Image, "
                   "matplotlib.figure.Figure, matplotlib.axes.Axes")
        return None

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None,
                       disable_updates: bool = False) -> Image:
        """An image of a PIL image (as PNG)."""
        image = cls(src=b"", label=label, disable_updates=disable_updates)
        if not _is_pil_image(pilimage):
            image._fail("first argument for `Image` should be of type PIL.Image.Image",
                        f"Type of {full_classname(pilimage)} is invalid")
            return image
        image._set_source(pilimage)
        return image

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None,
                        disable_updates: bool = False) -> Image:
        """An image (PNG) of a matplotlib figure, axes or array of axes; the figure
        is closed in pyplot afterwards, as Metaflow does."""
        image = cls(src=b"", label=label, disable_updates=disable_updates)
        try:
            figure = matplotlib_figure(plot)
        except Exception as exc:  # noqa: BLE001 - shown in the card instead
            image._fail("Matplotlib plot's image is not parsable", repr(exc),
                        traceback.format_exc())
            return image
        if figure is None:
            image._fail(f"Invalid Type. Object {full_classname(plot)} is not from `matplotlib`")
            return image
        image._set_source(figure)
        return image

    def update(self, image: Any, label: str | None = None) -> None:
        """Replace the image (any source the constructor takes, PIL images and
        matplotlib figures included) and, if given, its label."""
        if not self.REALTIME_UPDATABLE:
            _warn(self, "This `Image` cannot be updated: create it with "
                        "`disable_updates=False` to update it while the step runs.")
            return
        if label is not None:
            self._label = label
        self._set_source(image)

    @_safe_render
    def render(self) -> dict[str, Any]:
        if self._error is not None:
            return {**self._error, "id": self.component_id}
        if self._src is None:
            return error_dict(self.render_fail_headline("`Image` Component `src` is `None`"),
                              component_id=self.component_id)
        return {"type": self.type, "id": self.component_id, "src": self._src,
                "label": self._label}


class Artifact(UserComponent):
    """A pretty-printed Python object; with ``compressed`` (the default) large
    objects are shortened the ``reprlib`` way."""

    type = "artifacts"
    REALTIME_UPDATABLE = True

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self._artifact = artifact
        self._name = name
        self._compressed = compressed

    def update(self, artifact: Any) -> None:
        self._artifact = artifact

    @_safe_render
    def render(self) -> dict[str, Any]:
        item = {"name": None if self._name is None else str(self._name),
                "type": full_classname(self._artifact),
                "data": pretty_text(self._artifact, self._compressed)}
        return {"type": self.type, "id": self.component_id, "data": [item]}


class Error(UserComponent):
    """An exception shown in the card: its title, repr and (when it was raised)
    traceback."""

    type = "error"

    def __init__(self, exception: Any, title: str | None = None) -> None:
        self._exception = exception
        self._title = title

    @_safe_render
    def render(self) -> dict[str, Any]:
        tb = ""
        if isinstance(self._exception, BaseException) and self._exception.__traceback__:
            tb = "".join(traceback.format_exception(
                type(self._exception), self._exception, self._exception.__traceback__))
        title = "Error" if self._title is None else str(self._title)
        return error_dict(title, safe_repr(self._exception), tb, self.component_id)


class VegaChart(UserComponent):
    """A Vega or Vega-Lite chart, from a spec dict or (``from_altair_chart``) an
    Altair chart; drawn in the card by the bundled vega-embed, offline."""

    type = "vegaChart"
    REALTIME_UPDATABLE = True

    def __init__(self, spec: Any, show_controls: bool = False) -> None:
        self._spec = spec.to_dict() if _is_altair_chart(spec) else spec
        self._show_controls = show_controls
        self._chart_inside_table = False

    def update(self, spec: Any = None) -> None:
        """Replace the chart by a new spec dict or Altair chart (None: keep it)."""
        if _is_altair_chart(spec):
            spec = spec.to_dict()
        if spec is not None:
            self._spec = spec

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        if not _is_altair_chart(altair_chart):
            raise ValueError(f"{full_classname(altair_chart)} is not an altair chart")
        return cls(spec=altair_chart.to_dict())

    @_safe_render
    def render(self) -> dict[str, Any]:
        if not isinstance(self._spec, dict):
            raise TypeError(f"a chart spec must be a dict, not {full_classname(self._spec)}")
        spec = dict(self._spec)
        if self._chart_inside_table:
            spec.setdefault("autosize", "fit-x")
        else:
            spec.setdefault("width", "container")
        rendered: dict[str, Any] = {"type": self.type, "id": self.component_id, "spec": spec}
        if not self._show_controls:
            rendered["options"] = {"actions": False}
        return rendered


def _is_altair_chart(value: Any) -> bool:
    """True for Altair chart objects (``Chart``, ``LayerChart``, ``HConcatChart``...)."""
    cls = type(value)
    return (cls.__module__.startswith("altair") and cls.__name__.endswith("Chart")
            and hasattr(value, "to_dict"))


class ProgressBar(UserComponent):
    """A progress bar with a label, a unit and a line of details (``metadata``)."""

    type = "progressBar"
    REALTIME_UPDATABLE = True

    def __init__(self, max: int = 100, label: str | None = None, value: int = 0,
                 unit: str | None = None, metadata: str | None = None) -> None:
        self._max = max
        self._label = label
        self._value = value
        self._unit = unit
        self._metadata = metadata

    def update(self, new_value: int, metadata: str | None = None) -> None:
        self._value = new_value
        if metadata is not None:
            self._metadata = metadata

    @_safe_render
    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"type": self.type, "id": self.component_id,
                                    "max": native_scalar(self._max),
                                    "value": native_scalar(self._value)}
        if self._label:
            rendered["label"] = self._label
        if self._unit:
            rendered["unit"] = self._unit
        if self._metadata:
            rendered["details"] = self._metadata
        return rendered


class ValueBox(UserComponent):
    """A key figure: a prominent value with an optional title, subtitle, theme
    (``default``, ``success``, ``warning``, ``danger``, ``bg-gradient-indigo-purple``
    or any CSS class name) and change indicator. Invalid arguments raise
    ``TypeError``/``ValueError`` at once, as in Metaflow."""

    type = "valueBox"
    REALTIME_UPDATABLE = True
    VALID_THEMES = {"default", "success", "warning", "danger", "bg-gradient-indigo-purple"}

    def __init__(self, title: str | None = None, value: str | int | float = "",
                 subtitle: str | None = None, theme: str | None = None,
                 change_indicator: str | None = None) -> None:
        self._fields: dict[str, Any] = {}
        self._set(title=title, value=value, subtitle=subtitle, theme=theme,
                  change_indicator=change_indicator, keep_none=True)

    def update(self, title: str | None = None, value: str | int | float | None = None,
               subtitle: str | None = None, theme: str | None = None,
               change_indicator: str | None = None) -> None:
        """Change the given fields (None: keep the field as it is)."""
        self._set(title=title, value=value, subtitle=subtitle, theme=theme,
                  change_indicator=change_indicator, keep_none=False)

    def _set(self, keep_none: bool, **fields: Any) -> None:
        for name, field_value in fields.items():
            if field_value is None and not keep_none:
                continue
            if name == "value":
                _check_value(field_value)
            elif field_value is not None:
                _check_text(name, field_value, _TEXT_LIMITS[name])
                if name == "theme" and field_value not in self.VALID_THEMES \
                        and not _CSS_CLASS.match(field_value):
                    raise ValueError(f"Theme must be a valid CSS class name, got {field_value!r}")
        for name, field_value in fields.items():
            if field_value is not None or keep_none:
                self._fields[name] = field_value

    @_safe_render
    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"type": self.type, "id": self.component_id,
                                    "value": self._fields["value"]}
        for name in ("title", "subtitle", "theme", "change_indicator"):
            if self._fields.get(name) is not None:
                rendered[name] = self._fields[name]
        return rendered


_TEXT_LIMITS: dict[str, int | None] = {"title": 200, "subtitle": 300, "theme": None,
                                       "change_indicator": 200}


def _check_text(name: str, text: Any, limit: int | None) -> None:
    label = name.replace("_", " ").capitalize()
    if not isinstance(text, str):
        raise TypeError(f"{label} must be a string, got {type(text).__name__}")
    if limit is not None and len(text) > limit:
        raise ValueError(f"{label} must be {limit} characters or less, got {len(text)} characters")
    if not text.strip():
        raise ValueError(f"{label} cannot be empty or whitespace only")


def _check_value(value: Any) -> None:
    if value is None:
        raise ValueError("Value is required and cannot be None")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"Value must be str, int, or float, got {type(value).__name__}")
    if isinstance(value, str):
        if len(value) > 100:
            raise ValueError(f"String value must be 100 characters or less, got {len(value)} "
                             "characters")
        if not value.strip():
            raise ValueError("String value cannot be empty or whitespace only")
    elif not -1e15 <= value <= 1e15:
        raise ValueError(f"Numeric value must be between -1e15 and 1e15, got {value}")


class PythonCode(UserComponent):
    """Python source shown with syntax highlighting: a function's (``code_func``) or
    a string (``code_string``)."""

    type = "pythonCode"

    def __init__(self, code_func: Callable[..., Any] | None = None,
                 code_string: str | None = None) -> None:
        self._code: str | None = code_string
        self._source_error: str | None = None
        if code_func is not None:
            try:
                self._code = textwrap.dedent(inspect.getsource(code_func))
            except (OSError, TypeError) as exc:
                self._source_error = f"The source of {code_func!r} is not available: {exc}"

    @_safe_render
    def render(self) -> dict[str, Any]:
        if self._source_error is not None:
            return error_dict("`PythonCode` cannot show its function", self._source_error,
                              component_id=self.component_id)
        if self._code is None:
            return error_dict("`PythonCode` component requires a `code_func` or "
                              "`code_string` argument.", "None provided for both",
                              component_id=self.component_id)
        return {"type": self.type, "id": self.component_id, "data": self._code}


__all__ = ["Artifact", "Error", "Image", "Markdown", "ProgressBar", "PythonCode", "Table",
           "UserComponent", "ValueBox", "VegaChart"]
