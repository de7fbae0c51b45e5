"""ML Metadata's ``ListOptions.filter_query`` language, compiled to SQLAlchemy.

This module owns the filter grammar and nothing else: a hand-written tokenizer, a
recursive-descent parser producing a small AST of dataclasses, and a compiler that
turns the AST into a where-clause over ``NODE_TABLES[kind]``. ``compile_filter`` is
the entry point; ``quote_string`` writes a string literal. Grammar (keywords are
case-insensitive, so are field names; property names are not)::

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

Semantics follow MLMD: every ``prefix_alias`` is one inner-joined neighbour (the same
neighbour wherever the alias appears), and a node matches when some combination of
neighbours satisfies the whole expression. Properties are left-joined by name, so an
absent property is NULL: it satisfies only ``IS NULL``. Every value is a bound
parameter and every table alias is anonymous, so no query text reaches the SQL.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from sqlalchemy import ColumnElement, FromClause, Table, and_, not_, or_, select, true

from ._schema import (
    NODE_TABLES,
    PROPERTY_TABLES,
    ArtifactState,
    EventType,
    ExecutionState,
    associations,
    attributions,
    events,
    parent_contexts,
    types,
)
from .errors import InvalidArgumentError

MAX_DEPTH = 64  # nested parentheses and NOTs
MAX_CONDITIONS = 500  # comparisons per query (SQLite's expression depth is 1000)
MAX_VALUES = 10_000  # literal values per query (SQL parameter limits)
MAX_JOINED_TABLES = 60  # SQLite joins at most 64 tables

# -- errors ---------------------------------------------------------------------------


def _error(query: str, pos: int, message: str) -> InvalidArgumentError:
    """An error quoting the query around ``pos`` with a caret under it."""
    start = max(0, min(pos - 30, len(query) - 60))
    excerpt = query[start:start + 60]
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + 60 < len(query) else ""
    shown = "".join(c if c.isprintable() else " " for c in excerpt)
    caret = " " * (len(prefix) + pos - start)
    return InvalidArgumentError(f"Invalid filter_query at position {pos}: {message}:\n"
                                f"    {prefix}{shown}{suffix}\n    {caret}^")


# -- tokens ---------------------------------------------------------------------------

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "TRUE", "FALSE"})
_SPACE = re.compile(r"\s+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_]+")  # a name after '.', e.g. properties.0.int_value
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "`": "`", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class Token:
    kind: str  # ident, keyword, string, number, op, punct, end
    text: str  # as written (keywords upper-cased, '<>' as '!=')
    value: Any  # the identifier, unescaped string or number
    pos: int
    end: int

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the query"
        return repr(self.text if len(self.text) <= 30 else self.text[:27] + "...")


def _read_quoted(query: str, start: int) -> tuple[str, int]:
    """The unescaped text of the quoted literal at ``start``, and its end."""
    quote, out, i = query[start], [], start + 1
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query):
            if query[i + 1] not in _ESCAPES:
                raise _error(query, i, f"unknown escape sequence '\\{query[i + 1]}' in a "
                             "quoted string (write '\\\\' for a backslash)")
            out.append(_ESCAPES[query[i + 1]])
            i += 2
        elif char == quote and query.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    what = "back-quoted name" if quote == "`" else "string"
    raise _error(query, start, f"unterminated {what}: no closing {quote}")


def _number(query: str, pos: int) -> Token:
    match = _NUMBER.match(query, pos)
    assert match is not None
    end, text = match.end(), match.group()
    if end < len(query) and (query[end].isalnum() or query[end] in "_."):
        raise _error(query, pos, "malformed number")
    value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, int) and value >= 2**63:
        raise _error(query, pos, "integer out of the 64-bit range")
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(query, pos, "number out of range")
    return Token("number", text, value, pos, end)


def _next_token(query: str, pos: int, after_dot: bool) -> Token:
    char = query[pos]
    segment = _SEGMENT.match(query, pos) if after_dot else None
    if segment:
        return Token("ident", segment.group(), segment.group(), pos, segment.end())
    if char in "'\"`":
        text, end = _read_quoted(query, pos)
        return Token("ident" if char == "`" else "string", query[pos:end], text, pos, end)
    word = _IDENT.match(query, pos)
    if word:
        upper = word.group().upper()
        kind = "keyword" if upper in KEYWORDS else "ident"
        return Token(kind, upper if kind == "keyword" else word.group(), word.group(), pos,
                     word.end())
    if char.isascii() and char.isdigit():
        return _number(query, pos)
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
            tokens.append(Token("end", "", None, pos, pos))
            return tokens
        after_dot = bool(tokens) and tokens[-1].kind == "punct" and tokens[-1].text == "."
        tokens.append(_next_token(query, pos, after_dot))
        pos = tokens[-1].end


# -- syntax tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    parts: tuple[Token, ...]  # identifier tokens of a dotted path

    @property
    def text(self) -> str:
        return ".".join(p.value for p in self.parts)


@dataclass(frozen=True)
class Literal:
    pos: int
    kind: str  # string, number, bool, name (a bare identifier: an enum value)
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

    def accept(self, kind: str, text: str) -> Token | None:
        token = self.peek()
        return self.advance() if (token.kind, token.text) == (kind, text) else None

    def parse(self) -> Expr:
        expr = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, f"expected AND, OR or the end of the query, found "
                             f"{token.describe()}")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.accept("keyword", "OR"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.accept("keyword", "AND"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def not_expr(self) -> Expr:
        token = self.peek()
        if (token.kind, token.text) not in (("keyword", "NOT"), ("punct", "(")):
            return self.predicate()
        self.advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(token, f"the query nests more than {MAX_DEPTH} levels of "
                             "parentheses and NOT")
        if token.text == "NOT":
            expr: Expr = Not(self.not_expr())
        else:
            expr = self.or_expr()
            if not self.accept("punct", ")"):
                raise self.error(self.peek(), f"expected ')' to close the '(' at position "
                                 f"{token.pos}, found {self.peek().describe()}")
        self.depth -= 1
        return expr

    def predicate(self) -> Predicate:
        field = self.field()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(field.parts[0], f"the query has more than {MAX_CONDITIONS} "
                             "conditions (use IN lists)")
        token = self.advance()
        if token.kind == "op":
            return Predicate(field, token.text, token.pos, (self.value(token),))
        if token.kind == "keyword" and token.text in ("LIKE", "IN", "IS", "NOT"):
            return self.keyword_predicate(field, token)
        raise self.error(token, f"expected an operator (=, !=, <, >, <=, >=, LIKE, IN, IS) "
                         f"after {field.text!r}, found {token.describe()}")

    def keyword_predicate(self, field: Field, token: Token) -> Predicate:
        op = token.text
        if op == "IS":
            negated = self.accept("keyword", "NOT")
            if not self.accept("keyword", "NULL"):
                raise self.error(self.peek(), f"expected NULL or NOT NULL after IS, found "
                                 f"{self.peek().describe()}")
            return Predicate(field, "IS NOT NULL" if negated else "IS NULL", token.pos, ())
        if op == "NOT":
            following = self.advance()
            if following.kind != "keyword" or following.text not in ("LIKE", "IN"):
                raise self.error(following, f"expected LIKE or IN after NOT, found "
                                 f"{following.describe()}")
            op = "NOT " + following.text
        if op.endswith("IN"):
            return Predicate(field, op, token.pos, self.value_list(token))
        return Predicate(field, op, token.pos, (self.value(token),))

    def field(self) -> Field:
        token = self.advance()
        if token.kind != "ident":
            raise self.error(token, "expected a field such as name, id or "
                             f"properties.<name>.string_value, found {token.describe()}")
        parts = [token]
        while self.accept("punct", "."):
            part = self.advance()
            if part.kind != "ident":
                raise self.error(part, f"expected a name after '.', found {part.describe()}")
            parts.append(part)
        return Field(tuple(parts))

    def value_list(self, op: Token) -> tuple[Literal, ...]:
        if not self.accept("punct", "("):
            raise self.error(self.peek(), f"expected '(' after IN, as in IN ('a', 'b'), "
                             f"found {self.peek().describe()}")
        if self.peek().text == ")" and self.peek().kind == "punct":
            raise self.error(self.peek(), "IN needs at least one value")
        values = [self.value(op)]
        while self.accept("punct", ","):
            values.append(self.value(op))
        if not self.accept("punct", ")"):
            raise self.error(self.peek(), f"expected ',' or ')' in the IN list, found "
                             f"{self.peek().describe()}")
        return tuple(values)

    def value(self, after: Token) -> Literal:
        self.values += 1
        token = self.advance()
        if self.values > MAX_VALUES:
            raise self.error(token, f"the query has more than {MAX_VALUES} values")
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
        raise self.error(token, f"expected a value after {after.text!r}, found "
                         f"{token.describe()}")


def parse(query: str) -> Expr:
    """The syntax tree of ``query``; raises InvalidArgumentError on syntax errors."""
    return _Parser(query).parse()


# -- compiler -------------------------------------------------------------------------

ValueType = Union[str, type[enum.IntEnum]]  # int, double, string, bool or an enum class

_COMMON: dict[str, ValueType] = {
    "id": "int", "type_id": "int", "name": "string", "external_id": "string",
    "create_time_since_epoch": "int", "last_update_time_since_epoch": "int"}
# field name -> (column, value type); "type" (the type's name) is handled by a join
_ATTRIBUTES: dict[str, dict[str, tuple[str, ValueType]]] = {
    "artifact": {**{k: (k, t) for k, t in _COMMON.items()}, "uri": ("uri", "string"),
                 "state": ("state", ArtifactState)},
    "execution": {**{k: (k, t) for k, t in _COMMON.items()},
                  "last_known_state": ("last_known_state", ExecutionState),
                  "state": ("last_known_state", ExecutionState)},
    "context": {k: (k, t) for k, t in _COMMON.items()},
}
_EVENT_ATTRIBUTES: dict[str, tuple[str, ValueType]] = {
    "type": ("type", EventType), "milliseconds_since_epoch": ("milliseconds_since_epoch", "int")}
_VALUE_COLUMNS: dict[str, ValueType] = {
    "int_value": "int", "double_value": "double", "string_value": "string", "bool_value": "bool"}


@dataclass(frozen=True)
class _Link:
    table: Table  # the link table
    own: str  # its column holding the filtered node's id
    other: str | None  # its column holding the neighbour's id (None: the row is the neighbour)
    kind: str  # the neighbour's kind: artifact, execution, context or event


_NEIGHBOURS: dict[str, dict[str, _Link]] = {
    "artifact": {"contexts": _Link(attributions, "artifact_id", "context_id", "context"),
                 "events": _Link(events, "artifact_id", None, "event")},
    "execution": {"contexts": _Link(associations, "execution_id", "context_id", "context"),
                  "events": _Link(events, "execution_id", None, "event")},
    "context": {
        "parent_contexts": _Link(parent_contexts, "context_id", "parent_context_id", "context"),
        "child_contexts": _Link(parent_contexts, "parent_context_id", "context_id", "context"),
        "artifacts": _Link(attributions, "context_id", "artifact_id", "artifact"),
        "executions": _Link(associations, "context_id", "execution_id", "execution")},
}
_NEIGHBOUR = re.compile(r"(parent_contexts|child_contexts|contexts|artifacts|executions|events)"
                        r"_([a-z0-9_]+)")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
    "<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class _Typed:
    column: Any  # a column of one of the joined tables
    type: ValueType


def _describe(value_type: ValueType) -> str:
    if isinstance(value_type, str):
        return {"int": "an integer", "double": "a double", "string": "a string",
                "bool": "a boolean"}[value_type]
    return f"an enum ({', '.join(value_type.__members__)})"


class _Compiler:
    """Turns one syntax tree into a condition over joined tables, adding joins lazily."""

    def __init__(self, query: str, kind: str) -> None:
        self.query, self.kind = query, kind
        self.node = NODE_TABLES[kind].alias()
        self.joined: FromClause = self.node
        self.tables = 1
        self.owners: dict[str, Any] = {"": self.node}  # neighbour alias -> its table
        self.type_tables: dict[str, Any] = {}
        self.property_tables: dict[tuple[str, bool, str], Any] = {}

    def error(self, pos: int, message: str) -> InvalidArgumentError:
        return _error(self.query, pos, message)

    # -- joins
    def join(self, table: Any, onclause: Any, token: Token, outer: bool = False) -> None:
        self.tables += 1
        if self.tables > MAX_JOINED_TABLES:
            raise self.error(token.pos, "the query joins too many neighbours and properties")
        self.joined = self.joined.join(table, onclause, isouter=outer)

    def neighbour(self, key: str, link: _Link, token: Token) -> Any:
        if key not in self.owners:
            through = link.table.alias()
            self.join(through, through.c[link.own] == self.node.c.id, token)
            self.owners[key] = through
            if link.other is not None:
                other = NODE_TABLES[link.kind].alias()
                self.join(other, other.c.id == through.c[link.other], token)
                self.owners[key] = other
        return self.owners[key]

    def type_table(self, key: str, token: Token) -> Any:
        if key not in self.type_tables:
            table = types.alias()
            self.join(table, table.c.id == self.owners[key].c.type_id, token)
            self.type_tables[key] = table
        return self.type_tables[key]

    def property_table(self, kind: str, key: str, custom: bool, name: str, token: Token) -> Any:
        if (key, custom, name) not in self.property_tables:
            table = PROPERTY_TABLES[kind].alias()
            self.join(table, and_(table.c[f"{kind}_id"] == self.owners[key].c.id,
                                  table.c.name == name, table.c.is_custom_property == custom),
                      token, outer=True)
            self.property_tables[key, custom, name] = table
        return self.property_tables[key, custom, name]

    # -- fields
    def resolve(self, field: Field) -> _Typed:
        head = field.parts[0]
        match = _NEIGHBOUR.fullmatch(head.value.lower())
        if not match:
            return self.attribute(self.kind, "", field.parts)
        link = _NEIGHBOURS[self.kind].get(match.group(1))
        if link is None:
            allowed = " or ".join(f"{p}_<alias>" for p in _NEIGHBOURS[self.kind])
            raise self.error(head.pos, f"{match.group(1)}_<alias> cannot be used when "
                             f"filtering {self.kind}s; use {allowed}")
        if len(field.parts) == 1:
            raise self.error(head.end, f"{head.value!r} needs a field, as in "
                             f"{head.value}.{'type' if link.kind == 'event' else 'name'}")
        key = head.value.lower()
        self.neighbour(key, link, head)
        return self.attribute(link.kind, key, field.parts[1:])

    def attribute(self, kind: str, key: str, parts: tuple[Token, ...]) -> _Typed:
        first = parts[0]
        name = first.value.lower()
        if kind != "event" and name in ("properties", "custom_properties"):
            return self.property(kind, key, parts)
        if len(parts) > 1:
            raise self.error(parts[1].pos, f"{first.value!r} has no field {parts[1].value!r}")
        if kind != "event" and name == "type":
            return _Typed(self.type_table(key, first).c.name, "string")
        attributes = _ATTRIBUTES.get(kind) or self.event_attributes()
        if name not in attributes:
            where = f"{kind}s" if not key else f"{key} ({kind}s)"
            expected = ", ".join(["type", *attributes] if kind != "event" else attributes)
            extra = "" if kind == "event" else ", properties.<name>.<kind>, custom_properties..."
            raise self.error(first.pos, f"unknown field {first.value!r} for {where}; "
                             f"expected one of {expected}{extra}")
        column, value_type = attributes[name]
        return _Typed(self.owners[key].c[column], value_type)

    def event_attributes(self) -> dict[str, tuple[str, ValueType]]:
        other = "execution_id" if self.kind == "artifact" else "artifact_id"
        return {**_EVENT_ATTRIBUTES, other: (other, "int")}

    def property(self, kind: str, key: str, parts: tuple[Token, ...]) -> _Typed:
        if len(parts) < 3:
            raise self.error(parts[-1].end, f"{'.'.join(p.value for p in parts)!r} needs a "
                             "property name and a value kind, as in "
                             f"{parts[0].value}.<name>.string_value")
        if len(parts) > 3:
            raise self.error(parts[3].pos, f"unexpected {parts[3].value!r} after the value kind")
        value_kind = parts[2].value.lower()
        if value_kind not in _VALUE_COLUMNS:
            raise self.error(parts[2].pos, f"unknown property value kind {parts[2].value!r}; "
                             "expected int_value, double_value, string_value or bool_value")
        custom = parts[0].value.lower() == "custom_properties"
        table = self.property_table(kind, key, custom, parts[1].value, parts[1])
        return _Typed(table.c[value_kind], _VALUE_COLUMNS[value_kind])

    # -- conditions
    def compile(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, BoolOp):
            items = [self.compile(item) for item in expr.items]
            return and_(*items) if expr.op == "AND" else or_(*items)
        if isinstance(expr, Not):
            return not_(self.compile(expr.item))
        return self.predicate(expr)

    def predicate(self, pred: Predicate) -> ColumnElement[bool]:
        typed = self.resolve(pred.field)
        field, op = pred.field.text, pred.op
        if "LIKE" in op and typed.type != "string":
            raise self.error(pred.op_pos, f"LIKE needs a string field; {field} is "
                             f"{_describe(typed.type)}")
        if op in ("<", ">", "<=", ">=") and typed.type not in ("int", "double", "string"):
            raise self.error(pred.op_pos, f"{op!r} cannot order {_describe(typed.type)} field "
                             f"({field}); use = or !=")
        values = [self.value(typed.type, field, value) for value in pred.values]
        column = typed.column
        if op in ("IS NULL", "IS NOT NULL"):
            return column.is_(None) if op == "IS NULL" else column.is_not(None)
        if op in ("IN", "NOT IN"):
            return column.in_(values) if op == "IN" else column.not_in(values)
        if op in ("LIKE", "NOT LIKE"):
            return column.like(values[0]) if op == "LIKE" else column.not_like(values[0])
        return _COMPARE[op](column, values[0])

    def value(self, value_type: ValueType, field: str, literal: Literal) -> Any:
        if not isinstance(value_type, str):
            member = value_type.__members__.get(str(literal.value).upper())
            if literal.kind != "name":
                raise self.error(literal.pos, f"{field} takes a bare enum name such as "
                                 f"{next(iter(value_type.__members__))}, not {literal.text}")
            if member is None:
                raise self.error(literal.pos, f"unknown {field} value {literal.text!r}; "
                                 f"expected one of {', '.join(value_type.__members__)}")
            return int(member)
        wanted = {"int": "number", "double": "number", "string": "string", "bool": "bool"}
        if literal.kind != wanted[value_type]:
            hint = {"number": "a number", "string": "a quoted string, as in 'abc'",
                    "bool": "TRUE or FALSE"}[wanted[value_type]]
            found = f"the bare name {literal.text!r}" if literal.kind == "name" else literal.text
            raise self.error(literal.pos, f"{field} is {_describe(value_type)}; compare it "
                             f"with {hint}, not {found}")
        return literal.value


def compile_filter(query: str, kind: str) -> ColumnElement[bool]:
    """A where-clause over ``NODE_TABLES[kind]`` selecting the nodes ``query`` matches.

    ``kind`` is "artifact", "execution" or "context". An empty (or blank) query
    matches every node, as an unset MLMD filter does. Raises InvalidArgumentError,
    quoting the query at the fault, for any syntax or semantic error.
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
    """``text`` as a filter_query string literal (single quotes, ' and \\ escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


__all__ = ["KEYWORDS", "BoolOp", "Expr", "Field", "Literal", "Not", "Predicate", "Token",
           "compile_filter", "parse", "quote_string", "tokenize"]
