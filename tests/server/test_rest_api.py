"""The tracking server's REST API through real HTTP requests to a ``flowtrack server``
subprocess (see conftest): experiments; runs with their metrics, params, tags, search
and metric history; run files (artifacts/list and the artifact proxy); the model
registry (registered models, versions, aliases); MLflow 3's logged models; MLflow 2's
log-model and its history tag; MLflow's error shape ({"error_code", "message"}); and
that no client mistake (empty, non-JSON, too deeply nested or mistyped bodies,
unknown ids, fuzzed bodies) is ever answered with a 5xx.

Each client mistake that once answered a 5xx is kept as a regression case.
"""

from __future__ import annotations

import inspect
import json
import random
import re
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowtrack.server._routes import ROUTES

API = "/api/2.0/mlflow/"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
UNKNOWN_RUN = "f" * 32
UNKNOWN_MODEL_ID = "m-" + "f" * 32
MISSING = "RESOURCE_DOES_NOT_EXIST"
INVALID = "INVALID_PARAMETER_VALUE"


# -- helpers ------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def send(client: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    """A JSON API call: GET with ``body`` as query params, other methods with ``body`` as
    ASCII-escaped JSON (so any string, even a lone surrogate, can be sent)."""
    if method == "GET":
        return client.get(API + path, params=body)
    content = b"" if body is None else json.dumps(body).encode()
    return client.request(method, API + path, content=content,
                          headers={"Content-Type": "application/json"})


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, f"{resp.request.url} -> {resp.status_code}: {resp.text}"
    return resp.json()


def call(client: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    return ok(send(client, method, path, body))


def mlflow_error(resp: httpx.Response) -> dict[str, str]:
    """The body of an error answer, checked to have MLflow's shape."""
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.text
    body = resp.json()
    assert isinstance(body, dict) and set(body) >= {"error_code", "message"}, body
    assert isinstance(body["error_code"], str) and re.fullmatch(r"[A-Z_]+", body["error_code"])
    assert isinstance(body["message"], str) and body["message"]
    return body


def error(resp: httpx.Response, status: int, code: str) -> str:
    assert resp.status_code == status, f"{resp.request.url} -> {resp.status_code}: {resp.text}"
    body = mlflow_error(resp)
    assert body["error_code"] == code, body
    return body["message"]


def fails(client: httpx.Client, status: int, code: str, method: str, path: str,
          body: Any = None) -> str:
    return error(send(client, method, path, body), status, code)


def new_experiment(api: httpx.Client, **fields: Any) -> str:
    return str(call(api, "POST", "experiments/create",
                    {"name": unique("exp"), **fields})["experiment_id"])


def new_run(api: httpx.Client, experiment_id: str, **fields: Any) -> str:
    return str(call(api, "POST", "runs/create",
                    {"experiment_id": experiment_id, **fields})["run"]["info"]["run_id"])


def get_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    return call(api, "GET", "runs/get", {"run_id": run_id})["run"]


def kv(items: list[dict[str, str]]) -> dict[str, str]:
    return {i["key"]: i["value"] for i in items}


def ids(items: list[dict[str, Any]], key: str = "run_id") -> list[str]:
    return [(i["info"] if "info" in i else i)[key] for i in items]


def all_pages(api: httpx.Client, method: str, path: str, body: dict[str, Any], key: str
              ) -> list[Any]:
    """Every item of a paged search, following next_page_token to the end."""
    found: list[Any] = []
    page = call(api, method, path, body)
    for _ in range(100):
        assert len(page.get(key, [])) <= int(body["max_results"])
        found += page.get(key, [])
        if not page.get("next_page_token"):
            return found
        page = call(api, method, path, {**body, "page_token": page["next_page_token"]})
    raise AssertionError("paging never ended")


# -- experiments ----------------------------------------------------------------------------
def test_experiment_lifecycle(api):
    name = unique("exp")
    exp = new_experiment(api, name=name, tags=[{"key": "team", "value": "ml"}])
    fails(api, 400, "RESOURCE_ALREADY_EXISTS", "POST", "experiments/create", {"name": name})
    got = call(api, "GET", "experiments/get", {"experiment_id": exp})["experiment"]
    assert (got["name"], got["lifecycle_stage"], kv(got["tags"])) == (name, "active",
                                                                      {"team": "ml"})
    by_name = call(api, "GET", "experiments/get-by-name", {"experiment_name": name})
    assert by_name["experiment"]["experiment_id"] == exp
    fails(api, 404, MISSING, "GET", "experiments/get-by-name", {"experiment_name": unique("x")})
    fails(api, 404, MISSING, "GET", "experiments/get", {"experiment_id": "987654321"})

    renamed = unique("renamed")
    call(api, "POST", "experiments/update", {"experiment_id": exp, "new_name": renamed})
    call(api, "POST", "experiments/set-experiment-tag",
         {"experiment_id": exp, "key": "stage", "value": "dev"})
    got = call(api, "GET", "experiments/get-by-name", {"experiment_name": renamed})["experiment"]
    assert got["experiment_id"] == exp and kv(got["tags"]) == {"team": "ml", "stage": "dev"}
    fails(api, 404, MISSING, "GET", "experiments/get-by-name", {"experiment_name": name})

    def listed(view: str) -> list[str]:
        found = call(api, "POST", "experiments/search",
                     {"filter": f"name = '{renamed}'", "view_type": view})
        return ids(found.get("experiments", []), "experiment_id")

    call(api, "POST", "experiments/delete", {"experiment_id": exp})
    got = call(api, "GET", "experiments/get", {"experiment_id": exp})["experiment"]
    assert got["lifecycle_stage"] == "deleted"
    assert (listed("ACTIVE_ONLY"), listed("DELETED_ONLY"), listed("ALL")) == ([], [exp], [exp])
    call(api, "POST", "experiments/restore", {"experiment_id": exp})
    assert (listed("ACTIVE_ONLY"), listed("DELETED_ONLY")) == ([exp], [])


