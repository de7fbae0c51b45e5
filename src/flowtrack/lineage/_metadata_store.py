"""``MetadataStore``: ML Metadata's store API over flowtrack's lineage database.

The same database flows are recorded in, reachable the way MLMD users expect:
types with typed properties, artifacts/executions/contexts put and read by id,
type, name, URI or context, events, attributions, associations and parent
contexts. Every write call is one transaction. Reads accept ``ListOptions``
(limit, order, MLMD ``filter_query``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .._config import settings
from .._util import now_ms
from . import _schema
from ._api import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    LineageGraph,
    LineageSubgraphQueryOptions,
    ListOptions,
    ParentContext,
)
from ._db import Database
from ._edges import delete_nodes, insert_events, insert_parent, link_nodes
from ._records import (
    LineageSession,
    Node,
    _property_rows,
    insert_returning_ids,
    write_session,
)
from ._schema import (
    NODE_TABLES,
    PROPERTY_TABLES,
    EventType,
    PropertyType,
    TypeKind,
    associations,
    attributions,
    event_paths,
    events,
    parent_contexts,
    type_properties,
    types,
)
from ._subgraph import Walk, direction_of, walk
from .errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
)

_KIND_OF = {ArtifactType: TypeKind.ARTIFACT, ExecutionType: TypeKind.EXECUTION,
            ContextType: TypeKind.CONTEXT}
_NODE_KIND = {TypeKind.ARTIFACT: "artifact", TypeKind.EXECUTION: "execution",
              TypeKind.CONTEXT: "context"}
_TYPE_CLASS = {TypeKind.ARTIFACT: ArtifactType, TypeKind.EXECUTION: ExecutionType,
               TypeKind.CONTEXT: ContextType}
_NODE_CLASS: dict[str, type] = {"artifact": Artifact, "execution": Execution, "context": Context}
_ORDER_COLUMNS = {"id": "id", "create_time": "create_time_since_epoch",
                  "last_update_time": "last_update_time_since_epoch"}
_PYTHON_TYPES: dict[PropertyType, tuple[type, ...]] = {
    PropertyType.INT: (int,), PropertyType.DOUBLE: (float, int), PropertyType.STRING: (str,),
    PropertyType.BOOLEAN: (bool,), PropertyType.STRUCT: (dict, list),
    PropertyType.BYTES: (bytes,), PropertyType.PROTO: (bytes,),
}
N = TypeVar("N", Artifact, Execution, Context)


class MetadataStore:
    """ML Metadata's ``MetadataStore`` on a flowtrack database (default: the project's)."""

    def __init__(self, url: str | None = None) -> None:
        self._db = Database.open(url or settings().metadata_url)

    # -- sessions --------------------------------------------------------------
    def _write(self) -> AbstractContextManager[LineageSession]:
        return write_session(self._db)

    @contextmanager
    def _read(self) -> Iterator[LineageSession]:
        session = LineageSession(self._db)
        try:
            yield session
        finally:
            session.close()

    # -- types -----------------------------------------------------------------
    def put_artifact_type(self, artifact_type: ArtifactType, can_add_fields: bool = False,
                          can_omit_fields: bool = False) -> int:
        return self._put_type(artifact_type, can_add_fields, can_omit_fields)

    def put_execution_type(self, execution_type: ExecutionType, can_add_fields: bool = False,
                           can_omit_fields: bool = False) -> int:
        return self._put_type(execution_type, can_add_fields, can_omit_fields)

    def put_context_type(self, context_type: ContextType, can_add_fields: bool = False,
                         can_omit_fields: bool = False) -> int:
        return self._put_type(context_type, can_add_fields, can_omit_fields)

    def _put_type(self, node_type: Any, can_add: bool, can_omit: bool) -> int:
        kind = _KIND_OF[type(node_type)]
        if not node_type.name:
            raise InvalidArgumentError(f"A {type(node_type).__name__} needs a name.")
        wanted = {n: PropertyType(t) for n, t in node_type.properties.items()}
        if any(t == PropertyType.UNKNOWN for t in wanted.values()):
            raise InvalidArgumentError(f"Type {node_type.name!r}: property types must not be "
                                       "UNKNOWN.")
        for _ in range(3):  # a concurrent creator may win the insert: then compare with it
            with self._write() as s:
                stored = _find_type(s, kind, node_type.name, node_type.version)
                if stored is None:
                    try:
                        with s.conn.begin_nested():
                            return _insert_type(s, kind, node_type, wanted)
                    except IntegrityError:
                        continue
                type_id, existing = stored
                _reconcile_properties(s, node_type.name, type_id, existing, wanted,
                                      can_add, can_omit)
                return type_id
        raise AlreadyExistsError(f"Type {node_type.name!r} is being changed concurrently; "
                                 "retry the call.")

    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> ArtifactType:
        return self._get_type(TypeKind.ARTIFACT, type_name, type_version)

    def get_execution_type(self, type_name: str, type_version: str | None = None
                           ) -> ExecutionType:
        return self._get_type(TypeKind.EXECUTION, type_name, type_version)

    def get_context_type(self, type_name: str, type_version: str | None = None) -> ContextType:
        return self._get_type(TypeKind.CONTEXT, type_name, type_version)

    def _get_type(self, kind: TypeKind, name: str, version: str | None) -> Any:
        with self._read() as s:
            found = _find_type(s, kind, name, version)
            if found is None:
                raise NotFoundError(f"No {_NODE_KIND[kind]} type named {name!r}"
                                    + (f" (version {version!r})" if version else "") + ".")
            return _type_object(s, kind, found[0])

    def get_artifact_types(self) -> list[ArtifactType]:
        return self._get_types(TypeKind.ARTIFACT)

    def get_execution_types(self) -> list[ExecutionType]:
        return self._get_types(TypeKind.EXECUTION)

    def get_context_types(self) -> list[ContextType]:
        return self._get_types(TypeKind.CONTEXT)

    def _get_types(self, kind: TypeKind, ids: Sequence[int] | None = None) -> list[Any]:
        with self._read() as s:
            query = select(types.c.id).where(types.c.type_kind == int(kind))
            if ids is not None:
                query = query.where(types.c.id.in_(list(ids)))
            return [_type_object(s, kind, i) for i in s.conn.execute(query.order_by(types.c.id))
                    .scalars()]

    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[ArtifactType]:
        return self._get_types(TypeKind.ARTIFACT, type_ids)

    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[ExecutionType]:
        return self._get_types(TypeKind.EXECUTION, type_ids)

    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[ContextType]:
        return self._get_types(TypeKind.CONTEXT, type_ids)

    # -- writing nodes -----------------------------------------------------------
    def put_artifacts(self, artifacts: Sequence[Artifact]) -> list[int]:
        """Insert artifacts without an id, update those with one; ids in order."""
        with self._write() as s:
            placed = _put_nodes(s, "artifact", artifacts)
        return _assign_ids(artifacts, placed)

    def put_executions(self, executions: Sequence[Execution]) -> list[int]:
        with self._write() as s:
            placed = _put_nodes(s, "execution", executions)
        return _assign_ids(executions, placed)

    def put_contexts(self, contexts: Sequence[Context]) -> list[int]:
        with self._write() as s:
            placed = _put_nodes(s, "context", contexts)
        return _assign_ids(contexts, placed)

    # parameter names are MLMD's (callers may pass them by keyword); they shadow the
    # link tables, so the tables are reached through _schema in these methods
    def put_events(self, events: Sequence[Event]) -> None:
        with self._write() as s:
            insert_events(s, events)

    def put_attributions_and_associations(self, attributions: Sequence[Attribution],
                                          associations: Sequence[Association]) -> None:
        """Link artifacts and executions to contexts; existing links are kept as they are."""
        with self._write() as s:
            link_nodes(s, _schema.attributions, "artifact",
                  [(a.context_id, a.artifact_id) for a in attributions])
            link_nodes(s, _schema.associations, "execution",
                  [(b.context_id, b.execution_id) for b in associations])

    def put_parent_contexts(self, parent_contexts: Sequence[ParentContext]) -> None:
        with self._write() as s:
            for p in parent_contexts:
                insert_parent(s, p)

    def put_execution(self, execution: Execution,
                      artifact_and_events: Sequence[tuple[Artifact, Event | None]],
                      contexts: Sequence[Context],
                      reuse_context_if_already_exist: bool = False
                      ) -> tuple[int, list[int], list[int]]:
        """Atomically record an execution with its artifacts, events and contexts.

        Returns ``(execution_id, artifact_ids, context_ids)``. A context without an id
        whose (type, name) exists is reused when ``reuse_context_if_already_exist``,
        and is an ``AlreadyExistsError`` otherwise.
        """
        with self._write() as s:
            placed_execution = _put_node(s, "execution", execution)
            execution_id = placed_execution[0]
            placed_artifacts = _put_nodes(s, "artifact", [a for a, _ in artifact_and_events])
            artifact_ids = [i for i, _ in placed_artifacts]
            insert_events(s, [replace(event, artifact_id=artifact_id, execution_id=execution_id)
                            for (_, event), artifact_id in zip(artifact_and_events, artifact_ids)
                            if event is not None], checked=True)
            placed_contexts = [_put_context(s, c, reuse_context_if_already_exist)
                               for c in contexts]
            context_ids = [i for i, _ in placed_contexts]
            link_nodes(s, associations, "execution", [(c, execution_id) for c in context_ids],
                  checked=True)
            link_nodes(s, attributions, "artifact",
                  [(c, a) for c in context_ids for a in artifact_ids], checked=True)
        _assign_ids([execution], [placed_execution])
        _assign_ids([a for a, _ in artifact_and_events], placed_artifacts)
        return execution_id, artifact_ids, _assign_ids(contexts, placed_contexts)

    def put_lineage_subgraph(
            self, executions: Sequence[Execution], artifacts: Sequence[Artifact],
            contexts: Sequence[Context], event_edges: Sequence[tuple[int, int, Event]],
            reuse_context_if_already_exist: bool = False,
            reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Atomically record executions, artifacts and contexts with the events between
        them (``(execution index, artifact index, event)`` edges); every node joins
        every context. Returns the execution, artifact and context ids."""
        with self._write() as s:
            to_put = ([_reuse_by_external_id(s, a) for a in artifacts]
                      if reuse_artifact_if_already_exist_by_external_id else artifacts)
            placed_executions = _put_nodes(s, "execution", executions)
            placed_artifacts = _put_nodes(s, "artifact", to_put)
            execution_ids = [i for i, _ in placed_executions]
            artifact_ids = [i for i, _ in placed_artifacts]
            edges = []
            for execution_index, artifact_index, event in event_edges:
                if not (isinstance(execution_index, int) and isinstance(artifact_index, int)
                        and 0 <= execution_index < len(execution_ids)
                        and 0 <= artifact_index < len(artifact_ids)):
                    raise InvalidArgumentError(
                        f"Event edge ({execution_index}, {artifact_index}) points outside the "
                        f"{len(execution_ids)} executions / {len(artifact_ids)} artifacts given.")
                edges.append(replace(event, execution_id=execution_ids[execution_index],
                                     artifact_id=artifact_ids[artifact_index]))
            insert_events(s, edges, checked=True)
            placed_contexts = [_put_context(s, c, reuse_context_if_already_exist)
                               for c in contexts]
            context_ids = [i for i, _ in placed_contexts]
            link_nodes(s, associations, "execution",
                  [(c, e) for c in context_ids for e in execution_ids], checked=True)
            link_nodes(s, attributions, "artifact",
                  [(c, a) for c in context_ids for a in artifact_ids], checked=True)
        return (_assign_ids(executions, placed_executions),
                _assign_ids(artifacts, placed_artifacts),
                _assign_ids(contexts, placed_contexts))

    # -- reading nodes -----------------------------------------------------------
    def get_artifacts(self, list_options: ListOptions | None = None) -> list[Artifact]:
        return self._list("artifact", list_options)

    def get_executions(self, list_options: ListOptions | None = None) -> list[Execution]:
        return self._list("execution", list_options)

    def get_contexts(self, list_options: ListOptions | None = None) -> list[Context]:
        return self._list("context", list_options)

    def _list(self, kind: str, options: ListOptions | None, *where: Any) -> list[Any]:
        options = options or ListOptions()
        table = NODE_TABLES[kind]
        clauses = list(where)
        if options.filter_query:
            from ._filter import compile_filter

            clauses.append(compile_filter(options.filter_query, kind))
        column_name = _ORDER_COLUMNS.get(options.order_by)
        if column_name is None:
            raise InvalidArgumentError(f"ListOptions.order_by must be one of "
                                       f"{', '.join(_ORDER_COLUMNS)}; got {options.order_by!r}.")
        column = table.c[column_name]
        # ties on a time break by id, in the same direction, so paging is well defined
        order = [column.asc(), table.c.id.asc()] if options.is_asc else [column.desc(),
                                                                          table.c.id.desc()]
        if options.limit is not None and options.limit <= 0:
            raise InvalidArgumentError("ListOptions.limit must be a positive number.")
        if options.offset < 0:
            raise InvalidArgumentError("ListOptions.offset must be 0 or more.")
        with self._read() as s:
            nodes = s.nodes(kind, *clauses, order_by=order, limit=options.limit,
                            offset=options.offset)
            return _to_api(s, kind, nodes)

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[Artifact]:
        return self._list("artifact", None,
                          NODE_TABLES["artifact"].c.id.in_(list(artifact_ids)))

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[Execution]:
        return self._list("execution", None,
                          NODE_TABLES["execution"].c.id.in_(list(execution_ids)))

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[Context]:
        return self._list("context", None, NODE_TABLES["context"].c.id.in_(list(context_ids)))

    def get_artifacts_by_type(self, type_name: str, type_version: str | None = None
                              ) -> list[Artifact]:
        return self._by_type("artifact", type_name, type_version)

    def get_executions_by_type(self, type_name: str, type_version: str | None = None
                               ) -> list[Execution]:
        return self._by_type("execution", type_name, type_version)

    def get_contexts_by_type(self, type_name: str, type_version: str | None = None
                             ) -> list[Context]:
        return self._by_type("context", type_name, type_version)

    def _by_type(self, kind: str, type_name: str, version: str | None, *where: Any) -> list[Any]:
        with self._read() as s:
            found = _find_type(s, _kind_of_node(kind), type_name, version)
        if found is None:
            return []
        return self._list(kind, None, NODE_TABLES[kind].c.type_id == found[0], *where)

    def get_artifact_by_type_and_name(self, type_name: str, artifact_name: str,
                                      type_version: str | None = None) -> Artifact | None:
        return self._by_type_and_name("artifact", type_name, artifact_name, type_version)

    def get_execution_by_type_and_name(self, type_name: str, execution_name: str,
                                       type_version: str | None = None) -> Execution | None:
        return self._by_type_and_name("execution", type_name, execution_name, type_version)

    def get_context_by_type_and_name(self, type_name: str, context_name: str,
                                     type_version: str | None = None) -> Context | None:
        return self._by_type_and_name("context", type_name, context_name, type_version)

    def _by_type_and_name(self, kind: str, type_name: str, name: str, version: str | None
                          ) -> Any:
        found = self._by_type(kind, type_name, version, NODE_TABLES[kind].c.name == name)
        return found[0] if found else None

    def get_artifacts_by_uri(self, uri: str) -> list[Artifact]:
        return self._list("artifact", None, NODE_TABLES["artifact"].c.uri == uri)

    def get_artifacts_by_context(self, context_id: int) -> list[Artifact]:
        linked = select(attributions.c.artifact_id).where(attributions.c.context_id == context_id)
        return self._list("artifact", None, NODE_TABLES["artifact"].c.id.in_(linked))

    def get_executions_by_context(self, context_id: int) -> list[Execution]:
        linked = select(associations.c.execution_id).where(
            associations.c.context_id == context_id)
        return self._list("execution", None, NODE_TABLES["execution"].c.id.in_(linked))

    def get_contexts_by_artifact(self, artifact_id: int) -> list[Context]:
        linked = select(attributions.c.context_id).where(attributions.c.artifact_id == artifact_id)
        return self._list("context", None, NODE_TABLES["context"].c.id.in_(linked))

    def get_contexts_by_execution(self, execution_id: int) -> list[Context]:
        linked = select(associations.c.context_id).where(
            associations.c.execution_id == execution_id)
        return self._list("context", None, NODE_TABLES["context"].c.id.in_(linked))

    def get_parent_contexts_by_context(self, context_id: int) -> list[Context]:
        linked = select(parent_contexts.c.parent_context_id).where(
            parent_contexts.c.context_id == context_id)
        return self._list("context", None, NODE_TABLES["context"].c.id.in_(linked))

    def get_children_contexts_by_context(self, context_id: int) -> list[Context]:
        linked = select(parent_contexts.c.context_id).where(
            parent_contexts.c.parent_context_id == context_id)
        return self._list("context", None, NODE_TABLES["context"].c.id.in_(linked))

    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[Event]:
        return self._events(events.c.execution_id.in_(list(execution_ids)))

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[Event]:
        return self._events(events.c.artifact_id.in_(list(artifact_ids)))

    def _events(self, where: Any) -> list[Event]:
        with self._read() as s:
            rows = s.conn.execute(select(events).where(where).order_by(events.c.id)).all()
            paths: dict[int, list[str | int]] = {}
            if rows:
                for p in s.conn.execute(select(event_paths).where(
                        event_paths.c.event_id.in_([r.id for r in rows]))
                        .order_by(event_paths.c.event_id, event_paths.c.position)):
                    step: str | int = p.step_index if p.is_index_step else p.step_key
                    paths.setdefault(p.event_id, []).append(step)
            return [Event(artifact_id=r.artifact_id, execution_id=r.execution_id,
                          type=EventType(r.type), path=paths.get(r.id, []),
                          milliseconds_since_epoch=r.milliseconds_since_epoch) for r in rows]

    # -- lineage and deletion ----------------------------------------------------
    def get_lineage_subgraph(self, query_options: LineageSubgraphQueryOptions) -> LineageGraph:
        """The artifacts, executions, contexts and events within ``max_num_hops`` events
        of the starting nodes (a filter_query string, or a list of ids, per kind)."""
        return _lineage_subgraph(self, query_options)

    def delete_artifacts(self, artifact_ids: Sequence[int], cascade: bool = False) -> None:
        """Delete artifacts. Ones with events (lineage) are refused unless ``cascade``,
        which deletes those events too; attributions and properties go with them."""
        with self._write() as s:
            delete_nodes(s, "artifact", artifact_ids, cascade)

    def delete_executions(self, execution_ids: Sequence[int], cascade: bool = False) -> None:
        """Delete executions. Ones with events are refused unless ``cascade`` (which
        deletes those events); associations and properties go with them."""
        with self._write() as s:
            delete_nodes(s, "execution", execution_ids, cascade)

    def delete_contexts(self, context_ids: Sequence[int], cascade: bool = False) -> None:
        """Delete contexts. Ones still grouping artifacts, executions or other contexts
        are refused unless ``cascade``, which removes those links (not the nodes)."""
        with self._write() as s:
            delete_nodes(s, "context", context_ids, cascade)


