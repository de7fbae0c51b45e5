"""The registry's search language (tracking/entities/clause_filter.py) and the local registry
using it: parsing MLflow's filters and order_by, matching, prompts, ordering and pages
through ``TrackingClient`` on a local store, and stage transitions."""

from __future__ import annotations

import pytest

from flowtrack.tracking import InvalidParameterError, TrackingClient
from flowtrack.tracking.entities.clause_filter import (
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    Clause,
    asks_for_prompts,
    matches,
    parse_filter,
    parse_order_by,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("name = 'a'", [Clause("attribute", "name", "=", "a")]),
    ("attribute.name != \"b\"", [Clause("attribute", "name", "!=", "b")]),
    ("name like 'x%' and tags.t ILIKE '%Y'",
     [Clause("attribute", "name", "LIKE", "x%"), Clause("tag", "t", "ILIKE", "%Y")]),
    ("name IN ('a', \"b\")", [Clause("attribute", "name", "IN", ("a", "b"))]),
    ("name NOT IN ('a')", [Clause("attribute", "name", "NOT IN", ("a",))]),
    ("tag.`mlflow.prompt.is_prompt` = 'true'",
     [Clause("tag", "mlflow.prompt.is_prompt", "=", "true")]),
    ("tags.\"odd key\" = 'it''s'", [Clause("tag", "odd key", "=", "it's")]),
    ("", []),
])
def test_parse_registered_model_filters(text, expected):
    assert parse_filter(REGISTERED_MODELS, text) == expected


def test_parse_model_version_filters():
    assert parse_filter(MODEL_VERSIONS, "version_number >= 2 AND source_path LIKE 's3:%'") == [
        Clause("attribute", "version_number", ">=", 2),
        Clause("attribute", "source_path", "LIKE", "s3:%")]
    assert parse_filter(MODEL_VERSIONS, "version_number = '3'") == [
        Clause("attribute", "version_number", "=", 3)]
    # flowtrack's older names still work
    assert parse_filter(MODEL_VERSIONS, "source = 'x' AND version = 1") == [
        Clause("attribute", "source_path", "=", "x"),
        Clause("attribute", "version_number", "=", 1)]


@pytest.mark.parametrize(("grammar", "text", "fragment"), [
    (REGISTERED_MODELS, "name = 'a' OR name = 'b'", "OR"),
    (REGISTERED_MODELS, "name = 'a' AND", "AND needs a clause on each side"),
    (REGISTERED_MODELS, "version_number = 1", "Invalid attribute key 'version_number'"),
    (REGISTERED_MODELS, "name IS NULL", "no null tests"),
    (REGISTERED_MODELS, "name ~ 'a'", "Error on parsing filter"),
    (REGISTERED_MODELS, "name IN ('a', b)", "ill-formed list"),
    (REGISTERED_MODELS, "name = 'a' 'b'", "expected one value"),
    (MODEL_VERSIONS, "version_number LIKE '1'", "Invalid comparator for attribute"),
    (MODEL_VERSIONS, "version_number = 'two'", "Invalid value for numeric attribute"),
    (MODEL_VERSIONS, "run_id IN 'a'", "Expected a list of quoted string values"),
])
def test_malformed_filters_name_the_fault(grammar, text, fragment):
    with pytest.raises(InvalidParameterError, match=None) as raised:
        parse_filter(grammar, text)
    assert fragment in str(raised.value)


def test_order_by_adds_mlflows_tie_breakers():
    assert parse_order_by(REGISTERED_MODELS, None) == [("name", True)]
    assert parse_order_by(REGISTERED_MODELS, ["timestamp DESC"]) == [
        ("last_updated_timestamp", False), ("name", True)]
    assert parse_order_by(MODEL_VERSIONS, []) == [
        ("last_updated_timestamp", False), ("name", True), ("version_number", False)]
    assert parse_order_by(MODEL_VERSIONS, ["`version_number` asc"]) == [
        ("version_number", True), ("name", True)]
    for bad in (["name ASC", "name DESC"], ["creation_timestamp"], ["name up"], ["a b c"]):
        with pytest.raises(InvalidParameterError):
            parse_order_by(REGISTERED_MODELS, bad)


def test_matching_rules():
    like = parse_filter(REGISTERED_MODELS, "name LIKE 'a_c%'")
    assert matches(like, {"name": "abcdef"}, {})
    assert not matches(like, {"name": "ABcdef"}, {})  # LIKE is case-sensitive
    assert matches(parse_filter(REGISTERED_MODELS, "name ILIKE 'A_C%'"), {"name": "abc"}, {})
    literal = parse_filter(REGISTERED_MODELS, "name LIKE 'a.c'")  # '.' is no wildcard
    assert not matches(literal, {"name": "abc"}, {})
    missing = parse_filter(REGISTERED_MODELS, "tags.t != 'x'")
    assert not matches(missing, {"name": "m"}, {})  # no tag: no match, even for !=
    assert matches(missing, {"name": "m"}, {"t": "y"})


def test_prompt_rule():
    def asks(text: str) -> bool:
        return asks_for_prompts(parse_filter(REGISTERED_MODELS, text))
    assert asks("tags.`mlflow.prompt.is_prompt` = 'TRUE'")
    assert asks("tags.`mlflow.prompt.is_prompt` != 'false'")
    assert not asks("tags.`mlflow.prompt.is_prompt` != 'true'")
    assert not asks("name = 'x'")


@pytest.fixture
def client(store_env) -> TrackingClient:
    return TrackingClient()


def test_local_registry_search_orders_and_pages(client):
    for name in ("b-model", "a-model", "C-model"):
        client.create_registered_model(name, tags={"kind": name[0]})
    client.create_registered_model("prompt", tags={"mlflow.prompt.is_prompt": "true"})
    assert [m.name for m in client.search_registered_models()] == \
        ["C-model", "a-model", "b-model"]
    first = client.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in first] == ["b-model", "a-model"] and first.token
    rest = client.search_registered_models(max_results=2, order_by=["name DESC"],
                                           page_token=first.token)
    assert [m.name for m in rest] == ["C-model"] and rest.token is None
    assert [m.name for m in client.search_registered_models(
        "tags.`mlflow.prompt.is_prompt` = 'true'")] == ["prompt"]


def test_local_stage_transitions(client):
    for i in range(2):
        client.create_model_version("staged", f"s3://bucket/{i}")
    client.transition_model_version_stage("staged", 1, "production")
    moved = client.transition_model_version_stage("staged", 2, "Production",
                                                  archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert client.get_model_version("staged", 1).current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions("staged", ["production"])] == ["2"]
    with pytest.raises(InvalidParameterError, match="Invalid Model Version stage"):
        client.transition_model_version_stage("staged", 1, "Retired")


def test_local_experiment_tags_can_be_deleted(client):
    experiment_id = client.create_experiment("tagged", tags={"a": "1"})
    client.delete_experiment_tag(experiment_id, "a")
    assert client.get_experiment(experiment_id).tags == {}
