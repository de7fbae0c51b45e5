"""parse_filter and parse_order_by: MLflow's run-search grammar, parsed to a syntax tree.

Table tests cover every entity and operator, the quoting styles and aliases MLflow
accepts, IN lists, precedence and flattening, and every kind of error (each message
names the position, draws a caret under it and gives an example that itself parses).
Property tests check that arbitrary text only ever fails with SearchSyntaxError, that
generated syntax trees, rendered to text in varied styles, parse back equal, and that
pushing NOTs down onto the comparisons keeps a tree's three-valued meaning.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowtrack.tracking.entities.filter_grammar import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Comparison,
    Node,
    Not,
    Or,
    OrderBy,
    SearchSyntaxError,
    parse_filter,
    parse_order_by,
    push_negations,
)
from flowtrack.tracking.errors import InvalidParameterError

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def C(entity: str, key: str, op: str, value: str | float | tuple[str, ...] | None) -> Comparison:
    return Comparison(entity, key, op, value)


ACC = C("metrics", "acc", ">", 0.9)
MODEL = C("params", "model", "=", "cnn")
USER = C("tags", "mlflow.user", "=", "al")


# -- what parses ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n"])
def test_blank_filter_is_none(text: str) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize("text, op, value", [
    ("metrics.acc = 1", "=", 1.0),
    ("metrics.acc != 1.5", "!=", 1.5),
    ("metrics.acc < -2", "<", -2.0),
    ("metrics.acc <= .5", "<=", 0.5),
    ("metrics.acc > 1e3", ">", 1000.0),
    ("metrics.acc >= -2.5E-3", ">=", -0.0025),
    ("metrics.acc>=+7", ">=", 7.0),
    ("metrics.acc=3.", "=", 3.0),
])
def test_metrics_compare_with_numbers(text: str, op: str, value: float) -> None:
    assert parse_filter(text) == C("metrics", "acc", op, value)


@pytest.mark.parametrize("entity", ["params", "tags"])
@pytest.mark.parametrize("suffix, op, value", [
    ("= 'a'", "=", "a"),
    ("!= 'a'", "!=", "a"),
    ("LIKE 'a%'", "LIKE", "a%"),
    ("ILIKE '%A_'", "ILIKE", "%A_"),
    ("IN ('a')", "IN", ("a",)),
    ("IN ('a', \"b\",'c')", "IN", ("a", "b", "c")),
    ("NOT IN ('a', 'b')", "NOT IN", ("a", "b")),
    ("IS NULL", "IS NULL", None),
    ("IS NOT NULL", "IS NOT NULL", None),
    ("is not null", "IS NOT NULL", None),
    ("not in ('x')", "NOT IN", ("x",)),
    ("like 'x'", "LIKE", "x"),
    ("iLike 'x'", "ILIKE", "x"),
])
def test_params_and_tags_compare_with_strings(entity: str, suffix: str, op: str,
                                              value: str | tuple[str, ...] | None) -> None:
    assert parse_filter(f"{entity}.k {suffix}") == C(entity, "k", op, value)


@pytest.mark.parametrize("key", ["run_id", "run_name", "status", "user_id", "artifact_uri",
                                 "lifecycle_stage", "experiment_id"])
@pytest.mark.parametrize("suffix, op, value", [
    ("= 'v'", "=", "v"), ("!= 'v'", "!=", "v"), ("LIKE 'v%'", "LIKE", "v%"),
    ("ILIKE 'V'", "ILIKE", "V"), ("IN ('v', 'w')", "IN", ("v", "w")),
    ("NOT IN ('v')", "NOT IN", ("v",)),
])
def test_string_attributes(key: str, suffix: str, op: str, value: str | tuple[str, ...]) -> None:
    assert parse_filter(f"attributes.{key} {suffix}") == C("attributes", key, op, value)


@pytest.mark.parametrize("key", ["start_time", "end_time"])
@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_numeric_attributes(key: str, op: str) -> None:
    assert parse_filter(f"attributes.{key} {op} 1700000000000") == C(
        "attributes", key, op, 1700000000000.0)


@pytest.mark.parametrize("text, expected", [
    ("datasets.name = 'mnist'", C("datasets", "name", "=", "mnist")),
    ("datasets.digest != 'abc'", C("datasets", "digest", "!=", "abc")),
    ("datasets.context IN ('train', 'eval')", C("datasets", "context", "IN", ("train", "eval"))),
    ("dataset.name LIKE 'mn%'", C("datasets", "name", "LIKE", "mn%")),
    ("datasets.Name ILIKE 'M%'", C("datasets", "name", "ILIKE", "M%")),
    ("datasets.digest NOT IN ('a')", C("datasets", "digest", "NOT IN", ("a",))),
])
def test_datasets(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text, expected", [
    # key quoting: back quotes, double quotes, doubled quote characters inside
    ("metrics.`f1 score` > 0.5", C("metrics", "f1 score", ">", 0.5)),
    ("tags.`mlflow.source.name` = 'x'", C("tags", "mlflow.source.name", "=", "x")),
    ('params."my key" = \'x\'', C("params", "my key", "=", "x")),
    ("params.`a``b` = 'x'", C("params", "a`b", "=", "x")),
    ('params."a""b" = \'x\'', C("params", 'a"b', "=", "x")),
    ("params.`AND` = 'x'", C("params", "AND", "=", "x")),
    ("params.``` ` = 'x'", C("params", "` ", "=", "x")),  # a doubled back quote, a space
    # unquoted keys: letters, digits, _ . - / : and any case
    ("tags.mlflow.user = 'x'", C("tags", "mlflow.user", "=", "x")),
    ("metrics.val/loss-2:x_Y > 0", C("metrics", "val/loss-2:x_Y", ">", 0.0)),
    ("params.and = 'x'", C("params", "and", "=", "x")),
    ("metrics.1st = 1", C("metrics", "1st", "=", 1.0)),
    ("metrics.métrique = 1", C("metrics", "métrique", "=", 1.0)),
    # values: both quote styles, doubled quotes, backslashes kept as written
    ("params.p = \"it's\"", C("params", "p", "=", "it's")),
    ("params.p = 'it''s'", C("params", "p", "=", "it's")),
    ('params.p = "say ""hi"""', C("params", "p", "=", 'say "hi"')),
    ("params.p = ''", C("params", "p", "=", "")),
    ("params.p = 'a\\b'", C("params", "p", "=", "a\\b")),
    ("params.p = ' spaced  out '", C("params", "p", "=", " spaced  out ")),
    ("params.p = 'AND x = 1'", C("params", "p", "=", "AND x = 1")),
    # whitespace is optional around operators and may include newlines
    ("params.p='a'AND metrics.m>=-1", And((C("params", "p", "=", "a"),
                                          C("metrics", "m", ">=", -1.0)))),
    ("\n\tmetrics.m\n<\n2\n", C("metrics", "m", "<", 2.0)),
])
def test_quoting_styles(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("prefix, entity", [
    ("metric", "metrics"), ("metrics", "metrics"), ("METRICS", "metrics"),
    ("param", "params"), ("params", "params"), ("parameter", "params"),
    ("parameters", "params"), ("Params", "params"), ("tag", "tags"), ("TAGS", "tags"),
    ("dataset", "datasets"), ("DataSets", "datasets"),
])
def test_entity_aliases(prefix: str, entity: str) -> None:
    key, value = {"metrics": ("k", "1"), "datasets": ("name", "'v'")}.get(entity, ("k", "'v'"))
    node = parse_filter(f"{prefix}.{key} = {value}")
    assert isinstance(node, Comparison)
    assert (node.entity, node.key) == (entity, key)


@pytest.mark.parametrize("identifier, key", [
    ("attributes.status", "status"), ("attribute.status", "status"), ("attr.status", "status"),
    ("run.status", "status"), ("ATTRIBUTES.status", "status"), ("status", "status"),
    ("attributes.STATUS", "status"), ("`status`", "status"), ("attributes.`Run name`", "run_name"),
    ("`Run name`", "run_name"), ("`run name`", "run_name"), ("`Run Name`", "run_name"),
    ('attr."run name"', "run_name"), ("run_name", "run_name"), ("run.run_id", "run_id"),
])
def test_string_attribute_aliases(identifier: str, key: str) -> None:
    assert parse_filter(f"{identifier} = 'x'") == C("attributes", key, "=", "x")


@pytest.mark.parametrize("identifier", ["created", "Created", "attributes.created",
                                        "attr.Created", "start_time", "run.START_TIME"])
def test_numeric_attribute_aliases(identifier: str) -> None:
    assert parse_filter(f"{identifier} > 5") == C("attributes", "start_time", ">", 5.0)


# -- booleans -------------------------------------------------------------------------

A, B, D, E = (C("metrics", name, "=", 1.0) for name in "abde")


@pytest.mark.parametrize("text, expected", [
    ("metrics.a = 1 AND metrics.b = 1", And((A, B))),
    ("metrics.a = 1 and metrics.b = 1 And metrics.d = 1", And((A, B, D))),
    ("metrics.a = 1 OR metrics.b = 1", Or((A, B))),
    ("NOT metrics.a = 1", Not(A)),
    ("not not metrics.a = 1", Not(Not(A))),
    # precedence: NOT > AND > OR
    ("metrics.a = 1 OR metrics.b = 1 AND metrics.d = 1", Or((A, And((B, D))))),
    ("metrics.a = 1 AND metrics.b = 1 OR metrics.d = 1", Or((And((A, B)), D))),
    ("NOT metrics.a = 1 AND metrics.b = 1", And((Not(A), B))),
    ("NOT metrics.a = 1 OR metrics.b = 1", Or((Not(A), B))),
    ("metrics.a = 1 AND NOT metrics.b = 1", And((A, Not(B)))),
    ("NOT (metrics.a = 1 OR metrics.b = 1)", Not(Or((A, B)))),
    ("(metrics.a = 1 OR metrics.b = 1) AND metrics.d = 1", And((Or((A, B)), D))),
    # flattening of nested same-type groups
    ("metrics.a = 1 AND (metrics.b = 1 AND metrics.d = 1)", And((A, B, D))),
    ("(metrics.a = 1 AND metrics.b = 1) AND (metrics.d = 1 AND metrics.e = 1)",
     And((A, B, D, E))),
    ("(metrics.a = 1 OR metrics.b = 1) OR (metrics.d = 1 OR metrics.e = 1)", Or((A, B, D, E))),
    ("metrics.a = 1 OR (metrics.b = 1 OR (metrics.d = 1))", Or((A, B, D))),
    ("metrics.a = 1 AND (metrics.b = 1 OR metrics.d = 1)", And((A, Or((B, D))))),
    ("NOT (metrics.a = 1 AND metrics.b = 1) AND metrics.d = 1", And((Not(And((A, B))), D))),
    ("(((metrics.a = 1)))", A),
    ("(metrics.a=1)AND(metrics.b=1)", And((A, B))),
    ("NOT(metrics.a=1)", Not(A)),
])
def test_booleans(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


def test_not_in_after_not() -> None:
    assert parse_filter("NOT params.p NOT IN ('a')") == Not(C("params", "p", "NOT IN", ("a",)))


def test_many_conditions_do_not_recurse() -> None:
    text = " AND ".join(f"metrics.m{i} > {i}" for i in range(3000))
    node = parse_filter(text)
    assert isinstance(node, And) and len(node.parts) == 3000
    assert node.parts[-1] == C("metrics", "m2999", ">", 2999.0)


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse_filter("(" * MAX_DEPTH + "metrics.a = 1" + ")" * MAX_DEPTH) == A
    nots = parse_filter("NOT " * MAX_DEPTH + "metrics.a = 1")
    for _ in range(MAX_DEPTH):
        assert isinstance(nots, Not)
        nots = nots.part
    assert nots == A


@pytest.mark.parametrize("text", [
    "(" * (MAX_DEPTH + 1) + "metrics.a = 1" + ")" * (MAX_DEPTH + 1),
    "NOT " * (MAX_DEPTH + 1) + "metrics.a = 1",
    "(NOT " * (MAX_DEPTH // 2 + 1) + "metrics.a = 1" + ")" * (MAX_DEPTH // 2 + 1),
    "(" * 100_000,
    "NOT " * 20_000,
])
def test_nesting_beyond_the_limit_is_an_error(text: str) -> None:
    err = error_of(text)
    assert f"more than {MAX_DEPTH} nested" in str(err)


def test_length_limit() -> None:
    assert parse_filter("metrics.a = 1" + " " * (MAX_LENGTH - 13)) == A
    err = error_of("metrics.a = 1" + " " * (MAX_LENGTH - 12))
    assert err.position == MAX_LENGTH and f"longer than {MAX_LENGTH}" in str(err)


# -- errors ---------------------------------------------------------------------------


def error_of(text: str) -> SearchSyntaxError:
    with pytest.raises(SearchSyntaxError) as info:
        parse_filter(text)
    return info.value


def check_message(err: SearchSyntaxError, text: str, *, filter_example: bool = True) -> None:
    """One paragraph: problem and position, excerpt, caret under it, a valid example."""
    message = str(err)
    assert err.position is not None and 0 <= err.position <= len(text)
    assert f"at position {err.position}:" in message
    lines = message.split("\n")
    assert all(line.strip() for line in lines)
    example = lines[-1].split("looks like: ", 1)[1]
    if filter_example:
        assert parse_filter(example) is not None
    else:
        assert parse_order_by([example])
    if not text.strip():  # nothing to quote
        assert len(lines) == 2 and lines[0].endswith(".")
        return
    assert len(lines) == 4 and lines[0].endswith(":")
    excerpt, caret = lines[1], lines[2]
    assert caret.strip() == "^"
    if len(text) <= 60:
        printable = "".join(c if c.isprintable() else " " for c in text)
        assert excerpt == "    " + printable
        assert caret == "    " + " " * err.position + "^"
    else:
        column = caret.index("^")
        assert excerpt[column:].rstrip(".") in text[err.position:] + " "


@pytest.mark.parametrize("text, position, fragment", [
    # identifiers
    ("metricz.acc = 1", 0, "unknown entity 'metricz'"),
    ("attributes.foo = 'x'", 0, "unknown attribute 'foo'"),
    ("attributes.foo = 'x'", 0, "run_id, run_name, status"),
    ("acc > 1", 0, "unknown identifier 'acc'"),
    ("`f1 score` > 1", 0, "unknown identifier 'f1 score'"),
    ("datasets.size = 'x'", 0, "unknown dataset key 'size'"),
    ("metrics. > 1", 0, "missing key after 'metrics.'"),
    ("metrics.`` > 1", 0, "missing key"),
    ("'x' = params.p", 0, "expected an identifier"),
    ("1 = metrics.a", 0, "expected an identifier"),
    ("= 1", 0, "expected an identifier"),
    ("AND metrics.a = 1", 0, "expected an identifier"),
    # operators
    ("metrics.a == 1", 10, "'==' is not an operator"),
    ("metrics.a <> 1", 10, "'<>' is not an operator"),
    ("metrics.a ! 1", 10, "unexpected character '!'"),
    ("metrics.a ~ 1", 10, "unexpected character '~'"),
    ("metrics.a \x01 1", 10, "unexpected character '\\x01'"),
    ("metrics.a 1", 10, "expected an operator"),
    ("metrics.a", 9, "expected an operator"),
    ("params.p NOT LIKE 'a'", 9, "NOT after an identifier"),
    ("params.p IS 'a'", 12, "expected NULL after IS"),
    ("params.p IS NOT", 15, "expected NULL after IS NOT"),
    ("metrics.a LIKE 'x'", 10, "LIKE cannot be used with metrics.a"),
    ("metrics.a IN ('x')", 10, "IN cannot be used with metrics.a"),
    ("metrics.a IS NULL", 10, "IS NULL cannot be used with metrics.a"),
    ("params.p < 'x'", 9, "< cannot be used with params.p"),
    ("tags.t >= 'x'", 7, ">= cannot be used with tags.t"),
    ("attributes.status IS NULL", 18, "IS NULL cannot be used with attributes.status"),
    ("attributes.status > 'x'", 18, "> cannot be used with attributes.status"),
    ("attributes.start_time LIKE '1%'", 22, "LIKE cannot be used"),
    ("attributes.end_time IN ('1')", 20, "IN cannot be used"),
    ("datasets.name IS NOT NULL", 14, "IS NOT NULL cannot be used"),
    ("datasets.name < 'x'", 14, "< cannot be used"),
    # values and their types
    ("metrics.a > 'x'", 12, "metrics.a compares with numbers"),
    ("metrics.a > \"1\"", 12, "compares with numbers"),
    ("params.p = 1", 11, "params.p compares with strings"),
    ("tags.t = abc", 9, "tags.t compares with strings"),
    ("attributes.status = 1", 20, "attributes.status compares with strings"),
    ("attributes.start_time = '1'", 24, "attributes.start_time compares with numbers"),
    ("datasets.name = 3", 16, "compares with strings"),
    ("params.p = NULL", 11, "IS NULL"),
    ("params.p = `x`", 11, "compares with strings"),
    ("metrics.a >", 11, "found the end of the search filter"),
    ("metrics.a = 1abc", 12, "malformed number"),
    ("metrics.a = 1.2.3", 12, "malformed number"),
    ("metrics.a = 1e", 12, "malformed number"),
    ("metrics.a = 1e999", 12, "number out of range"),
    ("metrics.a = - 1", 12, "unexpected character '-'"),
    ("metrics.a = .", 12, "unexpected character '.'"),
    # quotes
    ("params.p = 'abc", 11, "unterminated string (no closing ')"),
    ('params.p = "abc', 11, 'unterminated string (no closing ")'),
    ("params.p = 'it''s", 11, "unterminated string"),
    ("metrics.`f1 > 1", 8, "unterminated quoted name"),
    ('params."k = \'x\'', 7, "unterminated quoted name"),
    ("`Run name = 'x'", 0, "unterminated back-quoted name"),
    # IN lists
    ("params.p IN 'a'", 12, "expected '(' and a list of strings after IN"),
    ("params.p IN ()", 13, "expected a quoted string in the IN list"),
    ("params.p IN ('a',)", 17, "expected a quoted string in the IN list"),
    ("params.p IN ('a' 'b')", 17, "expected ',' or ')' in the IN list"),
    ("params.p IN ('a'", 16, "expected ',' or ')'"),
    ("params.p IN (1)", 13, "expected a quoted string"),
    ("params.p NOT IN", 15, "expected '('"),
    # structure
    ("metrics.a = 1 metrics.b = 2", 14, "expected AND, OR or the end"),
    ("metrics.a = 1, metrics.b = 2", 13, "expected AND, OR or the end"),
    ("metrics.a = 1 AND", 17, "expected an identifier"),
    ("metrics.a = 1 AND AND metrics.b = 1", 18, "expected an identifier"),
    ("metrics.a = 1 OR", 16, "expected an identifier"),
    ("NOT", 3, "expected an identifier"),
    ("()", 1, "expected an identifier"),
    ("(metrics.a = 1", 14, "expected ')' to close the '(' at position 0"),
    ("((metrics.a = 1) AND metrics.b = 1", 34, "to close the '(' at position 0"),
    ("metrics.a = 1)", 13, "expected AND, OR or the end"),
    ("metrics.a = 1 ; DROP TABLE runs", 14, "unexpected character ';'"),
    ("metrics.a = 1 AND params.p = 'x' AND", 36, "expected an identifier"),
    # text that cannot be stored
    ("params.p = 'a\x00b'", 13, "NUL characters"),
    ("params.p = '\ud800'", 12, "lone surrogates"),
])
def test_errors(text: str, position: int, fragment: str) -> None:
    err = error_of(text)
    assert err.position == position, str(err)
    assert fragment in str(err)
    check_message(err, text)


def test_error_excerpt_of_long_text_is_windowed() -> None:
    text = "metrics.a = 1 AND " * 10 + "metrics.b = 'x' AND " + "metrics.c = 1 AND " * 10
    err = error_of(text)
    assert err.position == text.index("'x'")
    check_message(err, text)
    excerpt = str(err).split("\n")[1]
    assert excerpt.startswith("    ...") and excerpt.endswith("...")


def test_error_type_and_attributes() -> None:
    err = error_of("metrics.a > 'x'")
    assert isinstance(err, ValueError) and isinstance(err, InvalidParameterError)
    assert err.error_code == "INVALID_PARAMETER_VALUE" and err.http_status == 400
    assert err.text == "metrics.a > 'x'" and err.position == 12
    assert str(err).startswith("Invalid search filter at position 12: ")


def test_unprintable_characters_are_blanked_in_the_excerpt() -> None:
    err = error_of("metrics.a =\t\x1b'x'")
    check_message(err, "metrics.a =\t\x1b'x'")
    assert "\x1b" not in str(err) and "\t" not in str(err)


def test_non_string_filter() -> None:
    with pytest.raises(SearchSyntaxError, match="must be a string"):
        parse_filter(None)  # type: ignore[arg-type]


# -- order_by -------------------------------------------------------------------------


@pytest.mark.parametrize("clause, expected", [
    ("metrics.acc DESC", OrderBy("metrics", "acc", False)),
    ("metrics.acc desc", OrderBy("metrics", "acc", False)),
    ("metrics.acc ASC", OrderBy("metrics", "acc", True)),
    ("metrics.acc Asc", OrderBy("metrics", "acc", True)),
    ("metrics.acc", OrderBy("metrics", "acc", True)),
    ("  params.model  ", OrderBy("params", "model", True)),
    ("metrics.`f1 score` ASC", OrderBy("metrics", "f1 score", True)),
    ('params."my key" DESC', OrderBy("params", "my key", False)),
    ("tags.mlflow.user", OrderBy("tags", "mlflow.user", True)),
    ("tag.`mlflow.runName` DESC", OrderBy("tags", "mlflow.runName", False)),
    ("attributes.start_time", OrderBy("attributes", "start_time", True)),
    ("start_time DESC", OrderBy("attributes", "start_time", False)),
    ("created", OrderBy("attributes", "start_time", True)),
    ("`Run name` DESC", OrderBy("attributes", "run_name", False)),
    ("attr.status", OrderBy("attributes", "status", True)),
    ("metrics.desc DESC", OrderBy("metrics", "desc", False)),
])
def test_order_by(clause: str, expected: OrderBy) -> None:
    assert parse_order_by([clause]) == [expected]


def test_order_by_several_clauses() -> None:
    assert parse_order_by(("metrics.acc DESC", "params.lr", "end_time asc")) == [
        OrderBy("metrics", "acc", False), OrderBy("params", "lr", True),
        OrderBy("attributes", "end_time", True)]
    assert parse_order_by([]) == []


@pytest.mark.parametrize("clause, position, fragment", [
    ("", 0, "expected a column to order by"),
    ("   ", 3, "expected a column to order by"),
    ("metrics.acc up", 12, "expected ASC, DESC or the end of the clause"),
    ("metrics.acc DESC ASC", 17, "expected ASC, DESC or the end"),
    ("metrics.acc `DESC`", 12, "expected ASC, DESC or the end"),
    ("metrics.acc, params.p", 11, "expected ASC, DESC or the end"),
    ("DESC", 0, "unknown identifier 'DESC'"),
    ("acc DESC", 0, "unknown identifier 'acc'"),
    ("datasets.name", 0, "cannot be ordered by datasets"),
    ("metricz.acc", 0, "unknown entity"),
    ("attributes.nope", 0, "unknown attribute 'nope'"),
    ("metrics.", 0, "missing key"),
    ("metrics.`acc", 8, "unterminated quoted name"),
    ("ORDER BY metrics.acc", 0, "unknown identifier 'ORDER'"),
    ("(metrics.acc)", 0, "expected an identifier"),
    ("metrics.acc DESC;", 16, "unexpected character ';'"),
])
def test_order_by_errors(clause: str, position: int, fragment: str) -> None:
    with pytest.raises(SearchSyntaxError) as info:
        parse_order_by(["metrics.ok", clause])
    err = info.value
    assert err.position == position, str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"Invalid order_by clause at position {position}: ")
    check_message(err, clause, filter_example=False)


@pytest.mark.parametrize("clauses, fragment", [
    ("metrics.acc DESC", "must be a list of clauses"),
    (None, "must be a list of clauses"),
    (["metrics.acc", 3], "clause #1 must be a string"),
])
def test_order_by_wrong_types(clauses: object, fragment: str) -> None:
    with pytest.raises(SearchSyntaxError, match=re.escape(fragment)):
        parse_order_by(clauses)  # type: ignore[arg-type]


# -- properties: only SearchSyntaxError, ever ----------------------------------------

FRAGMENTS = ["metrics.a", "params.p", "tags.t", "attributes.status", "start_time", "datasets.name",
             "`k k`", "metrics.`x", '"', "'", "'v'", '"v"', "''", "1", "-2.5e3", "1e999", ".",
             "=", "!=", "<", "<=", ">", ">=", "==", "<>", "AND", "OR", "NOT", "IN", "LIKE",
             "ILIKE", "IS", "NULL", "(", ")", ",", "ASC", "DESC", "\x00", "\ud800", "é", " ",
             "\n", "metrics.", "run.`Run name`", "created"]
SOUP = st.lists(st.sampled_from(FRAGMENTS), max_size=20).map(
    lambda parts: "".join(p if i % 3 else p + " " for i, p in enumerate(parts)))
TEXT = st.one_of(st.text(max_size=80), SOUP)


@SETTINGS
@given(text=TEXT)
def test_arbitrary_filter_text_only_raises_search_syntax_error(text: str) -> None:
    try:
        node = parse_filter(text)
    except SearchSyntaxError as err:
        assert err.position is not None and 0 <= err.position <= len(text)
        assert f"at position {err.position}:" in str(err)
    else:
        assert node is None or isinstance(node, (Comparison, And, Or, Not))


@SETTINGS
@given(text=TEXT)
def test_arbitrary_order_by_text_only_raises_search_syntax_error(text: str) -> None:
    try:
        parsed = parse_order_by([text])
    except SearchSyntaxError as err:
        assert err.position is not None and 0 <= err.position <= len(text)
    else:
        assert len(parsed) == 1 and parsed[0].entity in ("metrics", "params", "tags",
                                                         "attributes")


# -- properties: generated trees, rendered, parse back equal --------------------------

NAME_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
KEYS = st.one_of(st.text(NAME_CHARS, min_size=1, max_size=10),
                 st.from_regex(r"[a-z][\w.\-/:]{0,8}", fullmatch=True))
STRINGS = st.text(NAME_CHARS, max_size=10)
NUMBERS = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(-10**15, 10**15).map(float))
STRING_OPS = ["=", "!=", "LIKE", "ILIKE"]
NUMERIC_OPS = ["=", "!=", "<", "<=", ">", ">="]
STRING_ATTRIBUTES = ["run_id", "run_name", "status", "user_id", "artifact_uri",
                     "lifecycle_stage", "experiment_id"]


def string_comparisons(entity: str, keys: st.SearchStrategy[str],
                       null: bool) -> st.SearchStrategy[Comparison]:
    scalar = st.builds(Comparison, st.just(entity), keys, st.sampled_from(STRING_OPS), STRINGS)
    listed = st.builds(Comparison, st.just(entity), keys, st.sampled_from(["IN", "NOT IN"]),
                       st.lists(STRINGS, min_size=1, max_size=3).map(tuple))
    nulls = st.builds(Comparison, st.just(entity), keys,
                      st.sampled_from(["IS NULL", "IS NOT NULL"]), st.none())
    return st.one_of(scalar, listed, nulls) if null else st.one_of(scalar, listed)


COMPARISONS = st.one_of(
    st.builds(Comparison, st.just("metrics"), KEYS, st.sampled_from(NUMERIC_OPS), NUMBERS),
    st.builds(Comparison, st.just("attributes"), st.sampled_from(["start_time", "end_time"]),
              st.sampled_from(NUMERIC_OPS), NUMBERS),
    string_comparisons("params", KEYS, null=True),
    string_comparisons("tags", KEYS, null=True),
    string_comparisons("attributes", st.sampled_from(STRING_ATTRIBUTES), null=False),
    string_comparisons("datasets", st.sampled_from(["name", "digest", "context"]), null=False),
)


def joined(kind: type[And] | type[Or], parts: list[Node]) -> Node:
    """``kind`` of ``parts`` in the parser's normal form (nested ``kind`` flattened)."""
    flat: list[Node] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else (part,))
    return kind(tuple(flat))


