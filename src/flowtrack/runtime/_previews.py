"""Rich previews of the values a task writes, made in the task's own process (where
the value is at hand), so the UI can show them without ever loading a value:

* a pandas DataFrame or a one- or two-dimensional numpy array: its shape and its first
  rows as a small table of strings;
* a matplotlib figure, or bytes holding a PNG, JPEG or GIF image: the image, kept as
  raw bytes in the blob store (PNG for a figure).

Only libraries the step already imported are consulted, and a preview that fails
is simply not made: a preview must never fail a task.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from ..store import BlobStore

TABLE_ROWS, TABLE_COLUMNS, CELL_CHARS = 20, 20, 60
IMAGE_LIMIT = 5 * 1024 * 1024
_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg",
          b"GIF87a": "image/gif", b"GIF89a": "image/gif"}


def rich_preview(value: Any, store: BlobStore) -> dict[str, Any] | None:
    try:
        return _table(value) or _image(value, store)
    except Exception:  # noqa: BLE001 - a preview is optional; the value is stored anyway
        return None


def _cell(value: Any) -> str:
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1] + "…"


def _table(value: Any) -> dict[str, Any] | None:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        head = value.iloc[:TABLE_ROWS, :TABLE_COLUMNS]
        return {"kind": "table", "shape": list(value.shape),
                "columns": [_cell(c) for c in head.columns],
                "rows": [[_cell(v) for v in row] for row in head.itertuples(index=False)]}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.ndim in (1, 2):
        grid = value.reshape(-1, 1) if value.ndim == 1 else value
        head = grid[:TABLE_ROWS, :TABLE_COLUMNS]
        return {"kind": "table", "shape": list(value.shape),
                "columns": [str(i) for i in range(head.shape[1])],
                "rows": [[_cell(v) for v in row] for row in head.tolist()]}
    return None


def _image(value: Any, store: BlobStore) -> dict[str, Any] | None:
    data: bytes | None = None
    media = None
    figure_module = sys.modules.get("matplotlib.figure")
    if figure_module is not None and isinstance(value, figure_module.Figure):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", dpi=80)
        data, media = buffer.getvalue(), "image/png"
    elif isinstance(value, (bytes, bytearray)) and len(value) <= IMAGE_LIMIT:
        media = next((m for magic, m in _MAGIC.items() if value.startswith(magic)), None)
        data = bytes(value) if media else None
    if data is None or len(data) > IMAGE_LIMIT:
        return None
    return {"kind": "image", "media_type": media, "digest": store.put_bytes(data)}
