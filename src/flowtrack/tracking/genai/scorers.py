"""Registered scorers (MLflow 3's ``scorer.register()``): per experiment and name, a
``Scorer`` context under the experiment's, holding each version's serialized scorer
(the client's JSON, kept as given and never run here) in a custom property
``version:<n>``, and the online scoring settings in ``online_config``. Versions count
from 1; deleting every version starts the count again, as in MLflow.

A scorer defined by a decorated function carries its source code; MLflow's server
refuses those unless its operator allows them, and so does this one
(``MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS`` or ``FLOWTRACK_SERVER_ENABLE_CUSTOM_SCORERS``)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from ..._util import now_ms
from ...lineage import LineageSession, Node, TypeKind, contexts, delete_nodes
from ..errors import InvalidParameterError, ResourceDoesNotExistError
from ..store.tracking_store import TrackingStore

SCORER_TYPE = "Scorer"
VERSION = "version:"
ONLINE_CONFIG = "online_config"
_ALLOW_CUSTOM = ("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "FLOWTRACK_SERVER_ENABLE_CUSTOM_SCORERS")


class Scorers:
    """The registered scorers of one tracking store, as MLflow's JSON records."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def register(self, experiment_id: str, name: str, serialized: str) -> dict[str, Any]:
        """A new version of scorer ``name`` in the experiment."""
        _check_payload(serialized)
        if not name.strip():
            raise InvalidParameterError("Scorer name cannot be empty or contain only "
                                        "whitespace.")
        experiment = self.store.get_experiment(experiment_id)
        pk = self.store.experiment_pk(experiment.experiment_id)
        with self.store.write() as s:
            type_id = s.type_id(TypeKind.CONTEXT, SCORER_TYPE)
            node_id, created = s.get_or_create_context(
                type_id, f"{experiment.experiment_id}/{name}", custom={
                    "scorer_id": str(uuid.uuid4()), "scorer_name": name,
                    "experiment_id": experiment.experiment_id}, parent_ids=[pk])
            [node] = s.nodes_by_ids("context", [node_id])
            version = 1 + max(_versions(node), default=0)
            stamp = now_ms()
            s.set_properties("context", node_id, custom={VERSION + str(version): json.dumps(
                {"serialized_scorer": serialized, "creation_time": stamp})})
        return {"version": version, "scorer_id": node.custom_properties["scorer_id"],
                "experiment_id": experiment.experiment_id, "name": name,
                "serialized_scorer": serialized, "creation_time": stamp}

    def latest(self, experiment_ids: list[str] | None) -> list[dict[str, Any]]:
        """Each scorer's latest version, of the given experiments (else of every
        active one), by experiment and name."""
        with self.store.read() as s:
            nodes = self._nodes(s)
        if experiment_ids is not None:
            wanted = set()
            for experiment_id in experiment_ids:
                try:
                    wanted.add(self.store.get_experiment(experiment_id).experiment_id)
                except ResourceDoesNotExistError:
                    if len(experiment_ids) == 1:
                        raise
            nodes = [n for n in nodes if n.custom_properties.get("experiment_id") in wanted]
        found = [_scorer(n, max(_versions(n))) for n in nodes if _versions(n)]
        return sorted(found, key=lambda x: (int(x["experiment_id"]), x["scorer_name"]))

    def versions(self, experiment_id: str, name: str) -> list[dict[str, Any]]:
        node = self._node(experiment_id, name)
        return [_scorer(node, v) for v in sorted(_versions(node))]

    def get(self, experiment_id: str, name: str, version: int | None = None) -> dict[str, Any]:
        node = self._node(experiment_id, name)
        numbers = _versions(node)
        wanted = max(numbers, default=0) if version is None else int(version)
        if wanted not in numbers:
            raise ResourceDoesNotExistError(_missing(experiment_id, name, version))
        return _scorer(node, wanted)

    def delete(self, experiment_id: str, name: str, version: int | None = None) -> None:
        """Forget one version, or the scorer with every version (``version`` None)."""
        node = self._node(experiment_id, name)
        with self.store.write() as s:
            if version is None:
                delete_nodes(s, "context", [node.id], cascade=True)
                return
            if int(version) not in _versions(node):
                raise ResourceDoesNotExistError(_missing(experiment_id, name, version))
            s.delete_properties("context", node.id, [VERSION + str(int(version))])

    def online_configs(self, scorer_ids: list[str]) -> list[dict[str, Any]]:
        with self.store.read() as s:
            nodes = self._nodes(s)
        return [json.loads(n.custom_properties[ONLINE_CONFIG]) for n in nodes
                if n.custom_properties.get("scorer_id") in scorer_ids
                and ONLINE_CONFIG in n.custom_properties]

    def set_online_config(self, experiment_id: str, name: str, sample_rate: float,
                          filter_string: str | None) -> dict[str, Any]:
        """Turn automatic scoring of new traces on (a rate above 0) or off. Scoring runs
        the scorer's judge through an AI gateway endpoint; only scorers using a
        ``gateway:/`` model can be scored automatically, as in MLflow."""
        if not 0.0 <= sample_rate <= 1.0:
            raise InvalidParameterError(f"sample_rate must be between 0.0 and 1.0, got "
                                        f"{sample_rate}")
        latest = self.get(experiment_id, name)
        if sample_rate > 0 and "gateway:/" not in latest["serialized_scorer"]:
            raise InvalidParameterError(f"Scorer '{name}' does not use a gateway model. "
                                        "Automatic evaluation is only supported for scorers "
                                        "that use gateway models.")
        node = self._node(experiment_id, name)
        previous = json.loads(node.custom_properties.get(ONLINE_CONFIG, "{}"))
        config = {"online_scoring_config_id": previous.get("online_scoring_config_id")
                  or uuid.uuid4().hex, "scorer_id": node.custom_properties["scorer_id"],
                  "sample_rate": sample_rate,
                  "experiment_id": str(node.custom_properties["experiment_id"])}
        if filter_string:
            config["filter_string"] = filter_string
        with self.store.write() as s:
            s.set_properties("context", node.id, custom={ONLINE_CONFIG: json.dumps(config)})
        return config

    def _nodes(self, s: LineageSession) -> list[Node]:
        type_id = s.find_type_id(TypeKind.CONTEXT, SCORER_TYPE)
        return [] if type_id is None else s.nodes("context", contexts.c.type_id == type_id)

    def _node(self, experiment_id: str, name: str) -> Node:
        experiment = self.store.get_experiment(experiment_id)
        with self.store.read() as s:
            type_id = s.find_type_id(TypeKind.CONTEXT, SCORER_TYPE)
            node = None if type_id is None else s.node_by_name(
                "context", type_id, f"{experiment.experiment_id}/{name}")
        if node is None or not _versions(node):
            raise ResourceDoesNotExistError(_missing(experiment_id, name, None))
        return node


