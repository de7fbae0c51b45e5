"""MLflow's ``/graphql`` endpoint, for its web UI: the same schema names (``mlflowGetRun``,
``mlflowSearchRuns``, ``mlflowGetExperiment``, ``mlflowGetMetricHistoryBulkInterval``,
``mlflowListArtifacts``, ``mlflowSearchModelVersions``), answered by the REST handlers
and turned into GraphQL's camelCase. As in MLflow, 64-bit numbers (steps, times, sizes)
are strings, every answer is HTTP 200 with ``{"data", "errors"}``, errors are plain
messages, and a query asking for a field the schema lacks fails as a whole.

Queries are limited as MLflow limits them: 10 root fields, 10 aliases, depth 10.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ._context import ServerContext
from ._registry_api import search_model_versions
from ._requests import Fields
from ._traces_api import snake_case
from ._tracking_api import (
    get_experiment,
    get_metric_history_bulk_interval,
    get_run,
    list_artifacts,
    search_runs,
)

MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10
MAX_DEPTH = 10

SCHEMA = """
directive @component(name: String!) on QUERY | MUTATION

type ApiError { code: String message: String helpUrl: String traceId: String }
type KeyValue { key: String value: String }
type MlflowExperiment {
  experimentId: String name: String artifactLocation: String lifecycleStage: String
  lastUpdateTime: String creationTime: String tags: [KeyValue]
  effectiveTraceArchivalRetention: String
}
type MlflowRunInfo {
  runId: String runUuid: String runName: String experimentId: String userId: String
  status: String startTime: String endTime: String artifactUri: String lifecycleStage: String
}
type MlflowMetric { key: String value: Float timestamp: String step: String }
type MlflowMetricWithRunId { key: String value: Float timestamp: String step: String runId: String }
type MlflowRunData { metrics: [MlflowMetric] params: [KeyValue] tags: [KeyValue] }
type MlflowDataset {
  name: String digest: String sourceType: String source: String schema: String profile: String
}
type MlflowDatasetInput { dataset: MlflowDataset tags: [KeyValue] }
type MlflowModelInput { modelId: String }
type MlflowRunInputs { datasetInputs: [MlflowDatasetInput] modelInputs: [MlflowModelInput] }
type MlflowModelOutput { modelId: String step: String }
type MlflowRunOutputs { modelOutputs: [MlflowModelOutput] }
type MlflowModelVersion {
  name: String version: String creationTimestamp: String lastUpdatedTimestamp: String
  userId: String currentStage: String description: String source: String runId: String
  status: String statusMessage: String runLink: String aliases: [String]
}
type MlflowRunExtension {
  info: MlflowRunInfo data: MlflowRunData inputs: MlflowRunInputs outputs: MlflowRunOutputs
  experiment: MlflowExperiment modelVersions: [MlflowModelVersion]
}
type MlflowFileInfo { path: String isDir: Boolean fileSize: String }
type MlflowGetRunResponse { run: MlflowRunExtension apiError: ApiError }
type MlflowSearchRunsResponse { runs: [MlflowRunExtension] nextPageToken: String apiError: ApiError }
type MlflowGetExperimentResponse { experiment: MlflowExperiment apiError: ApiError }
type MlflowGetMetricHistoryBulkIntervalResponse {
  metrics: [MlflowMetricWithRunId] apiError: ApiError
}
type MlflowListArtifactsResponse {
  rootUri: String files: [MlflowFileInfo] nextPageToken: String apiError: ApiError
}
type MlflowSearchModelVersionsResponse {
  modelVersions: [MlflowModelVersion] nextPageToken: String apiError: ApiError
}
type Test { output: String }

input MlflowGetRunInput { runId: String runUuid: String }
input MlflowSearchRunsInput {
  experimentIds: [String] filter: String runViewType: String maxResults: Int
  orderBy: [String] pageToken: String
}
input MlflowGetExperimentInput { experimentId: String }
input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String] metricKey: String startStep: Int endStep: Int maxResults: Int
}
input MlflowListArtifactsInput { runId: String runUuid: String path: String pageToken: String }
input MlflowSearchModelVersionsInput {
  filter: String maxResults: Int orderBy: [String] pageToken: String
}

type Query {
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetMetricHistoryBulkInterval(
    input: MlflowGetMetricHistoryBulkIntervalInput): MlflowGetMetricHistoryBulkIntervalResponse
  mlflowListArtifacts(input: MlflowListArtifactsInput): MlflowListArtifactsResponse
  mlflowSearchModelVersions(input: MlflowSearchModelVersionsInput): MlflowSearchModelVersionsResponse
  test(inputString: String): Test
}
type Mutation {
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  testMutation(inputString: String): Test
}
"""


def answer(ctx: ServerContext, body: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL answer to a request body ``{"query", "variables", "operationName"}``."""
    from graphql import GraphQLError, graphql_sync, parse, validate

    query = body.get("query")
    if not isinstance(query, str):
        return {"data": None, "errors": ["A GraphQL request needs a 'query' string."]}
    try:
        document = parse(query)
    except GraphQLError as exc:
        return {"data": None, "errors": [exc.message]}
    problems = validate(_schema(), document) + _limits(document)
    if problems:
        return {"data": None, "errors": [p.message for p in problems]}
    variables = body.get("variables")
    result = graphql_sync(_schema(), query, root_value=_Root(ctx),
                          variable_values=variables if isinstance(variables, dict) else None,
                          operation_name=body.get("operationName"))
    errors = [e.message for e in result.errors] if result.errors else None
    return {"data": result.data, "errors": errors}