# -- helpers: types ---------------------------------------------------------------
def _kind_of_node(kind: str) -> TypeKind:
    return {v: k for k, v in _NODE_KIND.items()}[kind]


def _find_type(s: LineageSession, kind: TypeKind, name: str, version: str | None
               ) -> tuple[int, dict[str, PropertyType]] | None:
    type_id = s.conn.execute(select(types.c.id).where(
        types.c.type_kind == int(kind), types.c.name == name,
        types.c.version == (version or ""))).scalar()
    if type_id is None:
        return None
    return int(type_id), _type_properties(s, int(type_id))


def _type_properties(s: LineageSession, type_id: int) -> dict[str, PropertyType]:
    rows = s.conn.execute(select(type_properties).where(type_properties.c.type_id == type_id))
    return {r.name: PropertyType(r.data_type) for r in rows}


def _insert_type(s: LineageSession, kind: TypeKind, node_type: Any,
                 properties: Mapping[str, PropertyType]) -> int:
    type_id = s.conn.execute(insert(types), {
        "name": node_type.name, "type_kind": int(kind), "version": node_type.version or "",
        "description": node_type.description, "external_id": node_type.external_id,
    }).inserted_primary_key[0]  # type: ignore[index]
    if properties:
        s.conn.execute(insert(type_properties), [
            {"type_id": type_id, "name": n, "data_type": int(t)} for n, t in properties.items()])
    return int(type_id)


