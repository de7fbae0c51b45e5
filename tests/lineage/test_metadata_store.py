"""MetadataStore (ML Metadata's API) against a real SQLite file per test: types,
node puts and updates, events, links, parent contexts, put_execution, lineage walks
and how their direction is written, reads with ListOptions, concurrent writers
(threads and processes), the default store and the flow engine's records seen
through it.

Bugs found here are ``xfail(strict=True)`` with the reason starting ``BUG:``.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy
import sqlalchemy.pool

from flowtrack.lineage import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    LineageSubgraphQueryOptions,
    ListOptions,
    MetadataStore,
    ParentContext,
    PropertyType,
)
from flowtrack.lineage import _metadata_store as metadata_store_module
from flowtrack.lineage._db import normalize_url
from flowtrack.lineage._records import LineageSession
from flowtrack.lineage.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    MetadataStoreError,
    NotFoundError,
)
from tests.conftest import ON_POSTGRES, database_url

INT, DOUBLE, STRING = PropertyType.INT, PropertyType.DOUBLE, PropertyType.STRING
BOOLEAN, STRUCT = PropertyType.BOOLEAN, PropertyType.STRUCT
PROTO, BYTES = PropertyType.PROTO, PropertyType.BYTES

# per node kind: its type class, node class and the store's method names
KINDS: dict[str, SimpleNamespace] = {
    "artifact": SimpleNamespace(type_cls=ArtifactType, node_cls=Artifact,
                                put_type="put_artifact_type", put="put_artifacts",
                                by_id="get_artifacts_by_id", by_type="get_artifacts_by_type",
                                by_name="get_artifact_by_type_and_name", table="artifacts"),
    "execution": SimpleNamespace(type_cls=ExecutionType, node_cls=Execution,
                                 put_type="put_execution_type", put="put_executions",
                                 by_id="get_executions_by_id",
                                 by_type="get_executions_by_type",
                                 by_name="get_execution_by_type_and_name",
                                 table="executions"),
    "context": SimpleNamespace(type_cls=ContextType, node_cls=Context,
                               put_type="put_context_type", put="put_contexts",
                               by_id="get_contexts_by_id", by_type="get_contexts_by_type",
                               by_name="get_context_by_type_and_name", table="contexts"),
}

ALL_PROPERTY_TYPES = {"i": INT, "d": DOUBLE, "s": STRING, "b": BOOLEAN, "st": STRUCT,
                      "p": PROTO, "by": BYTES}
ALL_PROPERTY_VALUES = {"i": -(2 ** 40), "d": 2.5, "s": "ünïcode ✓", "b": True,
                       "st": {"a": [1, 2.5, "x", None, {"b": False}]}, "p": b"\x08\x96\x01",
                       "by": b"\x00\xff\x10"}
CUSTOM_VALUES = {"int": 3, "zero": 0, "negative": -7, "big": 2 ** 62, "float": 0.125,
                 "str": "hello", "empty": "", "true": True, "false": False,
                 "bytes": b"\x00\x01", "dict": {"k": {"nested": [1, "two"]}}, "list": [1, "a"],
                 "inf": float("inf")}


# -- fixtures and helpers -------------------------------------------------------------
@pytest.fixture
def db_path(tmp_path: Path) -> Path | str:
    """The database: a SQLite file, or a fresh PostgreSQL database's URL when the
    tests run on PostgreSQL (``FLOWTRACK_TEST_METADATA=postgresql``)."""
    return database_url(tmp_path / "m.db") if ON_POSTGRES else tmp_path / "m.db"


@pytest.fixture
def url(db_path: Path | str) -> str:
    return db_path if isinstance(db_path, str) else "sqlite:///" + str(db_path)


@pytest.fixture
def store(url: str) -> MetadataStore:
    return MetadataStore(url)


@pytest.fixture
def ids(store: MetadataStore) -> SimpleNamespace:
    """One type of each kind, with a few properties."""
    return SimpleNamespace(
        artifact=store.put_artifact_type(ArtifactType(
            name="DataSet", properties={"day": INT, "split": STRING})),
        execution=store.put_execution_type(ExecutionType(
            name="Trainer", properties={"lr": DOUBLE, "note": STRING})),
        context=store.put_context_type(ContextType(
            name="Experiment", properties={"note": STRING})),
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The store's clock, frozen or ticking 1 ms per reading, as a test sets it."""
    state = SimpleNamespace(now=1_700_000_000_000, step=1)

    def now_ms() -> int:
        state.now += state.step
        return state.now

    monkeypatch.setattr(metadata_store_module, "now_ms", now_ms)
    return state


def _raw_engine(db_path: Path | str) -> Any:
    """An engine of its own (not flowtrack's) on the test database."""
    url = db_path if isinstance(db_path, str) else "sqlite:///" + str(db_path)
    return sqlalchemy.create_engine(normalize_url(url), poolclass=sqlalchemy.pool.NullPool)


def row_counts(db_path: Path | str) -> dict[str, int]:
    """Rows in every table of the database (read directly, not through flowtrack)."""
    engine = _raw_engine(db_path)
    with engine.connect() as conn:
        tables = sqlalchemy.inspect(conn).get_table_names()
        counts = {t: conn.execute(sqlalchemy.text(f'SELECT COUNT(*) FROM "{t}"')).scalar()
                  for t in tables}
    engine.dispose()
    return counts


def count_rows(db_path: Path | str, table: str, **where: Any) -> int:
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    engine = _raw_engine(db_path)
    with engine.connect() as conn:
        count = conn.execute(sqlalchemy.text(f'SELECT COUNT(*) FROM "{table}" WHERE {clause}'),
                             where).scalar()
    engine.dispose()
    return int(count or 0)


def put_type(store: MetadataStore, kind: str, name: str, can_add_fields: bool = False,
             can_omit_fields: bool = False, **fields: Any) -> int:
    k = KINDS[kind]
    return getattr(store, k.put_type)(k.type_cls(name=name, **fields),
                                      can_add_fields=can_add_fields,
                                      can_omit_fields=can_omit_fields)


def put_nodes(store: MetadataStore, kind: str, *nodes: Any) -> list[int]:
    return getattr(store, KINDS[kind].put)(list(nodes))


def read(store: MetadataStore, kind: str, node_id: int) -> Any:
    [node] = getattr(store, KINDS[kind].by_id)([node_id])
    return node


def new_node(kind: str, type_id: int | None, **fields: Any) -> Any:
    return KINDS[kind].node_cls(type_id=type_id, **fields)


def kind_fields(kind: str) -> dict[str, Any]:
    """The kind-specific fields (uri/state, last_known_state) set to non-defaults."""
    if kind == "artifact":
        return {"uri": "s3://bucket/data.csv", "state": Artifact.State.LIVE}
    if kind == "execution":
        return {"last_known_state": Execution.State.RUNNING}
    return {}


kinds = pytest.mark.parametrize("kind", list(KINDS))


# -- types ------------------------------------------------------------------------------
@kinds
def test_put_type_is_idempotent(store, db_path, kind):
    first = put_type(store, kind, "T", properties={"a": INT, "b": STRING})
    again = put_type(store, kind, "T", properties={"b": STRING, "a": INT})
    assert first == again
    assert count_rows(db_path, "types", name="T") == 1
    stored = getattr(store, f"get_{kind}_type")("T")
    assert isinstance(stored, KINDS[kind].type_cls)
    assert (stored.id, stored.name, stored.properties) == (first, "T", {"a": INT, "b": STRING})


