"""Rich value previews made in the task (``runtime._previews``): tables for frames and
arrays, images for figures and image bytes, nothing (never an error) otherwise."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from flowtrack.runtime._previews import TABLE_ROWS, rich_preview  # noqa: E402
from flowtrack.store import BlobStore  # noqa: E402


def test_frames_and_arrays_become_small_tables(tmp_path):
    store = BlobStore(str(tmp_path))
    frame = pd.DataFrame({"a": range(100), "b": ["x" * 100] * 100})
    found = rich_preview(frame, store)
    assert found["kind"] == "table" and found["shape"] == [100, 2]
    assert found["columns"] == ["a", "b"] and len(found["rows"]) == TABLE_ROWS
    assert found["rows"][0][0] == "0" and len(found["rows"][0][1]) == 60  # cells are cut
    assert rich_preview(np.arange(6).reshape(2, 3), store)["rows"] == [["0", "1", "2"],
                                                                      ["3", "4", "5"]]
    assert rich_preview(np.arange(3), store)["rows"] == [["0"], ["1"], ["2"]]
    assert rich_preview(np.zeros((2, 2, 2)), store) is None


def test_figures_and_image_bytes_become_images(tmp_path):
    store = BlobStore(str(tmp_path))
    figure, axes = plt.subplots()
    axes.plot([1, 2])
    found = rich_preview(figure, store)
    assert found["kind"] == "image" and found["media_type"] == "image/png"
    png = store.get_bytes(found["digest"])
    assert png.startswith(b"\x89PNG")
    again = rich_preview(png, store)
    assert again == {"kind": "image", "media_type": "image/png", "digest": found["digest"]}
    buffer = io.BytesIO()
    figure.savefig(buffer, format="jpg")
    assert rich_preview(buffer.getvalue(), store)["media_type"] == "image/jpeg"
    plt.close(figure)


def test_other_values_have_no_rich_preview(tmp_path):
    store = BlobStore(str(tmp_path))

    class Broken(pd.DataFrame):
        @property
        def iloc(self):
            raise RuntimeError("no rows for you")

    assert rich_preview(Broken({"a": [1]}), store) is None  # a failure is no preview
    for value in (b"just bytes", "text", 3, {"a": 1}, None):
        assert rich_preview(value, store) is None
