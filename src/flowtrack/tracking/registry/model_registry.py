"""The model registry in the lineage graph: a registered model is a
``RegisteredModel`` context (description, tags and aliases as custom properties), each
version a ``ModelVersion`` context under it, with the version's Model artifact
attributed to it, so a version's lineage leads to the run, the task, the data and
the code that made it. Versions number from 1 per model; aliases (``champion``)
point at one version each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..._config import settings
from ...lineage import (
    ArtifactState,
    LineageSession,
    Node,
    PropertyType,
    TypeKind,
    artifacts,
    attributions,
    contexts,
    delete_nodes,
)
from ..entities.clause_filter import (
    MODEL_VERSIONS,
    PROMPT_TAG,
    REGISTERED_MODELS,
    Clause,
    Grammar,
    asks_for_prompts,
    matches,
    parse_filter,
    parse_order_by,
    sort,
    without_prompt_clauses,
)
from ..entities.validation import check_key, check_name, check_tag_value
from ..errors import (
    InvalidParameterError,
    ResourceAlreadyExistsError,
    ResourceDoesNotExistError,
)
from ..models.logged import LoggedModels, is_model_id
from ..store.run_lineage import TAG_PREFIX
from ..store.tracking_store import TrackingStore

MODEL_TYPE = "RegisteredModel"
VERSION_TYPE = "ModelVersion"
_S, _I = PropertyType.STRING, PropertyType.INT
VERSION_PROPERTIES = {"name": _S, "version": _I, "source": _S, "run_id": _S, "status": _S,
                      "user": _S}
ALIAS_PREFIX = "alias:"
LAST_VERSION = "last_version"  # the highest version number ever given
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # on a logged model: the versions made of it
STAGE = "stage"  # a version's custom property; absent means "None"
STAGES = ("None", "Staging", "Production", "Archived")
ACTIVE_STAGES = ("Staging", "Production")
_ALIAS = re.compile(r"^[A-Za-z_][\w-]{0,254}$")


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    user_id: str
    source: str
    run_id: str
    status: str = "READY"
    current_stage: str = "None"
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    run_link: str = ""
    model_id: str = ""  # the MLflow 3 logged model it was made from, if any


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


def registry_for(store: Any) -> Any:
    """The registry of a store: ``Registry``, or the server's behind an http:// URI."""
    return store.registry() if store.remote else Registry(store)


