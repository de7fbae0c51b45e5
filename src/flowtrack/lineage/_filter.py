"""ML Metadata's ``ListOptions.filter_query`` language, compiled to SQLAlchemy.

This module owns the filter grammar and nothing else: a hand-written tokenizer, a
recursive-descent parser producing a small AST of dataclasses, and a compiler that
turns the AST into a where-clause over ``NODE_TABLES[kind]``. ``compile_filter`` is
the entry point; ``quote_string`` writes a string literal. Grammar (keywords and
field names are case-insensitive; property names are not)::

    query     := or_expr
    or_expr   := and_expr ("OR" and_expr)*
    and_expr  := not_expr ("AND" not_expr)*
    not_expr  := "NOT" not_expr | "(" or_expr ")" | predicate
    predicate := field ( ("=" | "!=" | "<>" | "<" | ">" | "<=" | ">=") value
                       | ["NOT"] "LIKE" value | ["NOT"] "IN" "(" value ("," value)* ")"
                       | "IS" ["NOT"] "NULL" )
    field     := [neighbour "."] (attribute | ("properties" | "custom_properties")
                                  "." name "." ("int_value" | "double_value"
                                                | "string_value" | "bool_value"))
    neighbour := ("contexts" | "events" | "parent_contexts" | "child_contexts"
                  | "artifacts" | "executions") "_" alias
    value     := 'string' | "string" | ["-"] number | TRUE | FALSE | ENUM_NAME

A property name is a plain word (``properties.0.int_value``) or back-quoted
(``properties.`my prop`.string_value``). Strings escape a quote by doubling it or
with a backslash (``\\\\ \\' \\" \\` \\n \\t \\r``).

Semantics follow MLMD: every ``prefix_alias`` is one inner-joined neighbour (the same
neighbour wherever the alias appears), and a node matches when some combination of
neighbours satisfies the whole expression. Properties are left-joined by name, so an
absent property is NULL and satisfies only ``IS NULL``. LIKE is the database's (on
SQLite it ignores ASCII case). Every value is a bound parameter and every table alias
is anonymous: no text of the query ever reaches the SQL. The MAX_* limits keep every
accepted query within SQLite's parser, expression-depth and join limits.
"""

from __future__ import annotations

import enum
import functools
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from sqlalchemy import ColumnElement, FromClause, Table, and_, not_, or_, select, true

from . import _schema as schema
from ._schema import NODE_TABLES, PROPERTY_TABLES, ArtifactState, EventType, ExecutionState
from .errors import InvalidArgumentError

MAX_DEPTH = 32  # nested parentheses and NOTs (SQLite's parser stack is small)
MAX_CONDITIONS = 200  # comparisons per query (SQLite's expression depth limit is 1000)
MAX_VALUES = 10_000  # literal values per query (SQL parameter limits)
MAX_JOINED_TABLES = 60  # SQLite joins at most 64 tables


def _clip(text: str, width: int = 30) -> str:
    """``text`` shortened, with control characters blanked, for a message."""
    text = text if len(text) <= width else text[:width - 3] + "..."
    return "".join(c if c.isprintable() else " " for c in text)


def _q(text: str) -> str:
    return f"'{_clip(text)}'"


def _error(query: str, pos: int, message: str) -> InvalidArgumentError:
    """An error quoting the query around ``pos`` with a caret under it."""
    start = max(0, min(pos - 30, len(query) - 60))
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + 60 < len(query) else ""
    caret = " " * (len(prefix) + pos - start)
    return InvalidArgumentError(
        f"Invalid filter_query at position {pos}: {message}:\n"
        f"    {prefix}{_clip(query[start:start + 60], 60)}{suffix}\n    {caret}^")


# -- tokens ---------------------------------------------------------------------------

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "TRUE", "FALSE"})
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_]+")  # a name after '.', as in properties.0.int_value
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "`": "`", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class Token:
    kind: str  # ident, keyword, string, number, op, punct, end
    text: str  # as written (keywords upper-cased, '<>' as '!=')
    value: Any  # the identifier, the unescaped string or the number
    pos: int
    end: int

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the query"
        return f"the string {_clip(self.text)}" if self.kind == "string" else _q(self.text)


