"""MLflow 3's GenAI evaluation records through the official mlflow client against a
flowtrack server: registered scorers (versions, latest, deletion, decorated scorers
refused, online settings) and evaluation datasets (records merged by their inputs,
the frame, search, tags, experiments, deletion)."""

from __future__ import annotations

import httpx
import pytest

from tests.server.mlflow_session import MlflowSession


@pytest.fixture(scope="module")
def genai(mlflow_client: MlflowSession) -> MlflowSession:
    mlflow_client.run("""
        from mlflow.genai.scorers import (RelevanceToQuery, list_scorers, get_scorer,
                                          delete_scorer, scorer)
        from mlflow.genai.datasets import (create_dataset, get_dataset, search_datasets,
                                           delete_dataset)
    """)
    return mlflow_client


def test_scorer_versions(genai):
    found = genai.run("""
        mlflow.set_experiment("scorers")
        RelevanceToQuery().register(name="relevance")
        RelevanceToQuery(model="openai:/gpt-4o-mini").register(name="relevance")
        from mlflow.genai.scorers.registry import list_scorer_versions
        result = [[s.name for s in list_scorers()],
                  get_scorer(name="relevance").model,
                  get_scorer(name="relevance", version=1).model,
                  [v for _, v in list_scorer_versions(name="relevance")]]
    """)
    assert found == [["relevance"], "openai:/gpt-4o-mini", None, [1, 2]]
    after = genai.run("""
        delete_scorer(name="relevance", version=2)
        latest = get_scorer(name="relevance").model
        delete_scorer(name="relevance", version="all")
        result = [latest, [s.name for s in list_scorers()]]
    """)
    assert after == [None, []]
    error = genai.fails("result = get_scorer(name='relevance')")
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "Scorer with name 'relevance' not found" in error["message"]


def test_versions_count_again_after_every_version_is_deleted(genai):
    assert genai.run("""
        mlflow.set_experiment("scorer-restart")
        RelevanceToQuery().register(name="again")
        delete_scorer(name="again", version=1)
        RelevanceToQuery().register(name="again")
        from mlflow.genai.scorers.registry import list_scorer_versions
        result = [v for _, v in list_scorer_versions(name="again")]
    """) == [1]