def _reconcile_properties(s: LineageSession, name: str, type_id: int,
                          existing: dict[str, PropertyType], wanted: dict[str, PropertyType],
                          can_add: bool, can_omit: bool) -> None:
    changed = sorted(p for p in wanted if p in existing and existing[p] != wanted[p])
    if changed:
        raise AlreadyExistsError(
            f"Type {name!r} exists and its properties {', '.join(changed)} have other data "
            "types; property types cannot change. Use a new type name or version.")
    added = {p: t for p, t in wanted.items() if p not in existing}
    if added and not can_add:
        raise AlreadyExistsError(
            f"Type {name!r} exists without the properties {', '.join(sorted(added))}; pass "
            "can_add_fields=True to add them.")
    omitted = sorted(p for p in existing if p not in wanted)
    if omitted and not can_omit:
        raise AlreadyExistsError(
            f"Type {name!r} exists with the properties {', '.join(omitted)}, which this "
            "definition omits; pass can_omit_fields=True to keep using it.")
    if added:
        s.conn.execute(insert(type_properties), [
            {"type_id": type_id, "name": n, "data_type": int(t)} for n, t in added.items()])


def _type_object(s: LineageSession, kind: TypeKind, type_id: int) -> Any:
    row = s.conn.execute(select(types).where(types.c.id == type_id)).one()
    return _TYPE_CLASS[kind](name=row.name, properties=_type_properties(s, type_id),
                             id=row.id, version=row.version or None,
                             description=row.description, external_id=row.external_id)