def _read_quoted(query: str, start: int) -> Token:
    """The string (or back-quoted name) starting at ``start``, unescaped."""
    quote, out, i = query[start], [], start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query):
            if query[i + 1] not in _ESCAPES:
                raise _error(query, i, f"unknown escape sequence {_q(query[i:i + 2])} "
                             "(write \\\\ for a backslash)")
            out.append(_ESCAPES[query[i + 1]])
            i += 2
        elif char == quote and query.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        elif char == quote:
            kind = "ident" if quote == "`" else "string"
            return Token(kind, query[start:i + 1], "".join(out), start, i + 1)
        else:
            out.append(char)
            i += 1
    what = "back-quoted name" if quote == "`" else "string"
    raise _error(query, start, f"unterminated {what} (no closing {quote})")


def _read_number(query: str, pos: int) -> Token:
    match = _NUMBER.match(query, pos)
    assert match is not None
    text, end = match.group(), match.end()
    if end < len(query) and (query[end].isalnum() or query[end] in "_."):
        raise _error(query, pos, "malformed number")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if not math.isfinite(value) or (isinstance(value, int) and value >= 2**63):
        raise _error(query, pos, "number out of range")
    return Token("number", text, value, pos, end)


def _next_token(query: str, pos: int, after_dot: bool) -> Token:
    char = query[pos]
    segment = _SEGMENT.match(query, pos) if after_dot else None
    if segment:
        return Token("ident", segment.group(), segment.group(), pos, segment.end())
    if char in "'\"`":
        return _read_quoted(query, pos)
    word = _WORD.match(query, pos)
    if word and word.group().upper() in KEYWORDS:
        return Token("keyword", word.group().upper(), word.group(), pos, word.end())
    if word:
        return Token("ident", word.group(), word.group(), pos, word.end())
    if "0" <= char <= "9":
        return _read_number(query, pos)
    if query.startswith("==", pos):
        raise _error(query, pos, "'==' is not an operator; compare with '='")
    for op in _OPERATORS:
        if query.startswith(op, pos):
            return Token("op", "!=" if op == "<>" else op, op, pos, pos + len(op))
    if char in "(),.-":
        return Token("punct", char, char, pos, pos + 1)
    raise _error(query, pos, f"unexpected character {char!r}")


def tokenize(query: str) -> list[Token]:
    """The tokens of ``query``, ending with an ``end`` token."""
    if "\x00" in query:
        raise _error(query, query.index("\x00"), "the query contains a NUL character")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _error(query, exc.start, "the query is not valid Unicode text") from None
    tokens: list[Token] = []
    pos = 0
    while True:
        space = _SPACE.match(query, pos)
        pos = space.end() if space else pos
        if pos >= len(query):
            return [*tokens, Token("end", "", None, pos, pos)]
        after_dot = bool(tokens) and (tokens[-1].kind, tokens[-1].text) == ("punct", ".")
        tokens.append(_next_token(query, pos, after_dot))
        pos = tokens[-1].end


# -- syntax tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    parts: tuple[Token, ...]  # the identifiers of a dotted path

    @property
    def text(self) -> str:
        return _clip(".".join(p.value for p in self.parts), 60)


@dataclass(frozen=True)
class Literal:
    pos: int
    kind: str  # string, number, bool or name (a bare identifier: an enum value)
    value: Any
    text: str


@dataclass(frozen=True)
class Predicate:
    field: Field
    op: str  # = != < > <= >= LIKE, NOT LIKE, IN, NOT IN, IS NULL, IS NOT NULL
    op_pos: int
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Union[Predicate, BoolOp, Not]


