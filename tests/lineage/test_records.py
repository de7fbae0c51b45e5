"""LineageSession: types, contexts, executions, artifacts, events and their properties."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from flowtrack.lineage import (
    ArtifactState,
    Database,
    EventType,
    ExecutionState,
    ExecutionUpdate,
    LineageSession,
    NewArtifact,
    NewExecution,
    PropertyType,
    TypeKind,
)
from flowtrack.lineage._schema import (
    artifacts,
    associations,
    attributions,
    contexts,
    event_paths,
    events,
    executions,
    parent_contexts,
    type_properties,
    types,
)
from flowtrack.lineage.errors import InvalidArgumentError
from tests.conftest import ON_POSTGRES, database_url


def _text(**kwargs):
    """Text without NUL, which no SQL database stores (flowtrack refuses it: see
    test_nul_characters_are_refused)."""
    return st.text(alphabet=st.characters(blacklist_categories=("Cs",),  # as st.text()
                                          blacklist_characters="\x00"), **kwargs)


def open_db(path: Path) -> Database:
    return Database.open(database_url(path))


def close_db(db: Database) -> None:
    Database._open.pop(db.url, None)
    db.engine.dispose()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "meta.db")
    yield database
    close_db(database)


@pytest.fixture
def session(db: Database) -> Iterator[LineageSession]:
    with LineageSession(db, write=True) as s:
        yield s


def racing_session(db: Database) -> LineageSession:
    """A writing session whose transaction does not take SQLite's write lock up front
    (as write sessions do), so two of them can race on get-or-create the way writers
    on PostgreSQL do."""
    conn = db.write_engine.connect() if ON_POSTGRES else db.engine.connect()
    return LineageSession(db, conn=conn)


def count(s: LineageSession, table: Any, *where: Any) -> int:
    return len(s.conn.execute(select(table).where(*where)).all())


def run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert not errors, errors
    return results


# -- types ----------------------------------------------------------------------------------

def test_type_get_or_create_is_idempotent(db, session):
    props = {"status": PropertyType.STRING, "n": PropertyType.INT}
    tid = session.type_id(TypeKind.EXECUTION, "task", props)
    assert session.type_id(TypeKind.EXECUTION, "task", props) == tid
    session.commit()
    with LineageSession(db) as other:
        assert other.type_id(TypeKind.EXECUTION, "task") == tid
        assert other.find_type_id(TypeKind.EXECUTION, "task") == tid
    assert count(session, types) == 1
    rows = session.conn.execute(select(type_properties.c.name, type_properties.c.data_type)
                                .where(type_properties.c.type_id == tid)).all()
    assert dict(rows) == {"status": int(PropertyType.STRING), "n": int(PropertyType.INT)}


def test_same_name_different_kinds_are_different_types(session):
    ids = {session.type_id(kind, "thing") for kind in TypeKind}
    assert len(ids) == 3
    assert session.find_type_id(TypeKind.ARTIFACT, "nope") is None


def _gate_first_call(monkeypatch: pytest.MonkeyPatch, method: str, parties: int) -> None:
    """Make every session's first ``method`` call wait until all sessions have made it,
    so all of them see 'not there yet' before any of them creates the row."""
    barrier = threading.Barrier(parties)
    real = getattr(LineageSession, method)
    gated: set[int] = set()

    def wrapper(self: LineageSession, *args: Any) -> Any:
        found = real(self, *args)
        if id(self) not in gated:
            gated.add(id(self))
            barrier.wait(timeout=30)
        return found

    monkeypatch.setattr(LineageSession, method, wrapper)


def test_concurrent_type_creation_gives_one_row(db, monkeypatch):
    _gate_first_call(monkeypatch, "find_type_id", 2)

    def create(_i: int) -> int:
        with racing_session(db) as s:
            tid = s.type_id(TypeKind.CONTEXT, "run", {"status": PropertyType.STRING})
            s.commit()
            return tid

    ids = run_threads(2, create)
    with LineageSession(db) as s:
        assert count(s, types, types.c.name == "run") == 1
    assert ids[0] == ids[1]


def test_concurrent_context_creation_gives_one_row(db, monkeypatch):
    with LineageSession(db, write=True) as s:
        ctype = s.type_id(TypeKind.CONTEXT, "run")
        parent, _ = s.get_or_create_context(ctype, "experiment")
        s.commit()
    _gate_first_call(monkeypatch, "_context_id", 2)

    def create(i: int) -> tuple[int, bool]:
        with racing_session(db) as s:
            got = s.get_or_create_context(ctype, "flow/1", properties={"who": f"thread{i}"},
                                          parent_ids=[parent])
            s.commit()
            return got

    results = run_threads(2, create)
    assert results[0][0] == results[1][0]
    assert sorted(created for _, created in results) == [False, True]
    with LineageSession(db) as s:
        assert count(s, contexts, contexts.c.name == "flow/1") == 1
        assert count(s, parent_contexts) == 1
        node = s.node_by_name("context", ctype, "flow/1")
        assert node is not None and node.properties["who"] in {"thread0", "thread1"}


def test_many_threads_get_or_create_the_same_contexts(db):
    with LineageSession(db, write=True) as s:
        ctype = s.type_id(TypeKind.CONTEXT, "run")
        s.commit()
    names = [f"ctx{i}" for i in range(15)]

    def create(_i: int) -> dict[str, int]:
        out = {}
        with racing_session(db) as s:
            for name in names:
                out[name], _ = s.get_or_create_context(ctype, name)
                s.commit()
        return out

    results = run_threads(4, create)
    assert all(r == results[0] for r in results)
    with LineageSession(db) as s:
        assert count(s, contexts) == len(names)


# -- contexts -------------------------------------------------------------------------------

def test_context_get_or_create_with_parents_and_properties(session):
    ctype = session.type_id(TypeKind.CONTEXT, "run")
    exp_type = session.type_id(TypeKind.CONTEXT, "experiment")
    p1, created1 = session.get_or_create_context(exp_type, "flowA")
    p2, _ = session.get_or_create_context(exp_type, "team")
    child, created = session.get_or_create_context(
        ctype, "flowA/1", properties={"status": "RUNNING", "n": 3},
        custom={"tags": ["a", "b"]}, parent_ids=[p1, p2])
    assert created1 and created
    again, created_again = session.get_or_create_context(ctype, "flowA/1", parent_ids=[p1])
    assert (again, created_again) == (child, False)
    session.commit()
    assert count(session, parent_contexts) == 2
    assert [n.id for n in session.child_contexts(p1)] == [child]
    assert [n.id for n in session.child_contexts(p2)] == [child]
    node = session.node_by_name("context", ctype, "flowA/1")
    assert node.kind == "context" and node.type_id == ctype
    assert node.properties == {"status": "RUNNING", "n": 3}
    assert node.custom_properties == {"tags": ["a", "b"]}
    assert session.node_by_name("context", ctype, "missing") is None


def test_child_contexts_ordering_limit_and_where(session):
    exp_type = session.type_id(TypeKind.CONTEXT, "experiment")
    run_type = session.type_id(TypeKind.CONTEXT, "run")
    parent, _ = session.get_or_create_context(exp_type, "flow")
    other, _ = session.get_or_create_context(exp_type, "other")
    ids = [session.get_or_create_context(run_type, f"flow/{i}", properties={"i": i},
                                         parent_ids=[parent])[0] for i in range(6)]
    session.get_or_create_context(run_type, "other/1", parent_ids=[other])
    session.commit()
    assert [n.id for n in session.child_contexts(parent)] == ids
    newest = session.child_contexts(parent, order_by=contexts.c.id.desc(), limit=2)
    assert [n.name for n in newest] == ["flow/5", "flow/4"]
    assert [n.properties["i"] for n in newest] == [5, 4]
    odd = session.child_contexts(parent, contexts.c.name.in_(["flow/1", "flow/3"]))
    assert [n.name for n in odd] == ["flow/1", "flow/3"]
    assert session.child_contexts(ids[0]) == []


# -- executions and properties --------------------------------------------------------------

EVERY_KIND = {
    "int": 42, "zero": 0, "negative": -(2**62), "float": 2.5, "inf": float("inf"),
    "str": "hello", "empty_str": "", "unicode": "héllo ✓", "true": True, "false": False,
    "bytes": b"\x00\x01\xff", "empty_bytes": b"", "dict": {"a": 1, "b": [1.5, "x", None]},
    "list": [1, "two", {"three": 3}], "empty_list": [], "nested": {"x": {"y": [True, False]}},
}


def test_execution_properties_of_every_kind_roundtrip(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    eid = session.insert_execution(etype, "flow/1/start/1", int(ExecutionState.RUNNING),
                                   properties=EVERY_KIND, custom=EVERY_KIND)
    session.commit()
    [node] = session.nodes_by_ids("execution", [eid])
    assert node.kind == "execution" and node.name == "flow/1/start/1"
    assert node.state == ExecutionState.RUNNING
    assert node.properties == EVERY_KIND
    assert node.custom_properties == EVERY_KIND
    for key, value in EVERY_KIND.items():
        assert type(node.properties[key]) is type(value), key


def test_none_properties_are_not_stored(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    eid = session.insert_execution(etype, "e", 1, properties={"a": None, "b": 1})
    [node] = session.nodes_by_ids("execution", [eid])
    assert node.properties == {"b": 1}


def test_nan_property_roundtrips(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    eid = session.insert_execution(etype, "e", 1, custom={"loss": float("nan")})
    [node] = session.nodes_by_ids("execution", [eid])
    assert isinstance(node.custom_properties["loss"], float)
    assert math.isnan(node.custom_properties["loss"])


json_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | _text(max_size=20))
structs = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4)
                       | st.dictionaries(_text(max_size=8), c, max_size=4), max_leaves=12)
property_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), _text(), st.booleans(),
    st.binary(max_size=100), st.lists(structs, max_size=4),
    st.dictionaries(_text(max_size=8), structs, max_size=4),
)


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory) -> Iterator[Database]:
    database = open_db(tmp_path_factory.mktemp("lineage") / "shared.db")
    yield database
    close_db(database)


_names = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_text(min_size=1, max_size=10), property_values, max_size=6),
       st.dictionaries(_text(min_size=1, max_size=10), property_values, max_size=6))
def test_generated_properties_roundtrip(shared_db, properties, custom):
    with LineageSession(shared_db, write=True) as s:
        etype = s.type_id(TypeKind.EXECUTION, "gen")
        eid = s.insert_execution(etype, f"e{next(_names)}", 1, properties=properties,
                                 custom=custom)
        s.commit()
        [node] = s.nodes_by_ids("execution", [eid])
    assert node.properties == properties
    assert node.custom_properties == custom
    for key, value in properties.items():
        assert type(node.properties[key]) is type(value)


def test_update_execution_replaces_properties(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    eid = session.insert_execution(
        etype, "e", int(ExecutionState.RUNNING),
        properties={"status": "running", "attempt": 0, "keep": "me", "gone": 1.5},
        custom={"metric": 1, "kind": b"bytes"})
    session.commit()
    [before] = session.nodes_by_ids("execution", [eid])
    session.update_execution(eid, state=int(ExecutionState.COMPLETE),
                             properties={"status": "done", "attempt": 1, "gone": None},
                             custom={"metric": 0.75, "kind": {"now": "a struct"}})
    session.commit()
    [node] = session.nodes_by_ids("execution", [eid])
    assert node.state == ExecutionState.COMPLETE
    # named properties replaced (even with a value of another kind), None deletes one,
    # unnamed ones kept
    assert node.properties == {"status": "done", "attempt": 1, "keep": "me"}
    assert node.custom_properties == {"metric": 0.75, "kind": {"now": "a struct"}}
    assert node.create_time_since_epoch == before.create_time_since_epoch
    assert node.last_update_time_since_epoch >= before.last_update_time_since_epoch


def test_insert_and_update_executions_in_bulk(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    ctype = session.type_id(TypeKind.CONTEXT, "run")
    run, _ = session.get_or_create_context(ctype, "r")
    new = [NewExecution(etype, f"e{i}", int(ExecutionState.NEW), {"i": i},
                        {"odd": i % 2 == 1}, context_ids=[run] if i % 2 else [])
           for i in reversed(range(30))]
    ids = session.insert_executions(new)
    assert session.insert_executions([]) == []
    assert [n.name for n in session.nodes_by_ids("execution", ids)] == [e.name for e in new]
    assert {n.name for n in session.executions_in_context(run)} == {
        f"e{i}" for i in range(30) if i % 2}
    session.update_executions([
        ExecutionUpdate(eid, int(ExecutionState.COMPLETE) if k % 3 == 0 else None,
                        {"i": -k}, {"done": True})
        for k, eid in enumerate(ids)])
    session.update_executions([])
    session.commit()
    for k, node in enumerate(session.nodes_by_ids("execution", ids)):
        assert node.properties == {"i": -k}
        assert node.custom_properties == {"odd": new[k].custom_properties["odd"], "done": True}
        expected = ExecutionState.COMPLETE if k % 3 == 0 else ExecutionState.NEW
        assert node.state == expected


def test_update_execution_state_only_leaves_properties(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    eid = session.insert_execution(etype, "e", 1, properties={"a": 1})
    session.update_execution(eid, state=int(ExecutionState.FAILED))
    [node] = session.nodes_by_ids("execution", [eid])
    assert node.state == ExecutionState.FAILED and node.properties == {"a": 1}


def test_set_properties_on_contexts(session):
    ctype = session.type_id(TypeKind.CONTEXT, "run")
    cid, _ = session.get_or_create_context(ctype, "r", properties={"status": "RUNNING"})
    session.set_properties("context", cid, {"status": "COMPLETED", "end": 5}, {"params": {"x": 1}})
    node = session.node_by_name("context", ctype, "r")
    assert node.properties == {"status": "COMPLETED", "end": 5}
    assert node.custom_properties == {"params": {"x": 1}}


def test_executions_in_context(session):
    ctype = session.type_id(TypeKind.CONTEXT, "run")
    etype = session.type_id(TypeKind.EXECUTION, "task")
    run1, _ = session.get_or_create_context(ctype, "r1")
    run2, _ = session.get_or_create_context(ctype, "r2")
    a = session.insert_execution(etype, "a", int(ExecutionState.COMPLETE), context_ids=[run1])
    b = session.insert_execution(etype, "b", int(ExecutionState.FAILED), context_ids=[run1, run2])
    c = session.insert_execution(etype, "c", int(ExecutionState.COMPLETE), context_ids=[run2])
    session.commit()
    assert [n.id for n in session.executions_in_context(run1)] == [a, b]
    assert [n.id for n in session.executions_in_context(run2)] == [b, c]
    done = session.executions_in_context(
        run1, executions.c.last_known_state == int(ExecutionState.COMPLETE))
    assert [n.name for n in done] == ["a"]
    assert count(session, associations) == 4


# -- artifacts and events -------------------------------------------------------------------

def test_insert_artifacts_returns_ids_in_input_order(session):
    atype = session.type_id(TypeKind.ARTIFACT, "value")
    ctype = session.type_id(TypeKind.CONTEXT, "run")
    run1, _ = session.get_or_create_context(ctype, "r1")
    run2, _ = session.get_or_create_context(ctype, "r2")
    n = 1_203  # more than one batch of a multi-row INSERT
    new = [NewArtifact(type_id=atype, name=f"art{i}", uri=f"/blobs/{i:04d}",
                       state=int(ArtifactState.LIVE),
                       properties={"index": i, "digest": f"{i:064x}"},
                       custom_properties={"even": i % 2 == 0, "payload": b"x" * (i % 3)})
           for i in reversed(range(n))]
    ids = session.insert_artifacts(new, context_ids=[run1, run2])
    session.commit()
    assert len(ids) == n == len(set(ids))
    nodes = {node.id: node for node in session.nodes_by_ids("artifact", ids)}
    for art_id, art in zip(ids, new):
        node = nodes[art_id]
        assert node.name == art.name and node.uri == art.uri
        assert node.state == ArtifactState.LIVE
        assert node.properties == dict(art.properties)
        assert node.custom_properties == dict(art.custom_properties)
    for ctx in (run1, run2):
        attributed = {r[0] for r in session.conn.execute(
            select(attributions.c.artifact_id).where(attributions.c.context_id == ctx))}
        assert attributed == set(ids)


def test_insert_no_artifacts(session):
    assert session.insert_artifacts([]) == []
    assert count(session, artifacts) == 0


def test_insert_events_with_path_keys(session):
    atype = session.type_id(TypeKind.ARTIFACT, "value")
    etype = session.type_id(TypeKind.EXECUTION, "task")
    producer = session.insert_execution(etype, "producer", 3)
    consumer = session.insert_execution(etype, "consumer", 3)
    a, b, c = session.insert_artifacts([NewArtifact(atype, n, None, 2) for n in "abc"])
    session.insert_events([
        (a, producer, int(EventType.OUTPUT), "model"),
        (b, producer, int(EventType.OUTPUT), "metrics"),
        (c, producer, int(EventType.INTERNAL_OUTPUT), None),
        (a, consumer, int(EventType.INPUT), "model"),
    ])
    session.insert_events([])
    session.commit()
    rows = session.conn.execute(
        select(events.c.artifact_id, events.c.execution_id, events.c.type, event_paths.c.position,
               event_paths.c.is_index_step, event_paths.c.step_key)
        .select_from(events.outerjoin(event_paths, event_paths.c.event_id == events.c.id))
        .order_by(events.c.id)).all()
    assert [tuple(r) for r in rows] == [
        (a, producer, int(EventType.OUTPUT), 0, False, "model"),
        (b, producer, int(EventType.OUTPUT), 0, False, "metrics"),
        (c, producer, int(EventType.INTERNAL_OUTPUT), None, None, None),
        (a, consumer, int(EventType.INPUT), 0, False, "model"),
    ]
    assert all(r.milliseconds_since_epoch > 0
               for r in session.conn.execute(select(events)).all())
    with pytest.raises(IntegrityError):  # one event per (artifact, execution, type)
        session.insert_events([(a, producer, int(EventType.OUTPUT), "again")])
    session.rollback()


# -- property_filter ------------------------------------------------------------------------

@pytest.fixture
def filtered(session: LineageSession) -> dict[str, int]:
    etype = session.type_id(TypeKind.EXECUTION, "task")
    ids = {
        "a": session.insert_execution(etype, "a", 1, properties={"step": "train", "n": 1,
                                                                 "ok": True, "lr": 0.1},
                                      custom={"tag": "x", "blob": b"\x01"}),
        "b": session.insert_execution(etype, "b", 1, properties={"step": "eval", "n": 2,
                                                                 "ok": False, "lr": 0.2},
                                      custom={"tag": "y", "blob": b"\x02"}),
        "c": session.insert_execution(etype, "c", 1, properties={"step": "train", "n": 2},
                                      custom={"step": "eval"}),
    }
    session.commit()
    return ids


@pytest.mark.parametrize("name,value,custom,expected", [
    ("step", "train", False, ["a", "c"]),
    ("step", "eval", False, ["b"]),
    ("step", "eval", True, ["c"]),
    ("n", 2, False, ["b", "c"]),
    ("ok", True, False, ["a"]),
    ("ok", False, False, ["b"]),
    ("lr", 0.2, False, ["b"]),
    ("tag", "x", True, ["a"]),
    ("tag", "x", False, []),
    ("blob", b"\x02", True, ["b"]),
    ("missing", 1, False, []),
])
def test_property_filter(session, filtered, name, value, custom, expected):
    where = session.property_filter("execution", name, value, custom=custom)
    assert [n.name for n in session.nodes("execution", where)] == expected


def test_property_filters_combine(session, filtered):
    both = session.nodes("execution", session.property_filter("execution", "step", "train"),
                         session.property_filter("execution", "n", 2))
    assert [n.name for n in both] == ["c"]


def test_property_filter_on_a_struct(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    session.insert_execution(etype, "a", 1, custom={"cfg": {"depth": 3}})
    session.insert_execution(etype, "b", 1, custom={"cfg": {"depth": 4}})
    where = session.property_filter("execution", "cfg", {"depth": 3}, custom=True)
    assert [n.name for n in session.nodes("execution", where)] == ["a"]


def test_nodes_order_and_limit(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    for i in range(5):
        session.insert_execution(etype, f"e{i}", 1)
    assert [n.name for n in session.nodes("execution", limit=2)] == ["e0", "e1"]
    assert [n.name for n in session.nodes("execution", order_by=executions.c.name.desc(),
                                          limit=3)] == ["e4", "e3", "e2"]


def test_nodes_by_ids_over_many_chunks(session):
    etype = session.type_id(TypeKind.EXECUTION, "task")
    ids = [session.insert_execution(etype, f"e{i}", 1, properties={"i": i}) for i in range(1_100)]
    nodes = session.nodes_by_ids("execution", ids)
    assert [n.id for n in nodes] == ids
    assert [n.properties["i"] for n in nodes] == list(range(1_100))


# -- transactions and WAL -------------------------------------------------------------------

def test_reader_sees_committed_but_not_uncommitted_data(db):
    writer, reader = LineageSession(db, write=True), LineageSession(db)
    try:
        etype = writer.type_id(TypeKind.EXECUTION, "task")
        writer.insert_execution(etype, "committed", 1)
        writer.commit()
        writer.insert_execution(etype, "pending", 1)  # the writer's transaction stays open
        assert writer.conn.in_transaction()
        assert [n.name for n in reader.nodes("execution")] == ["committed"]
        assert reader.find_type_id(TypeKind.EXECUTION, "task") == etype
        writer.commit()
        reader.rollback()  # end the reader's transaction; a new one sees the commit
        assert [n.name for n in reader.nodes("execution")] == ["committed", "pending"]
    finally:
        writer.close()
        reader.close()


def test_rollback_discards_uncommitted_writes(db):
    with LineageSession(db, write=True) as s:
        etype = s.type_id(TypeKind.EXECUTION, "task")
        s.commit()
        s.insert_execution(etype, "doomed", 1)
        s.rollback()
        assert s.nodes("execution") == []


def test_nul_characters_are_refused(db):
    with LineageSession(db, write=True) as s:
        etype = s.type_id(TypeKind.EXECUTION, "nul")
        for props in ({"a\x00b": 1}, {"ok": "a\x00b"}):
            with pytest.raises(InvalidArgumentError, match="NUL"):
                s.insert_execution(etype, None, 1, custom=props)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's WAL gives readers a snapshot; PostgreSQL's "
                    "default READ COMMITTED shows each statement the latest commits")
def test_writer_commits_while_a_reader_holds_a_snapshot(db):
    """WAL: a long read transaction neither blocks the writer nor sees its later commits."""
    writer, reader = LineageSession(db, write=True), LineageSession(db)
    try:
        etype = writer.type_id(TypeKind.EXECUTION, "task")
        writer.insert_execution(etype, "first", 1)
        writer.commit()
        reader.conn.exec_driver_sql("BEGIN")  # hold a read snapshot open
        assert [n.name for n in reader.nodes("execution")] == ["first"]

        done = threading.Event()

        def write() -> None:
            writer.insert_execution(etype, "second", 1)
            writer.commit()
            done.set()

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=10)
        assert done.is_set(), "the writer was blocked by a reader"
        assert [n.name for n in reader.nodes("execution")] == ["first"]  # still its snapshot
        reader.commit()
        assert [n.name for n in reader.nodes("execution")] == ["first", "second"]
    finally:
        writer.close()
        reader.close()
