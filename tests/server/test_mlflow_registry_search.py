"""The model registry's search through the official mlflow client against a flowtrack
server: MLflow's filter grammar for registered models and model versions (name, tags,
run_id, source_path, version_number with =, !=, LIKE, ILIKE, IN, NOT IN), prompts left
out unless asked for (the client always adds ``tag.`mlflow.prompt.is_prompt` != 'true'``),
ordering, paging, and MLflow's errors for malformed searches."""

from __future__ import annotations

import pytest

from tests.server.mlflow_session import MlflowSession

RUN_ID = "a" * 32
OTHER_RUN = "b" * 32


@pytest.fixture(scope="module")
def registry(mlflow_client: MlflowSession) -> MlflowSession:
    """Models alpha-1, Alpha-2 and beta (tagged), a prompt, and versions of each."""
    mlflow_client.run("""
        client.create_registered_model("alpha-1", tags={"team": "vision", "stage": "dev"})
        client.create_registered_model("Alpha-2", tags={"team": "nlp"})
        client.create_registered_model("beta", tags={"owner": "ops"})
        for i in range(3):
            client.create_model_version("alpha-1", "s3://bucket/alpha/" + str(i),
                                        tags={"q": "hi" if i else "lo"})
        client.create_model_version("Alpha-2", "s3://bucket/other/0")
        client.create_model_version("beta", "s3://bucket/beta/0")
        mlflow.genai.register_prompt("greeting", template="Hello {{name}}")
    """)
    return mlflow_client


def names(session: MlflowSession, filter_string: str | None = None, **kwargs: object) -> list:
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return session.run(f"result = [m.name for m in client.search_registered_models("
                       f"{filter_string!r}{', ' + args if args else ''})]")


def versions(session: MlflowSession, filter_string: str, **kwargs: object) -> list:
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    found = session.run(f"result = [(v.name, v.version) for v in client.search_model_versions("
                        f"{filter_string!r}{', ' + args if args else ''})]")
    return [tuple(pair) for pair in found]


def test_registered_models_by_name(registry):
    assert names(registry) == ["Alpha-2", "alpha-1", "beta"]  # name order, no prompt
    assert names(registry, "name = 'alpha-1'") == ["alpha-1"]
    assert names(registry, "name != 'alpha-1'") == ["Alpha-2", "beta"]
    assert names(registry, "name LIKE 'alpha%'") == ["alpha-1"]  # LIKE is case-sensitive
    assert names(registry, "name ILIKE 'alpha%'") == ["Alpha-2", "alpha-1"]
    assert names(registry, "name LIKE 'alpha-_'") == ["alpha-1"]
    assert names(registry, "name IN ('beta', 'alpha-1')") == ["alpha-1", "beta"]
    assert names(registry, "name NOT IN ('beta')") == ["Alpha-2", "alpha-1"]
    assert names(registry, "attribute.name = \"beta\"") == ["beta"]


def test_registered_models_by_tag(registry):
    assert names(registry, "tags.team = 'vision'") == ["alpha-1"]
    assert names(registry, "tag.`team` LIKE '%l%'") == ["Alpha-2"]
    assert names(registry, "tags.team ILIKE 'VISION'") == ["alpha-1"]
    # a model without the tag never matches a clause on it, not even !=
    assert names(registry, "tags.team != 'vision'") == ["Alpha-2"]
    assert names(registry, "tags.team = 'vision' and tags.stage = 'dev'") == ["alpha-1"]
    assert names(registry, "name ILIKE 'a%' AND tags.team = 'nlp'") == ["Alpha-2"]


def test_prompts_only_when_asked_for(registry):
    prompt_tag = "tags.`mlflow.prompt.is_prompt`"
    assert names(registry, f"{prompt_tag} = 'true'") == ["greeting"]
    assert names(registry, f"{prompt_tag} != 'false'") == ["greeting"]
    # any other clause on the prompt tag means "not prompts", as in MLflow: the models
    # (which have no such tag) all match
    assert names(registry, f"{prompt_tag} = 'false'") == ["Alpha-2", "alpha-1", "beta"]
    assert names(registry, f"{prompt_tag} != 'true'") == ["Alpha-2", "alpha-1", "beta"]
    assert registry.run("result = [p.name for p in mlflow.genai.search_prompts()]") == \
        ["greeting"]


def test_registered_models_order_and_pages(registry):
    assert names(registry, None, order_by=["name DESC"]) == ["beta", "alpha-1", "Alpha-2"]
    # beta got the last new version, so it was updated last
    assert names(registry, None, order_by=["last_updated_timestamp DESC"])[0] == "beta"
    assert names(registry, None, order_by=["timestamp ASC"])[-1] == "beta"
    pages = registry.run("""
        first = client.search_registered_models(max_results=2)
        second = client.search_registered_models(max_results=2, page_token=first.token)
        result = [[m.name for m in first], first.token is not None,
                  [m.name for m in second], bool(second.token)]
    """)
    assert pages == [["Alpha-2", "alpha-1"], True, ["beta"], False]


