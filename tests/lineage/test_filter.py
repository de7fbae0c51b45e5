"""compile_filter: MLMD's filter_query grammar, run against a real SQLite lineage database.

One small lineage world (built once per module) is queried by every test: artifacts,
executions and contexts with properties, custom properties, parent contexts, attributions,
associations and events. Property-based tests check that arbitrary text only ever fails
with InvalidArgumentError, that string literals round-trip exactly (no injection), and
that generated well-formed queries run and obey AND/OR/NOT set algebra.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from flowtrack.lineage import (
    ArtifactState,
    Database,
    EventType,
    ExecutionState,
    LineageSession,
    NewArtifact,
    PropertyType,
    TypeKind,
)
from flowtrack.lineage._filter import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_JOINED_TABLES,
    compile_filter,
    quote_string,
)
from flowtrack.lineage._schema import NODE_TABLES, artifacts, contexts, events, executions
from flowtrack.lineage.errors import InvalidArgumentError
from tests.conftest import database_url

KINDS = ("artifact", "execution", "context")
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@dataclass
class World:
    session: LineageSession
    ids: dict[str, int]  # node and type names (all distinct) -> ids

    def matches(self, kind: str, query: str) -> list[int]:
        return [n.id for n in self.session.nodes(kind, compile_filter(query, kind))]

    def expect(self, names: list[str]) -> list[int]:
        return sorted(self.ids[name] for name in names)


def _build(s: LineageSession) -> dict[str, int]:
    ids: dict[str, int] = {}
    for kind, name in [(TypeKind.ARTIFACT, "Dataset"), (TypeKind.ARTIFACT, "Model"),
                       (TypeKind.EXECUTION, "Trainer"), (TypeKind.EXECUTION, "Evaluator"),
                       (TypeKind.CONTEXT, "Pipeline"), (TypeKind.CONTEXT, "Run")]:
        ids[name] = s.type_id(kind, name, {"rows": PropertyType.INT})

    def context(type_name: str, name: str, parents: tuple[str, ...] = (), **kw: Any) -> None:
        ids[name] = s.get_or_create_context(ids[type_name], name, parent_ids=[
            ids[p] for p in parents], **kw)[0]

    context("Pipeline", "pipe", properties={"owner": "ann", "stage": 2}, custom={"team": "ml"})
    context("Pipeline", "other", properties={"owner": "bob"})
    context("Run", "run1", ("pipe",), custom={"seed": 1})
    context("Run", "run2", ("pipe", "other"))

    def execution(type_name: str, name: str, state: ExecutionState, ctxs: tuple[str, ...] = (),
                  **kw: Any) -> None:
        ids[name] = s.insert_execution(ids[type_name], name, int(state),
                                       context_ids=[ids[c] for c in ctxs], **kw)

    execution("Trainer", "train1", ExecutionState.COMPLETE, ("pipe", "run1"),
              properties={"epochs": 10, "lr": 0.1, "algo": "sgd", "gpu": True},
              custom={"note": "fast"})
    execution("Trainer", "train2", ExecutionState.FAILED, ("pipe", "run2"),
              properties={"epochs": 5, "lr": 0.01, "gpu": False})
    execution("Evaluator", "eval", ExecutionState.RUNNING)

    def artifact(type_name: str, name: str, uri: str | None, state: ArtifactState,
                 ctxs: tuple[str, ...] = (), **kw: Any) -> None:
        new = NewArtifact(ids[type_name], name, uri, int(state), **kw)
        ids[name] = s.insert_artifacts([new], [ids[c] for c in ctxs])[0]

    artifact("Dataset", "train_data", "s3://bucket/train.csv", ArtifactState.LIVE,
             ("pipe", "run1"), properties={"rows": 100, "score": 0.5, "split": "train",
                                           "clean": True, "my prop": "x"},
             custom_properties={"origin": "web", "n": 3, "ok": True, "w": 1.5})
    artifact("Dataset", "test_data", "s3://bucket/test.csv", ArtifactState.PENDING,
             ("pipe", "run2"), properties={"rows": 20, "score": 0.25, "split": "test",
                                           "clean": False})
    artifact("Model", "model", "gs://models/m1", ArtifactState.LIVE, ("run1",),
             custom_properties={"acc": 0.9, "origin": "train1"})
    artifact("Model", "orphan", None, ArtifactState.DELETED)

    s.insert_events([(ids["train_data"], ids["train1"], EventType.INPUT, None),
                     (ids["model"], ids["train1"], EventType.OUTPUT, None),
                     (ids["test_data"], ids["train2"], EventType.INPUT, None),
                     (ids["train_data"], ids["train2"], EventType.DECLARED_INPUT, None)])
    s.conn.execute(update(events).values(milliseconds_since_epoch=1))
    s.conn.execute(update(events).where(events.c.artifact_id == ids["model"])
                   .values(milliseconds_since_epoch=42))
    for table, name, ext in [(artifacts, "train_data", "ext-1"), (executions, "train1", "ext-e1"),
                             (contexts, "pipe", "ext-p")]:
        s.conn.execute(update(table).where(table.c.id == ids[name]).values(external_id=ext))
    for i, name in enumerate(["train_data", "test_data", "model", "orphan"], start=1):
        s.conn.execute(update(artifacts).where(artifacts.c.id == ids[name]).values(
            create_time_since_epoch=1000 * i, last_update_time_since_epoch=1000 * i + 4000))
    s.commit()
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("filter") / "m.db"
    db = Database.open(database_url(path))
    with LineageSession(db, write=True) as session:
        yield World(session, _build(session))
    Database._open.pop(db.url, None)
    db.engine.dispose()


# -- matching ---------------------------------------------------------------------------

ARTIFACT_CASES = [
    # attributes and comparison operators
    ("id = {train_data}", ["train_data"]),
    ("id != {train_data}", ["test_data", "model", "orphan"]),
    ("id <> {train_data}", ["test_data", "model", "orphan"]),
    ("id > {test_data}", ["model", "orphan"]),
    ("id >= {test_data}", ["test_data", "model", "orphan"]),
    ("id < {test_data}", ["train_data"]),
    ("id <= {test_data}", ["train_data", "test_data"]),
    ("id IN ({train_data}, {model})", ["train_data", "model"]),
    ("id NOT IN ({train_data}, {model})", ["test_data", "orphan"]),
    ("id > -1", ["train_data", "test_data", "model", "orphan"]),
    ("type_id = {Model}", ["model", "orphan"]),
    ("type = 'Model'", ["model", "orphan"]),
    ('type = "Dataset"', ["train_data", "test_data"]),
    ("type IN ('Model', 'Nope')", ["model", "orphan"]),
    ("type IS NOT NULL", ["train_data", "test_data", "model", "orphan"]),
    ("name = 'model'", ["model"]),
    ("name > 'p'", ["train_data", "test_data"]),
    ("name IN ('model', 'nope', 'orphan')", ["model", "orphan"]),
    ("uri = 'gs://models/m1'", ["model"]),
    ("uri LIKE 's3://%'", ["train_data", "test_data"]),
    ("uri like 's3://bucket/t___.csv'", ["test_data"]),
    ("uri NOT LIKE 's3://%'", ["model"]),
    ("uri IS NULL", ["orphan"]),
    ("uri IS NOT NULL", ["train_data", "test_data", "model"]),
    ("state = LIVE", ["train_data", "model"]),
    ("state=LIVE", ["train_data", "model"]),
    ("state != LIVE", ["test_data", "orphan"]),
    ("state IN (PENDING, DELETED)", ["test_data", "orphan"]),
    ("state NOT IN (LIVE)", ["test_data", "orphan"]),
    ("state = live", ["train_data", "model"]),
    ("state IS NULL", []),
    ("external_id = 'ext-1'", ["train_data"]),
    ("external_id IS NULL", ["test_data", "model", "orphan"]),
    ("create_time_since_epoch > 1500", ["test_data", "model", "orphan"]),
    ("create_time_since_epoch = 2000", ["test_data"]),
    ("last_update_time_since_epoch <= 6000", ["train_data", "test_data"]),
    ("last_update_time_since_epoch >= 7.5e3", ["orphan"]),
    # properties of each value kind
    ("properties.rows.int_value > 50", ["train_data"]),
    ("properties.rows.int_value IN (20, 100)", ["train_data", "test_data"]),
    ("properties.rows.int_value IS NULL", ["model", "orphan"]),
    ("properties.rows.int_value IS NOT NULL", ["train_data", "test_data"]),
    ("properties.rows.string_value IS NULL", ["train_data", "test_data", "model", "orphan"]),
    ("properties.score.double_value < 0.3", ["test_data"]),
    ("properties.score.double_value = 0.5", ["train_data"]),
    ("properties.score.double_value >= 0", ["train_data", "test_data"]),
    ("properties.split.string_value = 'test'", ["test_data"]),
    ("properties.split.string_value LIKE 'tr%'", ["train_data"]),
    ("properties.clean.bool_value = TRUE", ["train_data"]),
    ("properties.clean.bool_value = false", ["test_data"]),
    ("properties.clean.bool_value != true", ["test_data"]),
    ("properties.`my prop`.string_value = 'x'", ["train_data"]),
    ("properties.`my prop`.string_value IS NULL", ["test_data", "model", "orphan"]),
    ("PROPERTIES.rows.INT_VALUE = 20", ["test_data"]),
    ("properties.Rows.int_value = 20", []),  # property names are case-sensitive
    ("custom_properties.origin.string_value = 'web'", ["train_data"]),
    ("custom_properties.origin.string_value IS NOT NULL", ["train_data", "model"]),
    ("custom_properties.n.int_value = 3", ["train_data"]),
    ("custom_properties.w.double_value = 1.5", ["train_data"]),
    ("custom_properties.acc.double_value > 0.8", ["model"]),
    ("custom_properties.ok.bool_value = true", ["train_data"]),
    ("properties.origin.string_value = 'web'", []),  # a custom property is not a property
    ("custom_properties.rows.int_value IS NULL", ["train_data", "test_data", "model", "orphan"]),
    ("NOT properties.rows.int_value = 100", ["test_data"]),  # absent is NULL: never matches
    # AND binds tighter than OR, NOT tighter than AND; parentheses; case-insensitive keywords
    ("name = 'model' OR name = 'orphan' AND state = LIVE", ["model"]),
    ("(name = 'model' OR name = 'orphan') AND state = LIVE", ["model"]),
    ("name = 'orphan' AND state = LIVE OR name = 'model'", ["model"]),
    ("name = 'orphan' AND (state = LIVE OR name = 'model')", []),
    ("NOT name = 'model' AND state = LIVE", ["train_data"]),
    ("NOT (name = 'model' OR name = 'orphan')", ["train_data", "test_data"]),
    ("NOT(name = 'model')", ["train_data", "test_data", "orphan"]),
    ("not not name = 'model'", ["model"]),
    ("name = 'model' or Name = 'orphan'", ["model", "orphan"]),
    ("((((name = 'model'))))", ["model"]),
    ("  name\n=\t'model'  ", ["model"]),
    # neighbourhood: contexts (via attributions) and events
    ("contexts_a.name = 'run1'", ["train_data", "model"]),
    ("contexts_a.name = 'pipe' AND contexts_b.name = 'run1'", ["train_data"]),
    ("contexts_a.name = 'pipe' AND contexts_a.name = 'run1'", []),  # one alias, one context
    ("contexts_a.name = 'pipe' OR contexts_a.name = 'run1'", ["train_data", "test_data", "model"]),
    ("contexts_a.type = 'Run'", ["train_data", "test_data", "model"]),
    ("contexts_a.id = {pipe}", ["train_data", "test_data"]),
    ("contexts_0.name IN ('run2')", ["test_data"]),
    ("contexts_a.properties.owner.string_value = 'ann'", ["train_data", "test_data"]),
    ("contexts_a.custom_properties.seed.int_value = 1", ["train_data", "model"]),
    ("contexts_a.external_id = 'ext-p'", ["train_data", "test_data"]),
    # some attributed context is not 'pipe'; nodes without contexts never match
    ("NOT contexts_a.name = 'pipe'", ["train_data", "test_data", "model"]),
    ("contexts_a.name = 'run1' OR name = 'orphan'", ["train_data", "model"]),
    ("events_a.type = INPUT", ["train_data", "test_data"]),
    ("events_a.type = OUTPUT", ["model"]),
    ("events_a.type IN (DECLARED_INPUT)", ["train_data"]),
    ("events_a.type = INPUT OR events_a.type = OUTPUT", ["train_data", "test_data", "model"]),
    ("events_a.execution_id = {train1}", ["train_data", "model"]),
    ("events_a.type = INPUT AND events_a.execution_id = {train2}", ["test_data"]),
    ("events_a.type = INPUT AND events_b.type = DECLARED_INPUT", ["train_data"]),
    ("events_a.type = OUTPUT AND events_b.type = INPUT", []),
    ("events_a.milliseconds_since_epoch = 42", ["model"]),
    ("contexts_a.name = 'run1' AND events_a.type = OUTPUT", ["model"]),
    ("uri LIKE 's3:%' AND contexts_a.name = 'run2' AND events_x.type = INPUT", ["test_data"]),
]

EXECUTION_CASES = [
    ("state = COMPLETE", ["train1"]),
    ("last_known_state = FAILED", ["train2"]),
    ("last_known_state IN (RUNNING, FAILED)", ["train2", "eval"]),
    ("state != COMPLETE", ["train2", "eval"]),
    ("last_known_state NOT IN (NEW, CANCELED)", ["train1", "train2", "eval"]),
    ("type = 'Trainer'", ["train1", "train2"]),
    ("type_id = {Evaluator}", ["eval"]),
    ("name LIKE 'train%'", ["train1", "train2"]),
    ("external_id = 'ext-e1'", ["train1"]),
    ("properties.epochs.int_value >= 5", ["train1", "train2"]),
    ("properties.epochs.int_value < 6", ["train2"]),
    ("properties.lr.double_value < 0.05", ["train2"]),
    ("properties.algo.string_value = 'sgd'", ["train1"]),
    ("properties.gpu.bool_value = FALSE", ["train2"]),
    ("properties.gpu.bool_value IS NULL", ["eval"]),
    ("custom_properties.note.string_value = 'fast'", ["train1"]),
    ("contexts_a.name = 'run2'", ["train2"]),
    ("contexts_a.name = 'pipe' AND contexts_b.name = 'run1'", ["train1"]),
    ("contexts_a.type = 'Pipeline'", ["train1", "train2"]),
    ("events_a.type = INPUT", ["train1", "train2"]),
    ("events_a.type = OUTPUT", ["train1"]),
    ("events_a.artifact_id = {test_data}", ["train2"]),
    ("events_a.type = DECLARED_INPUT AND events_a.artifact_id = {train_data}", ["train2"]),
    ("NOT state = RUNNING AND contexts_a.name = 'run1'", ["train1"]),
]

CONTEXT_CASES = [
    ("type = 'Pipeline'", ["pipe", "other"]),
    ("name = 'run1'", ["run1"]),
    ("external_id = 'ext-p'", ["pipe"]),
    ("properties.owner.string_value = 'bob'", ["other"]),
    ("properties.stage.int_value = 2", ["pipe"]),
    ("custom_properties.team.string_value = 'ml'", ["pipe"]),
    ("custom_properties.seed.int_value IS NOT NULL", ["run1"]),
    ("parent_contexts_a.name = 'pipe'", ["run1", "run2"]),
    ("parent_contexts_a.name = 'pipe' AND parent_contexts_b.name = 'other'", ["run2"]),
    ("parent_contexts_a.name = 'pipe' AND parent_contexts_a.name = 'other'", []),
    ("parent_contexts_a.type = 'Pipeline'", ["run1", "run2"]),
    ("parent_contexts_a.properties.owner.string_value = 'bob'", ["run2"]),
    ("child_contexts_a.name = 'run2'", ["pipe", "other"]),
    ("child_contexts_a.name = 'run1'", ["pipe"]),
    ("child_contexts_a.custom_properties.seed.int_value = 1", ["pipe"]),
    ("child_contexts_a.id IS NOT NULL", ["pipe", "other"]),
    ("child_contexts_a.name = 'run1' AND child_contexts_b.name = 'run2'", ["pipe"]),
    ("parent_contexts_a.id = {pipe} OR child_contexts_a.id = {run2}", []),  # both must join
    ("artifacts_a.name = 'model'", ["run1"]),
    ("artifacts_a.uri LIKE 'gs:%'", ["run1"]),
    ("artifacts_a.state = PENDING", ["pipe", "run2"]),
    ("executions_a.state = FAILED", ["pipe", "run2"]),
    ("executions_a.last_known_state = COMPLETE AND artifacts_b.name = 'model'", ["run1"]),
]


@pytest.mark.parametrize(("kind", "query", "expected"), [
    *(("artifact", q, e) for q, e in ARTIFACT_CASES),
    *(("execution", q, e) for q, e in EXECUTION_CASES),
    *(("context", q, e) for q, e in CONTEXT_CASES)])
def test_filter_matches(world: World, kind: str, query: str, expected: list[str]) -> None:
    assert world.matches(kind, query.format(**world.ids)) == world.expect(expected)


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_blank_query_matches_everything(world: World, query: str) -> None:
    assert world.matches("artifact", query) == world.expect(
        ["train_data", "test_data", "model", "orphan"])


def test_clause_composes_with_other_conditions(world: World) -> None:
    table = NODE_TABLES["artifact"]
    clause = compile_filter("contexts_a.name = 'pipe'", "artifact")
    rows = world.session.conn.execute(
        select(table.c.id).where(clause, table.c.name != "test_data")).scalars().all()
    assert rows == [world.ids["train_data"]]


def test_values_and_names_are_bound_never_inlined() -> None:
    clause = compile_filter("name = 'marker_one' AND properties.`marker; DROP`.int_value = 7 "
                            "AND contexts_evil.name LIKE 'marker_%'", "artifact")
    sql = str(select(NODE_TABLES["artifact"]).where(clause))
    assert "marker" not in sql and "DROP" not in sql and "evil" not in sql


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        compile_filter("id = 1", "event")


# -- errors -----------------------------------------------------------------------------

ERROR_CASES = [
    ("artifact", "name = AND x", 7, "expected a value after '=', found 'AND'"),
    ("artifact", "name = 'abc", 7, "unterminated string"),
    ("artifact", "properties.`abc.int_value = 1", 11, "unterminated back-quoted name"),
    ("artifact", "(name = 'a'", 11, "expected ')' to close the '(' at position 0"),
    ("artifact", "name == 'a'", 5, "'==' is not an operator"),
    ("artifact", "nme = 'a'", 0, "unknown field 'nme' for artifacts"),
    ("execution", "uri = 'x'", 0, "unknown field 'uri' for executions"),
    ("artifact", "id = 'a'", 5, "id is an integer; compare it with a number"),
    ("artifact", "name = 1", 7, "name is a string"),
    ("artifact", "name = abc", 7, "the bare name 'abc'"),
    ("artifact", "state = RUNNING", 8, "unknown state value 'RUNNING'; expected one of UNKNOWN"),
    ("artifact", "state = 'LIVE'", 8, "write LIVE without quotes"),
    ("execution", "last_known_state = LIVE", 19, "unknown last_known_state value 'LIVE'"),
    ("artifact", "state < LIVE", 6, "< cannot order state"),
    ("artifact", "properties.x.float_value = 1", 13, "unknown value kind 'float_value'"),
    ("artifact", "properties.x = 1", 12, "write a property as properties.<name>.<value kind>"),
    ("artifact", "properties.x.int_value = 'a'", 25, "is an integer"),
    ("artifact", "properties.x.bool_value = 1", 26, "compare it with TRUE or FALSE"),
    ("artifact", "properties.x.bool_value > TRUE", 24, "cannot order"),
    ("artifact", "parent_contexts_a.name = 'x'", 0, "parent_contexts_<alias> cannot filter"),
    ("context", "contexts_a.name = 'x'", 0, "use parent_contexts_<alias> or child_contexts"),
    ("context", "events_a.type = INPUT", 0, "events_<alias> cannot filter contexts"),
    ("artifact", "contexts_a = 1", 10, "'contexts_a' needs a field, as in contexts_a.name"),
    ("artifact", "contexts.name = 'x'", 0, "a neighbour needs an alias"),
    ("artifact", "contexts_a.foo = 1", 11, "unknown field 'foo' for contexts_a"),
    ("artifact", "contexts_a.id.bar = 1", 14, "'id' has no field 'bar'"),
    ("artifact", "contexts_a.contexts_b.name = 'x'", 11, "neighbours do not chain"),
    ("artifact", "events_a.type = SOME_ENUM", 16, "unknown events_a.type value 'SOME_ENUM'"),
    ("artifact", "events_a.artifact_id = 1", 9, "unknown field 'artifact_id' for events_a"),
    ("execution", "events_a.execution_id = 1", 9, "expected type, artifact_id or"),
    ("artifact", "name LIKE 3", 10, "name is a string"),
    ("artifact", "id LIKE '3'", 3, "LIKE needs a string field; id is an integer"),
    ("artifact", "id IN ()", 7, "IN needs at least one value"),
    ("artifact", "id IN 1", 6, "expected '(' after IN"),
    ("artifact", "id IN (1 2)", 9, "expected ',' or ')' in the IN list"),
    ("artifact", "name = 'a' AND", 14, "expected a field such as name"),
    ("artifact", "name = 'a' b", 11, "expected AND, OR or the end of the query, found 'b'"),
    ("artifact", "name 'a'", 5, "expected an operator (=, !=, <, >, <=, >=, LIKE, IN, IS)"),
    ("artifact", "name NOT = 'a'", 9, "expected LIKE or IN after NOT"),
    ("artifact", "name IS 'a'", 8, "expected NULL or NOT NULL after IS"),
    ("artifact", "name = NULL", 7, "compare with NULL using IS NULL"),
    ("artifact", "'a'", 0, "expected a field"),
    ("artifact", "id", 2, "expected an operator"),
    ("artifact", "id = 99999999999999999999", 5, "number out of range"),
    ("artifact", "id = 12abc", 5, "malformed number"),
    ("artifact", "name = 'a\\q'", 9, "unknown escape sequence '\\q'"),
    ("artifact", "name @ 'a'", 5, "unexpected character '@'"),
    ("artifact", "name = 'a' && id = 1", 11, "unexpected character '&'"),
    ("artifact", "properties..int_value = 1", 11, "expected a name after '.'"),
    ("artifact", "name = 'a\x00'", 9, "NUL character"),
]


@pytest.mark.parametrize(("kind", "query", "pos", "message"), ERROR_CASES)
def test_errors_point_at_the_fault(kind: str, query: str, pos: int, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        compile_filter(query, kind)
    text = str(info.value)
    first, shown, caret = text.split("\n")
    assert first.startswith(f"Invalid filter_query at position {pos}: ")
    assert message in first
    assert shown == "    " + "".join(c if c.isprintable() else " " for c in query)
    assert caret == "    " + " " * pos + "^"


def test_long_query_is_excerpted_around_the_fault() -> None:
    query = "name = 'x' AND " * 20 + "nope = 1" + " AND name = 'y'" * 20
    with pytest.raises(InvalidArgumentError) as info:
        compile_filter(query, "artifact")
    _, shown, caret = str(info.value).split("\n")
    assert shown.startswith("    ...") and shown.endswith("...")
    assert shown[caret.index("^"):].startswith("nope = 1")


def test_limits_are_errors_not_crashes() -> None:
    with pytest.raises(InvalidArgumentError, match="nested parentheses"):
        compile_filter("(" * (MAX_DEPTH + 1) + "id = 1" + ")" * (MAX_DEPTH + 1), "artifact")
    with pytest.raises(InvalidArgumentError, match="nested parentheses"):
        compile_filter("NOT " * 1000 + "id = 1", "artifact")
    with pytest.raises(InvalidArgumentError, match="conditions"):
        compile_filter(" OR ".join(["id = 1"] * (MAX_CONDITIONS + 1)), "artifact")
    with pytest.raises(InvalidArgumentError, match="too many neighbours") as caught:
        compile_filter(" AND ".join(f"contexts_{i}.name = 'x'" for i in range(40)), "artifact")
    assert f"at most {MAX_JOINED_TABLES} tables" in str(caught.value)


def test_largest_allowed_queries_run(world: World) -> None:
    """The limits keep every accepted query within SQLite's parser and expression limits."""
    everything = world.expect(["train_data", "test_data", "model", "orphan"])
    flat = " OR ".join(f"properties.p{i % 7}.int_value = {i} OR id = {i}"
                       for i in range(MAX_CONDITIONS // 2))
    assert world.matches("artifact", flat) == everything
    assert world.matches("artifact", "NOT " * MAX_DEPTH + "name = 'model'") == \
        world.expect(["model"])
    levels = (MAX_DEPTH // 2 - 1) // 2 * 2  # an even number of NOTs
    deep = "NOT (" * levels + " OR ".join(f"NOT id = {i}" for i in range(MAX_CONDITIONS)) + \
        ")" * levels
    assert world.matches("artifact", deep) == everything
    many = "id IN (" + ", ".join(str(i) for i in range(5000)) + ")"
    assert world.matches("artifact", many) == everything
    alternating = "id > 0"  # AND and OR groups in one another, as deep as allowed
    for level in range(MAX_DEPTH):
        alternating = f"id != {level + 1000} {'AND' if level % 2 else 'OR'} ({alternating})"
    assert world.matches("artifact", alternating) == everything


# -- properties -------------------------------------------------------------------------

TOKENS = ["name", "id", "type", "uri", "state", "properties", "custom_properties", ".", "x",
          "int_value", "string_value", "bool_value", "double_value", "contexts_a", "events_b",
          "parent_contexts_c", "child_contexts_d", "artifacts_e", "executions_f", "=", "!=",
          "<", ">=", "LIKE", "IN", "NOT", "IS", "NULL", "AND", "OR", "(", ")", ",", "'a'",
          '"b"', "`c d`", "1", "-2", "3.5", "TRUE", "false", "LIVE", "COMPLETE", "INPUT", "'",
          "`", "\\", "--", ";", "%"]


NASTY = ["'", "''", "\\", "\\'", '"', "`", "' OR 1=1 --", "x'; DROP TABLE contexts; --",
         "%", "_", "a%b", "\n", "name = 'x'", "NULL", "\u00e9\u4e2d\U0001f600"]
TEXT = st.one_of(st.sampled_from(NASTY),
                 st.text(st.characters(exclude_categories=["Cs"],
                                       exclude_characters="\x00"), max_size=20))


def _quote(text: str, style: int) -> str:
    if style == 0:
        return quote_string(text)
    if style == 1:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _backquote(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "``") + "`"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LineageSession, int]]:
    """A database of probe contexts kept apart from the world; probes accumulate across
    examples (get_or_create_context reuses a name seen before)."""
    db = Database.open("sqlite:///" + str(tmp_path_factory.mktemp("probes") / "m.db"))
    with LineageSession(db, write=True) as session:
        yield session, session.type_id(TypeKind.CONTEXT, "Probe")
    Database._open.pop(db.url, None)
    db.engine.dispose()


@SETTINGS
@given(texts=st.lists(TEXT, min_size=1, max_size=4, unique=True), style=st.integers(0, 2))
def test_string_literals_round_trip(scratch: tuple[LineageSession, int], texts: list[str],
                                    style: int) -> None:
    s, probe_type = scratch
    probes = {text: s.get_or_create_context(probe_type, text, properties={"label": text},
                                            custom={text: text})[0] for text in texts}
    s.commit()
    everyone = {n.id for n in s.nodes("context")}

    def matches(query: str) -> list[int]:
        return [n.id for n in s.nodes("context", compile_filter(query, "context"))]

    for text, probe in probes.items():
        literal = _quote(text, style)
        for query in [f"name = {literal}", f"properties.label.string_value = {literal}",
                      f"custom_properties.{_backquote(text)}.string_value = {literal}",
                      f"name IN ({literal}) AND type = 'Probe'"]:
            assert matches(query) == [probe], query
        assert matches(f"NOT name = {literal}") == sorted(everyone - {probe})


def _field_values(kind: str, prefix: str = "") -> list[tuple[str, st.SearchStrategy[str]]]:
    """(field, value strategy) pairs valid for ``kind``."""
    ints = st.integers(-5, 10_000).map(str)
    doubles = st.floats(-10, 10, allow_nan=False).map(repr)
    strings = TEXT.map(quote_string)
    bools = st.sampled_from(["TRUE", "FALSE", "true"])
    pairs: list[tuple[str, st.SearchStrategy[str]]] = [
        ("id", ints), ("type_id", ints), ("name", strings), ("type", strings),
        ("external_id", strings), ("create_time_since_epoch", ints),
        ("last_update_time_since_epoch", ints)]
    for group in ("properties", "custom_properties"):
        for name in ("rows", "score", "split", "clean", "`my prop`"):
            pairs += [(f"{group}.{name}.int_value", ints), (f"{group}.{name}.double_value",
                      doubles), (f"{group}.{name}.string_value", strings),
                      (f"{group}.{name}.bool_value", bools)]
    if kind == "artifact":
        pairs += [("uri", strings), ("state", st.sampled_from(list(ArtifactState.__members__)))]
    if kind == "execution":
        pairs += [("last_known_state", st.sampled_from(list(ExecutionState.__members__)))]
    return [(prefix + f, v) for f, v in pairs]


def _neighbour_values(kind: str) -> list[tuple[str, st.SearchStrategy[str]]]:
    pairs: list[tuple[str, st.SearchStrategy[str]]] = []
    if kind in ("artifact", "execution"):
        for alias in ("a", "b"):
            pairs += _field_values("context", f"contexts_{alias}.")
            pairs += [(f"events_{alias}.type", st.sampled_from(list(EventType.__members__))),
                      (f"events_{alias}.milliseconds_since_epoch", st.integers(0, 50).map(str))]
    else:
        for prefix in ("parent_contexts_a", "child_contexts_b"):
            pairs += _field_values("context", prefix + ".")
        pairs += _field_values("artifact", "artifacts_c.")
        pairs += _field_values("execution", "executions_d.")
    return pairs


@functools.cache
def _fields(kind: str, joins: bool) -> list[tuple[str, st.SearchStrategy[str]]]:
    return _field_values(kind) + (_neighbour_values(kind) if joins else [])


@st.composite
def _predicate(draw: st.DrawFn, kind: str, joins: bool) -> str:
    field, values = draw(st.sampled_from(_fields(kind, joins)))
    enum_or_bool = field.endswith(("state", "bool_value", ".type"))
    string = not enum_or_bool and draw(values).startswith("'")
    ops = ["=", "!=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    ops += [] if enum_or_bool else ["<", ">", "<=", ">="]
    ops += ["LIKE", "NOT LIKE"] if string else []
    op = draw(st.sampled_from(ops))
    if op.startswith("IS"):
        return f"{field} {op}"
    if op.endswith("IN"):
        return f"{field} {op} ({', '.join(draw(st.lists(values, min_size=1, max_size=3)))})"
    return f"{field} {op} {draw(values)}"


def _queries(kind: str, joins: bool) -> st.SearchStrategy[str]:
    return st.recursive(
        _predicate(kind, joins),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["AND", "OR", "and", "or"]), inner)
            .map(" ".join),
            inner.map(lambda q: f"NOT ({q})"), inner.map(lambda q: f"({q})")),
        max_leaves=6)


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_generated_queries_compile_and_run(world: World, kind: str, data: st.DataObject) -> None:
    ids = world.matches(kind, data.draw(_queries(kind, joins=True), label="query"))
    assert ids == sorted(set(ids))


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_generated_queries_obey_set_algebra(world: World, kind: str,
                                            data: st.DataObject) -> None:
    """Without neighbour joins, AND is intersection, OR is union and NOT is disjoint."""
    q1 = data.draw(_queries(kind, joins=False), label="q1")
    q2 = data.draw(_queries(kind, joins=False), label="q2")
    r1, r2 = set(world.matches(kind, q1)), set(world.matches(kind, q2))
    assert set(world.matches(kind, f"({q1}) AND ({q2})")) == r1 & r2
    assert set(world.matches(kind, f"({q1}) OR ({q2})")) == r1 | r2
    assert not set(world.matches(kind, f"NOT ({q1})")) & r1


@st.composite
def _mutated(draw: st.DrawFn, kind: str) -> str:
    """A well-formed query with a few characters replaced by a token or random text."""
    query = draw(_queries(kind, joins=True))
    start = draw(st.integers(0, len(query)))
    end = draw(st.integers(start, min(len(query), start + 6)))
    return query[:start] + draw(st.sampled_from(TOKENS) | st.text(max_size=2)) + query[end:]


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_arbitrary_text_fails_only_with_invalid_argument(world: World, kind: str,
                                                         data: st.DataObject) -> None:
    query = data.draw(st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=12).map(" ".join),
        st.lists(st.sampled_from(TOKENS), max_size=12).map("".join),
        _mutated(kind)), label="query")
    try:
        clause = compile_filter(query, kind)
    except InvalidArgumentError as exc:
        assert str(exc).startswith("Invalid filter_query at position ")
        return
    world.session.nodes(kind, clause)  # whatever compiles also runs