@kinds
def test_put_type_keeps_description_and_external_id(store, kind):
    put_type(store, kind, "T", description="what it is", external_id="ext-T")
    stored = getattr(store, f"get_{kind}_type")("T")
    assert (stored.description, stored.external_id, stored.version) == ("what it is", "ext-T",
                                                                        None)


@kinds
def test_adding_a_property_needs_can_add_fields(store, kind):
    type_id = put_type(store, kind, "T", properties={"a": INT})
    with pytest.raises(AlreadyExistsError) as err:
        put_type(store, kind, "T", properties={"a": INT, "b": STRING})
    message = str(err.value)
    assert "'T'" in message and "b" in message and "can_add_fields=True" in message
    assert getattr(store, f"get_{kind}_type")("T").properties == {"a": INT}

    assert put_type(store, kind, "T", properties={"a": INT, "b": STRING},
                    can_add_fields=True) == type_id
    assert getattr(store, f"get_{kind}_type")("T").properties == {"a": INT, "b": STRING}


@kinds
def test_omitting_a_property_needs_can_omit_fields(store, kind):
    type_id = put_type(store, kind, "T", properties={"a": INT, "b": STRING})
    with pytest.raises(AlreadyExistsError) as err:
        put_type(store, kind, "T", properties={"a": INT})
    message = str(err.value)
    assert "'T'" in message and "b" in message and "can_omit_fields=True" in message

    # omitting keeps the stored property: the type is reused as it is
    assert put_type(store, kind, "T", properties={"a": INT}, can_omit_fields=True) == type_id
    assert put_type(store, kind, "T", can_omit_fields=True) == type_id
    assert getattr(store, f"get_{kind}_type")("T").properties == {"a": INT, "b": STRING}


@kinds
def test_add_and_omit_together(store, kind):
    type_id = put_type(store, kind, "T", properties={"a": INT, "b": STRING})
    with pytest.raises(AlreadyExistsError, match="can_omit_fields"):
        put_type(store, kind, "T", properties={"c": DOUBLE}, can_add_fields=True)
    with pytest.raises(AlreadyExistsError, match="can_add_fields"):
        put_type(store, kind, "T", properties={"c": DOUBLE}, can_omit_fields=True)
    assert put_type(store, kind, "T", properties={"c": DOUBLE}, can_add_fields=True,
                    can_omit_fields=True) == type_id
    assert getattr(store, f"get_{kind}_type")("T").properties == {"a": INT, "b": STRING,
                                                                   "c": DOUBLE}


@kinds
def test_a_property_data_type_cannot_change(store, kind):
    put_type(store, kind, "T", properties={"a": INT, "b": STRING})
    for flags in ({}, {"can_add_fields": True, "can_omit_fields": True}):
        with pytest.raises(AlreadyExistsError) as err:
            put_type(store, kind, "T", properties={"a": STRING, "b": STRING}, **flags)
        assert "'T'" in str(err.value) and "a" in str(err.value)
        assert "data type" in str(err.value)
    assert getattr(store, f"get_{kind}_type")("T").properties == {"a": INT, "b": STRING}


@kinds
def test_bad_type_definitions_are_invalid(store, kind):
    with pytest.raises(InvalidArgumentError):
        put_type(store, kind, "")
    with pytest.raises(InvalidArgumentError, match="UNKNOWN"):
        put_type(store, kind, "T", properties={"a": PropertyType.UNKNOWN})
    assert getattr(store, f"get_{kind}_types")() == []


@kinds
def test_get_type_missing_is_not_found(store, kind):
    with pytest.raises(NotFoundError, match="'Nope'"):
        getattr(store, f"get_{kind}_type")("Nope")
    # a type of another kind with that name is not found either
    other = next(k for k in KINDS if k != kind)
    put_type(store, other, "OtherKind")
    with pytest.raises(NotFoundError):
        getattr(store, f"get_{kind}_type")("OtherKind")


def test_get_types_lists_one_kind_in_id_order(store):
    a1 = put_type(store, "artifact", "A1", properties={"x": INT})
    e1 = put_type(store, "execution", "E1")
    a2 = put_type(store, "artifact", "A2")
    c1 = put_type(store, "context", "C1")
    assert [(t.id, t.name) for t in store.get_artifact_types()] == [(a1, "A1"), (a2, "A2")]
    assert store.get_artifact_types()[0].properties == {"x": INT}
    assert [(t.id, t.name) for t in store.get_execution_types()] == [(e1, "E1")]
    assert [(t.id, t.name) for t in store.get_context_types()] == [(c1, "C1")]
    assert all(isinstance(t, ArtifactType) for t in store.get_artifact_types())
    assert all(isinstance(t, ContextType) for t in store.get_context_types())


def test_get_types_by_id(store):
    a1 = put_type(store, "artifact", "A1")
    a2 = put_type(store, "artifact", "A2")
    e1 = put_type(store, "execution", "E1")
    c1 = put_type(store, "context", "C1")
    assert [t.name for t in store.get_artifact_types_by_id([a2, a1])] == ["A1", "A2"]
    # ids of other kinds and unknown ids are skipped
    assert [t.name for t in store.get_artifact_types_by_id([a1, e1, c1, 999])] == ["A1"]
    assert [t.name for t in store.get_execution_types_by_id([a1, e1])] == ["E1"]
    assert [t.name for t in store.get_context_types_by_id([c1])] == ["C1"]
    assert store.get_artifact_types_by_id([]) == []


@kinds
def test_versions_of_a_type_are_separate_types(store, db_path, kind):
    v1 = put_type(store, kind, "M", version="1", properties={"a": INT})
    v2 = put_type(store, kind, "M", version="2", properties={"a": STRING})  # no conflict
    assert v1 != v2
    assert put_type(store, kind, "M", version="1", properties={"a": INT}) == v1
    assert count_rows(db_path, "types", name="M") == 2
    get = getattr(store, f"get_{kind}_type")
    assert (get("M", "1").id, get("M", "1").version, get("M", "1").properties) == (
        v1, "1", {"a": INT})
    assert (get("M", "2").id, get("M", "2").properties) == (v2, {"a": STRING})
    with pytest.raises(NotFoundError, match="version '3'"):
        get("M", "3")
    with pytest.raises(NotFoundError):  # the unversioned type does not exist
        get("M")
    unversioned = put_type(store, kind, "M")
    assert unversioned not in (v1, v2)
    assert get("M").id == unversioned and get("M").version is None
    assert sorted(t.version or "" for t in getattr(store, f"get_{kind}_types")()) == ["", "1",
                                                                                      "2"]

    # nodes are found by the version of their type
    n1, n2 = put_nodes(store, kind, new_node(kind, v1, name="n"), new_node(kind, v2, name="n"))
    assert [n.id for n in getattr(store, KINDS[kind].by_type)("M", "1")] == [n1]
    assert [n.id for n in getattr(store, KINDS[kind].by_type)("M", "2")] == [n2]
    assert getattr(store, KINDS[kind].by_type)("M") == []
    assert getattr(store, KINDS[kind].by_name)("M", "n", "2").id == n2