def test_model_versions_by_attribute(registry):
    assert versions(registry, "name = 'alpha-1'", order_by=["version_number ASC"]) == \
        [("alpha-1", "1"), ("alpha-1", "2"), ("alpha-1", "3")]
    assert versions(registry, "name = 'alpha-1' AND version_number > 1",
                    order_by=["version_number DESC"]) == [("alpha-1", "3"), ("alpha-1", "2")]
    assert versions(registry, "name = 'alpha-1' AND version_number = '2'") == [("alpha-1", "2")]
    assert versions(registry, "source_path LIKE 's3://bucket/alpha/%' AND version_number <= 1"
                    ) == [("alpha-1", "1")]
    assert sorted(versions(registry, "name IN ('beta', 'Alpha-2')")) == \
        [("Alpha-2", "1"), ("beta", "1")]
    assert versions(registry, "tags.q = 'lo'") == [("alpha-1", "1")]
    assert versions(registry, "name ILIKE 'ALPHA-1' AND tags.q != 'lo'",
                    order_by=["version_number"]) == [("alpha-1", "2"), ("alpha-1", "3")]


def test_model_versions_default_order_is_newest_update_first(registry):
    found = versions(registry, "name = 'alpha-1'")
    assert found == [("alpha-1", "3"), ("alpha-1", "2"), ("alpha-1", "1")]


def test_prompt_versions_are_left_out(registry):
    assert ("greeting", "1") not in versions(registry, "")
    assert versions(registry, "tags.`mlflow.prompt.is_prompt` = 'true'") == [("greeting", "1")]


def test_model_versions_by_run_id(mlflow_client):
    mlflow_client.run(f"""
        client.create_registered_model("by-run")
        client.create_model_version("by-run", "s3://x/1", run_id={RUN_ID!r})
        client.create_model_version("by-run", "s3://x/2", run_id={OTHER_RUN!r})
    """)
    assert versions(mlflow_client, f"run_id = '{RUN_ID}'") == [("by-run", "1")]
    assert versions(mlflow_client, f"run_id IN ('{RUN_ID}', '{OTHER_RUN}')",
                    order_by=["version_number"]) == [("by-run", "1"), ("by-run", "2")]
    assert versions(mlflow_client, f"name = 'by-run' AND run_id != '{RUN_ID}'") == \
        [("by-run", "2")]


@pytest.mark.parametrize(("call", "fragment"), [
    ("client.search_registered_models(\"name = 'a' OR name = 'b'\")",
     "Invalid clause(s) in filter string: OR"),
    ("client.search_registered_models(\"run_id = 'x'\")", "Invalid attribute key 'run_id'"),
    ("client.search_registered_models(\"name > 'x'\")", "Invalid comparator for attribute"),
    ("client.search_registered_models(\"name = x\")", "not quoted"),
    ("client.search_registered_models(\"foo.bar = 'x'\")", "Invalid entity type 'foo'"),
    ("client.search_registered_models(\"tags.t IN ('x')\")", "Expected a quoted string value"),
    ("client.search_registered_models(\"tags.t > 'x'\")", "Invalid comparator for tag"),
    ("client.search_registered_models(\"name IN ()\")", "expected a non-empty list"),
    ("client.search_registered_models(\"name IS NULL\")", "IS NULL"),
    ("client.search_registered_models(order_by=['creation_timestamp DESC'])",
     "Invalid order by key 'creation_timestamp'"),
    ("client.search_registered_models(order_by=['name sideways'])",
     "Invalid ordering key in order_by clause 'name sideways'"),
    ("client.search_registered_models(order_by=['name ASC', 'name DESC'])",
     "duplicate fields"),
    ("client.search_registered_models(max_results=1001)", "max_results"),
    ("client.search_model_versions(\"version_number = 1.5\")",
     "Invalid value for numeric attribute 'version_number'"),
    ("client.search_model_versions(\"source_path IN ('a')\")", "list of quoted string values"),
    ("client.search_model_versions(\"current_stage = 'None'\")",
     "Invalid attribute key 'current_stage'"),
    ("client.search_model_versions(order_by=['run_id'])", "Invalid attribute key 'run_id'"),
])
def test_malformed_searches_are_400_invalid_parameter_value(mlflow_client, call, fragment):
    error = mlflow_client.fails(f"result = {call}")
    assert error["error_code"] == "INVALID_PARAMETER_VALUE", error
    assert fragment in error["message"]
