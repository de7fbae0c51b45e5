"""Reading and writing lineage nodes on one connection, in bulk where it matters.

``LineageSession`` is the low-level API every higher layer goes through: types
(get-or-create, cached), contexts, executions and artifacts with their properties,
events, attributions, associations and parent contexts. Writes join the caller's
open transaction; ``commit()`` ends it. The runtime records a whole run through
one session; the client reads through short-lived ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .._util import now_ms
from ._db import Database
from ._schema import (
    NODE_TABLES,
    PROPERTY_TABLES,
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
from .errors import InvalidArgumentError

_VALUE_COLUMNS = ("int_value", "double_value", "string_value", "bool_value", "byte_value",
                  "struct_value")

# conn.info key: rows bulk-inserted per table in the open transaction (PostgreSQL)
_INSERTED_KEY = "flowtrack_inserted"


def insert_returning_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into a table with an integer ``id`` key; their ids, in order.

    PostgreSQL gets multi-row ``INSERT ... RETURNING`` (SQLAlchemy's insertmanyvalues).
    On SQLite, SQLAlchemy can keep RETURNING in parameter order only one row per
    statement, which costs 10-20 µs a row, so the ids are chosen here instead and the
    rows go in one ``executemany``. That is safe because SQLite writes run in BEGIN
    IMMEDIATE transactions (``_db._begin_immediate``) holding the database's single
    write lock, so nobody can take ``max(id) + 1 ...`` before this commits; had a
    deferred transaction gone stale, the insert fails on the key instead of colliding.
    """
    if conn.dialect.name != "sqlite":
        result = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              rows)
        if len(rows) > 1:  # see LineageSession.commit
            pending = conn.info.setdefault(_INSERTED_KEY, {})
            pending[table.name] = pending.get(table.name, 0) + len(rows)
        return [int(r[0]) for r in result]
    first = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1
    ids = list(range(first, first + len(rows)))
    conn.execute(insert(table), [{**row, "id": node_id} for node_id, row in zip(ids, rows)])
    return ids


@dataclass
class Node:
    """An artifact, execution or context as read from the database."""

    kind: str
    id: int
    type_id: int
    name: str | None
    create_time_since_epoch: int
    last_update_time_since_epoch: int
    state: int | None = None
    uri: str | None = None
    external_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    custom_properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewArtifact:
    type_id: int
    name: str | None
    uri: str | None
    state: int
    properties: Mapping[str, Any] = field(default_factory=dict)
    custom_properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class NewExecution:
    type_id: int
    name: str | None
    state: int
    properties: Mapping[str, Any] = field(default_factory=dict)
    custom_properties: Mapping[str, Any] = field(default_factory=dict)
    context_ids: Sequence[int] = ()


@dataclass
class ExecutionUpdate:
    id: int
    state: int | None
    properties: Mapping[str, Any] = field(default_factory=dict)
    custom_properties: Mapping[str, Any] = field(default_factory=dict)