def test_experiment_search_filter_order_and_pages(api):
    prefix = unique("search")
    made = {c: new_experiment(api, name=f"{prefix}-{c}",
                              tags=[{"key": "vowel", "value": str(c in "ae")}]) for c in "cadeb"}
    body = {"filter": f"name LIKE '{prefix}-%'", "order_by": ["name DESC"], "max_results": 2}
    found = all_pages(api, "POST", "experiments/search", body, "experiments")
    assert ids(found, "experiment_id") == [made[c] for c in "edcba"]
    # GET takes a repeated field as the same query parameter several times
    body["order_by"] = ["name DESC", "creation_time ASC"]
    found = all_pages(api, "GET", "experiments/search", body, "experiments")
    assert ids(found, "experiment_id") == [made[c] for c in "edcba"]
    vowels = call(api, "POST", "experiments/search", {
        "filter": f"name LIKE '{prefix}%' AND tags.vowel = 'True'", "order_by": ["name ASC"]})
    assert ids(vowels["experiments"], "experiment_id") == [made["a"], made["e"]]
    fails(api, 400, INVALID, "POST", "experiments/search", {"filter": "name ~~ 'x'"})


# -- runs ---------------------------------------------------------------------------------
def test_run_create_get_update_delete_restore(api):
    exp = new_experiment(api)
    run = call(api, "POST", "runs/create", {
        "experiment_id": exp, "run_name": "first", "start_time": 1_700_000_000_000,
        "tags": [{"key": "team", "value": "ml"}]})["run"]
    run_id, info = run["info"]["run_id"], run["info"]
    assert (info["run_name"], info["status"], info["experiment_id"], info["start_time"]) == (
        "first", "RUNNING", exp, 1_700_000_000_000)
    assert kv(run["data"]["tags"])["team"] == "ml"
    assert get_run(api, run_id)["info"] == info
    info = call(api, "POST", "runs/update", {"run_id": run_id, "status": "FINISHED",
                                             "end_time": 1_700_000_500_000})["run_info"]
    assert (info["status"], info["end_time"]) == ("FINISHED", 1_700_000_500_000)
    assert get_run(api, run_id)["info"]["status"] == "FINISHED"

    def search(view: str) -> list[str]:
        return ids(call(api, "POST", "runs/search", {"experiment_ids": [exp],
                                                     "run_view_type": view}).get("runs", []))

    call(api, "POST", "runs/delete", {"run_id": run_id})
    assert get_run(api, run_id)["info"]["lifecycle_stage"] == "deleted"
    assert (search("ACTIVE_ONLY"), search("DELETED_ONLY"), search("ALL")) == ([], [run_id],
                                                                             [run_id])
    call(api, "POST", "runs/restore", {"run_id": run_id})
    assert (search("ACTIVE_ONLY"), search("DELETED_ONLY")) == ([run_id], [])
    fails(api, 404, MISSING, "GET", "runs/get", {"run_id": UNKNOWN_RUN})


def test_run_search_filters_order_and_pages(api):
    exp = new_experiment(api)
    made = []
    for i in range(7):
        made.append(new_run(api, exp, run_name=f"r{i}"))
        call(api, "POST", "runs/log-batch", {
            "run_id": made[-1],
            "metrics": [{"key": "acc", "value": i / 10, "timestamp": 1000 + i, "step": 0}],
            "params": [{"key": "kind", "value": "tree" if i % 2 else "linear"}],
            "tags": [{"key": "team", "value": "a" if i < 3 else "b"}]})

    def matching(filter_string: str) -> set[int]:
        found = call(api, "POST", "runs/search", {"experiment_ids": [exp],
                                                  "filter": filter_string})
        return {made.index(r) for r in ids(found.get("runs", []))}

    assert matching("params.kind = 'tree'") == {1, 3, 5}
    assert matching("params.kind = 'tree' OR metrics.acc < 0.15") == {0, 1, 3, 5}
    assert matching("(params.kind = 'tree' OR tags.team = 'a') AND metrics.acc >= 0.3") == {3, 5}
    # AND binds tighter than OR
    assert matching("params.kind = 'tree' OR tags.team = 'a' AND metrics.acc >= 0.3") == {1, 3, 5}
    assert matching("tags.team = 'a' AND (metrics.acc >= 0.2 OR params.kind = 'tree')") == {1, 2}
    assert matching("attributes.run_name = 'r4'") == {4}
    fails(api, 400, INVALID, "POST", "runs/search", {"experiment_ids": [exp],
                                                     "filter": "metrics.acc >"})

    body = {"experiment_ids": [exp], "order_by": ["metrics.acc DESC"], "max_results": 3}
    assert ids(all_pages(api, "POST", "runs/search", body, "runs")) == made[::-1]
    body = {**body, "experiment_ids": [exp, exp], "order_by": ["metrics.acc DESC", "run_name"]}
    assert ids(all_pages(api, "GET", "runs/search", body, "runs")) == made[::-1]
    asc = call(api, "POST", "runs/search", {"experiment_ids": [exp], "order_by": ["metrics.acc"],
                                            "max_results": 2})
    assert ids(asc["runs"]) == made[:2] and asc["next_page_token"]
    fails(api, 400, INVALID, "POST", "runs/search", {"experiment_ids": [exp],
                                                     "page_token": "bogus"})


