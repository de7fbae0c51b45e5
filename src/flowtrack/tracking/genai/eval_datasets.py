"""MLflow 3's GenAI evaluation datasets: each an ``EvaluationDataset`` context named by
its id (``d-<hex>``), a child of every experiment it is linked to, with its name, tags,
schema, profile and digest in custom properties and each record (``dr-<hex>``: inputs,
outputs, expectations, tags, source) in a custom property ``record:<id>``.

Records merge as MLflow merges them: one record per distinct ``inputs``; merging
again replaces its outputs and adds to its expectations and tags. The schema records
each field's type the first time it is seen; the digest changes with every merge.
MLflow keeps ``tags``, ``schema``, ``profile`` and the record lists as JSON text on the
wire, so they are kept as JSON text here too."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..._util import now_ms
from ...lineage import LineageSession, Node, TypeKind, contexts, delete_nodes, parent_contexts
from ..entities.clause_filter import Grammar, matches, parse_filter, parse_order_by, sort
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.tracking_store import TrackingStore

DATASET_TYPE = "EvaluationDataset"
RECORD = "record:"
USER_TAG = "mlflow.user"
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
DATASETS = Grammar(
    "evaluation dataset",
    {"name": (*_STRING_OPS, "IN", "NOT IN"), "created_by": _STRING_OPS,
     "last_updated_by": _STRING_OPS},
    ("created_time", "last_update_time"), {},
    {"name": "name", "created_time": "created_time", "last_update_time": "last_update_time"},
    (("created_time", False),), (("dataset_id", False),))


class EvaluationDatasets:
    """Create, read, search and merge records into the evaluation datasets of a store;
    datasets and records are MLflow's JSON records."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def create(self, name: str, experiment_ids: Sequence[str], tags_json: str | None
               ) -> dict[str, Any]:
        tags = _json_object(tags_json, "tags")
        dataset_id = f"d-{uuid.uuid4().hex}"
        stamp = now_ms()
        custom = {"name": name, "tags": json.dumps(tags), "digest": _digest(name, stamp),
                  "last_update_time": stamp}
        user = tags.get(USER_TAG)
        if user:
            custom.update(created_by=str(user), last_updated_by=str(user))
        parents = [self.store.experiment_pk(str(e)) for e in experiment_ids]
        with self.store.write() as s:
            s.get_or_create_context(self._type(s), dataset_id, custom=custom, parent_ids=parents)
        found = self.get(dataset_id)
        return {**found, "experiment_ids": [str(e) for e in experiment_ids]}

    def get(self, dataset_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            return _dataset(self._node(s, dataset_id))

    def delete(self, dataset_id: str) -> None:
        """Forget a dataset and its records (an unknown one is already gone)."""
        with self.store.write() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
            node = None if type_id is None else s.node_by_name("context", type_id, dataset_id)
            if node is not None:
                delete_nodes(s, "context", [node.id], cascade=True)

    def search(self, experiment_ids: Sequence[str], filter_string: str | None,
               order_by: Sequence[str] | None) -> list[dict[str, Any]]:
        clauses = parse_filter(DATASETS, filter_string)
        order = parse_order_by(DATASETS, order_by)
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
            nodes = [] if type_id is None else s.nodes("context", contexts.c.type_id == type_id)
            if experiment_ids:
                linked = self._linked(s, [n.id for n in nodes])
                wanted = {str(e) for e in experiment_ids}
                nodes = [n for n in nodes if wanted & set(linked.get(n.id, []))]
        found = [_dataset(n) for n in nodes]
        found = [d for d in found if matches(clauses, d, json.loads(d["tags"]))]
        return sort(found, order, lambda d, f: d.get(f))

    def set_tags(self, dataset_id: str, tags_json: str) -> None:
        """Add or replace tags (a null value leaves its tag as it was, as in MLflow)."""
        new = {k: str(v) for k, v in _json_object(tags_json, "tags").items() if v is not None}
        with self.store.write() as s:
            node = self._node(s, dataset_id)
            tags = {**json.loads(node.custom_properties.get("tags", "{}")), **new}
            s.set_properties("context", node.id, custom={"tags": json.dumps(tags)})

    def delete_tag(self, dataset_id: str, key: str) -> None:
        with self.store.write() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
            node = None if type_id is None else s.node_by_name("context", type_id, dataset_id)
            if node is None:
                return  # nothing to delete: MLflow answers success too
            tags = json.loads(node.custom_properties.get("tags", "{}"))
            if tags.pop(key, None) is not None:
                s.set_properties("context", node.id, custom={"tags": json.dumps(tags)})

    def experiment_ids(self, dataset_id: str) -> list[str]:
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
            node = None if type_id is None else s.node_by_name("context", type_id, dataset_id)
            return [] if node is None else self._linked(s, [node.id]).get(node.id, [])

    def link_experiments(self, dataset_id: str, experiment_ids: Sequence[str],
                         linked: bool) -> dict[str, Any]:
        """Link the dataset to experiments, or unlink it (``linked`` False)."""
        pks = [self.store.experiment_pk(str(e)) for e in experiment_ids]
        with self.store.write() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
            node = None if type_id is None else s.node_by_name("context", type_id, dataset_id)
            if node is None:
                raise ResourceDoesNotExistError(f"Dataset '{dataset_id}' not found")
            for pk in pks:
                edge = (parent_contexts.c.context_id == node.id) & \
                    (parent_contexts.c.parent_context_id == pk)
                exists = s.conn.execute(parent_contexts.select().where(edge)).first()
                if linked and exists is None:
                    s.conn.execute(parent_contexts.insert().values(context_id=node.id,
                                                                   parent_context_id=pk))
                elif not linked and exists is not None:
                    s.conn.execute(parent_contexts.delete().where(edge))
            s.set_properties("context", node.id, custom={"last_update_time": now_ms()})
        return self.get(dataset_id)

    # -- records ----------------------------------------------------------------------
    def merge_records(self, dataset_id: str, records_json: str) -> tuple[int, int]:
        """Insert records, or merge into the record with the same inputs; (inserted,
        updated)."""
        incoming = _json_list(records_json, "records")
        stamp = now_ms()
        inserted = updated = 0
        with self.store.write() as s:
            node = self._node(s, dataset_id)
            records = _records(node)
            by_inputs = {_inputs_key(r.get("inputs")): r for r in records}
            schema = json.loads(node.custom_properties.get("schema") or "{}")
            changed: dict[str, Any] = {}
            for item in incoming:
                if not isinstance(item, dict) or not isinstance(item.get("inputs"), dict):
                    raise InvalidParameterError("Each record needs an 'inputs' object, e.g. "
                                                "{\"inputs\": {\"question\": \"...\"}}.")
                user = (item.get("tags") or {}).get(USER_TAG)
                existing = by_inputs.get(_inputs_key(item["inputs"]))
                record = _merged(existing, item, dataset_id, stamp, user)
                inserted, updated = (inserted + 1, updated) if existing is None \
                    else (inserted, updated + 1)
                by_inputs[_inputs_key(item["inputs"])] = record
                changed[RECORD + record["dataset_record_id"]] = json.dumps(record)
                _grow_schema(schema, record)
            total = len(by_inputs)
            custom = {**changed, "schema": json.dumps({**schema, "version": "1.0"}),
                      "profile": json.dumps({"num_records": total}),
                      "digest": _digest(node.custom_properties.get("name", ""), stamp),
                      "last_update_time": stamp}
            users = [(r.get("tags") or {}).get(USER_TAG) for r in incoming if isinstance(r, dict)]
            if any(users):
                custom["last_updated_by"] = str([u for u in users if u][-1])
            s.set_properties("context", node.id, custom=custom)
        return inserted, updated

    def records(self, dataset_id: str) -> list[dict[str, Any]]:
        """The dataset's records, oldest first ([] for an unknown dataset, as MLflow)."""
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
            node = None if type_id is None else s.node_by_name("context", type_id, dataset_id)
        if node is None:
            return []
        return sorted(_records(node), key=lambda r: (r["created_time"], r["dataset_record_id"]))

    def delete_records(self, dataset_id: str, record_ids: Sequence[str]) -> int:
        with self.store.write() as s:
            node = self._node(s, dataset_id)
            doomed = [RECORD + r for r in record_ids if RECORD + r in node.custom_properties]
            s.delete_properties("context", node.id, doomed)
            left = len(_records(node)) - len(doomed)
            s.set_properties("context", node.id, custom={
                "profile": json.dumps({"num_records": left} if left else None)})
        return len(doomed)

    # -- lookups ----------------------------------------------------------------------
    def _type(self, s: LineageSession) -> int:
        return s.type_id(TypeKind.CONTEXT, DATASET_TYPE)

    def _node(self, s: LineageSession, dataset_id: str) -> Node:
        type_id = s.find_type_id(TypeKind.CONTEXT, DATASET_TYPE)
        node = None if type_id is None else s.node_by_name("context", type_id, dataset_id)
        if node is None:
            raise ResourceDoesNotExistError(f"Evaluation dataset with id '{dataset_id}' not "
                                            "found")
        return node

    def _linked(self, s: LineageSession, ids: Sequence[int]) -> dict[int, list[str]]:
        """Each dataset context's experiments, by their client ids."""
        found: dict[int, list[str]] = {}
        for child, parent in s.conn.execute(
                parent_contexts.select().where(parent_contexts.c.context_id.in_(list(ids)))):
            found.setdefault(child, []).append(self.store.public_experiment_id(parent))
        return found


def _dataset(node: Node) -> dict[str, Any]:
    c = node.custom_properties
    found: dict[str, Any] = {
        "dataset_id": node.name, "name": c.get("name", ""), "tags": c.get("tags", "{}"),
        "digest": c.get("digest", ""), "created_time": node.create_time_since_epoch,
        "last_update_time": int(c.get("last_update_time", node.last_update_time_since_epoch))}
    for key in ("schema", "profile", "created_by", "last_updated_by"):
        if c.get(key):
            found[key] = c[key]
    return found


def _records(node: Node) -> list[dict[str, Any]]:
    return [json.loads(v) for k, v in node.custom_properties.items() if k.startswith(RECORD)]


def _merged(existing: dict[str, Any] | None, item: Mapping[str, Any], dataset_id: str,
            stamp: int, user: Any) -> dict[str, Any]:
    if existing is None:
        source = item.get("source") or {"source_type": "HUMAN", "source_data": {}}
        record: dict[str, Any] = {
            "dataset_record_id": f"dr-{uuid.uuid4().hex}", "dataset_id": dataset_id,
            "inputs": item["inputs"], "outputs": item.get("outputs", {}),
            "tags": dict(item.get("tags") or {}), "source": source,
            "source_type": source.get("source_type", "HUMAN"),
            "created_time": stamp, "last_update_time": stamp}
        data = source.get("source_data") or {}
        source_id = data.get("trace_id") or data.get("source_id")
        if source_id:
            record["source_id"] = source_id
        if item.get("expectations") is not None:
            record["expectations"] = dict(item["expectations"])
        if user:
            record["created_by"] = record["last_updated_by"] = str(user)
        return record
    record = dict(existing)
    if "outputs" in item:
        record["outputs"] = item["outputs"]
    if item.get("expectations"):
        record["expectations"] = {**(record.get("expectations") or {}), **item["expectations"]}
    if item.get("tags"):
        record["tags"] = {**(record.get("tags") or {}), **item["tags"]}
    record["last_update_time"] = stamp
    if user:
        record["last_updated_by"] = str(user)
    return record


def _grow_schema(schema: dict[str, Any], record: Mapping[str, Any]) -> None:
    """Note the types of fields not seen before (the first type seen stays)."""
    for part in ("inputs", "expectations"):
        for key, value in (record.get(part) or {}).items():
            schema.setdefault(part, {}).setdefault(key, _type_name(value))
    outputs = record.get("outputs")
    if isinstance(outputs, dict) and outputs:
        current = schema.get("outputs")
        fields = current if isinstance(current, dict) else {}
        for key, value in outputs.items():
            fields.setdefault(key, _type_name(value))
        schema["outputs"] = fields
    elif outputs not in (None, {}) and "outputs" not in schema:
        schema["outputs"] = _type_name(outputs)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _inputs_key(inputs: Any) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _digest(name: str, stamp: int) -> str:
    return hashlib.sha256(f"{name}:{stamp}".encode()).hexdigest()[:8]


def _json_object(text: str | None, what: str) -> dict[str, Any]:
    value = _json(text, what) if text else {}
    if not isinstance(value, dict):
        raise InvalidParameterError(f"{what} must be a JSON object (as text).")
    return value


def _json_list(text: str | None, what: str) -> list[Any]:
    value = _json(text, what) if text else []
    if not isinstance(value, list):
        raise InvalidParameterError(f"{what} must be a JSON list (as text).")
    return value


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what} must be JSON text; got {str(text)[:60]!r}.") \
            from None