def _property_rows(kind: str, node_id: int, properties: Mapping[str, Any] | None,
                   custom: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Rows for a node's property table; None values are not stored."""
    rows = [{f"{kind}_id": node_id, "name": name, "is_custom_property": is_custom,
             **_property_columns(value)}
            for is_custom, props in ((False, properties), (True, custom))
            for name, value in (props or {}).items() if value is not None]
    for row in rows:
        for column in ("name", "string_value", "struct_value"):
            if isinstance(row[column], str) and "\x00" in row[column]:
                raise InvalidArgumentError(
                    f"{kind.capitalize()} property {row['name']!r} contains a NUL character "
                    "(\\x00), which SQL databases cannot store as text; remove it, or store "
                    "the data as bytes.")
    return rows


def _property_columns(value: Any) -> dict[str, Any]:
    """The value column(s) a Python value is stored in."""
    row = dict.fromkeys(_VALUE_COLUMNS)
    if isinstance(value, bool):
        row["bool_value"] = value
    elif isinstance(value, int):
        row["int_value"] = value
    elif isinstance(value, float):
        if math.isnan(value):  # SQL databases store NaN as NULL; keep it as JSON "NaN"
            row["struct_value"] = "NaN"
        else:
            row["double_value"] = value
    elif isinstance(value, str):
        row["string_value"] = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        row["byte_value"] = bytes(value)
    else:
        row["struct_value"] = json.dumps(value, separators=(",", ":"), default=str)
    return row


def _first_value(values: Sequence[Any]) -> Any:
    """The stored value of a property row's value columns (in ``_VALUE_COLUMNS`` order)."""
    for column, value in zip(_VALUE_COLUMNS, values):
        if value is not None:
            return json.loads(value) if column == "struct_value" else value
    return None


_STATEMENTS: dict[tuple[str, str], Any] = {}


def _cached(key: tuple[str, str], build: Any) -> Any:
    """Build a statement once: SQLAlchemy then reuses its compiled form."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


def _delete_property(kind: str) -> Any:
    table = PROPERTY_TABLES[kind]
    return _cached(("delete_property", kind), lambda: delete(table).where(
        table.c[f"{kind}_id"] == bindparam("owner"),
        table.c.is_custom_property == bindparam("custom"), table.c.name == bindparam("pname")))


def _touch(kind: str) -> Any:
    table = NODE_TABLES[kind]
    return _cached(("touch", kind), lambda: update(table).where(table.c.id == bindparam("node"))
                   .values(last_update_time_since_epoch=bindparam("now")))


def _set_state() -> Any:
    table = NODE_TABLES["execution"]
    return _cached(("state", "execution"), lambda: update(table).where(
        table.c.id == bindparam("node")).values(last_known_state=bindparam("state")))


@contextmanager
def write_session(db: Database) -> Iterator[LineageSession]:
    """A writing session whose transaction commits when the block ends normally and
    rolls back when it raises."""
    session = LineageSession(db, write=True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class LineageSession:
    """Lineage reads and writes on one connection (one transaction at a time)."""

    def __init__(self, db: Database, conn: Connection | None = None, write: bool = False
                 ) -> None:
        self.db = db
        self.conn = conn or db.connect(write=write)
        self._type_ids: dict[tuple[int, str], int] = {}

    # -- transactions ----------------------------------------------------------------
    def commit(self) -> None:
        self.conn.commit()
        inserted = self.conn.info.pop(_INSERTED_KEY, None)
        if inserted:  # committed rows may call for fresh planner statistics
            self.db.note_inserted(inserted)

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.info.pop(_INSERTED_KEY, None)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LineageSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- types -----------------------------------------------------------------------
    def type_id(self, kind: TypeKind, name: str,
                properties: Mapping[str, PropertyType] | None = None) -> int:
        """Get or create a type by kind and name; concurrent creators get one row."""
        key = (int(kind), name)
        if key in self._type_ids:
            return self._type_ids[key]
        found = self.find_type_id(kind, name)
        if found is None:
            found = self._create_type(kind, name, properties or {})
        elif properties:
            self._declare_missing(found, properties)
        self._type_ids[key] = found
        return found

    def _declare_missing(self, type_id: int, properties: Mapping[str, PropertyType]) -> None:
        """Add to an existing type (perhaps made by a user through MetadataStore) the
        properties this writer will set, so its nodes always match their type."""
        declared = set(self.conn.execute(select(type_properties.c.name).where(
            type_properties.c.type_id == type_id)).scalars())
        missing = [{"type_id": type_id, "name": n, "data_type": int(t)}
                   for n, t in properties.items() if n not in declared]
        if missing:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(insert(type_properties), missing)
            except IntegrityError:  # a concurrent writer declared them first
                pass

    def find_type_id(self, kind: TypeKind, name: str) -> int | None:
        return self.conn.execute(
            select(types.c.id).where(types.c.type_kind == int(kind), types.c.name == name,
                                     types.c.version == "")).scalar()

    def _create_type(self, kind: TypeKind, name: str,
                     properties: Mapping[str, PropertyType]) -> int:
        try:
            with self.conn.begin_nested():
                type_id = self.conn.execute(
                    insert(types).values(name=name, type_kind=int(kind), version="")
                ).inserted_primary_key[0]  # type: ignore[index]
                if properties:
                    self.conn.execute(insert(type_properties), [
                        {"type_id": type_id, "name": p, "data_type": int(t)}
                        for p, t in properties.items()])
            return int(type_id)
        except IntegrityError:  # another writer created it first
            found = self.find_type_id(kind, name)
            assert found is not None
            return found

    # -- writing nodes ---------------------------------------------------------------
    def _insert_properties(self, kind: str, node_id: int, properties: Mapping[str, Any] | None,
                           custom: Mapping[str, Any] | None) -> None:
        rows = _property_rows(kind, node_id, properties, custom)
        if rows:
            self.conn.execute(insert(PROPERTY_TABLES[kind]), rows)

    def set_properties(self, kind: str, node_id: int, properties: Mapping[str, Any] | None = None,
                       custom: Mapping[str, Any] | None = None) -> None:
        """Insert or replace the named properties of one node."""
        doomed = [{"owner": node_id, "custom": is_custom, "pname": name}
                  for is_custom, props in ((False, properties), (True, custom))
                  for name in (props or {})]
        if doomed:
            self.conn.execute(_delete_property(kind), doomed)
        self._insert_properties(kind, node_id, properties, custom)
        self.conn.execute(_touch(kind), {"node": node_id, "now": now_ms()})

    def get_or_create_context(self, type_id: int, name: str,
                              properties: Mapping[str, Any] | None = None,
                              custom: Mapping[str, Any] | None = None,
                              parent_ids: Iterable[int] = ()) -> tuple[int, bool]:
        """Return (id, created) of the context ``name``; race-safe."""
        table = NODE_TABLES["context"]
        existing = self._context_id(type_id, name)
        if existing is not None:
            return existing, False
        now = now_ms()
        try:
            with self.conn.begin_nested():
                ctx_id = self.conn.execute(insert(table).values(
                    type_id=type_id, name=name, create_time_since_epoch=now,
                    last_update_time_since_epoch=now)).inserted_primary_key[0]  # type: ignore[index]
                self._insert_properties("context", ctx_id, properties, custom)
                parents = [{"context_id": ctx_id, "parent_context_id": p} for p in parent_ids]
                if parents:
                    self.conn.execute(insert(parent_contexts), parents)
            return int(ctx_id), True
        except IntegrityError:
            found = self._context_id(type_id, name)
            assert found is not None
            return found, False

    def _context_id(self, type_id: int, name: str) -> int | None:
        table = NODE_TABLES["context"]
        return self.conn.execute(select(table.c.id).where(
            table.c.type_id == type_id, table.c.name == name)).scalar()

    def delete_properties(self, kind: str, node_id: int, names: Iterable[str],
                          custom: bool = True) -> None:
        """Remove the named (custom) properties of one node, if present."""
        doomed = [{"owner": node_id, "custom": custom, "pname": name} for name in names]
        if doomed:
            self.conn.execute(_delete_property(kind), doomed)
            self.conn.execute(_touch(kind), {"node": node_id, "now": now_ms()})

    def set_external_id(self, kind: str, node_id: int, external_id: str) -> None:
        table = NODE_TABLES[kind]
        self.conn.execute(update(table).where(table.c.id == node_id)
                          .values(external_id=external_id))

    def insert_execution(self, type_id: int, name: str, state: int,
                         properties: Mapping[str, Any] | None = None,
                         custom: Mapping[str, Any] | None = None,
                         context_ids: Sequence[int] = ()) -> int:
        new = NewExecution(type_id, name, state, properties or {}, custom or {}, context_ids)
        return self.insert_executions([new])[0]

    def insert_executions(self, new: Sequence[NewExecution]) -> list[int]:
        """Insert executions with properties and associations in a few statements."""
        if not new:
            return []
        table = NODE_TABLES["execution"]
        now = now_ms()
        rows = [{"type_id": e.type_id, "name": e.name, "last_known_state": e.state,
                 "create_time_since_epoch": now, "last_update_time_since_epoch": now} for e in new]
        ids = insert_returning_ids(self.conn, table, rows)
        prop_rows = [row for exec_id, e in zip(ids, new)
                     for row in _property_rows("execution", exec_id, e.properties,
                                               e.custom_properties)]
        if prop_rows:
            self.conn.execute(insert(PROPERTY_TABLES["execution"]), prop_rows)
        links = [{"context_id": c, "execution_id": i} for i, e in zip(ids, new)
                 for c in e.context_ids]
        if links:
            self.conn.execute(insert(associations), links)
        return ids

    def update_execution(self, exec_id: int, state: int | None = None,
                         properties: Mapping[str, Any] | None = None,
                         custom: Mapping[str, Any] | None = None) -> None:
        self.update_executions([ExecutionUpdate(exec_id, state, properties or {}, custom or {})])

    def update_executions(self, updates: Sequence[ExecutionUpdate]) -> None:
        """Set states and insert-or-replace properties of many executions at once."""
        if not updates:
            return
        states = [{"node": u.id, "state": u.state} for u in updates if u.state is not None]
        if states:
            self.conn.execute(_set_state(), states)
        doomed = [{"owner": u.id, "custom": is_custom, "pname": name} for u in updates
                  for is_custom, props in ((False, u.properties), (True, u.custom_properties))
                  for name in props]
        if doomed:
            self.conn.execute(_delete_property("execution"), doomed)
        rows = [row for u in updates
                for row in _property_rows("execution", u.id, u.properties, u.custom_properties)]
        if rows:
            self.conn.execute(insert(PROPERTY_TABLES["execution"]), rows)
        now = now_ms()
        self.conn.execute(_touch("execution"), [{"node": u.id, "now": now} for u in updates])

    def insert_artifacts(self, new: Sequence[NewArtifact], context_ids: Sequence[int] = ()
                         ) -> list[int]:
        """Insert artifacts (with properties and attributions); ids in input order."""
        if not new:
            return []
        table = NODE_TABLES["artifact"]
        now = now_ms()
        rows = [{"type_id": a.type_id, "name": a.name, "uri": a.uri, "state": a.state,
                 "create_time_since_epoch": now, "last_update_time_since_epoch": now}
                for a in new]
        ids = insert_returning_ids(self.conn, table, rows)
        prop_rows = [row for art_id, art in zip(ids, new)
                     for row in _property_rows("artifact", art_id, art.properties,
                                               art.custom_properties)]
        if prop_rows:
            self.conn.execute(insert(PROPERTY_TABLES["artifact"]), prop_rows)
        if context_ids:
            self.conn.execute(insert(attributions), [
                {"context_id": c, "artifact_id": a} for a in ids for c in context_ids])
        return ids

    def insert_events(self, links: Sequence[tuple[int, int, int, str | None]]) -> None:
        """Insert (artifact_id, execution_id, event type, path key) events."""
        if not links:
            return
        now = now_ms()
        rows = [{"artifact_id": a, "execution_id": e, "type": t, "milliseconds_since_epoch": now}
                for a, e, t, _ in links]
        ids = insert_returning_ids(self.conn, events, rows)
        paths = [{"event_id": event_id, "position": 0, "is_index_step": False, "step_key": key}
                 for event_id, (_, _, _, key) in zip(ids, links) if key is not None]
        if paths:
            self.conn.execute(insert(event_paths), paths)

    # -- reading nodes ---------------------------------------------------------------
    def nodes(self, kind: str, *where: Any, order_by: Any = None, limit: int | None = None,
              offset: int = 0) -> list[Node]:
        """Nodes of ``kind`` matching SQLAlchemy ``where`` clauses, with properties."""
        table = NODE_TABLES[kind]
        query = select(table).where(*where)
        if order_by is None:
            order_by = table.c.id
        query = query.order_by(*(order_by if isinstance(order_by, list) else [order_by]))
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        rows = self.conn.execute(query).all()
        return self._with_properties(kind, rows)

    def _with_properties(self, kind: str, rows: Sequence[Any]) -> list[Node]:
        nodes = {}
        state_key = {"artifact": "state", "execution": "last_known_state"}.get(kind)
        for r in rows:
            m = r._mapping
            nodes[m["id"]] = Node(kind=kind, id=m["id"], type_id=m["type_id"], name=m["name"],
                                  create_time_since_epoch=m["create_time_since_epoch"],
                                  last_update_time_since_epoch=m["last_update_time_since_epoch"],
                                  state=m[state_key] if state_key else None,
                                  uri=m["uri"] if kind == "artifact" else None,
                                  external_id=m["external_id"])
        table = PROPERTY_TABLES[kind]
        owner = table.c[f"{kind}_id"]
        columns = [owner, table.c.name, table.c.is_custom_property,
                   *(table.c[c] for c in _VALUE_COLUMNS)]
        ids = list(nodes)
        on_postgres = self.conn.dialect.name == "postgresql"
        # SQLite binds each id separately (and caps parameters); PostgreSQL takes one array
        chunk_size = 10_000 if on_postgres else 500
        for start in range(0, len(ids), chunk_size):
            chunk = ids[start:start + chunk_size]
            matches = (owner == any_(bindparam("owners", chunk, type_=ARRAY(Integer)))
                       if on_postgres else owner.in_(chunk))
            for node_id, name, is_custom, *values in self.conn.execute(
                    select(*columns).where(matches)):
                node = nodes[node_id]
                target = node.custom_properties if is_custom else node.properties
                target[name] = _first_value(values)
        return list(nodes.values())

    def node_by_name(self, kind: str, type_id: int, name: str) -> Node | None:
        if "\x00" in name:  # no name holds NUL (PostgreSQL refuses it even in a query)
            return None
        table = NODE_TABLES[kind]
        found = self.nodes(kind, table.c.type_id == type_id, table.c.name == name)
        return found[0] if found else None

    def nodes_by_ids(self, kind: str, ids: Sequence[int]) -> list[Node]:
        table = NODE_TABLES[kind]
        out: list[Node] = []
        for start in range(0, len(ids), 500):
            out.extend(self.nodes(kind, table.c.id.in_(list(ids[start:start + 500]))))
        return out

    def executions_in_context(self, context_id: int, *where: Any) -> list[Node]:
        table = NODE_TABLES["execution"]
        in_context = table.c.id.in_(select(associations.c.execution_id)
                                    .where(associations.c.context_id == context_id))
        return self.nodes("execution", in_context, *where)

    def child_contexts(self, parent_id: int, *where: Any, order_by: Any = None,
                       limit: int | None = None, offset: int = 0) -> list[Node]:
        table = NODE_TABLES["context"]
        children = table.c.id.in_(select(parent_contexts.c.context_id)
                                  .where(parent_contexts.c.parent_context_id == parent_id))
        return self.nodes("context", children, *where, order_by=order_by, limit=limit,
                          offset=offset)

    @staticmethod
    def name_prefix(kind: str, prefix: str) -> Any:
        """A where-clause: the node's name starts with ``prefix`` (uses the name index,
        unlike LIKE, and treats ``%`` and ``_`` literally)."""
        name = NODE_TABLES[kind].c.name
        return and_(name >= prefix, name < prefix + "\U0010ffff")

    def property_filter(self, kind: str, name: str, value: Any, custom: bool = False) -> Any:
        """A where-clause: the node's property ``name`` equals ``value``."""
        table = PROPERTY_TABLES[kind]
        column, stored = next((c, v) for c, v in _property_columns(value).items() if v is not None)
        owner = table.c[f"{kind}_id"]
        return NODE_TABLES[kind].c.id.in_(select(owner).where(and_(
            table.c.name == name, table.c.is_custom_property == custom,
            table.c[column] == stored)))