NODES = st.recursive(COMPARISONS, lambda children: st.one_of(
    st.lists(children, min_size=2, max_size=3).map(lambda parts: joined(And, parts)),
    st.lists(children, min_size=2, max_size=3).map(lambda parts: joined(Or, parts)),
    children.map(Not),
), max_leaves=10)

ALIASES = {"metrics": ["metrics", "metric", "METRICS"], "params": ["params", "param",
           "parameters", "Params"], "tags": ["tags", "tag", "TAG"],
           "attributes": ["attributes", "attribute", "attr", "run", "Attributes"],
           "datasets": ["datasets", "dataset", "DATASETS"]}
UNQUOTED_KEY = re.compile(r"[\w.\-/:]+")


class Renderer:
    """Writes a syntax tree as filter text, choosing styles at random."""

    def __init__(self, rnd: random.Random, minimal: bool) -> None:
        self.rnd, self.minimal = rnd, minimal

    def space(self) -> str:
        return self.rnd.choice([" ", "  ", "\n", "\t "])

    def keyword(self, word: str) -> str:
        return self.rnd.choice([word, word.lower(), word.title()])

    def quote(self, text: str, quote: str) -> str:
        return quote + text.replace(quote, quote * 2) + quote

    def identifier(self, node: Comparison) -> str:
        key = node.key
        if node.entity == "attributes":
            key = self.rnd.choice([key, key.upper()])
            if key.lower() == "start_time" and self.rnd.random() < 0.3:
                key = self.rnd.choice(["created", "Created"])
            if key.lower() == "run_name" and self.rnd.random() < 0.3:
                return self.rnd.choice(["`Run name`", "attributes.`run name`", 'attr."Run Name"'])
            if self.rnd.random() < 0.3:
                return key  # a bare attribute name
        prefix = self.rnd.choice(ALIASES[node.entity]) + "."
        if UNQUOTED_KEY.fullmatch(key) and self.rnd.random() < 0.7:
            return prefix + key
        return prefix + self.quote(key, self.rnd.choice("`\""))

    def value(self, node: Comparison) -> str:
        if isinstance(node.value, float):
            if node.value.is_integer() and abs(node.value) < 1e15 and self.rnd.random() < 0.5:
                return str(int(node.value))
            return repr(node.value)
        if isinstance(node.value, str):
            return self.quote(node.value, self.rnd.choice("'\""))
        assert isinstance(node.value, tuple)
        items = ("," + self.rnd.choice(["", " "])).join(
            self.quote(v, self.rnd.choice("'\"")) for v in node.value)
        return f"({items})"

    def comparison(self, node: Comparison) -> str:
        op = node.op
        if op[0].isalpha():
            return self.space().join([self.identifier(node), *map(self.keyword, op.split()),
                                      *([self.value(node)] if node.value is not None else [])])
        gap = self.rnd.choice(["", " "])
        return f"{self.identifier(node)}{gap}{op}{gap}{self.value(node)}"

    def render(self, node: Node) -> str:
        if isinstance(node, Comparison):
            return self.comparison(node)
        if isinstance(node, Not):
            return f"{self.keyword('NOT')}{self.space()}{self.child(node.part, (And, Or))}"
        word = "AND" if isinstance(node, And) else "OR"
        wrap = (Or,) if isinstance(node, And) else ()
        glue = f"{self.space()}{self.keyword(word)}{self.space()}"
        return glue.join(self.child(part, wrap) for part in node.parts)

    def child(self, node: Node, needs_parens: tuple[type, ...]) -> str:
        compound = isinstance(node, (And, Or, Not))
        if isinstance(node, needs_parens) or (compound and not self.minimal):
            return f"({self.rnd.choice(['', ' '])}{self.render(node)})"
        return self.render(node)