def test_get_takes_one_value_of_a_repeated_field(api):
    exp = new_experiment(api)
    run_id = new_run(api, exp)
    found = call(api, "GET", "runs/search", {"experiment_ids": exp, "order_by": "run_name"})
    assert ids(found["runs"]) == [run_id]
    call(api, "GET", "experiments/search", {"order_by": "name DESC"})


def test_logging_params_metrics_and_tags(api):
    run_id = new_run(api, new_experiment(api))

    def log(path: str, **body: Any) -> httpx.Response:
        return send(api, "POST", path, {"run_id": run_id, **body})

    ok(log("runs/log-metric", key="loss", value=0.5, timestamp=10, step=1))
    ok(log("runs/log-parameter", key="lr", value="0.1"))
    ok(log("runs/log-parameter", key="lr", value="0.1"))  # the same value again is fine
    assert "lr" in error(log("runs/log-parameter", key="lr", value="0.2"), 400, INVALID)
    ok(log("runs/set-tag", key="note", value="hi"))
    ok(log("runs/set-tag", key="gone", value="x"))
    ok(log("runs/delete-tag", key="gone"))
    error(log("runs/delete-tag", key="gone"), 404, MISSING)
    ok(log("runs/log-batch", metrics=[{"key": "acc", "value": 0.9, "timestamp": 20, "step": 2}],
           params=[{"key": "depth", "value": "3"}], tags=[{"key": "team", "value": "ml"}]))
    data = get_run(api, run_id)["data"]
    assert kv(data["params"]) == {"lr": "0.1", "depth": "3"}
    tags = kv(data["tags"])
    assert tags["note"] == "hi" and tags["team"] == "ml" and "gone" not in tags
    metrics = {m["key"]: m for m in data["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": 0.5, "timestamp": 10, "step": 1}
    assert metrics["acc"]["value"] == 0.9 and metrics["acc"]["step"] == 2

    point = {"key": "m", "value": 1.0, "timestamp": 1, "step": 0}
    for extra in ({"metrics": [dict(point, step=i) for i in range(1001)]},
                  {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
                  {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]}):
        error(log("runs/log-batch", **extra), 400, INVALID)
    data = get_run(api, run_id)["data"]  # nothing of a refused batch was logged
    assert "m" not in kv(data["metrics"]) and "p0" not in kv(data["params"])
    assert "t0" not in kv(data["tags"])
    ok(log("runs/log-batch", metrics=[dict(point, step=i) for i in range(1000)]))


def test_metric_history_pages_return_every_point_in_step_order(api):
    run_id = new_run(api, new_experiment(api))
    steps = list(range(60))
    random.Random(7).shuffle(steps)
    for chunk in (steps[:25], steps[25:]):
        call(api, "POST", "runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "loss", "value": s * 0.5, "timestamp": 5000 - s, "step": s} for s in chunk]})
    body = {"run_id": run_id, "metric_key": "loss", "max_results": 7}
    points = all_pages(api, "GET", "metrics/get-history", body, "metrics")
    assert [p["step"] for p in points] == list(range(60))
    assert all(p["value"] == p["step"] * 0.5 and p["timestamp"] == 5000 - p["step"]
               for p in points)
    whole = call(api, "GET", "metrics/get-history", {"run_id": run_id, "metric_key": "loss"})
    assert whole["metrics"] == points and "next_page_token" not in whole
    other = new_run(api, new_experiment(api))  # a page token never carries another run's points
    call(api, "POST", "runs/log-batch", {"run_id": other, "metrics": [
        {"key": "loss", "value": -1.0, "timestamp": 1, "step": s} for s in range(9)]})
    token = call(api, "GET", "metrics/get-history", body)["next_page_token"]
    page = call(api, "GET", "metrics/get-history", {**body, "run_id": other, "page_token": token})
    assert [(p["step"], p["value"]) for p in page["metrics"]] == [(7, -1.0), (8, -1.0)]
    fails(api, 400, INVALID, "GET", "metrics/get-history", {**body, "page_token": "%%%"})


def test_non_finite_metric_values_round_trip(api):
    run_id = new_run(api, new_experiment(api))
    for key, value in (("nan", "NaN"), ("inf", "Infinity"), ("ninf", "-Infinity")):
        call(api, "POST", "runs/log-metric",
             {"run_id": run_id, "key": key, "value": value, "timestamp": 1, "step": 0})
    call(api, "POST", "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "batch_nan", "value": "NaN", "timestamp": 2, "step": 1},
        {"key": "batch_inf", "value": "Infinity", "timestamp": 2, "step": 1}]})
    values = {m["key"]: m["value"] for m in get_run(api, run_id)["data"]["metrics"]}
    assert values == {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity",
                      "batch_nan": "NaN", "batch_inf": "Infinity"}
    history = call(api, "GET", "metrics/get-history", {"run_id": run_id, "metric_key": "inf"})
    assert [p["value"] for p in history["metrics"]] == ["Infinity"]
    raw = send(api, "GET", "runs/get", {"run_id": run_id}).text  # strict JSON: no bare NaN
    json.loads(raw, parse_constant=lambda c: pytest.fail(f"bare {c} in {raw}"))


