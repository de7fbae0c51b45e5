"""MLflow 3's issues: problems found in a GenAI app's traces (a name, a description, a
status and a severity, root causes and categories), each an ``Issue`` context under
its experiment's. Traces point at an issue through assessments of type ``issue``
named by its id; searching can count them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from ..._util import now_ms
from ...lineage import TypeKind, contexts, executions
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.tracking_store import TrackingStore

ISSUE_TYPE = "Issue"
STATUSES = ("pending", "rejected", "resolved")
SEVERITIES = ("not_an_issue", "low", "medium", "high")
_FILTER_FIELDS = ("source_run_id", "status")


class Issues:
    """Create, update, read and search the issues of a tracking store (MLflow's JSON)."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def create(self, experiment_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        experiment = self.store.get_experiment(experiment_id)
        for required in ("name", "description"):
            if not fields.get(required):
                raise InvalidParameterError(f"Missing value for required parameter "
                                            f"'{required}'.")
        stamp = now_ms()
        issue = {"issue_id": f"iss-{uuid.uuid4().hex}", "experiment_id": experiment.experiment_id,
                 "status": "pending", "created_timestamp": stamp,
                 "last_updated_timestamp": stamp, **_checked(fields)}
        with self.store.write() as s:
            s.get_or_create_context(s.type_id(TypeKind.CONTEXT, ISSUE_TYPE), issue["issue_id"],
                                    custom={"issue": json.dumps(issue)},
                                    parent_ids=[self.store.experiment_pk(
                                        experiment.experiment_id)])
        return issue

    def get(self, issue_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, ISSUE_TYPE)
            node = None if type_id is None else s.node_by_name("context", type_id, issue_id)
        if node is None:
            raise ResourceDoesNotExistError(f"Issue with ID '{issue_id}' not found")
        return dict(json.loads(node.custom_properties["issue"]))

    def update(self, issue_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        issue = {**self.get(issue_id), **_checked(fields), "last_updated_timestamp": now_ms()}
        with self.store.write() as s:
            node = s.node_by_name("context", s.type_id(TypeKind.CONTEXT, ISSUE_TYPE), issue_id)
            assert node is not None  # get() found it
            s.set_properties("context", node.id, custom={"issue": json.dumps(issue)})
        return issue

    def search(self, experiment_id: str | None, filter_string: str | None,
               include_trace_count: bool) -> list[dict[str, Any]]:
        """Issues (of one experiment, or all), the most severe first, then those seen in
        the most traces (when counted), then the newest."""
        tests = _filter(filter_string)
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, ISSUE_TYPE)
            nodes = [] if type_id is None else s.nodes("context", contexts.c.type_id == type_id)
        found = [json.loads(n.custom_properties["issue"]) for n in nodes]
        if experiment_id is not None:
            wanted = self.store.get_experiment(experiment_id).experiment_id
            found = [i for i in found if i["experiment_id"] == wanted]
        found = [i for i in found if all(test(i) for test in tests)]
        if include_trace_count:
            counts = self._trace_counts()
            for issue in found:
                issue["trace_count"] = counts.get(issue["issue_id"], 0)
        found.sort(key=lambda i: (i["issue_id"]), reverse=True)
        found.sort(key=lambda i: (_severity_rank(i), i.get("trace_count", 0),
                                  i["created_timestamp"]), reverse=True)
        return found

    def _trace_counts(self) -> dict[str, int]:
        """How many traces hold an ``issue`` assessment naming each issue."""
        counts: dict[str, int] = {}
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.EXECUTION, "Trace")
            traces = [] if type_id is None else s.nodes("execution",
                                                        executions.c.type_id == type_id)
        for trace in traces:
            named = {json.loads(v).get("assessment_name") for k, v in
                     trace.custom_properties.items() if k.startswith("assessment:")
                     and "issue" in json.loads(v)}
            for issue_id in named:
                counts[issue_id] = counts.get(issue_id, 0) + 1
        return counts


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The settable fields of an issue, with MLflow's choices for status and severity
    (a 400 where MLflow's server fails with a 500)."""
    kept: dict[str, Any] = {}
    for name in ("name", "description", "source_run_id", "created_by"):
        if fields.get(name):
            kept[name] = str(fields[name])
    for name in ("root_causes", "categories"):
        if fields.get(name):
            kept[name] = [str(x) for x in fields[name]]
    for name, choices in (("status", STATUSES), ("severity", SEVERITIES)):
        value = fields.get(name)
        if value:
            if str(value).lower() not in choices:
                raise InvalidParameterError(f"Invalid issue {name} {value!r}: use one of "
                                            f"{', '.join(choices)}.")
            kept[name] = str(value).lower()
    return kept


def _severity_rank(issue: Mapping[str, Any]) -> int:
    severity = issue.get("severity")
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


def _filter(text: str | None) -> list[Any]:
    """``status = 'x'`` / ``source_run_id != 'y'`` clauses joined by AND."""
    from ..entities.clause_filter import Grammar, matches, parse_filter

    if not text or not text.strip():
        return []
    grammar = Grammar("issue", {f: ("=", "!=") for f in _FILTER_FIELDS}, (), {}, {}, (), ())
    try:
        clauses = parse_filter(grammar, text)
    except InvalidParameterError as exc:
        if "Invalid attribute key" in exc.message:
            raise InvalidParameterError(f"Invalid filter field in {text!r}. Supported fields: "
                                        f"{set(_FILTER_FIELDS)}") from None
        raise
    return [lambda issue, c=c: matches([c], issue, {}) for c in clauses]