class Registry:
    """Registered models and their versions in one tracking store."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store

    def _types(self, s: LineageSession) -> tuple[int, int]:
        return (s.type_id(TypeKind.CONTEXT, MODEL_TYPE),
                s.type_id(TypeKind.CONTEXT, VERSION_TYPE, VERSION_PROPERTIES))

    # -- registered models --------------------------------------------------------------
    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        check_name(name, "A registered model name")
        with self.store.write() as s:
            model_type, _ = self._types(s)
            if s.node_by_name("context", model_type, name) is not None:
                raise ResourceAlreadyExistsError(f"Registered model {name!r} already exists; "
                                                 "register a new version of it instead.")
            s.get_or_create_context(model_type, name, custom=_custom(tags, description))
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.store.write() as s:
            node = self._model_node(s, name)
            versions = self._versions(s, node)
        return _registered(node, versions)

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = 100,
                                 order_by: Sequence[str] | None = None) -> list[RegisteredModel]:
        """Registered models matching MLflow's registry ``filter_string``, sorted by
        ``order_by`` (``name``, ``last_updated_timestamp``; name ascending by default);
        prompts only when the filter asks for them (``entities/clause_filter.py``)."""
        clauses, order, prompts = _query(REGISTERED_MODELS, filter_string, order_by)
        with self.store.write() as s:
            model_type, _ = self._types(s)
            nodes = s.nodes("context", contexts.c.type_id == model_type)
            found = [_registered(n, self._versions(s, n)) for n in nodes]
        found = [m for m in found if (prompts or m.tags.get(PROMPT_TAG) != "true")
                 and matches(clauses, {"name": m.name}, m.tags)]
        found = sort(found, order, getattr)
        return found if max_results is None else found[:max_results]

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias.lower() == "latest":
            raise InvalidParameterError(f"Invalid alias {alias!r}: use letters, digits, '_' and "
                                        "'-', starting with a letter ('latest' is reserved).")
        with self.store.write() as s:
            node = self._model_node(s, name)
            self._version_node(s, node, str(version))  # it must exist
            s.set_properties("context", node.id, custom={ALIAS_PREFIX + alias: str(version)})

    def delete_alias(self, name: str, alias: str) -> None:
        with self.store.write() as s:
            node = self._model_node(s, name)
            s.delete_properties("context", node.id, [ALIAS_PREFIX + alias])

    def set_model_tag(self, name: str, key: str, value: Any) -> None:
        with self.store.write() as s:
            node = self._model_node(s, name)
            s.set_properties("context", node.id, custom={
                TAG_PREFIX + check_key(key, "tag"): check_tag_value(key, value)})

    def delete_model_tag(self, name: str, key: str) -> None:
        with self.store.write() as s:
            node = self._model_node(s, name)
            s.delete_properties("context", node.id, [TAG_PREFIX + key])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions follow (their names are ``<model>/<n>``)."""
        check_name(new_name, "A registered model name")
        with self.store.write() as s:
            model_type, version_type = self._types(s)
            node = self._model_node(s, name)
            if s.node_by_name("context", model_type, new_name) is not None:
                raise ResourceAlreadyExistsError(f"Registered model {new_name!r} already "
                                                 "exists; choose another name.")
            s.conn.execute(contexts.update().where(contexts.c.id == node.id)
                           .values(name=new_name))
            for version in s.child_contexts(node.id, contexts.c.type_id == version_type):
                number = version.properties["version"]
                s.conn.execute(contexts.update().where(contexts.c.id == version.id)
                               .values(name=f"{new_name}/{number}"))
                s.set_properties("context", version.id, {"name": new_name})
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """Forget a model and its versions (their Model artifacts and lineage stay)."""
        with self.store.write() as s:
            _, version_type = self._types(s)
            node = self._model_node(s, name)
            versions = s.child_contexts(node.id, contexts.c.type_id == version_type)
            delete_nodes(s, "context", [v.id for v in versions] + [node.id], cascade=True)

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Forget one version; aliases pointing at it go too."""
        with self.store.write() as s:
            model = self._model_node(s, name)
            node = self._version_node(s, model, str(version))
            delete_nodes(s, "context", [node.id], cascade=True)
            stale = [ALIAS_PREFIX + a for a, v in _aliases(model).items() if v == str(version)]
            if stale:
                s.delete_properties("context", model.id, stale)

    def delete_version_tag(self, name: str, version: str | int, key: str) -> None:
        with self.store.write() as s:
            node = self._version_node(s, self._model_node(s, name), str(version))
            s.delete_properties("context", node.id, [TAG_PREFIX + key])

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        with self.store.write() as s:
            node = self._model_node(s, name)
            s.set_properties("context", node.id, custom={"description": str(description)})
        return self.get_registered_model(name)

    # -- versions -------------------------------------------------------------------------
    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None,
                             description: str | None = None,
                             model_id: str | None = None) -> ModelVersion:
        """A new version of ``name`` (created if new) for the model at ``source``
        (``model_id``: the MLflow 3 logged model it comes from)."""
        if not isinstance(source, str) or not source or "\x00" in source:
            raise InvalidParameterError("A model version needs a source without NUL "
                                        "characters, e.g. runs:/<run_id>/model.")
        check_name(name, "A registered model name")
        artifact_source = source  # where the version's Model artifact was logged
        copied = _version_source(source)
        if copied is not None:  # a copy (copy_model_version): the original's run and model
            original = self.get_model_version(*copied)
            run_id, model_id = run_id or original.run_id, model_id or original.model_id
            artifact_source = original.source
        if source.startswith("runs:/") and not run_id:
            run_id = source[len("runs:/"):].split("/", 1)[0]
        model_id = model_id or _logged_model_id(source)
        custom = _custom(tags, description)
        if model_id:
            custom["model_id"] = model_id
            run_id = run_id or LoggedModels(self.store).get(model_id).source_run_id
        for _ in range(5):  # a concurrent registration may take the same number
            with self.store.write() as s:
                model_type, version_type = self._types(s)
                model, _ = s.get_or_create_context(model_type, name)
                [model_node] = s.nodes_by_ids("context", [model])
                number = 1 + max([int(model_node.custom_properties.get(LAST_VERSION, 0))]
                                 + [int(v.properties["version"]) for v in s.child_contexts(
                                     model, contexts.c.type_id == version_type)])
                props = {"name": name, "version": number, "source": source,
                         "run_id": run_id or "", "status": "READY", "user": settings().user}
                version, created = s.get_or_create_context(
                    version_type, f"{name}/{number}", props, custom, parent_ids=[model])
                if not created:
                    continue
                # numbers are never reused, even after a version is deleted (as in MLflow)
                s.set_properties("context", model, custom={LAST_VERSION: number})
                model_artifact = _model_artifact(s, artifact_source, model_id)
                if model_artifact is not None:
                    s.conn.execute(attributions.insert().values(context_id=version,
                                                                artifact_id=model_artifact))
            if model_id:
                self._note_version_on_model(model_id, name, number)
            return self.get_model_version(name, number)
        raise ResourceAlreadyExistsError(f"Could not allocate a version number for {name!r}; "
                                         "retry the registration.")

    def _note_version_on_model(self, model_id: str, name: str, number: int) -> None:
        """Add the version to the logged model's ``mlflow.modelVersions`` tag (a JSON
        list of {"name", "version"}), as MLflow's server does."""
        models = LoggedModels(self.store)
        tags = models.get(model_id).tags
        try:
            noted = json.loads(tags.get(MODEL_VERSIONS_TAG, "[]"))
        except ValueError:
            noted = []
        entry = {"name": name, "version": number}
        if entry not in noted:
            models.set_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(noted + [entry])})

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        with self.store.write() as s:
            model = self._model_node(s, name)
            return _version(self._version_node(s, model, str(version)), model)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.store.write() as s:
            model = self._model_node(s, name)
            version = model.custom_properties.get(ALIAS_PREFIX + alias)
            if version is None:  # MLflow's answer: a 400, not a 404
                raise InvalidParameterError(
                    f"Registered model alias {alias} not found. Model {name!r} has the "
                    f"aliases: {', '.join(_aliases(model)) or 'none'}.")
            return _version(self._version_node(s, model, version), model)

    def latest_version(self, name: str) -> ModelVersion:
        with self.store.write() as s:
            model = self._model_node(s, name)
            versions = self._versions(s, model)
        if not versions:
            raise ResourceDoesNotExistError(f"Registered model {name!r} has no versions.")
        return versions[-1]

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = 10_000,
                              order_by: Sequence[str] | None = None) -> list[ModelVersion]:
        """Model versions matching MLflow's registry ``filter_string`` (``name``,
        ``run_id``, ``source_path``, ``version_number``, tags), newest update first
        unless ``order_by`` says otherwise; prompt versions only when asked for."""
        clauses, order, prompts = _query(MODEL_VERSIONS, filter_string, order_by)
        with self.store.write() as s:
            model_type, _ = self._types(s)
            models = s.nodes("context", contexts.c.type_id == model_type)
            found = [v for m in models for v in self._versions(s, m)]
        prompt_names = {v.name for v in found if v.tags.get(PROMPT_TAG) == "true"}
        found = [v for v in found if (prompts or v.name not in prompt_names)
                 and matches(clauses, _version_attributes(v), v.tags)]
        found = sort(found, order, _version_field)
        return found if max_results is None else found[:max_results]

    def transition_stage(self, name: str, version: str | int, stage: str,
                         archive_existing_versions: bool = False) -> ModelVersion:
        """Move a version to ``stage`` (None, Staging, Production, Archived; MLflow's
        stages, deprecated there in favour of aliases but still served); with
        ``archive_existing_versions`` the model's other versions in that stage become
        Archived."""
        canonical = canonical_stage(stage)
        if archive_existing_versions and canonical not in ACTIVE_STAGES:
            raise InvalidParameterError(
                f"Model version transition cannot archive existing model versions because "
                f"'{canonical}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}")
        with self.store.write() as s:
            model = self._model_node(s, name)
            node = self._version_node(s, model, str(version))
            if archive_existing_versions:
                for other in self._version_nodes(s, model):
                    if other.id != node.id and _stage_of(other) == canonical:
                        s.set_properties("context", other.id, custom={STAGE: "Archived"})
            s.set_properties("context", node.id, custom={STAGE: canonical})
            s.set_properties("context", model.id)  # its last update is now
        return self.get_model_version(name, version)

    def set_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        with self.store.write() as s:
            node = self._version_node(s, self._model_node(s, name), str(version))
            s.set_properties("context", node.id, custom={
                TAG_PREFIX + check_key(key, "tag"): check_tag_value(key, value)})

    def update_model_version(self, name: str, version: str | int,
                             description: str) -> ModelVersion:
        with self.store.write() as s:
            node = self._version_node(s, self._model_node(s, name), str(version))
            s.set_properties("context", node.id, custom={"description": str(description)})
        return self.get_model_version(name, version)

    # -- lookups --------------------------------------------------------------------------
    def _model_node(self, s: LineageSession, name: str) -> Node:
        model_type, _ = self._types(s)
        node = s.node_by_name("context", model_type, name)
        if node is None:
            raise ResourceDoesNotExistError(f"Registered Model with name={name} not found. "
                                            "List them with search_registered_models().")
        return node

    def _version_node(self, s: LineageSession, model: Node, version: str) -> Node:
        _, version_type = self._types(s)
        node = s.node_by_name("context", version_type, f"{model.name}/{version}")
        if node is None:
            raise ResourceDoesNotExistError(
                f"Model Version (name={model.name}, version={version}) not found.")
        return node

    def _version_nodes(self, s: LineageSession, model: Node) -> list[Node]:
        _, version_type = self._types(s)
        nodes = s.child_contexts(model.id, contexts.c.type_id == version_type)
        nodes.sort(key=lambda n: int(n.properties["version"]))
        return nodes

    def _versions(self, s: LineageSession, model: Node) -> list[ModelVersion]:
        return [_version(n, model) for n in self._version_nodes(s, model)]