# -- run files ----------------------------------------------------------------------------
def test_artifact_proxy_and_listing(api):
    exp = new_experiment(api)
    run_id = new_run(api, exp)
    root = f"{exp}/{run_id}/artifacts"
    files = {"a.txt": b"hello", "d/e/f.txt": b"deep", "d/g.bin": bytes(range(256))}
    for path, data in files.items():
        ok(api.put(f"{PROXY}/{root}/{path}", content=data))
    for path, data in files.items():
        got = api.get(f"{PROXY}/{root}/{path}")
        assert (got.status_code, got.content) == (200, data)

    def proxy_list(path: str) -> dict[str, Any]:
        found = ok(api.get(PROXY, params={"path": path})).get("files", [])  # {} when empty
        return {f["path"]: f.get("file_size") if not f["is_dir"] else "dir" for f in found}

    assert proxy_list(root) == {"a.txt": 5, "d": "dir"}
    assert proxy_list(f"{root}/d") == {"e": "dir", "g.bin": 256}
    assert proxy_list(f"{root}/d/e") == {"f.txt": 4}
    listed = call(api, "GET", "artifacts/list", {"run_id": run_id, "path": "d"})
    assert listed["root_uri"] == get_run(api, run_id)["info"]["artifact_uri"]
    assert {f["path"]: f["is_dir"] for f in listed["files"]} == {"d/e": True, "d/g.bin": False}
    legacy = api.get("/get-artifact", params={"run_uuid": run_id, "path": "d/e/f.txt"})
    assert (legacy.status_code, legacy.content) == (200, b"deep")

    ok(api.put(f"{PROXY}/{root}/a.txt", content=b"replaced"))
    assert api.get(f"{PROXY}/{root}/a.txt").content == b"replaced"
    ok(api.delete(f"{PROXY}/{root}/d"))
    assert proxy_list(root) == {"a.txt": 8}
    error(api.get(f"{PROXY}/{root}/d/e/f.txt"), 404, MISSING)
    ok(api.delete(f"{PROXY}/{root}/a.txt"))
    assert proxy_list(root) == {}
    error(api.get(f"{PROXY}/{exp}/{UNKNOWN_RUN}/artifacts/a.txt"), 404, MISSING)


# -- model registry -------------------------------------------------------------------------
def test_registered_models(api):
    prefix = unique("reg")
    name, second, renamed = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    created = call(api, "POST", "registered-models/create", {
        "name": name, "description": "first", "tags": [{"key": "team", "value": "ml"}]})
    assert created["registered_model"]["name"] == name
    fails(api, 400, "RESOURCE_ALREADY_EXISTS", "POST", "registered-models/create", {"name": name})
    call(api, "POST", "registered-models/create", {"name": second})
    got = call(api, "GET", "registered-models/get", {"name": name})["registered_model"]
    assert (got["description"], kv(got["tags"])) == ("first", {"team": "ml"})
    body = {"filter": f"name LIKE '{prefix}-%'", "max_results": 1}
    for method in ("GET", "POST"):
        found = all_pages(api, method, "registered-models/search", body, "registered_models")
        assert [m["name"] for m in found] == [name, second]

    call(api, "PATCH", "registered-models/update", {"name": name, "description": "new"})
    call(api, "POST", "registered-models/set-tag", {"name": name, "key": "k", "value": "v"})
    call(api, "DELETE", "registered-models/delete-tag", {"name": name, "key": "team"})
    call(api, "POST", "registered-models/rename", {"name": name, "new_name": renamed})
    fails(api, 404, MISSING, "GET", "registered-models/get", {"name": name})
    got = call(api, "GET", "registered-models/get", {"name": renamed})["registered_model"]
    assert (got["description"], kv(got["tags"])) == ("new", {"k": "v"})
    call(api, "DELETE", "registered-models/delete", {"name": renamed})
    fails(api, 404, MISSING, "GET", "registered-models/get", {"name": renamed})