# -- putting nodes ----------------------------------------------------------------------
@kinds
def test_put_nodes_inserts_in_order_and_round_trips(store, kind):
    type_id = put_type(store, kind, "Everything", properties=ALL_PROPERTY_TYPES)
    before = metadata_store_module.now_ms()
    nodes = [new_node(kind, type_id, name=f"n{i}", properties=dict(ALL_PROPERTY_VALUES),
                      custom_properties=dict(CUSTOM_VALUES), **kind_fields(kind))
             for i in range(3)]
    node_ids = put_nodes(store, kind, *nodes)
    after = metadata_store_module.now_ms()
    assert len(node_ids) == 3 and node_ids == sorted(node_ids)
    assert len(set(node_ids)) == 3
    assert [n.id for n in nodes] == node_ids  # the inputs get their ids
    found = getattr(store, KINDS[kind].by_id)(node_ids)
    assert [n.id for n in found] == node_ids
    for i, node in enumerate(found):
        assert isinstance(node, KINDS[kind].node_cls)
        assert (node.type_id, node.type, node.name) == (type_id, "Everything", f"n{i}")
        assert node.properties == ALL_PROPERTY_VALUES
        assert node.custom_properties == CUSTOM_VALUES
        for name, value in {**node.properties, **node.custom_properties}.items():
            expected = ALL_PROPERTY_VALUES.get(name, CUSTOM_VALUES.get(name))
            assert type(value) is type(expected), name
        for field, value in kind_fields(kind).items():
            assert getattr(node, field) == value
        assert before <= node.create_time_since_epoch <= after
        assert node.last_update_time_since_epoch == node.create_time_since_epoch


@kinds
def test_nan_custom_property_round_trips(store, kind):
    type_id = put_type(store, kind, "T")
    [node_id] = put_nodes(store, kind, new_node(kind, type_id,
                                                custom_properties={"nan": float("nan")}))
    assert math.isnan(read(store, kind, node_id).custom_properties["nan"])


@kinds
def test_defaults_round_trip(store, kind):
    type_id = put_type(store, kind, "T")
    [node_id] = put_nodes(store, kind, new_node(kind, type_id))
    node = read(store, kind, node_id)
    assert (node.name, node.properties, node.custom_properties) == (None, {}, {})
    if kind == "artifact":
        assert (node.uri, node.state) == (None, Artifact.State.UNKNOWN)
        assert isinstance(node.state, Artifact.State)
    if kind == "execution":
        assert node.last_known_state == Execution.State.UNKNOWN
        assert isinstance(node.last_known_state, Execution.State)


@kinds
def test_external_id_round_trips(store, kind):
    type_id = put_type(store, kind, "T")
    [node_id] = put_nodes(store, kind, new_node(kind, type_id, external_id="ext-1"))
    assert read(store, kind, node_id).external_id == "ext-1"


@kinds
def test_update_by_id_replaces_the_node(store, db_path, clock, kind):
    type_id = put_type(store, kind, "T", properties={"a": INT, "b": STRING})
    node = new_node(kind, type_id, name="first", properties={"a": 1, "b": "x"},
                    custom_properties={"old": 1, "kept": "v1"}, **kind_fields(kind))
    [node_id] = put_nodes(store, kind, node)
    created = read(store, kind, node_id)
    rows = row_counts(db_path)

    changes: dict[str, Any] = {}
    if kind == "artifact":
        changes = {"uri": "s3://elsewhere", "state": Artifact.State.DELETED}
    elif kind == "execution":
        changes = {"last_known_state": Execution.State.COMPLETE}
    update = new_node(kind, type_id, id=node_id, name="renamed", properties={"a": 2},
                      custom_properties={"kept": "v2", "new": [1]}, **changes)
    assert put_nodes(store, kind, update) == [node_id]

    updated = read(store, kind, node_id)
    assert updated.name == "renamed"
    assert updated.properties == {"a": 2}  # b is gone: properties are replaced
    assert updated.custom_properties == {"kept": "v2", "new": [1]}
    for field, value in changes.items():
        assert getattr(updated, field) == value
    assert updated.create_time_since_epoch == created.create_time_since_epoch
    assert updated.last_update_time_since_epoch > created.last_update_time_since_epoch
    assert row_counts(db_path)[KINDS[kind].table] == rows[KINDS[kind].table]


@kinds
def test_update_cannot_change_the_type(store, kind):
    first = put_type(store, kind, "T")
    second = put_type(store, kind, "U")
    [node_id] = put_nodes(store, kind, new_node(kind, first, name="n"))
    with pytest.raises(InvalidArgumentError, match="type"):
        put_nodes(store, kind, new_node(kind, second, id=node_id, name="n"))
    assert read(store, kind, node_id).type_id == first


@kinds
def test_update_of_a_missing_id_is_not_found(store, db_path, kind):
    type_id = put_type(store, kind, "T")
    with pytest.raises(NotFoundError, match="999"):
        put_nodes(store, kind, new_node(kind, type_id, id=999))
    assert row_counts(db_path)[KINDS[kind].table] == 0


@kinds
def test_undeclared_property_is_invalid_and_named(store, db_path, kind):
    type_id = put_type(store, kind, "T", properties={"a": INT})
    with pytest.raises(InvalidArgumentError) as err:
        put_nodes(store, kind, new_node(kind, type_id, properties={"a": 1, "typo": 2}))
    assert "'typo'" in str(err.value) and "custom_properties" in str(err.value)
    assert row_counts(db_path)[KINDS[kind].table] == 0
    # the same name as a custom property is fine
    put_nodes(store, kind, new_node(kind, type_id, custom_properties={"typo": 2}))


@kinds
@pytest.mark.parametrize("declared, value", [
    (INT, "1"), (INT, 1.5), (INT, True), (DOUBLE, "1.5"), (DOUBLE, False), (STRING, 1),
    (STRING, b"x"), (BOOLEAN, 1), (BOOLEAN, "true"), (STRUCT, "text"), (STRUCT, 3),
    (BYTES, "text"), (PROTO, "text"), (INT, None),
])
def test_wrong_property_value_type_is_invalid_and_named(store, db_path, kind, declared, value):
    type_id = put_type(store, kind, "T", properties={"prop": declared})
    with pytest.raises(InvalidArgumentError) as err:
        put_nodes(store, kind, new_node(kind, type_id, properties={"prop": value}))
    assert "'prop'" in str(err.value) and declared.name in str(err.value)
    assert row_counts(db_path)[KINDS[kind].table] == 0


@kinds
def test_double_property_given_an_int_reads_back_as_float(store, kind):
    type_id = put_type(store, kind, "T", properties={"d": DOUBLE})
    [node_id] = put_nodes(store, kind, new_node(kind, type_id, properties={"d": 3}))
    value = read(store, kind, node_id).properties["d"]
    assert value == 3.0 and isinstance(value, float)


@kinds
def test_names_are_unique_per_type(store, db_path, kind):
    type_id = put_type(store, kind, "T")
    other_type = put_type(store, kind, "U")
    [first] = put_nodes(store, kind, new_node(kind, type_id, name="dup"))
    with pytest.raises(AlreadyExistsError, match="'dup'"):
        put_nodes(store, kind, new_node(kind, type_id, name="dup"))
    assert count_rows(db_path, KINDS[kind].table, name="dup") == 1
    # the same name under another type, and any number of unnamed nodes, are fine
    put_nodes(store, kind, new_node(kind, other_type, name="dup"),
              new_node(kind, type_id), new_node(kind, type_id))
    # renaming onto a taken name is refused too
    [second] = put_nodes(store, kind, new_node(kind, type_id, name="other"))
    with pytest.raises(AlreadyExistsError):
        put_nodes(store, kind, new_node(kind, type_id, id=second, name="dup"))
    assert read(store, kind, second).name == "other"
    assert read(store, kind, first).name == "dup"