def _model_artifact(s: LineageSession, source: str, model_id: str | None) -> int | None:
    """The Model artifact of a logged model, or the newest one logged at a ``runs:/``
    source, if any."""
    if model_id:
        uri = f"models:/{model_id}"
    elif source.startswith("runs:/"):
        uri = source.rstrip("/")
    else:
        return None
    found = s.conn.execute(select(artifacts.c.id).where(
        artifacts.c.uri == uri, artifacts.c.state.in_(
            [int(ArtifactState.LIVE), int(ArtifactState.PENDING)]))
        .order_by(artifacts.c.id.desc()).limit(1)).scalar()
    return None if found is None else int(found)


def _version_source(source: str) -> tuple[str, str] | None:
    """(name, version) of a source ``models:/<name>/<version>``, naming another version."""
    match = re.fullmatch(r"models:/([^/@]+)/(\d+)", source)
    return None if match is None else (match[1], match[2])


def _logged_model_id(source: str) -> str | None:
    """The model id in a source ``models:/m-<hex>`` (MLflow 3's logged model URI)."""
    rest = source[len("models:/"):] if source.startswith("models:/") else ""
    return rest if is_model_id(rest) else None


def _custom(tags: dict[str, Any] | None, description: str | None) -> dict[str, Any]:
    custom: dict[str, Any] = {TAG_PREFIX + check_key(k, "tag"): check_tag_value(k, v)
                              for k, v in (tags or {}).items()}
    if description:
        custom["description"] = str(description)
    return custom