def test_model_versions_and_aliases(api):
    exp = new_experiment(api)
    runs = [new_run(api, exp) for _ in range(3)]
    name = unique("versions")
    for number, run_id in enumerate(runs, 1):
        version = call(api, "POST", "model-versions/create", {
            "name": name, "source": f"runs:/{run_id}/model", "run_id": run_id,
            "tags": [{"key": "n", "value": str(number)}]})["model_version"]
        assert (version["version"], version["run_id"]) == (str(number), run_id)
    v2 = {"name": name, "version": "2"}
    assert call(api, "GET", "model-versions/get", v2)["model_version"]["source"] == \
        f"runs:/{runs[1]}/model"
    call(api, "PATCH", "model-versions/update", {**v2, "description": "the good one"})
    call(api, "POST", "model-versions/set-tag", {**v2, "key": "stage", "value": "prod"})
    got = call(api, "GET", "model-versions/get", v2)["model_version"]
    assert got["description"] == "the good one"
    assert kv(got["tags"]) == {"n": "2", "stage": "prod"}
    uri = call(api, "GET", "model-versions/get-download-uri", v2)["artifact_uri"]
    assert uri == get_run(api, runs[1])["info"]["artifact_uri"] + "/model"
    found = call(api, "GET", "model-versions/search", {"filter": f"name = '{name}'"})
    assert sorted(v["version"] for v in found["model_versions"]) == ["1", "2", "3"]
    found = call(api, "POST", "model-versions/search",
                 {"filter": f"name = '{name}' AND run_id = '{runs[0]}'"})
    assert [v["version"] for v in found["model_versions"]] == ["1"]

    alias = {"name": name, "alias": "champion"}
    call(api, "POST", "registered-models/alias", {**alias, "version": "2"})
    by_alias = call(api, "GET", "registered-models/alias", alias)["model_version"]
    assert (by_alias["version"], by_alias["aliases"]) == ("2", ["champion"])
    model = call(api, "GET", "registered-models/get", {"name": name})["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "2"}]
    assert [v["version"] for v in model["latest_versions"]] == ["3"]
    fails(api, 404, MISSING, "POST", "registered-models/alias", {**alias, "version": "9"})
    call(api, "DELETE", "registered-models/alias", alias)
    # MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE
    fails(api, 400, "INVALID_PARAMETER_VALUE", "GET", "registered-models/alias", alias)

    call(api, "DELETE", "model-versions/delete", {"name": name, "version": "1"})
    fails(api, 404, MISSING, "GET", "model-versions/get", {"name": name, "version": "1"})
    created = call(api, "POST", "model-versions/create",
                   {"name": name, "source": f"runs:/{runs[0]}/model"})
    assert created["model_version"]["version"] == "4"


def test_model_version_numbers_are_never_reused(api):
    name = unique("reuse")
    for _ in range(2):
        call(api, "POST", "model-versions/create", {"name": name, "source": "s3://b/m"})
    call(api, "DELETE", "model-versions/delete", {"name": name, "version": "2"})
    created = call(api, "POST", "model-versions/create", {"name": name, "source": "s3://b/n"})
    assert created["model_version"]["version"] == "3"


# -- logged models (MLflow 3) ------------------------------------------------------------------
def test_logged_models(api):
    exp = new_experiment(api)
    run_id = new_run(api, exp)
    name = unique("lm")
    info = call(api, "POST", "logged-models", {
        "experiment_id": exp, "name": name, "source_run_id": run_id, "model_type": "sklearn",
        "tags": [{"key": "a", "value": "1"}], "params": [{"key": "alpha", "value": "0.5"}]}
    )["model"]["info"]
    model_id = info["model_id"]
    assert (info["status"], info["source_run_id"], info["name"]) == ("LOGGED_MODEL_PENDING",
                                                                     run_id, name)
    assert info["artifact_uri"].endswith(f"/{exp}/models/{model_id}/artifacts")
    finalized = call(api, "PATCH", f"logged-models/{model_id}",
                     {"model_id": model_id, "status": "LOGGED_MODEL_READY"})
    assert finalized["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    call(api, "PATCH", f"logged-models/{model_id}/tags", {"tags": [{"key": "b", "value": "2"}]})
    call(api, "DELETE", f"logged-models/{model_id}/tags/a")
    fails(api, 404, MISSING, "DELETE", f"logged-models/{model_id}/tags/a")
    call(api, "POST", f"logged-models/{model_id}/params",
         {"params": [{"key": "beta", "value": "3"}]})
    got = call(api, "GET", f"logged-models/{model_id}")["model"]
    assert kv(got["info"]["tags"]) == {"b": "2"}
    assert kv(got["data"]["params"]) == {"alpha": "0.5", "beta": "3"}

    other = call(api, "POST", "logged-models", {"experiment_id": exp, "name": unique("o")})
    search = {"experiment_ids": [exp], "filter": f"name = '{name}'"}
    assert ids(call(api, "POST", "logged-models/search", search)["models"], "model_id") == [
        model_id]
    everything = call(api, "POST", "logged-models/search", {"experiment_ids": [exp]})["models"]
    assert set(ids(everything, "model_id")) == {model_id, other["model"]["info"]["model_id"]}

    call(api, "POST", "runs/outputs", {"run_id": run_id,
                                       "models": [{"model_id": model_id, "step": 0}]})
    outputs = get_run(api, run_id)["outputs"]["model_outputs"]
    assert [o["model_id"] for o in outputs] == [model_id]
    ok(api.put(f"{PROXY}/{exp}/models/{model_id}/artifacts/MLmodel", content=b"flavors: {}\n"))
    listed = ok(api.get(PROXY, params={"path": f"{exp}/models/{model_id}/artifacts"}))
    assert [f["path"] for f in listed["files"]] == ["MLmodel"]

    registered = unique("from-lm")
    version = call(api, "POST", "model-versions/create",
                   {"name": registered, "source": f"models:/{model_id}"})["model_version"]
    assert (version["model_id"], version["run_id"]) == (model_id, run_id)
    uri = call(api, "GET", "model-versions/get-download-uri",
               {"name": registered, "version": version["version"]})["artifact_uri"]
    assert uri == info["artifact_uri"]

    call(api, "DELETE", f"logged-models/{model_id}")
    assert call(api, "POST", "logged-models/search", search)["models"] == []
    fails(api, 404, MISSING, "GET", f"logged-models/{UNKNOWN_MODEL_ID}")


def test_deleted_logged_model_is_not_found(api):
    model = call(api, "POST", "logged-models", {"experiment_id": new_experiment(api)})
    model_id = model["model"]["info"]["model_id"]
    call(api, "DELETE", f"logged-models/{model_id}")
    fails(api, 404, MISSING, "GET", f"logged-models/{model_id}")


# -- MLflow 2's log-model ---------------------------------------------------------------------
def log_model(api: httpx.Client, run_id: str, model: Any) -> httpx.Response:
    return send(api, "POST", "runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})


def model_history(api: httpx.Client, run_id: str) -> Any:
    return json.loads(kv(get_run(api, run_id)["data"]["tags"])["mlflow.log-model.history"])


@pytest.mark.parametrize("flavors", [5, False, "sklearn", [], ["sklearn"], [{"sklearn": {}}]],
                         ids=repr)
def test_log_model_refuses_flavors_that_are_not_an_object(api, flavors):
    run_id = new_run(api, new_experiment(api))
    message = error(log_model(api, run_id, {"artifact_path": "model", "flavors": flavors}),
                    400, INVALID)
    assert "flavors" in message and "must be an object" in message
    error(log_model(api, run_id, ["artifact_path", "model"]), 400, INVALID)
    ok(log_model(api, run_id, {"artifact_path": "model", "flavors": {"sklearn": {}}}))
    assert model_history(api, run_id) == [{"artifact_path": "model",
                                           "flavors": {"sklearn": {}}}]


@pytest.mark.parametrize("value", [
    "not json", "", "{}", '"a string"', "[1, 2]", '[{"ok": 1}, 7]', "[" * 4000,
    "[" * 3000 + "]" * 3000, '[{"artifact_path": "m"}'])
def test_any_model_history_tag_is_accepted_and_read_safely(api, value):
    exp = new_experiment(api)
    run_id = new_run(api, exp)
    call(api, "POST", "runs/set-tag", {"run_id": run_id, "key": "mlflow.log-model.history",
                                       "value": value})  # MLflow takes any tag string
    assert kv(get_run(api, run_id)["data"]["tags"])["mlflow.log-model.history"] == value
    found = call(api, "POST", "runs/search", {"experiment_ids": [exp]})["runs"]
    assert ids(found) == [run_id]
    for page in (f"/runs/{run_id}", f"/ui-api/experiments/{exp}/runs", "/"):
        assert api.get(page).status_code == 200, page
    ok(log_model(api, run_id, {"artifact_path": "model", "flavors": {}}))
    history = model_history(api, run_id)  # a malformed one starts over
    assert history[-1] == {"artifact_path": "model", "flavors": {}}
    assert all(isinstance(entry, dict) for entry in history)


# -- errors -----------------------------------------------------------------------------------
def test_unknown_endpoints_methods_and_ids_answer_mlflow_errors(api):
    error(api.get(API + "no/such/endpoint"), 404, "ENDPOINT_NOT_FOUND")
    error(api.delete(API + "runs/get"), 405, "METHOD_NOT_ALLOWED")
    error(api.post(API + "model-versions/get-artifact"), 404, "ENDPOINT_NOT_FOUND")
    assert (api.get("/health").status_code, api.get("/health").text) == (200, "OK")
    assert api.get("/version").status_code == 200 and api.get("/version").text
    for method, path, body in [
            ("POST", "runs/create", {"experiment_id": "987654321"}),
            ("POST", "runs/log-metric", {"run_id": UNKNOWN_RUN, "key": "k", "value": 1,
                                         "timestamp": 1}),
            ("GET", "metrics/get-history", {"run_id": UNKNOWN_RUN, "metric_key": "k"}),
            ("GET", "artifacts/list", {"run_id": UNKNOWN_RUN}),
            ("GET", "model-versions/get", {"name": unique("none"), "version": "1"}),
            ("PATCH", f"logged-models/{UNKNOWN_MODEL_ID}", {"status": "LOGGED_MODEL_READY"})]:
        fails(api, 404, MISSING, method, path, body)
    error(api.get("/api/2.0/flowtrack/metrics/get-history-columns",
                  params={"run_id": UNKNOWN_RUN, "metric_key": "k"}), 404, MISSING)


# -- no 500 for client mistakes ----------------------------------------------------------------
HELPER_FIELDS = {"_run_id(": ("run_id", "run_uuid"), "page(": ("max_results", "page_token"),
                 "_metric(": ("key", "value", "timestamp", "step")}
BAD_JSON_VALUES: list[Any] = [
    123, 1.5, 2**40, 2**70, -(2**70), 10**400, "abc", "", True, None, [1, "x"], {"a": 1},
    [[]], [{"key": 1, "value": [1]}], [{"key": "k", "value": "v", "timestamp": "x"}], "NaN"]
BAD_QUERY_VALUES = ["", "abc", "-1", "1.5", "99999999999999999999999", "NaN", "../x", "true"]


def route_fields(route: Any) -> list[str]:
    """The body or query fields a route's handler reads (found in its source)."""
    source = inspect.getsource(route.handler)
    found = {n for pair in re.findall(r'\bf\.\w+\(\s*"(\w+)"|view_type\(f, "(\w+)"', source)
             for n in pair if n and "{" + n + "}" not in route.path}
    return sorted(found.union(*(extra for marker, extra in HELPER_FIELDS.items()
                                if marker in source)))


def sweep_values(api: httpx.Client) -> dict[str, Any]:
    """Valid values for every field, over a fresh experiment, run, model and version."""
    exp = new_experiment(api)
    run_id = new_run(api, exp)
    model = unique("sweep")
    call(api, "POST", "model-versions/create", {"name": model, "source": f"runs:/{run_id}/m"})
    model_id = call(api, "POST", "logged-models", {"experiment_id": exp})["model"]["info"]
    model_id = model_id["model_id"]
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "file.csv"}
    return {
        "experiment_id": exp, "experiment_ids": [exp], "experiment_name": "x", "run_id": run_id,
        "run_uuid": run_id, "name": model, "new_name": unique("renamed"), "version": "1",
        "alias": "a1", "model_id": model_id, "key": "k", "value": "1", "timestamp": 1,
        "step": 0, "metric_key": "k", "status": "FINISHED", "source": f"runs:/{run_id}/m",
        "metrics": [{"key": "k", "value": 1, "timestamp": 1, "step": 0}],
        "params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "1"}],
        "max_results": 5, "filter": "", "order_by": [], "path": "", "description": "d",
        "model_json": "{}", "models": [{"model_id": model_id}], "stages": ["None"],
        "datasets": [{"dataset": dataset, "tags": [{"key": "mlflow.data.context",
                                                     "value": "train"}]}],
        "view_type": "ALL", "run_view_type": "ALL", "source_run_id": run_id}


def sweep_requests(route: Any, valid: dict[str, Any]) -> Any:
    """(path, JSON body or raw bytes) of the mistaken requests to send to one route:
    (a) empty and non-JSON bodies, (c) each field mistyped in an otherwise valid request,
    and every field mistyped at once, (d) unknown ids."""
    path = re.sub(r"\{(\w+)\}", lambda m: str(valid.get(m[1], f"no-{m[1]}")),
                  route.path.replace("{tag_key}", "k"))
    fields = route_fields(route)
    base = {f: valid[f] for f in fields if f in valid}
    bad_values = BAD_QUERY_VALUES if route.method == "GET" else BAD_JSON_VALUES
    if route.method != "GET":
        for raw in (b"", b"not json", b"[1, 2]", b"\xff\xfe", b'{"a": ', b"null", b'"x"'):
            yield path, raw
    yield path, {}
    for field in fields:
        yield from ((path, {**base, field: v}) for v in bad_values)
    yield from ((path, dict.fromkeys(fields, v)) for v in bad_values)
    unknown = {"experiment_id": "987654321", "experiment_ids": ["987654321"], "version": "99",
               "run_id": UNKNOWN_RUN, "run_uuid": UNKNOWN_RUN, "source_run_id": UNKNOWN_RUN,
               "name": unique("none"), "model_id": UNKNOWN_MODEL_ID}
    yield path, {**base, **{k: v for k, v in unknown.items() if k in fields}}
    if "{model_id}" in route.path:
        yield re.sub(r"\{(\w+)\}", lambda m: UNKNOWN_MODEL_ID if m[1] == "model_id"
                     else f"no-{m[1]}", route.path.replace("{tag_key}", "k")), base


def test_no_server_error_for_client_mistakes(server):
    failures: list[str] = []
    api = httpx.Client(base_url=server.url, timeout=30)
    try:
        for route in ROUTES:
            for path, body in sweep_requests(route, sweep_values(api)):
                url = route_url(route, path)
                try:
                    if isinstance(body, bytes):
                        resp = api.request(route.method, url, content=body)
                    elif route.method == "GET":
                        resp = api.get(url, params=body)
                    else:
                        resp = api.request(route.method, url, content=json.dumps(body).encode(),
                                           headers={"Content-Type": "application/json"})
                except httpx.TransportError as exc:  # the server drops a connection after a 500
                    failures.append(f"{route.method} {path} {body!r:.200}: {exc!r}")
                    api.close()
                    api = httpx.Client(base_url=server.url, timeout=30)
                    continue
                try:
                    assert resp.status_code < 500, "server error"
                    if resp.status_code >= 400:
                        mlflow_error(resp)
                except (AssertionError, ValueError) as exc:
                    failures.append(f"{route.method} {resp.request.url} {body!r:.200} -> "
                                    f"{resp.status_code} {resp.text[:200]} ({exc})")
    finally:
        api.close()
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:40])