# -- parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = self.depth = self.conditions = self.values = 0

    def error(self, token: Token, message: str) -> InvalidArgumentError:
        return _error(self.query, token.pos, message)

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: str, text: str) -> bool:
        found = (self.peek().kind, self.peek().text) == (kind, text)
        if found:
            self.advance()
        return found

    def expected(self, what: str) -> InvalidArgumentError:
        return self.error(self.peek(), f"expected {what}, found {self.peek().describe()}")

    def parse(self) -> Expr:
        expr = self.bool_expr("OR")
        if self.peek().kind != "end":
            raise self.expected("AND, OR or the end of the query")
        return expr

    def bool_expr(self, op: str) -> Expr:
        """An OR of ANDs, or an AND of NOTs."""
        operand = (lambda: self.bool_expr("AND")) if op == "OR" else self.not_expr
        items = [operand()]
        while self.accept("keyword", op):
            items.append(operand())
        return items[0] if len(items) == 1 else BoolOp(op, tuple(items))

    def not_expr(self) -> Expr:
        token = self.peek()
        if (token.kind, token.text) not in (("keyword", "NOT"), ("punct", "(")):
            return self.predicate()
        self.advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(token, f"more than {MAX_DEPTH} nested parentheses and NOTs")
        expr: Expr = Not(self.not_expr()) if token.text == "NOT" else self.bool_expr("OR")
        if token.text == "(" and not self.accept("punct", ")"):
            raise self.expected(f"')' to close the '(' at position {token.pos}")
        self.depth -= 1
        return expr

    def predicate(self) -> Predicate:
        field = self.field()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(field.parts[0], f"more than {MAX_CONDITIONS} conditions "
                             "(use IN lists)")
        token = self.advance()
        op = token.text if token.kind in ("op", "keyword") else ""
        if op == "NOT":
            if (self.peek().kind, self.peek().text) not in (("keyword", "LIKE"), ("keyword", "IN")):
                raise self.expected("LIKE or IN after NOT")
            op = "NOT " + self.advance().text
        if op == "IS":
            op = "IS NOT NULL" if self.accept("keyword", "NOT") else "IS NULL"
            if not self.accept("keyword", "NULL"):
                raise self.expected("NULL or NOT NULL after IS")
            return Predicate(field, op, token.pos, ())
        if op.endswith("IN"):
            return Predicate(field, op, token.pos, self.value_list(token))
        if token.kind == "op" or op.endswith("LIKE"):
            return Predicate(field, op, token.pos, (self.value(token),))
        raise self.error(token, "expected an operator (=, !=, <, >, <=, >=, LIKE, IN, IS) "
                         f"after {_q(field.text)}, found {token.describe()}")

    def field(self) -> Field:
        token = self.advance()
        if token.kind != "ident":
            raise self.error(token, "expected a field such as name, id or properties.<name>"
                             f".string_value, found {token.describe()}")
        parts = [token]
        while self.accept("punct", "."):
            if self.peek().kind != "ident":
                raise self.expected("a name after '.'")
            parts.append(self.advance())
        return Field(tuple(parts))

    def value_list(self, op: Token) -> tuple[Literal, ...]:
        if not self.accept("punct", "("):
            raise self.expected("'(' after IN, as in IN ('a', 'b')")
        if (self.peek().kind, self.peek().text) == ("punct", ")"):
            raise self.error(self.peek(), "IN needs at least one value")
        values = [self.value(op)]
        while self.accept("punct", ","):
            values.append(self.value(op))
        if not self.accept("punct", ")"):
            raise self.expected("',' or ')' in the IN list")
        return tuple(values)

    def value(self, after: Token) -> Literal:
        self.values += 1
        token = self.advance()
        if self.values > MAX_VALUES:
            raise self.error(token, f"more than {MAX_VALUES} values")
        if token.kind in ("string", "number"):
            return Literal(token.pos, token.kind, token.value, token.text)
        if (token.kind, token.text) == ("punct", "-") and self.peek().kind == "number":
            number = self.advance()
            return Literal(token.pos, "number", -number.value, "-" + number.text)
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
            return Literal(token.pos, "bool", token.text == "TRUE", token.text)
        if token.kind == "ident":
            return Literal(token.pos, "name", token.value, token.text)
        if (token.kind, token.text) == ("keyword", "NULL"):
            raise self.error(token, "compare with NULL using IS NULL or IS NOT NULL")
        raise self.error(token, f"expected a value after '{after.text}', found "
                         f"{token.describe()}")


