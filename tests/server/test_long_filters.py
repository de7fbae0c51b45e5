"""Long ``runs/search`` filters through a real ``flowtrack server`` (see conftest): 1000
ANDed and 500 ORed terms find the right runs, and a filter nested deeper than the
search allows is a 400 INVALID_PARAMETER_VALUE naming the limit. Such filters once
reached SQLite as one expression too deep for it, which the server answered with 503
"retry shortly", a retry that could never succeed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

API = "/api/2.0/mlflow/"


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return api.post(API + path, content=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"})


def call(api: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    resp = post(api, path, body)
    assert resp.status_code == 200, f"{path} -> {resp.status_code}: {resp.text}"
    return resp.json()


def make_runs(api: httpx.Client) -> tuple[str, list[str]]:
    """An experiment with four runs: acc i/10 and kind linear/tree alternately."""
    exp = call(api, "experiments/create", {"name": f"long-filters-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    runs = []
    for i in range(4):
        run = call(api, "runs/create", {"experiment_id": exp, "run_name": f"r{i}"})
        runs.append(run["run"]["info"]["run_id"])
        call(api, "runs/log-batch", {
            "run_id": runs[-1],
            "metrics": [{"key": "acc", "value": i / 10, "timestamp": 1000, "step": 0}],
            "params": [{"key": "kind", "value": "tree" if i % 2 else "linear"}]})
    return exp, runs


def found(api: httpx.Client, exp: str, runs: list[str], filter_string: str) -> set[int]:
    answer = call(api, "runs/search", {"experiment_ids": [exp], "filter": filter_string})
    return {runs.index(r["info"]["run_id"]) for r in answer.get("runs", [])}


def test_long_filters_find_the_right_runs(api: httpx.Client) -> None:
    exp, runs = make_runs(api)
    anded = " AND ".join(f"metrics.acc > {-k}" if k % 2 else f"params.kind != 'x{k}'"
                         for k in range(1000))
    assert found(api, exp, runs, anded + " AND metrics.acc > 0.15") == {2, 3}
    ored = " OR ".join(f"attributes.run_name = 'nobody-{k}'" for k in range(498))
    assert found(api, exp, runs, ored + " OR metrics.acc = 0.1 OR params.kind = 'linear'") == {
        0, 1, 2}


def test_too_deeply_nested_filter_is_a_client_error(api: httpx.Client) -> None:
    exp, _ = make_runs(api)
    deep = "metrics.acc > 0"
    for level in range(120):
        deep = f"metrics.acc > {level} {'AND' if level % 2 else 'OR'} ({deep})"
    resp = post(api, "runs/search", {"experiment_ids": [exp], "filter": deep})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "levels" in body["message"]