# -- helpers: nodes ---------------------------------------------------------------
def _resolve_type(s: LineageSession, kind: str, node: Any) -> tuple[int, dict[str, PropertyType]]:
    type_kind = _kind_of_node(kind)
    if node.type_id is None and node.type:
        found = _find_type(s, type_kind, node.type, None)
        if found is None:
            raise NotFoundError(f"No {kind} type named {node.type!r}; put it first.")
        return found
    if node.type_id is None:
        raise InvalidArgumentError(f"The {kind} {node.name or ''!s} has no type_id; set it to "
                                   f"the id put_{kind}_type returned.")
    # Types are never deleted and their properties never change type, only grow; so a
    # cached type serves every node whose properties it declares, and a node naming
    # one it lacks re-reads the type (another process may have added it).
    cached = s.db.type_cache.get(node.type_id)
    if cached is not None and cached[0] == type_kind and set(node.properties) <= set(cached[1]):
        return node.type_id, cached[1]
    row = s.conn.execute(select(types.c.type_kind).where(types.c.id == node.type_id)).scalar()
    if row is None or TypeKind(row) != type_kind:
        raise NotFoundError(f"type_id {node.type_id} is not a {kind} type.")
    declared = _type_properties(s, node.type_id)
    s.db.type_cache[node.type_id] = (type_kind, declared)
    return node.type_id, declared