def canonical_stage(stage: str) -> str:
    """MLflow's spelling of a stage given in any case."""
    for known in STAGES:
        if str(stage).lower() == known.lower():
            return known
    raise InvalidParameterError(f"Invalid Model Version stage: {stage}. Value must be one of "
                                f"{', '.join(STAGES)}.")


def _stage_of(node: Node) -> str:
    return str(node.custom_properties.get(STAGE, "None"))


def latest_per_stage(versions: list[ModelVersion]) -> list[ModelVersion]:
    """The highest version in each stage, in the order of the stages' latest versions
    (MLflow's ``latest_versions``)."""
    latest: dict[str, ModelVersion] = {}
    for v in versions:  # ascending version numbers: the last one per stage wins
        latest[v.current_stage] = v
    return sorted(latest.values(), key=lambda v: int(v.version))


def _aliases(model: Node) -> dict[str, str]:
    return {k[len(ALIAS_PREFIX):]: str(v) for k, v in model.custom_properties.items()
            if k.startswith(ALIAS_PREFIX)}


def _tags(node: Node) -> dict[str, str]:
    return {k[len(TAG_PREFIX):]: str(v) for k, v in node.custom_properties.items()
            if k.startswith(TAG_PREFIX)}


def _version(node: Node, model: Node) -> ModelVersion:
    p = node.properties
    number = str(p["version"])
    return ModelVersion(
        name=model.name or "", version=number, creation_timestamp=node.create_time_since_epoch,
        last_updated_timestamp=node.last_update_time_since_epoch,
        description=node.custom_properties.get("description", ""), user_id=p.get("user", ""),
        source=p.get("source", ""), run_id=p.get("run_id", ""), status=p.get("status", "READY"),
        current_stage=_stage_of(node), tags=_tags(node), aliases=sorted(a for a, v in _aliases(model).items() if v == number),
        model_id=str(node.custom_properties.get("model_id", "")))