def parse(query: str) -> Expr:
    """The syntax tree of ``query``; raises InvalidArgumentError on syntax errors."""
    return _Parser(query).parse()


# -- compiler -------------------------------------------------------------------------

ValueType = Union[str, type[enum.IntEnum]]  # int, double, string, bool or an enum class

_COMMON: dict[str, tuple[str, ValueType]] = {name: (name, value_type) for name, value_type in (
    ("id", "int"), ("type_id", "int"), ("name", "string"), ("external_id", "string"),
    ("create_time_since_epoch", "int"), ("last_update_time_since_epoch", "int"))}
# field -> (column, value type) per kind; "type" (the type's name) is joined from types
_ATTRIBUTES: dict[str, dict[str, tuple[str, ValueType]]] = {
    "artifact": {**_COMMON, "uri": ("uri", "string"), "state": ("state", ArtifactState)},
    "execution": {**_COMMON, "last_known_state": ("last_known_state", ExecutionState),
                  "state": ("last_known_state", ExecutionState)},
    "context": _COMMON,
}
_EVENT_ATTRIBUTES: dict[str, dict[str, tuple[str, ValueType]]] = {
    kind: {"type": ("type", EventType), other: (other, "int"),
           "milliseconds_since_epoch": ("milliseconds_since_epoch", "int")}
    for kind, other in (("artifact", "execution_id"), ("execution", "artifact_id"))}
_VALUE_COLUMNS: dict[str, ValueType] = {
    "int_value": "int", "double_value": "double", "string_value": "string", "bool_value": "bool"}


@dataclass(frozen=True)
class _Link:
    table: Table  # the table linking a node to its neighbours
    own: str  # its column holding the filtered node's id
    other: str | None  # its column holding the neighbour's id (None: the row is the neighbour)
    kind: str  # the neighbour's kind: artifact, execution, context or event


_NEIGHBOURS: dict[str, dict[str, _Link]] = {
    "artifact": {"contexts": _Link(schema.attributions, "artifact_id", "context_id", "context"),
                 "events": _Link(schema.events, "artifact_id", None, "event")},
    "execution": {"contexts": _Link(schema.associations, "execution_id", "context_id", "context"),
                  "events": _Link(schema.events, "execution_id", None, "event")},
    "context": {
        "parent_contexts": _Link(schema.parent_contexts, "context_id", "parent_context_id",
                                 "context"),
        "child_contexts": _Link(schema.parent_contexts, "parent_context_id", "context_id",
                                "context"),
        "artifacts": _Link(schema.attributions, "context_id", "artifact_id", "artifact"),
        "executions": _Link(schema.associations, "context_id", "execution_id", "execution")},
}
_PREFIXES = ("parent_contexts", "child_contexts", "contexts", "artifacts", "executions", "events")
_NEIGHBOUR = re.compile(rf"({'|'.join(_PREFIXES)})_[a-z0-9_]+")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
    "<=": operator.le, ">=": operator.ge}
_LITERAL_KIND = {"int": "number", "double": "number", "string": "string", "bool": "bool"}
_HINT = {"number": "a number", "string": "a quoted string, as in 'abc'", "bool": "TRUE or FALSE"}


def _describe(value_type: ValueType) -> str:
    if isinstance(value_type, str):
        return {"int": "an integer", "double": "a double", "string": "a string",
                "bool": "a boolean"}[value_type]
    return f"an enum ({', '.join(value_type.__members__)})"