@kinds
def test_type_given_by_name(store, kind):
    type_id = put_type(store, kind, "Named", properties={"a": INT})
    node = new_node(kind, None, type="Named", name="n", properties={"a": 1})
    [node_id] = put_nodes(store, kind, node)
    assert node.type_id == type_id
    stored = read(store, kind, node_id)
    assert (stored.type_id, stored.type, stored.properties) == (type_id, "Named", {"a": 1})
    # the named type's properties are checked
    with pytest.raises(InvalidArgumentError, match="'b'"):
        put_nodes(store, kind, new_node(kind, None, type="Named", properties={"b": 1}))


@kinds
def test_missing_or_foreign_type_is_rejected(store, db_path, kind):
    with pytest.raises(NotFoundError, match="'Nope'"):
        put_nodes(store, kind, new_node(kind, None, type="Nope"))
    with pytest.raises(InvalidArgumentError, match="type_id"):
        put_nodes(store, kind, new_node(kind, None))
    with pytest.raises(NotFoundError):
        put_nodes(store, kind, new_node(kind, 999))
    other = next(k for k in KINDS if k != kind)
    with pytest.raises(NotFoundError):
        put_nodes(store, kind, new_node(kind, put_type(store, other, "Other")))
    assert row_counts(db_path)[KINDS[kind].table] == 0


def test_put_artifacts_is_atomic(store, db_path, ids):
    """One call, one transaction: a later invalid artifact leaves nothing written."""
    before = row_counts(db_path)
    with pytest.raises(InvalidArgumentError):
        store.put_artifacts([Artifact(type_id=ids.artifact, name="ok", properties={"day": 1}),
                             Artifact(type_id=ids.artifact, properties={"bad": 1})])
    assert row_counts(db_path) == before


# -- events -----------------------------------------------------------------------------
@pytest.fixture
def graph(store: MetadataStore, ids: SimpleNamespace) -> SimpleNamespace:
    """Two artifacts, two executions and two contexts, unlinked."""
    a1, a2 = store.put_artifacts([Artifact(type_id=ids.artifact, name="a1", uri="u1"),
                                  Artifact(type_id=ids.artifact, name="a2", uri="u2")])
    e1, e2 = store.put_executions([Execution(type_id=ids.execution, name="e1"),
                                   Execution(type_id=ids.execution, name="e2")])
    c1, c2 = store.put_contexts([Context(type_id=ids.context, name="c1"),
                                 Context(type_id=ids.context, name="c2")])
    return SimpleNamespace(a1=a1, a2=a2, e1=e1, e2=e2, c1=c1, c2=c2)


def test_events_round_trip_with_paths(store, graph):
    store.put_events([
        Event(artifact_id=graph.a1, execution_id=graph.e1, type=Event.Type.INPUT,
              path=["examples", 0, "split", 12]),
        Event(artifact_id=graph.a2, execution_id=graph.e1, type=Event.Type.OUTPUT,
              path=["model"], milliseconds_since_epoch=1234),
        Event(artifact_id=graph.a2, execution_id=graph.e2, type=Event.Type.INPUT),
    ])
    by_execution = store.get_events_by_execution_ids([graph.e1])
    assert [(e.artifact_id, e.execution_id, e.type, e.path) for e in by_execution] == [
        (graph.a1, graph.e1, Event.Type.INPUT, ["examples", 0, "split", 12]),
        (graph.a2, graph.e1, Event.Type.OUTPUT, ["model"]),
    ]
    assert all(isinstance(e.type, Event.Type) for e in by_execution)
    assert [type(step) for step in by_execution[0].path] == [str, int, str, int]
    assert by_execution[0].milliseconds_since_epoch > 0
    assert by_execution[1].milliseconds_since_epoch == 1234

    by_artifact = store.get_events_by_artifact_ids([graph.a2])
    assert [(e.execution_id, e.type, e.path) for e in by_artifact] == [
        (graph.e1, Event.Type.OUTPUT, ["model"]), (graph.e2, Event.Type.INPUT, [])]
    assert len(store.get_events_by_execution_ids([graph.e1, graph.e2])) == 3
    assert store.get_events_by_execution_ids([]) == []
    assert store.get_events_by_artifact_ids([999]) == []


def test_events_need_existing_nodes(store, db_path, graph):
    for bad in (Event(artifact_id=999, execution_id=graph.e1, type=Event.Type.INPUT),
                Event(artifact_id=graph.a1, execution_id=999, type=Event.Type.INPUT),
                Event(execution_id=graph.e1, type=Event.Type.INPUT),
                Event(artifact_id=graph.e1 + 1000, execution_id=None, type=Event.Type.INPUT)):
        with pytest.raises(InvalidArgumentError, match="does not exist"):
            store.put_events([bad])
    assert row_counts(db_path)["events"] == 0


def test_duplicate_event_already_exists(store, db_path, graph):
    event = Event(artifact_id=graph.a1, execution_id=graph.e1, type=Event.Type.INPUT)
    store.put_events([event])
    with pytest.raises(AlreadyExistsError, match="INPUT"):
        store.put_events([Event(artifact_id=graph.a1, execution_id=graph.e1,
                                type=Event.Type.INPUT, path=["other"])])
    assert row_counts(db_path)["events"] == 1
    # the same pair with another type is another event
    store.put_events([Event(artifact_id=graph.a1, execution_id=graph.e1,
                            type=Event.Type.OUTPUT)])
    assert row_counts(db_path)["events"] == 2


def test_unknown_event_type_is_rejected(store, db_path, graph):
    with pytest.raises(InvalidArgumentError, match="type"):
        store.put_events([Event(artifact_id=graph.a1, execution_id=graph.e1)])
    with pytest.raises(InvalidArgumentError):
        store.put_events([Event(artifact_id=graph.a1, execution_id=graph.e1,
                                type=Event.Type.UNKNOWN)])
    assert row_counts(db_path)["events"] == 0


# -- attributions, associations, parent contexts ------------------------------------------
def test_attributions_and_associations_are_idempotent(store, db_path, graph):
    links = ([Attribution(context_id=graph.c1, artifact_id=graph.a1),
              Attribution(context_id=graph.c1, artifact_id=graph.a2)],
             [Association(context_id=graph.c1, execution_id=graph.e1)])
    store.put_attributions_and_associations(*links)
    store.put_attributions_and_associations(*links)
    store.put_attributions_and_associations(
        [Attribution(context_id=graph.c1, artifact_id=graph.a1),
         Attribution(context_id=graph.c2, artifact_id=graph.a1)],
        [Association(context_id=graph.c1, execution_id=graph.e1)])
    counts = row_counts(db_path)
    assert (counts["attributions"], counts["associations"]) == (3, 1)
    assert [a.id for a in store.get_artifacts_by_context(graph.c1)] == [graph.a1, graph.a2]
    assert [a.id for a in store.get_artifacts_by_context(graph.c2)] == [graph.a1]
    assert [e.id for e in store.get_executions_by_context(graph.c1)] == [graph.e1]
    assert store.get_executions_by_context(graph.c2) == []