FORMER_SERVER_ERRORS = [  # method, path, body (runs/ ones get a real run_id)
    # ids beyond int64 (int32 on PostgreSQL) reach the database unchecked
    ("GET", "experiments/get", {"experiment_id": "99999999999999999999999"}),
    ("POST", "experiments/delete", {"experiment_id": 2**70}),
    ("POST", "runs/create", {"experiment_id": 2**70}),
    ("POST", "runs/search", {"experiment_ids": ["99999999999999999999999"]}),
    ("POST", "logged-models", {"experiment_id": 2**70}),
    # a forged page token with a huge offset ({"offset": 10**25})
    ("POST", "runs/search", {"page_token": "eyJvZmZzZXQiOiAxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9"}),
    # a metric value beyond a double's range (OverflowError)
    ("POST", "runs/log-metric", {"key": "k", "value": 10**400, "timestamp": 1}),
    ("POST", "runs/log-batch", {"metrics": [{"key": "k", "value": 10**400, "timestamp": 1}]}),
    # a lone surrogate (a "\ud800" escape) in a string (UnicodeEncodeError)
    ("POST", "experiments/create", {"name": "bad\ud800"}),
    ("POST", "model-versions/create", {"name": "bad\ud800", "source": "s3://b/x"}),
    # a NUL in a tag value or a source (FlowtrackError -> INTERNAL_ERROR)
    ("POST", "runs/set-tag", {"key": "k", "value": "a\x00b"}),
    ("POST", "model-versions/create", {"name": "nul-source", "source": "s3://b/\x00"})]