def test_decorated_scorers_are_refused(genai, tmp_path):
    # the client serializes a decorated scorer with its source, so it lives in a file
    (tmp_path / "my_scorers.py").write_text(
        "from mlflow.genai.scorers import scorer\n\n\n@scorer\n"
        "def exact(outputs, expectations):\n    return outputs == expectations['answer']\n")
    error = genai.fails(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from my_scorers import exact
        mlflow.set_experiment("scorers-custom")
        result = exact.register(name="exact")
    """)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS" in error["message"]


def test_online_scoring_needs_a_gateway_model(server):
    base = f"{server.url}/api/3.0/mlflow/scorers"
    with httpx.Client(timeout=30) as http:
        http.post(f"{base}/register", json={"experiment_id": "0", "name": "gated",
                                            "serialized_scorer": '{"name": "gated"}'})
        refused = http.put(f"{base}/online-config", json={"experiment_id": "0", "name": "gated",
                                                          "sample_rate": 0.5})
        assert refused.status_code == 400 and "gateway" in refused.json()["message"]
        bad_rate = http.put(f"{base}/online-config", json={"experiment_id": "0", "name": "gated",
                                                           "sample_rate": 2})
        assert bad_rate.status_code == 400
        stopped = http.put(f"{base}/online-config", json={"experiment_id": "0", "name": "gated",
                                                          "sample_rate": 0}).json()["config"]
        scorer_id = http.get(f"{base}/get", params={"experiment_id": "0", "name": "gated"}
                             ).json()["scorer"]["scorer_id"]
        configs = http.get(f"{base}/online-configs", params={"scorer_ids": scorer_id}).json()
        assert configs == {"configs": [stopped]} and stopped["sample_rate"] == 0


def test_an_evaluation_dataset_merges_records_by_their_inputs(genai):
    found = genai.run("""
        mlflow.set_experiment("datasets")
        dataset = create_dataset(name="arithmetic", tags={"team": "qa"})
        dataset.merge_records([
            {"inputs": {"q": "2+2?"}, "outputs": "4", "expectations": {"answer": 4}},
            {"inputs": {"q": "3+3?"}, "expectations": {"answer": 6}}])
        dataset.merge_records([{"inputs": {"q": "2+2?"}, "expectations": {"exact": True}}])
        loaded = get_dataset(dataset_id=dataset.dataset_id)
        frame = loaded.to_df().sort_values("created_time")
        import json
        result = [sorted(map(str, frame["inputs"])), sorted(map(str, frame["expectations"])),
                  json.loads(loaded.schema), json.loads(loaded.profile), loaded.tags["team"],
                  get_dataset(name="arithmetic").dataset_id == dataset.dataset_id,
                  loaded.experiment_ids == [mlflow.get_experiment_by_name("datasets").experiment_id],
                  dataset.digest != loaded.digest]
    """)
    inputs, expectations, schema, profile, team, by_name, linked, digest_changed = found
    assert inputs == ["{'q': '2+2?'}", "{'q': '3+3?'}"]
    assert expectations == ["{'answer': 4, 'exact': True}", "{'answer': 6}"]
    assert schema == {"inputs": {"q": "string"}, "outputs": "string",
                      "expectations": {"answer": "integer", "exact": "boolean"},
                      "version": "1.0"}
    assert profile == {"num_records": 2} and team == "qa"
    assert by_name and linked and digest_changed


def test_datasets_search_tags_experiments_and_deletion(genai):
    found = genai.run("""
        from mlflow import MlflowClient
        client = MlflowClient()
        first = mlflow.set_experiment("datasets-a").experiment_id
        second = mlflow.set_experiment("datasets-b").experiment_id
        dataset = create_dataset(name="searchable", experiment_id=first)
        client.set_dataset_tags(dataset.dataset_id, {"stage": "gold", "owner": "ann"})
        client.delete_dataset_tag(dataset.dataset_id, "owner")
        client.add_dataset_to_experiments(dataset.dataset_id, [second])
        linked = sorted(get_dataset(dataset_id=dataset.dataset_id).experiment_ids)
        client.remove_dataset_from_experiments(dataset.dataset_id, [first])
        after = get_dataset(dataset_id=dataset.dataset_id).experiment_ids
        by_name = [d.name for d in search_datasets(filter_string="name LIKE 'search%'")]
        by_tag = [d.name for d in search_datasets(filter_string="tags.stage = 'gold'")]
        in_second = [d.name for d in search_datasets(experiment_ids=[second])]
        in_first = [d.name for d in search_datasets(experiment_ids=[first])]
        tags = get_dataset(dataset_id=dataset.dataset_id).tags
        delete_dataset(dataset_id=dataset.dataset_id)
        result = [linked == sorted([first, second]), after == [second], by_name, by_tag,
                  in_second, in_first, {k: v for k, v in tags.items() if k != "mlflow.user"}]
    """)
    assert found == [True, True, ["searchable"], ["searchable"], ["searchable"], [],
                     {"stage": "gold"}]
    error = genai.fails("result = get_dataset(name='searchable')")
    assert error["error_code"] in ("RESOURCE_DOES_NOT_EXIST", None)


def test_records_can_be_deleted_and_paged(server, genai):
    dataset_id = genai.run("""
        mlflow.set_experiment("datasets-records")
        dataset = create_dataset(name="many")
        dataset.merge_records([{"inputs": {"i": i}} for i in range(25)])
        result = dataset.dataset_id
    """)
    base = f"{server.url}/api/3.0/mlflow/datasets/{dataset_id}/records"
    with httpx.Client(timeout=30) as http:
        import json
        first = http.get(base, params={"max_results": 10}).json()
        assert len(json.loads(first["records"])) == 10 and first["next_page_token"]
        ids = [r["dataset_record_id"] for r in json.loads(first["records"])][:3]
        deleted = http.request("DELETE", base, json={"dataset_record_ids": ids + ["dr-nope"]})
        assert deleted.json() == {"deleted_count": 3}
    assert genai.run(f"result = len(get_dataset(dataset_id={dataset_id!r}).to_df())") == 22


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "datasets/d-unknown", None, 404),
    ("POST", "datasets/d-unknown/records", {"records": "[]"}, 404),
    ("POST", "datasets/create", {"name": "x", "tags": "not json"}, 400),
    ("POST", "scorers/register", {"experiment_id": "0", "name": "x",
                                  "serialized_scorer": "{broken"}, 400),
    ("POST", "scorers/register", {"experiment_id": "0", "name": " ",
                                  "serialized_scorer": "{}"}, 400),
    ("GET", "scorers/get", {"experiment_id": "0", "name": "none"}, 404),
])
def test_genai_errors_are_4xx(server, method, path, body, status):
    url = f"{server.url}/api/3.0/mlflow/{path}"
    answer = (httpx.get(url, params=body, timeout=30) if method == "GET"
              else httpx.request(method, url, json=body, timeout=30))
    assert answer.status_code == status, answer.text


def test_issues(genai):
    found = genai.run("""
        from mlflow.tracking._tracking_service.utils import _get_store
        from mlflow.entities.issue import IssueSeverity, IssueStatus
        store = _get_store()
        experiment = mlflow.set_experiment("issues").experiment_id
        slow = store.create_issue(experiment, "Slow", "Answers take too long",
                                  severity=IssueSeverity.HIGH, root_causes=["db"])
        wrong = store.create_issue(experiment, "Wrong", "Answers are wrong",
                                   severity=IssueSeverity.LOW)
        store.update_issue(wrong.issue_id, status=IssueStatus.RESOLVED)
        listed = store.search_issues(experiment_id=experiment)
        pending = store.search_issues(experiment_id=experiment, filter_string="status = 'pending'")
        result = [[i.name for i in listed], [i.name for i in pending],
                  str(store.get_issue(wrong.issue_id).status), slow.root_causes,
                  slow.issue_id.startswith("iss-")]
    """)
    assert found[:2] == [["Slow", "Wrong"], ["Slow"]]  # the most severe first
    assert "resolved" in found[2].lower() and found[3] == ["db"] and found[4]


def test_bad_issue_requests(server):
    base = f"{server.url}/api/3.0/mlflow/issues"
    with httpx.Client(timeout=30) as http:
        assert http.get(f"{base}/iss-nope").status_code == 404
        bad_status = http.post(base, json={"experiment_id": "0", "name": "n", "description": "d",
                                           "status": "maybe"})
        assert bad_status.status_code == 400  # MLflow fails with a 500 here
        bad_filter = http.post(f"{base}/search", json={"filter_string": "name = 'x'"})
        assert bad_filter.status_code == 400 and "Supported fields" in bad_filter.json()["message"]