class _Compiler:
    """Turns one syntax tree into a condition over joined tables, joining lazily."""

    def __init__(self, query: str, kind: str) -> None:
        self.query, self.kind = query, kind
        self.node = NODE_TABLES[kind].alias()
        self.joined: FromClause = self.node
        self.owners: dict[str, Any] = {"": self.node}  # neighbour alias -> its table
        self.joins: dict[tuple[str, ...], Any] = {}  # (what, owner, ...) -> joined table

    def error(self, pos: int, message: str) -> InvalidArgumentError:
        return _error(self.query, pos, message)

    def join(self, key: tuple[str, ...], table: Table, on: Callable[[Any], Any], token: Token,
             outer: bool = False) -> Any:
        """``table`` joined on ``on(alias)``, once per ``key``."""
        if key not in self.joins:
            if len(self.joins) + 1 >= MAX_JOINED_TABLES:
                raise self.error(token.pos, "the query joins too many neighbours and properties"
                                 f" (at most {MAX_JOINED_TABLES} tables: one per property or "
                                 "type field, one or two per neighbour alias); filter on "
                                 "fewer of them, or split the query")
            alias = self.joins[key] = table.alias()
            self.joined = self.joined.join(alias, on(alias), isouter=outer)
        return self.joins[key]

    def neighbour(self, key: str, link: _Link, token: Token) -> Any:
        through = self.join(("link", key), link.table,
                            lambda t: t.c[link.own] == self.node.c.id, token)
        other = link.other
        if other is None:
            return through
        return self.join(("node", key), NODE_TABLES[link.kind],
                         lambda t: t.c.id == through.c[other], token)

    def resolve(self, field: Field) -> tuple[Any, ValueType]:
        """The column ``field`` names and its value type."""
        head = field.parts[0]
        match = _NEIGHBOUR.fullmatch(head.value.lower())
        if not match:
            return self.attribute(self.kind, "", field.parts)
        link = _NEIGHBOURS[self.kind].get(match.group(1))
        if link is None:
            allowed = " or ".join(f"{p}_<alias>" for p in _NEIGHBOURS[self.kind])
            raise self.error(head.pos, f"{match.group(1)}_<alias> cannot filter "
                             f"{self.kind}s; use {allowed}")
        if len(field.parts) == 1:
            example = "type" if link.kind == "event" else "name"
            raise self.error(head.end, f"{_q(field.text)} needs a field, as in "
                             f"{field.text}.{example}")
        key = head.value.lower()
        self.owners[key] = self.neighbour(key, link, head)
        return self.attribute(link.kind, key, field.parts[1:])

    def attribute(self, kind: str, key: str, parts: tuple[Token, ...]) -> tuple[Any, ValueType]:
        first, name = parts[0], parts[0].value.lower()
        if kind != "event" and name in ("properties", "custom_properties"):
            return self.property(kind, key, parts)
        if name in _PREFIXES or (key and _NEIGHBOUR.fullmatch(name)):
            raise self.error(first.pos, "neighbours do not chain" if key else
                             f"a neighbour needs an alias, as in {name}_a.<field>")
        if len(parts) > 1:
            raise self.error(parts[1].pos, f"{_q(first.value)} has no field {_q(parts[1].value)}")
        if kind != "event" and name == "type":
            owner = self.owners[key]
            type_table = self.join(("type", key), schema.types,
                                   lambda t: t.c.id == owner.c.type_id, first)
            return type_table.c.name, "string"
        attributes = _EVENT_ATTRIBUTES[self.kind] if kind == "event" else _ATTRIBUTES[kind]
        if name not in attributes:
            known = list(attributes) if kind == "event" else [
                "type", *attributes, "properties.<name>.<value kind>",
                "custom_properties.<name>.<value kind>",
                *(f"{p}_<alias>.<field>" for p in _NEIGHBOURS[self.kind] if not key)]
            raise self.error(first.pos, f"unknown field {_q(first.value)} for "
                             f"{key or kind + 's'}; expected {', '.join(known[:-1])} or "
                             f"{known[-1]}")
        column, value_type = attributes[name]
        return self.owners[key].c[column], value_type

    def property(self, kind: str, key: str, parts: tuple[Token, ...]) -> tuple[Any, ValueType]:
        if len(parts) != 3:
            pos = parts[3].pos if len(parts) > 3 else parts[-1].end
            raise self.error(pos, f"write a property as {parts[0].value}.<name>.<value kind>, "
                             "where the value kind is int_value, double_value, string_value "
                             "or bool_value")
        value_kind = parts[2].value.lower()
        if value_kind not in _VALUE_COLUMNS:
            raise self.error(parts[2].pos, f"unknown value kind {_q(parts[2].value)}; "
                             "expected int_value, double_value, string_value or bool_value")
        custom = parts[0].value.lower() == "custom_properties"
        name, owner = parts[1].value, self.owners[key]
        table = self.join(("property", key, str(custom), name), PROPERTY_TABLES[kind],
                          lambda t: and_(t.c[f"{kind}_id"] == owner.c.id, t.c.name == name,
                                         t.c.is_custom_property == custom),
                          parts[1], outer=True)
        return table.c[value_kind], _VALUE_COLUMNS[value_kind]

    def compile(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, BoolOp):
            items = [self.compile(item) for item in expr.items]
            return and_(*items) if expr.op == "AND" else or_(*items)
        if isinstance(expr, Not):
            return not_(self.compile(expr.item))
        return self.predicate(expr)

    def predicate(self, pred: Predicate) -> ColumnElement[bool]:
        column, value_type = self.resolve(pred.field)
        op, field = pred.op, pred.field.text
        if op.endswith("LIKE") and value_type != "string":
            raise self.error(pred.op_pos, f"LIKE needs a string field; {field} is "
                             f"{_describe(value_type)}")
        if op in ("<", ">", "<=", ">=") and value_type not in ("int", "double", "string"):
            raise self.error(pred.op_pos, f"{op} cannot order {field}, {_describe(value_type)};"
                             " use = or !=")
        values = [self.value(value_type, field, literal) for literal in pred.values]
        if op.startswith("IS"):
            return column.is_(None) if op == "IS NULL" else column.is_not(None)
        if op.endswith("IN"):
            return column.in_(values) if op == "IN" else column.not_in(values)
        if op.endswith("LIKE"):
            # '%' and '_' are the only wildcards; a backslash is literal on every database
            # (PostgreSQL would otherwise treat it as LIKE's escape character)
            pattern = str(values[0]).replace("\\", "\\\\")
            if op == "LIKE":
                return column.like(pattern, escape="\\")
            return column.not_like(pattern, escape="\\")
        return _COMPARE[op](column, values[0])

    def value(self, value_type: ValueType, field: str, literal: Literal) -> Any:
        """The Python value ``literal`` stands for, checked against the field's type."""
        if isinstance(value_type, str) and literal.kind != _LITERAL_KIND[value_type]:
            found = f"the bare name {_q(literal.text)}" if literal.kind == "name" \
                else _clip(literal.text)
            raise self.error(literal.pos, f"{field} is {_describe(value_type)}; compare it "
                             f"with {_HINT[_LITERAL_KIND[value_type]]}, not {found}")
        if isinstance(value_type, str):
            return literal.value
        member = value_type.__members__.get(str(literal.value).upper())
        if literal.kind != "name" or member is None:
            problem = f"unknown {field} value {_q(literal.text)}" if literal.kind == "name" \
                else f"{field} takes a bare enum name, not {_clip(literal.text)}"
            hint = f"write {member.name} without quotes" if member else \
                f"expected one of {', '.join(value_type.__members__)}"
            raise self.error(literal.pos, f"{problem}; {hint}")
        return int(member)


@functools.lru_cache(maxsize=256)  # clauses are immutable: a repeated query reuses its own
def compile_filter(query: str, kind: str) -> ColumnElement[bool]:
    """A where-clause over ``NODE_TABLES[kind]`` selecting the nodes ``query`` matches.

    ``kind`` is "artifact", "execution" or "context". A blank query matches every
    node, as an unset MLMD filter does. Any syntax or semantic error raises
    InvalidArgumentError quoting the query at the fault.
    """
    if kind not in NODE_TABLES:
        raise ValueError(f"kind must be one of {sorted(NODE_TABLES)}, not {kind!r}")
    if not query.strip():
        return true()
    compiler = _Compiler(query, kind)
    condition = compiler.compile(parse(query))
    matching = select(compiler.node.c.id).select_from(compiler.joined).where(condition)
    return NODE_TABLES[kind].c.id.in_(matching.distinct())


def quote_string(text: str) -> str:
    """``text`` as a filter_query string literal: single-quoted, ' and \\ escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