def _check_properties(kind: str, node: Any, declared: Mapping[str, PropertyType]) -> None:
    for name, value in node.properties.items():
        if name not in declared:
            raise InvalidArgumentError(
                f"{kind.capitalize()} property {name!r} is not declared by its type (declared: "
                f"{', '.join(sorted(declared)) or 'none'}); declare it or use "
                "custom_properties.")
        expected = _PYTHON_TYPES.get(declared[name], ())
        is_bool = isinstance(value, bool)
        if (not isinstance(value, expected) or (is_bool and declared[name] != PropertyType.BOOLEAN)):
            raise InvalidArgumentError(
                f"{kind.capitalize()} property {name!r} is declared {declared[name].name} but got "
                f"{type(value).__name__} {value!r}.")


def _put_node(s: LineageSession, kind: str, node: Any) -> tuple[int, int]:
    """Insert or update one node; returns (its id, its type id)."""
    return _put_nodes(s, kind, [node])[0]


def _put_nodes(s: LineageSession, kind: str, nodes: Sequence[Any]) -> list[tuple[int, int]]:
    """Insert new nodes in bulk (a few statements for the whole batch) and update the
    ones with an id one by one; returns (id, type id) per node, in order."""
    types_seen: dict[tuple[Any, Any], tuple[int, dict[str, PropertyType]]] = {}
    placed: list[tuple[int, int] | None] = [None] * len(nodes)
    fresh: list[tuple[int, dict[str, Any], dict[str, Any], Any]] = []
    now = now_ms()
    for position, node in enumerate(nodes):
        key = (node.type_id, node.type)
        if key not in types_seen:
            types_seen[key] = _resolve_type(s, kind, node)
        type_id, declared = types_seen[key]
        _check_properties(kind, node, declared)
        properties = {k: float(v) if declared[k] == PropertyType.DOUBLE else v
                      for k, v in node.properties.items()}  # an int given for a DOUBLE
        row = _node_row(kind, node, type_id, now)
        if node.id is None:
            fresh.append((position, row, properties, node))
        else:
            placed[position] = (_update_node(s, kind, node, row, properties), type_id)
    if fresh:
        ids = _insert_rows(s, kind, [row for _, row, _, _ in fresh])
        rows = [r for node_id, (_, _, props, node) in zip(ids, fresh)
                for r in _property_rows(kind, node_id, props, node.custom_properties)]
        if rows:
            s.conn.execute(insert(PROPERTY_TABLES[kind]), rows)
        for node_id, (position, row, _, _) in zip(ids, fresh):
            placed[position] = (node_id, row["type_id"])
    return [p for p in placed if p is not None]