@SETTINGS
@given(node=NODES, rnd=st.randoms(use_true_random=False), minimal=st.booleans())
def test_rendered_trees_parse_back_equal(node: Node, rnd: random.Random, minimal: bool) -> None:
    text = Renderer(rnd, minimal).render(node)
    assert parse_filter(text) == node, text


@SETTINGS
@given(entity=st.sampled_from(["metrics", "params", "tags"]), key=KEYS,
       ascending=st.booleans(), rnd=st.randoms(use_true_random=False))
def test_rendered_order_by_parses_back_equal(entity: str, key: str, ascending: bool,
                                            rnd: random.Random) -> None:
    identifier = Renderer(rnd, True).identifier(Comparison(entity, key, "=", None))
    direction = rnd.choice(["ASC", "asc", ""] if ascending else ["DESC", "desc"])
    clause = f"{identifier} {direction}"
    assert parse_order_by([clause]) == [OrderBy(entity, key, ascending)], clause


# -- push_negations ---------------------------------------------------------------------


def test_push_negations_moves_every_not_onto_a_comparison() -> None:
    null = C("params", "p", "IS NULL", None)
    assert push_negations(Not(And((ACC, Or((MODEL, Not(USER))))))) == \
        Or((Not(ACC), And((Not(MODEL), USER))))
    assert push_negations(Not(Not(ACC))) == ACC
    assert push_negations(Not(null)) == C("params", "p", "IS NOT NULL", None)
    assert push_negations(Not(Not(Not(C("params", "p", "IS NOT NULL", None))))) == null
    # groups of one kind that meet are merged, as the parser merges them
    assert push_negations(And((ACC, Not(Or((MODEL, USER)))))) == \
        And((ACC, Not(MODEL), Not(USER)))
    assert push_negations(Or((ACC, Not(And((MODEL, Not(USER))))))) == \
        Or((ACC, Not(MODEL), USER))