def test_links_need_existing_nodes(store, db_path, graph):
    with pytest.raises(InvalidArgumentError):
        store.put_attributions_and_associations(
            [Attribution(context_id=999, artifact_id=graph.a1)], [])
    with pytest.raises(InvalidArgumentError):
        store.put_attributions_and_associations(
            [Attribution(context_id=graph.c1, artifact_id=999)], [])
    with pytest.raises(InvalidArgumentError):
        store.put_attributions_and_associations(
            [], [Association(context_id=graph.c1, execution_id=999)])
    counts = row_counts(db_path)
    assert (counts["attributions"], counts["associations"]) == (0, 0)


def test_parent_contexts(store, db_path, ids):
    g, p, c = store.put_contexts([Context(type_id=ids.context, name=n)
                                  for n in ("grandparent", "parent", "child")])
    store.put_parent_contexts([ParentContext(child_id=p, parent_id=g),
                               ParentContext(child_id=c, parent_id=p)])
    assert [x.id for x in store.get_parent_contexts_by_context(c)] == [p]
    assert [x.id for x in store.get_parent_contexts_by_context(p)] == [g]
    assert store.get_parent_contexts_by_context(g) == []
    assert [x.id for x in store.get_children_contexts_by_context(g)] == [p]
    assert [x.id for x in store.get_children_contexts_by_context(p)] == [c]
    assert store.get_children_contexts_by_context(c) == []
    # a second parent (a DAG, not a cycle) is allowed
    store.put_parent_contexts([ParentContext(child_id=c, parent_id=g)])
    assert [x.id for x in store.get_parent_contexts_by_context(c)] == [g, p]
    assert [x.id for x in store.get_children_contexts_by_context(g)] == [p, c]
    assert row_counts(db_path)["parent_contexts"] == 3


def test_parent_context_cycles_are_rejected(store, db_path, ids):
    g, p, c = store.put_contexts([Context(type_id=ids.context, name=n)
                                  for n in ("grandparent", "parent", "child")])
    store.put_parent_contexts([ParentContext(child_id=p, parent_id=g),
                               ParentContext(child_id=c, parent_id=p)])
    with pytest.raises(InvalidArgumentError, match="cycle"):
        store.put_parent_contexts([ParentContext(child_id=c, parent_id=c)])
    with pytest.raises(InvalidArgumentError, match="cycle"):
        store.put_parent_contexts([ParentContext(child_id=p, parent_id=c)])
    with pytest.raises(InvalidArgumentError, match="cycle"):
        store.put_parent_contexts([ParentContext(child_id=g, parent_id=c)])
    with pytest.raises(InvalidArgumentError, match="999"):
        store.put_parent_contexts([ParentContext(child_id=c, parent_id=999)])
    assert row_counts(db_path)["parent_contexts"] == 2
    assert store.get_parent_contexts_by_context(g) == []


def test_duplicate_parent_context_already_exists(store, db_path, ids):
    p, c = store.put_contexts([Context(type_id=ids.context, name=n)
                               for n in ("parent", "child")])
    store.put_parent_contexts([ParentContext(child_id=c, parent_id=p)])
    with pytest.raises(AlreadyExistsError):
        store.put_parent_contexts([ParentContext(child_id=c, parent_id=p)])
    assert row_counts(db_path)["parent_contexts"] == 1


# -- put_execution ----------------------------------------------------------------------
def test_put_execution_records_everything(store, ids, graph):
    execution = Execution(type_id=ids.execution, name="train",
                          last_known_state=Execution.State.RUNNING, properties={"lr": 0.1})
    existing = store.get_artifacts_by_id([graph.a1])[0]
    model = Artifact(type_id=ids.artifact, name="model", uri="m", state=Artifact.State.LIVE)
    context = Context(type_id=ids.context, name="exp", properties={"note": "n"})
    exec_id, artifact_ids, context_ids = store.put_execution(
        execution,
        [(existing, Event(type=Event.Type.INPUT, path=["data"])),
         (model, Event(type=Event.Type.OUTPUT, path=["model", 0])),
         (Artifact(type_id=ids.artifact, name="no-event"), None)],
        [context, Context(id=graph.c1, type_id=ids.context, name="c1")])
    assert artifact_ids[0] == graph.a1 and len(artifact_ids) == 3
    assert context_ids[1] == graph.c1
    [stored] = store.get_executions_by_id([exec_id])
    assert (stored.name, stored.last_known_state, stored.properties) == (
        "train", Execution.State.RUNNING, {"lr": 0.1})
    events = store.get_events_by_execution_ids([exec_id])
    assert [(e.artifact_id, e.type, e.path) for e in events] == [
        (graph.a1, Event.Type.INPUT, ["data"]), (artifact_ids[1], Event.Type.OUTPUT, ["model", 0])]
    for context_id in context_ids:
        assert [e.id for e in store.get_executions_by_context(context_id)] == [exec_id]
        linked = {a.id for a in store.get_artifacts_by_context(context_id)}
        assert linked >= set(artifact_ids)
    [new_context] = store.get_contexts_by_id([context_ids[0]])
    assert (new_context.name, new_context.properties) == ("exp", {"note": "n"})

    # put_execution again with the execution's id updates it (here: completes it)
    execution.last_known_state = Execution.State.COMPLETE
    again = store.put_execution(execution, [], [])
    assert again == (exec_id, [], [])
    assert store.get_executions_by_id([exec_id])[0].last_known_state == Execution.State.COMPLETE
    assert len(store.get_executions()) == 3


@pytest.mark.parametrize("failing", ["artifact", "event", "context"])
def test_put_execution_is_atomic(store, db_path, ids, graph, failing):
    """A failure anywhere in put_execution leaves no execution, artifact, event,
    context or link behind."""
    store.put_events([Event(artifact_id=graph.a1, execution_id=graph.e1,
                            type=Event.Type.OUTPUT)])
    before = row_counts(db_path)
    items: list[tuple[Artifact, Event | None]] = [
        (Artifact(type_id=ids.artifact, name="fine", properties={"day": 1}),
         Event(type=Event.Type.OUTPUT))]
    contexts = [Context(type_id=ids.context, name="new-context")]
    if failing == "artifact":
        items.append((Artifact(type_id=ids.artifact, properties={"undeclared": 1}), None))
        error: type[MetadataStoreError] = InvalidArgumentError
    elif failing == "event":  # an existing artifact, re-added with an UNKNOWN event
        items.append((store.get_artifacts_by_id([graph.a1])[0], Event(type=Event.Type.UNKNOWN)))
        error = InvalidArgumentError
    else:
        contexts.append(Context(type_id=ids.context, name="c1"))  # taken, no reuse
        error = AlreadyExistsError
    with pytest.raises(error):
        store.put_execution(Execution(type_id=ids.execution, name="doomed"), items, contexts)
    assert row_counts(db_path) == before


def test_failed_put_execution_can_be_retried_with_the_same_objects(store, db_path, ids):
    execution = Execution(type_id=ids.execution, name="retry-me")
    artifact = Artifact(type_id=ids.artifact, name="out")
    event = Event(type=Event.Type.OUTPUT)
    with pytest.raises(InvalidArgumentError):
        store.put_execution(execution, [(artifact, event),
                                        (Artifact(type_id=ids.artifact,
                                                  properties={"undeclared": 1}), None)], [])
    assert (execution.id, artifact.id) == (None, None)
    assert (event.artifact_id, event.execution_id) == (None, None)
    exec_id, [artifact_id], _ = store.put_execution(execution, [(artifact, event)], [])
    assert [e.name for e in store.get_executions_by_id([exec_id])] == ["retry-me"]
    assert [a.name for a in store.get_artifacts_by_id([artifact_id])] == ["out"]
    assert count_rows(db_path, "executions") == 1