def _versions(node: Node) -> list[int]:
    return [int(k[len(VERSION):]) for k in node.custom_properties if k.startswith(VERSION)]


def _scorer(node: Node, version: int) -> dict[str, Any]:
    stored = json.loads(node.custom_properties[VERSION + str(version)])
    return {"experiment_id": int(node.custom_properties["experiment_id"]),
            "scorer_name": node.custom_properties["scorer_name"], "scorer_version": version,
            "serialized_scorer": stored["serialized_scorer"],
            "creation_time": stored["creation_time"],
            "scorer_id": node.custom_properties["scorer_id"]}


def _missing(experiment_id: str, name: str, version: int | None) -> str:
    which = f"name '{name}'" + ("" if version is None else f" and version {version}")
    return f"Scorer with {which} not found for experiment {experiment_id}."


def _check_payload(serialized: str) -> None:
    try:
        payload = json.loads(serialized)
    except (TypeError, ValueError):
        raise InvalidParameterError("serialized_scorer must be valid JSON") from None
    if _has_source(payload) and not any(os.environ.get(v, "").lower() in ("1", "true")
                                        for v in _ALLOW_CUSTOM):
        raise InvalidParameterError(
            "Custom scorer registration (using @scorer decorator) is disabled by default "
            "outside of Databricks tracking environments: its code would run wherever it is "
            "loaded. The server's operator can allow it with "
            "MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS=true.")


def _has_source(payload: Any) -> bool:
    if isinstance(payload, dict):
        return payload.get("call_source") is not None or any(_has_source(v)
                                                            for v in payload.values())
    if isinstance(payload, list):
        return any(_has_source(v) for v in payload)
    return False