def _node_row(kind: str, node: Any, type_id: int, now: int) -> dict[str, Any]:
    row: dict[str, Any] = {"type_id": type_id, "name": node.name,
                           "external_id": node.external_id, "last_update_time_since_epoch": now}
    if kind == "artifact":
        row.update(uri=node.uri, state=int(node.state))
    elif kind == "execution":
        row["last_known_state"] = int(node.last_known_state)
    return row


def _insert_rows(s: LineageSession, kind: str, rows: list[dict[str, Any]]) -> list[int]:
    table = NODE_TABLES[kind]
    for row in rows:
        row["create_time_since_epoch"] = row["last_update_time_since_epoch"]
    try:
        with s.conn.begin_nested():
            return insert_returning_ids(s.conn, table, rows)
    except IntegrityError:
        names = ", ".join(repr(r["name"]) for r in rows[:5])
        raise AlreadyExistsError(f"A {kind} with one of the names {names} already exists for "
                                 "its type (or the batch repeats a name); names are unique per "
                                 "type.") from None


def _update_node(s: LineageSession, kind: str, node: Any, row: dict[str, Any],
                 properties: dict[str, Any]) -> int:
    table = NODE_TABLES[kind]
    node_id = int(node.id)
    stored = s.conn.execute(select(table.c.type_id).where(table.c.id == node_id)).scalar()
    if stored is None:
        raise NotFoundError(f"No {kind} with id {node_id} to update.")
    if stored != row["type_id"]:
        raise InvalidArgumentError(f"The {kind} with id {node_id} has type_id {stored}; its "
                                   "type cannot change.")
    try:
        with s.conn.begin_nested():
            s.conn.execute(update(table).where(table.c.id == node_id).values(**row))
    except IntegrityError:
        raise AlreadyExistsError(f"A {kind} named {node.name!r} of this type already "
                                 "exists; names are unique per type.") from None
    props = PROPERTY_TABLES[kind]
    s.conn.execute(delete(props).where(props.c[f"{kind}_id"] == node_id))
    rows = _property_rows(kind, node_id, properties, node.custom_properties)
    if rows:
        s.conn.execute(insert(props), rows)
    return node_id