@pytest.mark.parametrize("method, path, body", FORMER_SERVER_ERRORS,
                         ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(FORMER_SERVER_ERRORS)])
def test_former_server_errors_are_client_errors(server, method, path, body):
    with httpx.Client(base_url=server.url, timeout=30) as api:
        exp = new_experiment(api)
        if path.startswith("runs/"):
            body = {"experiment_ids": [exp], "run_id": new_run(api, exp), **body}
        resp = send(api, method, path, body)
        assert resp.status_code < 500, f"{method} {path} {body!r} -> {resp.status_code} {resp.text}"
        mlflow_error(resp)


DEEP = b"[" * 10_000 + b"]" * 10_000


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def route_url(route: Any, path: str | None = None) -> str:
    """Where a route answers: under its newest API version, its path parameters filled
    with ids that name nothing unless ``path`` gives them."""
    filled = path if path is not None else re.sub(
        r"\{(\w+)\}", lambda m: UNKNOWN_MODEL_ID if m[1] == "model_id" else f"no-{m[1]}",
        route.path)
    return f"/api/{route.versions[-1]}/mlflow/{filled}"


def test_deeply_nested_json_is_refused_everywhere(api):
    too_deep = json.dumps({"name": unique("deep"), "x": nested(100)}).encode()  # 101 levels
    paths = [(r.method, route_url(r)) for r in ROUTES if r.method != "GET"]
    for method, path in paths + [("POST", "/ui-api/models/m/aliases")]:  # the UI's too
        for body in (DEEP, b'{"a": ' + DEEP + b"}", too_deep):
            resp = api.request(method, path, content=body,
                               headers={"Content-Type": "application/json"})
            assert "levels deep" in error(resp, 400, "MALFORMED_REQUEST"), path
    run_id = new_run(api, new_experiment(api))
    for model_json in (DEEP.decode(), json.dumps({"flavors": nested(150)})):
        resp = send(api, "POST", "runs/log-model", {"run_id": run_id, "model_json": model_json})
        assert "levels deep" in error(resp, 400, INVALID)
    # up to the limit is fine
    call(api, "POST", "experiments/create", {"name": unique("deep"), "x": nested(99)})


