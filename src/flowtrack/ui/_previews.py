"""Safe previews of logged files: text (the first 64 KiB, as text), CSV and TSV as a
small table, JSON pretty-printed, raster images by link; anything else only by
size. Nothing is executed or unpickled, and SVG is shown as text, never as an image
(an SVG can carry scripts)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..tracking.service import TrackingStore
from ._reading import read_artifact

PREVIEW_BYTES = 64 * 1024
TABLE_ROWS = 50
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}
TEXT_SUFFIXES = {".txt", ".log", ".md", ".yaml", ".yml", ".json", ".csv", ".tsv", ".py",
                 ".svg", ".html", ".xml", ".ini", ".toml", ".cfg", ".sh", ""}


def file_preview(store: TrackingStore, run_id: str, path: str) -> dict[str, Any]:
    """What the run page shows for one file: kind ``image``, ``table``, ``text`` or
    ``binary``, with the data the kind needs."""
    suffix = Path(path).suffix.lower()
    data = read_artifact(store, run_id, path)
    found: dict[str, Any] = {"path": path, "size": len(data)}
    if suffix in IMAGE_TYPES:
        return found | {"kind": "image", "src": f"/files/{run_id}/{path}?inline=1"}
    head = data[:PREVIEW_BYTES]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        if suffix not in TEXT_SUFFIXES or b"\x00" in head:
            return found | {"kind": "binary"}
        text = head.decode("utf-8", "replace")
    truncated = len(data) > PREVIEW_BYTES
    if suffix in (".csv", ".tsv"):
        rows = list(csv.reader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ","))
        return found | {"kind": "table", "rows": rows[:TABLE_ROWS + 1],
                        "truncated": truncated or len(rows) > TABLE_ROWS + 1}
    if suffix == ".json" and not truncated:
        try:
            text = json.dumps(json.loads(text), indent=2)
        except ValueError:
            pass
    return found | {"kind": "text", "text": text, "truncated": truncated}
