"""``search_runs`` results as a pandas DataFrame with MLflow's columns: ``run_id,
experiment_id, status, artifact_uri, start_time, end_time`` (UTC timestamps), then
``metrics.*``, ``params.*`` and ``tags.*``, one row per run."""

from __future__ import annotations

from typing import Any

from .records import Run

_INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def runs_to_frame(runs: list[Run]) -> Any:
    import pandas as pd

    columns: dict[str, list[Any]] = {c: [] for c in _INFO_COLUMNS}
    extra: dict[str, dict[int, Any]] = {}
    for row, run in enumerate(runs):
        for name in _INFO_COLUMNS:
            columns[name].append(getattr(run.info, name))
        for prefix, values in (("metrics.", run.data.metrics), ("params.", run.data.params),
                               ("tags.", run.data.tags)):
            for key, value in values.items():
                extra.setdefault(prefix + key, {})[row] = value
    frame = pd.DataFrame(columns)
    for name in ("start_time", "end_time"):
        frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
    ordered = sorted(extra, key=lambda c: (("metrics.", "params.", "tags.").index(
        c[:c.index(".") + 1]), c))
    if ordered:
        added = pd.DataFrame({c: pd.Series(extra[c], index=list(extra[c]), dtype=None)
                              for c in ordered}, index=range(len(runs)))
        frame = pd.concat([frame, added], axis=1)
    return frame