def test_put_execution_context_reuse(store, db_path, ids):
    first = store.put_execution(Execution(type_id=ids.execution, name="x1"), [],
                                [Context(type_id=ids.context, name="shared",
                                         properties={"note": "first"})])
    [shared] = first[2]
    with pytest.raises(AlreadyExistsError, match="'shared'"):
        store.put_execution(Execution(type_id=ids.execution, name="x2"), [],
                            [Context(type_id=ids.context, name="shared")])
    context = Context(type_id=ids.context, name="shared", properties={"note": "second"})
    artifact = Artifact(type_id=ids.artifact, name="out")
    exec_id, [artifact_id], [reused] = store.put_execution(
        Execution(type_id=ids.execution, name="x3"), [(artifact, None)], [context],
        reuse_context_if_already_exist=True)
    assert reused == shared and context.id == shared
    assert count_rows(db_path, "contexts", name="shared") == 1
    # the reused context is linked to, not overwritten
    assert store.get_contexts_by_id([shared])[0].properties == {"note": "first"}
    assert exec_id in {e.id for e in store.get_executions_by_context(shared)}
    assert [a.id for a in store.get_artifacts_by_context(shared)] == [artifact_id]
    # reuse also creates a context that does not exist yet
    _, _, [fresh] = store.put_execution(Execution(type_id=ids.execution, name="x4"), [],
                                        [Context(type_id=ids.context, name="fresh")],
                                        reuse_context_if_already_exist=True)
    assert store.get_context_by_type_and_name("Experiment", "fresh").id == fresh


# -- reads ------------------------------------------------------------------------------
@pytest.fixture
def five(store: MetadataStore, ids: SimpleNamespace, clock: SimpleNamespace) -> list[int]:
    """Five artifacts created 1 ms apart; then the second one is updated last."""
    created = [store.put_artifacts([Artifact(type_id=ids.artifact, name=f"a{i}",
                                             uri="same" if i % 2 else f"u{i}")])[0]
               for i in range(5)]
    store.put_artifacts([Artifact(id=created[1], type_id=ids.artifact, name="a1",
                                  uri="same", properties={"day": 9})])
    return created


def test_list_options_limit_order_and_offset(store, five):
    def ids_of(options: ListOptions | None) -> list[int]:
        return [a.id for a in store.get_artifacts(options)]

    assert ids_of(None) == five
    assert ids_of(ListOptions()) == five
    assert ids_of(ListOptions(limit=2)) == five[:2]
    assert ids_of(ListOptions(limit=10)) == five
    assert ids_of(ListOptions(is_asc=False)) == five[::-1]
    assert ids_of(ListOptions(order_by="id", is_asc=False, limit=2)) == five[::-1][:2]
    assert ids_of(ListOptions(order_by="create_time")) == five
    assert ids_of(ListOptions(order_by="create_time", is_asc=False)) == five[::-1]
    updated_last = [five[0], *five[2:], five[1]]
    assert ids_of(ListOptions(order_by="last_update_time")) == updated_last
    assert ids_of(ListOptions(order_by="last_update_time", is_asc=False, limit=1)) == [five[1]]
    assert ids_of(ListOptions(limit=2, offset=2)) == five[2:4]
    assert ids_of(ListOptions(limit=2, offset=4)) == five[4:]
    assert ids_of(ListOptions(limit=2, offset=5)) == []
    assert ids_of(ListOptions(limit=2, offset=1, is_asc=False)) == [five[3], five[2]]
    # paging through with limit and offset visits every node once
    pages = [ids_of(ListOptions(limit=2, offset=o, order_by="last_update_time"))
             for o in (0, 2, 4)]
    assert list(itertools.chain(*pages)) == updated_last
    assert ([e.id for e in store.get_executions(ListOptions(limit=1))],
            [c.id for c in store.get_contexts(ListOptions(is_asc=False))]) == ([], [])


def test_list_options_offset_without_limit(store, five):
    assert [a.id for a in store.get_artifacts(ListOptions(offset=3))] == five[3:]


def test_list_options_ties_are_ordered_by_id(store, ids, clock):
    """As in MLMD: equal times are ordered by id in the same direction, so paging with
    offset is well defined."""
    clock.step = 0  # every node gets the same create and update time
    created = store.put_artifacts([Artifact(type_id=ids.artifact) for _ in range(6)])
    for field in ("create_time", "last_update_time"):
        assert [a.id for a in store.get_artifacts(ListOptions(order_by=field))] == created
        assert [a.id for a in store.get_artifacts(
            ListOptions(order_by=field, is_asc=False))] == created[::-1]


@pytest.mark.parametrize("options, message", [
    (ListOptions(order_by="name"), "order_by"),
    (ListOptions(order_by="create_time_since_epoch"), "order_by"),
    (ListOptions(limit=0), "limit"),
    (ListOptions(limit=-3), "limit"),
])
def test_bad_list_options_are_invalid(store, ids, options, message):
    for get in (store.get_artifacts, store.get_executions, store.get_contexts):
        with pytest.raises(InvalidArgumentError, match=message):
            get(options)


def test_get_by_id(store, graph):
    assert [a.name for a in store.get_artifacts_by_id([graph.a2, graph.a1, 999])] == ["a1",
                                                                                      "a2"]
    assert [e.name for e in store.get_executions_by_id([graph.e2])] == ["e2"]
    assert [c.name for c in store.get_contexts_by_id([graph.c1, graph.c2])] == ["c1", "c2"]
    assert store.get_artifacts_by_id([]) == []
    # an id of another kind is not found
    assert store.get_executions_by_id([graph.c2 + 100]) == []


def test_get_by_type(store, ids, graph):
    other = store.put_artifact_type(ArtifactType(name="Model"))
    [model] = store.put_artifacts([Artifact(type_id=other, name="m")])
    assert [a.id for a in store.get_artifacts_by_type("DataSet")] == [graph.a1, graph.a2]
    assert [a.id for a in store.get_artifacts_by_type("Model")] == [model]
    assert [e.id for e in store.get_executions_by_type("Trainer")] == [graph.e1, graph.e2]
    assert [c.id for c in store.get_contexts_by_type("Experiment")] == [graph.c1, graph.c2]
    assert store.get_artifacts_by_type("Nope") == []
    assert store.get_executions_by_type("DataSet") == []  # an artifact type's name
    assert store.get_contexts_by_type("Experiment", "v9") == []
    store.put_artifact_type(ArtifactType(name="Empty"))
    assert store.get_artifacts_by_type("Empty") == []


def test_get_by_type_and_name(store, graph):
    assert store.get_artifact_by_type_and_name("DataSet", "a2").id == graph.a2
    assert store.get_execution_by_type_and_name("Trainer", "e1").id == graph.e1
    assert store.get_context_by_type_and_name("Experiment", "c2").id == graph.c2
    assert store.get_artifact_by_type_and_name("DataSet", "nope") is None
    assert store.get_artifact_by_type_and_name("Nope", "a1") is None
    assert store.get_execution_by_type_and_name("Experiment", "c1") is None
    assert store.get_context_by_type_and_name("Experiment", "a1") is None


