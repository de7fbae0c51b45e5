"""MLflow 3's GenAI evaluation endpoints (``/api/3.0/mlflow/``): registered scorers and
their online scoring settings, evaluation datasets with their records, and issues, over
``tracking.genai``. Datasets' tags, schema, profile and record lists travel as JSON
text, as MLflow sends them."""

from __future__ import annotations

import json
from typing import Any

from ..tracking.errors import InvalidParameterError
from ..tracking.service import EvaluationDatasets, Issues, Scorers, offset_of, token_for
from ._context import ServerContext
from ._requests import Fields
from ._routes import route

V3 = ("3.0",)
MAX_DATASETS_PAGE = 50_000
RECORDS_PAGE = 1000


# -- scorers ------------------------------------------------------------------------------
@route("POST", path="scorers/register", versions=V3)
def register_scorer(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return Scorers(ctx.store).register(f.required("experiment_id"), f.required("name"),
                                       f.required("serialized_scorer"))


@route("GET", path="scorers/list", versions=V3)
def list_scorers(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    one, many = f.text("experiment_id"), f.texts("experiment_ids")
    if one and many:
        raise InvalidParameterError("Cannot specify both 'experiment_id' and "
                                    "'experiment_ids'. Use one or the other.")
    found = Scorers(ctx.store).latest([one] if one else (many or None))
    return {"scorers": found} if found else {}


@route("GET", path="scorers/versions", versions=V3)
def list_scorer_versions(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    found = Scorers(ctx.store).versions(f.required("experiment_id"), f.required("name"))
    return {"scorers": found}


@route("GET", path="scorers/get", versions=V3)
def get_scorer(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"scorer": Scorers(ctx.store).get(f.required("experiment_id"), f.required("name"),
                                             f.integer("version"))}


@route("DELETE", path="scorers/delete", versions=V3)
def delete_scorer(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    Scorers(ctx.store).delete(f.required("experiment_id"), f.required("name"),
                              f.integer("version"))
    return {}


@route("GET", path="scorers/online-configs", versions=V3)
def scorer_online_configs(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"configs": Scorers(ctx.store).online_configs(f.texts("scorer_ids"))}


@route("PUT", path="scorers/online-config", versions=V3)
def set_scorer_online_config(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"config": Scorers(ctx.store).set_online_config(
        f.required("experiment_id"), f.required("name"), f.double("sample_rate", required=True),
        f.text("filter_string"))}


# -- evaluation datasets ----------------------------------------------------------------------
@route("POST", path="datasets/create", versions=V3)
def create_dataset(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"dataset": EvaluationDatasets(ctx.store).create(
        f.required("name"), f.texts("experiment_ids"), f.text("tags"))}


@route("POST", "GET", path="datasets/search", versions=V3)
def search_datasets(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    size = f.integer("max_results", 1000)
    if not 1 <= size <= MAX_DATASETS_PAGE:
        raise InvalidParameterError(f"Invalid value {size} for parameter 'max_results' "
                                    f"supplied. It must be between 1 and {MAX_DATASETS_PAGE}")
    found = EvaluationDatasets(ctx.store).search(f.texts("experiment_ids"),
                                                 f.text("filter_string"), f.texts("order_by"))
    start = offset_of(f.text("page_token"))
    page = found[start:start + size]
    answer: dict[str, Any] = {"datasets": page} if page else {}
    if start + size < len(found):
        answer["next_page_token"] = token_for(start + size)
    return answer


@route("GET", path="datasets/{dataset_id}/records", versions=V3)
def get_dataset_records(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    records = EvaluationDatasets(ctx.store).records(f.required("dataset_id"))
    size = f.integer("max_results", RECORDS_PAGE)
    start = offset_of(f.text("page_token"))
    answer: dict[str, Any] = {"records": json.dumps(records[start:start + size])}
    if start + size < len(records):
        answer["next_page_token"] = token_for(start + size)
    return answer


@route("POST", path="datasets/{dataset_id}/records", versions=V3)
def upsert_dataset_records(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    inserted, updated = EvaluationDatasets(ctx.store).merge_records(f.required("dataset_id"),
                                                                    f.required("records"))
    return {"inserted_count": inserted, "updated_count": updated}


@route("DELETE", path="datasets/{dataset_id}/records", versions=V3)
def delete_dataset_records(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    count = EvaluationDatasets(ctx.store).delete_records(f.required("dataset_id"),
                                                         f.texts("dataset_record_ids"))
    return {"deleted_count": count}


@route("PATCH", path="datasets/{dataset_id}/tags", versions=V3)
def set_dataset_tags(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    EvaluationDatasets(ctx.store).set_tags(f.required("dataset_id"), f.required("tags"))
    return {}


@route("DELETE", path="datasets/{dataset_id}/tags/{key}", versions=V3)
def delete_dataset_tag(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    EvaluationDatasets(ctx.store).delete_tag(f.required("dataset_id"), f.required("key"))
    return {}


@route("GET", path="datasets/{dataset_id}/experiment-ids", versions=V3)
def dataset_experiment_ids(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    found = EvaluationDatasets(ctx.store).experiment_ids(f.required("dataset_id"))
    return {"experiment_ids": found} if found else {}


@route("POST", path="datasets/{dataset_id}/add-experiments", versions=V3)
def add_dataset_to_experiments(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"dataset": EvaluationDatasets(ctx.store).link_experiments(
        f.required("dataset_id"), f.texts("experiment_ids"), linked=True)}


@route("POST", path="datasets/{dataset_id}/remove-experiments", versions=V3)
def remove_dataset_from_experiments(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"dataset": EvaluationDatasets(ctx.store).link_experiments(
        f.required("dataset_id"), f.texts("experiment_ids"), linked=False)}


@route("GET", path="datasets/{dataset_id}", versions=V3)
def get_dataset(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"dataset": EvaluationDatasets(ctx.store).get(f.required("dataset_id"))}


@route("DELETE", path="datasets/{dataset_id}", versions=V3)
def delete_dataset(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    EvaluationDatasets(ctx.store).delete(f.required("dataset_id"))
    return {}


# -- issues -------------------------------------------------------------------------------
_ISSUE_FIELDS = ("name", "description", "status", "severity", "source_run_id", "created_by")


def _issue_fields(f: Fields) -> dict[str, Any]:
    found: dict[str, Any] = {k: f.text(k) for k in _ISSUE_FIELDS if f.text(k)}
    for name in ("root_causes", "categories"):
        if f.texts(name):
            found[name] = f.texts(name)
    return found


@route("POST", path="issues/search", versions=V3)
def search_issues(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    found = Issues(ctx.store).search(f.text("experiment_id"), f.text("filter_string"),
                                     f.flag("include_trace_count"))
    size = f.integer("max_results", 100)
    start = offset_of(f.text("page_token"))
    more = start + size < len(found)
    # MLflow always sends the token, empty on the last page
    return {"issues": found[start:start + size], "next_page_token": token_for(start + size)
            if more else ""}


@route("POST", path="issues", versions=V3)
def create_issue(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"issue": Issues(ctx.store).create(f.required("experiment_id"), _issue_fields(f))}


@route("GET", path="issues/{issue_id}", versions=V3)
def get_issue(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"issue": Issues(ctx.store).get(f.required("issue_id"))}


@route("PATCH", path="issues/{issue_id}", versions=V3)
def update_issue(ctx: ServerContext, f: Fields) -> dict[str, Any]:
    return {"issue": Issues(ctx.store).update(f.required("issue_id"), _issue_fields(f))}