def _reuse_by_external_id(s: LineageSession, artifact: Artifact) -> Artifact:
    """The artifact, or (by external_id) the stored one it repeats, to be reused."""
    if artifact.id is not None or not artifact.external_id:
        return artifact
    table = NODE_TABLES["artifact"]
    found = s.conn.execute(select(table.c.id).where(
        table.c.external_id == artifact.external_id)).scalar()
    return artifact if found is None else replace(artifact, id=int(found))


def _assign_ids(nodes: Sequence[Any], placed: list[tuple[int, int]]) -> list[int]:
    """Give the caller's objects their ids and type ids once the write has committed (a
    rolled-back write must leave them as they were, so that retrying it inserts again)."""
    for node, (node_id, type_id) in zip(nodes, placed):
        node.id, node.type_id = node_id, type_id
    return [node_id for node_id, _ in placed]


def _put_context(s: LineageSession, context: Context, reuse: bool) -> tuple[int, int]:
    if context.id is not None or not reuse:
        return _put_node(s, "context", context)
    type_id, _ = _resolve_type(s, "context", context)
    for _ in range(2):  # a concurrent writer may create it between our read and insert
        existing = s.node_by_name("context", type_id, context.name or "")
        if existing is not None:
            return existing.id, type_id
        try:
            return _put_node(s, "context", context)
        except AlreadyExistsError:
            continue
    raise AlreadyExistsError(f"Context {context.name!r} could not be created or reused; "
                             "retry the call.")