def truth(node: Node, values: dict[Comparison, bool | None]) -> bool | None:
    """``node``'s value in three-valued logic (None: unknown) given its comparisons'."""
    if isinstance(node, Comparison):
        if node.op == "IS NOT NULL":  # the opposite of IS NULL, never unknown
            return not values[Comparison(node.entity, node.key, "IS NULL", None)]
        return values[node]
    if isinstance(node, Not):
        inner = truth(node.part, values)
        return None if inner is None else not inner
    found = [truth(p, values) for p in node.parts]
    decisive = isinstance(node, Or)  # True decides an OR, False an AND
    return decisive if decisive in found else None if None in found else not decisive


def comparisons_in(node: Node) -> list[Comparison]:
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, Not):
        return comparisons_in(node.part)
    return [c for p in node.parts for c in comparisons_in(p)]


@SETTINGS
@given(node=NODES, data=st.data())
def test_push_negations_keeps_the_three_valued_meaning(node: Node, data: st.DataObject) -> None:
    values: dict[Comparison, bool | None] = {}
    for c in comparisons_in(node):
        if c.op in ("IS NULL", "IS NOT NULL"):
            c = Comparison(c.entity, c.key, "IS NULL", None)
            values.setdefault(c, data.draw(st.booleans()))
        else:
            values.setdefault(c, data.draw(st.sampled_from([True, False, None])))
    pushed = push_negations(node)
    assert truth(pushed, values) == truth(node, values)
    for n in subtrees(pushed):  # NOTs only on comparisons (not NULL tests), groups merged
        assert not isinstance(n, Not) or (isinstance(n.part, Comparison)
                                          and n.part.op not in ("IS NULL", "IS NOT NULL"))
        assert not isinstance(n, (And, Or)) or not any(isinstance(p, type(n)) for p in n.parts)


def subtrees(node: Node) -> list[Node]:
    if isinstance(node, Not):
        return [node, *subtrees(node.part)]
    if isinstance(node, (And, Or)):
        return [node, *(n for p in node.parts for n in subtrees(p))]
    return [node]