@lru_cache(maxsize=1)
def _schema() -> Any:
    from graphql import build_schema

    return build_schema(SCHEMA)


def _limits(document: Any) -> list[Any]:
    """MLflow's caps on root fields, aliases and depth, as GraphQL errors."""
    from graphql import FieldNode, GraphQLError, OperationDefinitionNode

    problems = []
    aliases = 0

    def depth_of(selection_set: Any, depth: int) -> int:
        nonlocal aliases
        deepest = depth
        for node in getattr(selection_set, "selections", []) or []:
            if isinstance(node, FieldNode):
                aliases += 1 if node.alias is not None else 0
                if node.selection_set is not None:
                    deepest = max(deepest, depth_of(node.selection_set, depth + 1))
        return deepest

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            roots = len(definition.selection_set.selections)
            if roots > MAX_ROOT_FIELDS:
                problems.append(GraphQLError(f"GraphQL queries should have at most "
                                             f"{MAX_ROOT_FIELDS} root fields, got {roots}."))
            if depth_of(definition.selection_set, 1) > MAX_DEPTH:
                problems.append(GraphQLError(f"Query exceeds the maximum depth of {MAX_DEPTH}."))
    if aliases > MAX_ALIASES:
        problems.append(GraphQLError(f"GraphQL queries should have at most {MAX_ALIASES} "
                                     f"aliases, got {aliases} aliases."))
    return problems


class _Root:
    """The root fields, each calling the REST handler of the same MLflow request."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def _call(self, handler: Callable[[ServerContext, Fields], dict[str, Any]],
              fields: dict[str, Any], lists: dict[str, list[str]] | None = None) -> Any:
        values = {k: v for k, v in fields.items() if v is not None}
        return camel(handler(self.ctx, Fields(values, lists)))

    def mlflowGetRun(self, info: Any, input: dict[str, Any] | None = None) -> Any:  # noqa: A002,N802
        found = self._call(get_run, _snake_keys(input))
        return {"run": self._extend(found["run"])}

    def mlflowSearchRuns(self, info: Any, input: dict[str, Any] | None = None) -> Any:  # noqa: A002,N802
        args = _snake_keys(input)
        found = self._call(search_runs, args)
        return {"runs": [self._extend(r) for r in found.get("runs", [])],
                "nextPageToken": found.get("nextPageToken")}

    def mlflowGetExperiment(self, info: Any, input: dict[str, Any] | None = None) -> Any:  # noqa: A002,N802
        return self._call(get_experiment, _snake_keys(input))

    def mlflowGetMetricHistoryBulkInterval(self, info: Any,  # noqa: N802
                                           input: dict[str, Any] | None = None) -> Any:  # noqa: A002
        args = _snake_keys(input)
        run_ids = [str(r) for r in args.pop("run_ids", None) or []]
        return self._call(get_metric_history_bulk_interval, args, {"run_ids": run_ids})

    def mlflowListArtifacts(self, info: Any, input: dict[str, Any] | None = None) -> Any:  # noqa: A002,N802
        return self._call(list_artifacts, _snake_keys(input))

    def mlflowSearchModelVersions(self, info: Any, input: dict[str, Any] | None = None) -> Any:  # noqa: A002,N802
        args = _snake_keys(input)
        order_by = [str(o) for o in args.pop("order_by", None) or []]
        return self._call(search_model_versions, args, {"order_by": order_by})

    def test(self, info: Any, inputString: str | None = None) -> Any:  # noqa: N803
        return {"output": inputString}

    testMutation = test  # noqa: N815

    def _extend(self, run: dict[str, Any]) -> dict[str, Any]:
        """A run with its experiment and the model versions made from it (what
        MLflow's ``MlflowRunExtension`` adds)."""
        info = run.get("info", {})
        experiment = self._call(get_experiment, {"experiment_id": info.get("experimentId")})
        versions = self.ctx.registry.search_model_versions(
            f"run_id = '{info.get('runId', '')}'", None)
        from . import _json

        return {**run, "experiment": experiment.get("experiment"),
                "modelVersions": [camel(_json.model_version(v)) for v in versions]}


def camel(value: Any) -> Any:
    """A REST answer in GraphQL's names: snake_case keys in camelCase."""
    if isinstance(value, dict):
        return {_camel_name(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake_keys(values: dict[str, Any] | None) -> dict[str, Any]:
    return {snake_case(k): v for k, v in (values or {}).items()}