def _to_api(s: LineageSession, kind: str, nodes: list[Node]) -> list[Any]:
    type_names = s.db.type_names
    unknown = sorted({n.type_id for n in nodes} - type_names.keys())
    if unknown:
        type_names.update(s.conn.execute(select(types.c.id, types.c.name)
                                         .where(types.c.id.in_(unknown))).all())
    cls = _NODE_CLASS[kind]
    out = []
    for n in nodes:
        obj = cls(type_id=n.type_id, name=n.name, properties=n.properties,
                  custom_properties=n.custom_properties, id=n.id, type=type_names.get(n.type_id),
                  external_id=n.external_id,
                  create_time_since_epoch=n.create_time_since_epoch,
                  last_update_time_since_epoch=n.last_update_time_since_epoch)
        if kind == "artifact":
            obj.uri, obj.state = n.uri, Artifact.State(n.state or 0)
        elif kind == "execution":
            obj.last_known_state = Execution.State(n.state or 0)
        out.append(obj)
    return out


# -- helpers: lineage and deletion ---------------------------------------------------
def _lineage_subgraph(self: MetadataStore, query_options: LineageSubgraphQueryOptions
                      ) -> LineageGraph:
    if query_options.max_num_hops < 0:
        raise InvalidArgumentError("max_num_hops must be 0 or more.")
    direction = direction_of(query_options.direction)
    with self._read() as s:
        start_a = _starting_ids(s, "artifact", query_options.starting_artifacts)
        start_e = _starting_ids(s, "execution", query_options.starting_executions)
        if query_options.starting_artifacts is None and query_options.starting_executions is None:
            raise InvalidArgumentError("get_lineage_subgraph needs starting_artifacts or "
                                       "starting_executions.")
        reached = walk(s, start_a, start_e, query_options.max_num_hops, direction)
    graph = LineageGraph(
        artifacts=self.get_artifacts_by_id(sorted(reached.artifact_ids)),
        executions=self.get_executions_by_id(sorted(reached.execution_ids)))
    graph.events = self._events(events.c.id.in_(sorted(reached.event_ids)))
    graph.contexts = _contexts_of(self, reached)
    return graph


def _starting_ids(s: LineageSession, kind: str, start: str | Sequence[int] | None) -> set[int]:
    if start is None:
        return set()
    if isinstance(start, str):
        from ._filter import compile_filter

        table = NODE_TABLES[kind]
        return set(s.conn.execute(select(table.c.id).where(compile_filter(start, kind)))
                   .scalars())
    return {int(i) for i in start}


def _contexts_of(store: MetadataStore, reached: Walk) -> list[Context]:
    a_ids, e_ids = sorted(reached.artifact_ids), sorted(reached.execution_ids)
    linked = select(attributions.c.context_id).where(attributions.c.artifact_id.in_(a_ids)).union(
        select(associations.c.context_id).where(associations.c.execution_id.in_(e_ids)))
    return store._list("context", None, NODE_TABLES["context"].c.id.in_(linked))