# -- fuzzed bodies -------------------------------------------------------------------------------
TEXT = st.text(max_size=12)  # NUL and lone surrogates included
JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                    | st.integers(10**300, 10**400) | st.floats()
                    | TEXT, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
PAIRS = st.lists(st.fixed_dictionaries({}, optional={"key": TEXT | JSON, "value": TEXT | JSON}),
                 max_size=3) | JSON


FUZZED = {  # endpoint -> its body's fields (given the fuzz run's id)
    "runs/log-batch": lambda run_id: {
        "run_id": st.just(run_id) | JSON, "params": PAIRS, "tags": PAIRS,
        "metrics": st.lists(st.fixed_dictionaries({}, optional={
            "key": TEXT | JSON, "value": JSON | st.sampled_from(["NaN", "-Infinity"]),
            "timestamp": JSON, "step": JSON}), max_size=3) | JSON},
    "experiments/create": lambda run_id: {"name": TEXT | JSON, "tags": PAIRS,
                                          "artifact_location": TEXT | JSON},
    "model-versions/create": lambda run_id: {
        "name": TEXT | JSON, "run_id": st.just(run_id) | JSON, "model_id": TEXT | JSON,
        "source": st.sampled_from([f"runs:/{run_id}/m", "models:/x"]) | TEXT | JSON,
        "description": JSON, "tags": PAIRS},
}


@pytest.fixture(scope="module")
def fuzz(server):
    with httpx.Client(base_url=server.url, timeout=30,
                      limits=httpx.Limits(max_keepalive_connections=0)) as api:
        yield api, new_run(api, new_experiment(api))


@pytest.mark.parametrize("path", FUZZED)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_fuzzed_bodies_never_answer_server_errors(fuzz, path, data):
    api, run_id = fuzz
    body = data.draw(st.fixed_dictionaries({}, optional=FUZZED[path](run_id)))
    resp = send(api, "POST", path, body)
    assert resp.status_code < 500, f"{body!r:.300} -> {resp.text[:300]}"
    if resp.status_code >= 400:
        mlflow_error(resp)