def _registered(node: Node, versions: list[ModelVersion]) -> RegisteredModel:
    return RegisteredModel(
        name=node.name or "", creation_timestamp=node.create_time_since_epoch,
        last_updated_timestamp=max([node.last_update_time_since_epoch]
                                   + [v.last_updated_timestamp for v in versions]),
        description=node.custom_properties.get("description", ""), tags=_tags(node),
        aliases=_aliases(node), latest_versions=latest_per_stage(versions))


def _query(grammar: Grammar, filter_string: str | None, order_by: Sequence[str] | None
           ) -> tuple[list[Clause], list[tuple[str, bool]], bool]:
    """A registry search's clauses, its order, and whether it asks for prompts (the
    prompt tag's own clauses then stay; otherwise they go and prompts are left out)."""
    clauses = parse_filter(grammar, filter_string)
    prompts = asks_for_prompts(clauses)
    return (clauses if prompts else without_prompt_clauses(clauses),
            parse_order_by(grammar, order_by), prompts)


def _version_attributes(version: ModelVersion) -> dict[str, Any]:
    return {"name": version.name, "run_id": version.run_id, "source_path": version.source,
            "version_number": int(version.version)}


def _version_field(version: ModelVersion, field_name: str) -> Any:
    return int(version.version) if field_name == "version_number" else getattr(version,
                                                                                field_name)