def test_get_artifacts_by_uri(store, five):
    assert [a.id for a in store.get_artifacts_by_uri("same")] == [five[1], five[3]]
    assert [a.id for a in store.get_artifacts_by_uri("u4")] == [five[4]]
    assert store.get_artifacts_by_uri("nowhere") == []


def test_reads_by_context_and_back(store, graph):
    store.put_attributions_and_associations(
        [Attribution(context_id=graph.c1, artifact_id=graph.a1),
         Attribution(context_id=graph.c2, artifact_id=graph.a1),
         Attribution(context_id=graph.c2, artifact_id=graph.a2)],
        [Association(context_id=graph.c2, execution_id=graph.e1),
         Association(context_id=graph.c2, execution_id=graph.e2),
         Association(context_id=graph.c1, execution_id=graph.e2)])
    assert [a.id for a in store.get_artifacts_by_context(graph.c1)] == [graph.a1]
    assert [a.id for a in store.get_artifacts_by_context(graph.c2)] == [graph.a1, graph.a2]
    assert [e.id for e in store.get_executions_by_context(graph.c1)] == [graph.e2]
    assert [e.id for e in store.get_executions_by_context(graph.c2)] == [graph.e1, graph.e2]
    assert [c.id for c in store.get_contexts_by_artifact(graph.a1)] == [graph.c1, graph.c2]
    assert [c.id for c in store.get_contexts_by_artifact(graph.a2)] == [graph.c2]
    assert [c.id for c in store.get_contexts_by_execution(graph.e1)] == [graph.c2]
    assert [c.id for c in store.get_contexts_by_execution(graph.e2)] == [graph.c1, graph.c2]
    assert store.get_artifacts_by_context(999) == []
    assert store.get_contexts_by_artifact(999) == []
    # the nodes come back whole, with their type's name
    [a1] = store.get_artifacts_by_context(graph.c1)
    assert (a1.name, a1.uri, a1.type) == ("a1", "u1", "DataSet")


# -- concurrency ------------------------------------------------------------------------
def _pausing_after_first_call(original: Any, barrier: Any) -> Any:
    """``original`` wrapped so each thread (or process) waits for the other after its
    first call: both have looked, and found nothing, before either writes.

    A store that serializes writers (SQLite's write transactions begin IMMEDIATE)
    never lets the second one reach its read while the first waits; the short
    timeout then lets the first go on, and the test checks the serialized path.
    """
    seen = threading.local()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not getattr(seen, "done", False):
            seen.done = True
            try:
                barrier.wait(timeout=1)
            except threading.BrokenBarrierError:
                pass
        return result

    return wrapper


def _put_shared_type(store: MetadataStore) -> int:
    return store.put_artifact_type(ArtifactType(name="Shared", properties={"a": INT}))


def _put_shared_context(store: MetadataStore) -> int:
    execution_type = store.put_execution_type(ExecutionType(name="Worker"))
    context_type = store.put_context_type(ContextType(name="Pipeline"))
    _, _, [context_id] = store.put_execution(
        Execution(type_id=execution_type), [], [Context(type_id=context_type, name="shared")],
        reuse_context_if_already_exist=True)
    return context_id


WORKS = {"type": (_put_shared_type, metadata_store_module, "_find_type", "types"),
         "context": (_put_shared_context, LineageSession, "node_by_name", "contexts")}


def _prepare(url: str) -> None:
    store = MetadataStore(url)
    store.put_execution_type(ExecutionType(name="Worker"))
    store.put_context_type(ContextType(name="Pipeline"))


