"""The JSON the UI's pages fetch (under ``/ui-api/``): experiments with their run
counts and latest run, one page of an experiment's run table, and metric series
downsampled on the server so a million-point history draws at once.

Everything returned is data; the pages' scripts insert it as text, never as HTML.
"""

from __future__ import annotations

from typing import Any

from ..tracking import Run, ViewType
from ..tracking.errors import InvalidParameterError
from ..tracking.service import TrackingStore

MAX_CHART_POINTS = 2000  # per series: what a chart can show on a wide screen


def experiments(store: TrackingStore) -> list[dict[str, Any]]:
    """Every active experiment, newest activity first, with run count and latest run."""
    counts = store.run_counts()
    found: list[dict[str, Any]] = []
    for experiment in store.search_experiments(ViewType.ACTIVE_ONLY):
        latest, _ = store.search_runs([experiment.experiment_id], "", ViewType.ACTIVE_ONLY, 1,
                                      ["attributes.start_time DESC"], None)
        last = latest[0].info if latest else None
        found.append({
            "experiment_id": experiment.experiment_id, "name": experiment.name,
            "runs": counts.get(experiment.experiment_id, 0),
            "is_flow": bool(latest) and latest[0].data.tags.get("mlflow.source.type") == "FLOW",
            "last_status": last.status if last else None,
            "last_start": last.start_time if last else None})
    found.sort(key=lambda e: int(e["last_start"] or 0), reverse=True)
    return found


def run_row(run: Run) -> dict[str, Any]:
    info = run.info
    duration = (info.end_time - info.start_time) if info.end_time and info.start_time else None
    return {"run_id": info.run_id, "run_name": info.run_name, "status": info.status,
            "start_time": info.start_time, "end_time": info.end_time, "duration_ms": duration,
            "user": info.user_id, "params": run.data.params,
            "metrics": {k: _finite(v) for k, v in run.data.metrics.items()},
            "pathspec": run.data.tags.get("flowtrack.pathspec"),
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}}


def run_page(store: TrackingStore, experiment_id: str, filter_string: str,
             order_by: str | None, page_token: str | None, max_results: int) -> dict[str, Any]:
    """One page of the run table, with the param, metric and tag columns it uses."""
    if not 1 <= max_results <= 5000:
        raise InvalidParameterError(f"max_results must be from 1 to 5000; got {max_results}.")
    runs, token = store.search_runs([experiment_id], filter_string, ViewType.ACTIVE_ONLY,
                                    max_results, [order_by] if order_by else None, page_token)
    rows = [run_row(r) for r in runs]
    return {"runs": rows, "next_page_token": token,
            "columns": {kind: sorted({k for r in rows for k in r[kind]})
                        for kind in ("params", "metrics", "tags")}}


def downsample(steps: list[int], stamps: list[int], values: list[float],
               limit: int = MAX_CHART_POINTS) -> dict[str, Any]:
    """At most about ``limit`` points keeping each bucket's first, minimum and maximum,
    so spikes survive the thinning; NaN and infinities become nulls (JSON has none)."""
    count = len(steps)
    keep: list[int] | range
    if count <= limit:
        keep = range(count)
    else:
        bucket = count / (limit / 3)
        picked: set[int] = set()
        start = 0.0
        while int(start) < count:
            lo, hi = int(start), min(int(start + bucket), count)
            window = range(lo, hi)
            finite = [i for i in window if values[i] == values[i]]  # NaN != NaN
            picked.add(lo)
            if finite:
                picked.add(min(finite, key=values.__getitem__))
                picked.add(max(finite, key=values.__getitem__))
            start += bucket
        picked.add(count - 1)
        keep = sorted(picked)
    return {"steps": [steps[i] for i in keep], "timestamps": [stamps[i] for i in keep],
            "values": [_finite(values[i]) for i in keep], "total": count}


def _finite(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def compare(store: TrackingStore, run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side: their rows, every param and metric key, and which differ."""
    runs = [run_row(store.get_run(r)) for r in run_ids]
    table: dict[str, list[dict[str, Any]]] = {}
    for kind in ("params", "metrics"):
        keys = sorted({k for r in runs for k in r[kind]})
        table[kind] = [{"key": k, "values": [r[kind].get(k) for r in runs],
                        "differs": len({repr(r[kind].get(k)) for r in runs}) > 1}
                       for k in keys]
    return {"runs": runs, "params": table["params"], "metrics": table["metrics"]}