def _run_threads(url: str, work: str, interleave: bool,
                 monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    func, owner, name, _ = WORKS[work]
    if interleave:  # monkeypatch puts the original back after the test
        monkeypatch.setattr(owner, name,
                            _pausing_after_first_call(getattr(owner, name), threading.Barrier(2)))
    start = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        store = MetadataStore(url)
        start.wait(timeout=10)
        try:
            results[i] = ("ok", func(store))
        except Exception as exc:  # reported, not raised, so both threads finish
            results[i] = ("error", f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _process_main(url: str, work: str, interleave: bool, start: Any, inner: Any,
                  results: Any) -> None:
    func, owner, name, _ = WORKS[work]
    if interleave:  # this process's copy of the module: nothing to restore
        setattr(owner, name, _pausing_after_first_call(getattr(owner, name), inner))
    store = MetadataStore(url)
    start.wait(timeout=30)
    try:
        results.put(("ok", func(store)))
    except Exception as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _run_processes(url: str, work: str, interleave: bool) -> list[Any]:
    ctx = multiprocessing.get_context("spawn")
    start, inner, queue = ctx.Barrier(2), ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(url, work, interleave, start, inner,
                                                     queue)) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
        queue.close()
        queue.join_thread()
    assert [p.exitcode for p in procs] == [0, 0]
    return results


def _check_one_winner(results: list[Any], db_path: Path, work: str) -> None:
    assert all(r is not None and r[0] == "ok" for r in results), results
    assert results[0][1] == results[1][1]
    table = WORKS[work][3]
    assert count_rows(db_path, table, name="Shared" if work == "type" else "shared") == 1


@pytest.mark.parametrize("interleave", [False, True], ids=["together", "interleaved"])
def test_threads_putting_the_same_type(url, db_path, monkeypatch, interleave):
    _prepare(url)
    results = _run_threads(url, "type", interleave, monkeypatch)
    _check_one_winner(results, db_path, "type")


@pytest.mark.parametrize("interleave", [False, True], ids=["together", "interleaved"])
def test_threads_putting_the_same_context_with_reuse(url, db_path, monkeypatch, interleave):
    _prepare(url)
    results = _run_threads(url, "context", interleave, monkeypatch)
    _check_one_winner(results, db_path, "context")


@pytest.mark.parametrize("interleave", [False, True], ids=["together", "interleaved"])
def test_processes_putting_the_same_type(url, db_path, interleave):
    _prepare(url)
    _check_one_winner(_run_processes(url, "type", interleave), db_path, "type")


@pytest.mark.parametrize("interleave", [False, True], ids=["together", "interleaved"])
def test_processes_putting_the_same_context_with_reuse(url, db_path, interleave):
    _prepare(url)
    _check_one_winner(_run_processes(url, "context", interleave), db_path, "context")


# -- the default store and the flow engine's records ------------------------------------
def test_default_store_is_the_projects(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWTRACK_HOME", str(home))
    monkeypatch.delenv("FLOWTRACK_METADATA", raising=False)
    type_id = MetadataStore().put_artifact_type(ArtifactType(name="InDefault"))
    assert (home / "metadata.db").exists()
    explicit = MetadataStore("sqlite:///" + str(home / "metadata.db"))
    assert explicit.get_artifact_type("InDefault").id == type_id
    # FLOWTRACK_METADATA wins over FLOWTRACK_HOME
    other = tmp_path / "other.db"
    monkeypatch.setenv("FLOWTRACK_METADATA", "sqlite:///" + str(other))
    with pytest.raises(NotFoundError):
        MetadataStore().get_artifact_type("InDefault")
    assert other.exists()


TINY_FLOW = """
    from flowtrack import FlowSpec, step


    class TinyFlow(FlowSpec):
        @step
        def start(self):
            self.x = 41
            self.unused = "never read"
            self.next(self.add)

        @step
        def add(self):
            self.y = self.x + 1
            self.next(self.end)

        @step
        def end(self):
            print("done")


    if __name__ == "__main__":
        TinyFlow()
"""


def test_flow_records_are_visible_through_the_default_store(store_env, write_flow, run_flow):
    run_flow(write_flow(TINY_FLOW), "run", check=True)
    store = MetadataStore()

    [run] = store.get_contexts_by_type("Run")
    assert run.name.startswith("TinyFlow/") and run.properties["status"] == "FINISHED"
    [experiment] = store.get_parent_contexts_by_context(run.id)
    assert (experiment.type, experiment.name) == ("Experiment", "TinyFlow")

    tasks = store.get_executions_by_type("Task")
    by_step = {t.properties["step_name"]: t for t in tasks}
    assert {"start", "add", "end"} <= set(by_step)
    assert all(t.last_known_state == Execution.State.COMPLETE for t in by_step.values())
    assert {t.id for t in store.get_executions_by_context(run.id)} == {t.id for t in tasks}

    values = {a.properties["artifact_name"]: a for a in store.get_artifacts_by_type("Value")}
    assert {"x", "unused", "y"} <= set(values)
    attributed = {a.id for a in store.get_artifacts_by_context(run.id)}
    assert {values[n].id for n in ("x", "unused", "y")} <= attributed

    def links(name: str, event_type: int) -> set[str]:
        return {next(s for s, t in by_step.items() if t.id == e.execution_id)
                for e in store.get_events_by_artifact_ids([values[name].id])
                if e.type == event_type}

    assert links("x", Event.Type.OUTPUT) == {"start"}
    assert links("x", Event.Type.INPUT) == {"add"}  # only the task that read it
    assert links("unused", Event.Type.OUTPUT) == {"start"}
    assert links("unused", Event.Type.INPUT) == set()
    assert links("y", Event.Type.OUTPUT) == {"add"}
    assert links("y", Event.Type.INPUT) == set()
    outputs = [e for e in store.get_events_by_execution_ids([by_step["start"].id])
               if e.type == Event.Type.OUTPUT]
    assert sorted(e.path for e in outputs) == [["unused"], ["x"]]
    assert store.get_events_by_execution_ids([by_step["end"].id]) == []


# -- get_lineage_subgraph --------------------------------------------------------------
Direction = LineageSubgraphQueryOptions.Direction


@pytest.fixture
def chain(store: MetadataStore, graph: SimpleNamespace) -> SimpleNamespace:
    """a1 -> e1 -> a2 -> e2: e1 read a1 and wrote a2, and e2 read a2."""
    store.put_events([
        Event(artifact_id=graph.a1, execution_id=graph.e1, type=Event.Type.INPUT),
        Event(artifact_id=graph.a2, execution_id=graph.e1, type=Event.Type.OUTPUT),
        Event(artifact_id=graph.a2, execution_id=graph.e2, type=Event.Type.INPUT)])
    return graph


def reached(store: MetadataStore, chain: SimpleNamespace, direction: Any
            ) -> tuple[set[int], set[int]]:
    """The artifact and execution ids a walk from a2 reaches."""
    found = store.get_lineage_subgraph(LineageSubgraphQueryOptions(
        starting_artifacts=[chain.a2], max_num_hops=5, direction=direction))
    return {a.id for a in found.artifacts}, {e.id for e in found.executions}


def test_lineage_directions_walk_their_way(store, chain):
    assert reached(store, chain, Direction.UPSTREAM) == ({chain.a1, chain.a2}, {chain.e1})
    assert reached(store, chain, Direction.DOWNSTREAM) == ({chain.a2}, {chain.e2})
    assert reached(store, chain, Direction.BIDIRECTIONAL) == ({chain.a1, chain.a2},
                                                              {chain.e1, chain.e2})


@pytest.mark.parametrize("name", ["UPSTREAM", "DOWNSTREAM", "BIDIRECTIONAL"])
def test_lineage_direction_as_name_member_or_number(store, chain, name):
    """A direction is the enum member, MLMD's number for it (its proto enum's), or its
    name in any case, as it comes from JSON or a config file; the name once raised a
    raw ``ValueError: invalid literal for int()``."""
    expected = reached(store, chain, Direction[name])
    for spelling in (name, name.lower(), name.capitalize(), int(Direction[name])):
        assert reached(store, chain, spelling) == expected, spelling


@pytest.mark.parametrize("bad", ["SIDEWAYS", "", "1", " UPSTREAM", 0, 4, -1, 1.0, True, None,
                                 [1]])
def test_unknown_lineage_direction_is_an_invalid_argument(store, chain, bad):
    with pytest.raises(InvalidArgumentError) as caught:
        reached(store, chain, bad)
    message = str(caught.value)
    assert repr(bad) in message
    for accepted in ("'UPSTREAM'", "'DOWNSTREAM'", "'BIDIRECTIONAL'", "1, 2, 3"):
        assert accepted in message


# -- put_lineage_subgraph --------------------------------------------------------------
def test_put_lineage_subgraph_records_everything_at_once(tmp_path):
    from flowtrack.lineage import (
        Artifact,
        ArtifactType,
        Context,
        ContextType,
        Event,
        Execution,
        ExecutionType,
        MetadataStore,
    )
    from flowtrack.lineage.errors import InvalidArgumentError

    store = MetadataStore(f"sqlite:///{tmp_path / 'm.db'}")
    a_type = store.put_artifact_type(ArtifactType(name="Data"))
    e_type = store.put_execution_type(ExecutionType(name="Step"))
    c_type = store.put_context_type(ContextType(name="Pipeline"))
    data = Artifact(type_id=a_type, uri="in", external_id="dataset-1")
    model = Artifact(type_id=a_type, uri="out")
    train = Execution(type_id=e_type, last_known_state=Execution.State.COMPLETE)
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        [train], [data, model], [Context(type_id=c_type, name="p1")],
        [(0, 0, Event(type=Event.Type.INPUT)), (0, 1, Event(type=Event.Type.OUTPUT))])
    assert train.id == execution_ids[0] and [data.id, model.id] == artifact_ids
    events = store.get_events_by_execution_ids(execution_ids)
    assert {(e.artifact_id, e.type.name) for e in events} == {
        (artifact_ids[0], "INPUT"), (artifact_ids[1], "OUTPUT")}
    assert {a.id for a in store.get_artifacts_by_context(context_ids[0])} == set(artifact_ids)
    # a second subgraph reuses the dataset by external id and the context by name
    again = Artifact(type_id=a_type, uri="in", external_id="dataset-1")
    _, reused_ids, reused_ctx = store.put_lineage_subgraph(
        [Execution(type_id=e_type)], [again], [Context(type_id=c_type, name="p1")],
        [(0, 0, Event(type=Event.Type.INPUT))], reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True)
    assert reused_ids == [artifact_ids[0]] and reused_ctx == context_ids
    before = len(store.get_executions())
    with pytest.raises(InvalidArgumentError, match="points outside"):
        store.put_lineage_subgraph([Execution(type_id=e_type)], [], [],
                                   [(0, 3, Event(type=Event.Type.INPUT))])
    assert len(store.get_executions()) == before  # nothing of the failed call was kept
