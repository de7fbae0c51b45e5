"""MLflow's run-search language, parsed: this module owns turning a ``search_runs``
``filter_string`` into a small tree of frozen dataclasses (``Comparison``, ``And``,
``Or``, ``Not``) and ``order_by`` clauses into ``OrderBy`` records, with MLflow's
identifiers, aliases and type rules checked on the way (metrics and numeric attributes
compare with numbers; params, tags, string attributes and datasets with quoted strings),
plus OR, NOT and parentheses beyond MLflow; it holds no database code, and every
malformed input raises ``SearchSyntaxError`` quoting the position at fault.
``push_negations`` rewrites a tree so that every NOT is on a comparison.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias, Union

from ..errors import InvalidParameterError

__all__ = ["And", "Comparison", "Node", "Not", "Or", "OrderBy", "SearchSyntaxError",
           "parse_filter", "parse_order_by", "push_negations"]

MAX_LENGTH = 100_000  # characters in a filter or an order_by clause
MAX_DEPTH = 200  # nested parentheses and NOTs

ENTITIES = ("metrics", "params", "tags", "attributes", "datasets")
_ENTITY_NAMES = {"metric": "metrics", "metrics": "metrics", "param": "params",
                 "params": "params", "parameter": "params", "parameters": "params",
                 "tag": "tags", "tags": "tags", "attribute": "attributes",
                 "attributes": "attributes", "attr": "attributes", "run": "attributes",
                 "dataset": "datasets", "datasets": "datasets"}
STRING_ATTRIBUTES = ("run_id", "run_name", "status", "user_id", "artifact_uri",
                     "lifecycle_stage", "experiment_id")
NUMERIC_ATTRIBUTES = ("start_time", "end_time", "duration")  # duration: flowtrack's, in ms
_ATTRIBUTE_ALIASES = {"created": "start_time", "run name": "run_name"}
DATASET_KEYS = ("name", "digest", "context")

_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_NULL_OPS = ("IS NULL", "IS NOT NULL")
_FILTER_EXAMPLE = "metrics.acc > 0.9 AND params.model = 'cnn'"
_ORDER_BY_EXAMPLE = "metrics.acc DESC"


# -- public types ---------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    entity: str  # one of ENTITIES
    key: str  # as written for metrics, params and tags; canonical for attributes, datasets
    op: str  # = != < <= > >= LIKE ILIKE IN, NOT IN, IS NULL, IS NOT NULL
    value: str | float | tuple[str, ...] | None  # None for IS [NOT] NULL


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]  # two or more, none of them an And


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]  # two or more, none of them an Or


@dataclass(frozen=True)
class Not:
    part: Node


Node: TypeAlias = Union[Comparison, And, Or, Not]


@dataclass(frozen=True)
class OrderBy:
    entity: str  # metrics, params, tags or attributes
    key: str
    ascending: bool


class SearchSyntaxError(InvalidParameterError, ValueError):
    """A filter or order_by clause that does not parse or breaks a type rule; ``str(err)``
    gives the problem, the 0-based ``position`` in ``text`` with a caret under an excerpt,
    and an example of a valid expression."""

    headline = "Search syntax error"

    def __init__(self, message: str, *, text: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message)
        self.text, self.position = text, position


# -- source text and errors -----------------------------------------------------------


def _clip(text: str, width: int = 40) -> str:
    """``text`` shortened, with unprintable characters blanked, for a message."""
    text = text if len(text) <= width else text[:width - 3] + "..."
    return "".join(c if c.isprintable() else " " for c in text)


@dataclass(frozen=True)
class _Source:
    text: str
    what: str  # "search filter" or "order_by clause"
    example: str

    def error(self, pos: int, problem: str, example: str | None = None) -> SearchSyntaxError:
        """An error at ``pos`` quoting the text around it with a caret under it."""
        start = max(0, min(pos - 30, len(self.text) - 60))
        prefix = "..." if start > 0 else ""
        suffix = "..." if start + 60 < len(self.text) else ""
        caret = " " * (len(prefix) + pos - start)
        excerpt = (f":\n    {prefix}{_clip(self.text[start:start + 60], 60)}{suffix}\n"
                   f"    {caret}^\n") if self.text.strip() else ".\n"
        return SearchSyntaxError(
            f"Invalid {self.what} at position {pos}: {problem}{excerpt}"
            f"A valid {self.what} looks like: {example or self.example}",
            text=self.text, position=pos)


# -- tokens ---------------------------------------------------------------------------

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL"})
_NON_SPACE = re.compile(r"\S")
_WORD = re.compile(r"[^\W\d][\w.\-/:]*")  # a keyword, a bare name or entity.key
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, keyword, string, number, op, punct, end
    text: str  # as written (keywords upper-cased)
    pos: int
    end: int
    value: str | float = ""  # a string's or a quoted name's content, a number, a key
    prefix: str | None = None  # an ident's entity as written; None for a bare name
    quoted: bool = False  # an ident whose key was quoted


def _read_quoted(src: _Source, start: int, what: str) -> tuple[str, int]:
    """The content of the quoted text at ``start`` (a doubled quote is one) and its end."""
    text, quote, parts, i = src.text, src.text[start], [], start + 1
    while True:
        close = text.find(quote, i)
        if close < 0:
            raise src.error(start, f"unterminated {what} (no closing {quote})")
        parts.append(text[i:close])
        if not text.startswith(quote, close + 1):
            return "".join(parts), close + 1
        parts.append(quote)
        i = close + 2


def _word_token(src: _Source, pos: int, end: int) -> _Token:
    raw = src.text[pos:end]
    if "." not in raw:
        if raw.upper() in _KEYWORDS:
            return _Token("keyword", raw.upper(), pos, end)
        return _Token("ident", raw, pos, end, raw)
    prefix, key = raw.split(".", 1)
    if not key and src.text[end:end + 1] in ("`", '"'):
        key, end = _read_quoted(src, end, "quoted name")
        return _Token("ident", src.text[pos:end], pos, end, key, prefix, True)
    return _Token("ident", raw, pos, end, key, prefix)


def _next_token(src: _Source, pos: int) -> _Token:
    text, char = src.text, src.text[pos]
    if char in "'\"":
        value, end = _read_quoted(src, pos, "string")
        return _Token("string", text[pos:end], pos, end, value)
    if char == "`":
        name, end = _read_quoted(src, pos, "back-quoted name")
        return _Token("ident", text[pos:end], pos, end, name, None, True)
    word = _WORD.match(text, pos)
    if word:
        return _word_token(src, pos, word.end())
    number = _NUMBER.match(text, pos)
    if number:
        end = number.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_."):
            raise src.error(pos, "malformed number")
        amount = float(number.group())
        if not math.isfinite(amount):
            raise src.error(pos, "number out of range")
        return _Token("number", number.group(), pos, end, amount)
    if text.startswith("==", pos):
        raise src.error(pos, "'==' is not an operator; compare with '='")
    if text.startswith("<>", pos):
        raise src.error(pos, "'<>' is not an operator; compare with '!='")
    for op in _OPERATORS:
        if text.startswith(op, pos):
            return _Token("op", op, pos, pos + len(op))
    if char in "(),":
        return _Token("punct", char, pos, pos + 1)
    raise src.error(pos, f"unexpected character {char!r}")


def _tokenize(src: _Source) -> list[_Token]:
    """The tokens of ``src.text``, ending with an ``end`` token."""
    if len(src.text) > MAX_LENGTH:
        raise src.error(MAX_LENGTH, f"the {src.what} is longer than {MAX_LENGTH} characters")
    bad = _BAD_TEXT.search(src.text)
    if bad:
        raise src.error(bad.start(), "NUL characters and lone surrogates are not allowed")
    tokens: list[_Token] = []
    pos = 0
    while True:
        start = _NON_SPACE.search(src.text, pos)
        if start is None:
            return [*tokens, _Token("end", "", len(src.text), len(src.text))]
        tokens.append(_next_token(src, start.start()))
        pos = tokens[-1].end


# -- parser ---------------------------------------------------------------------------
#
#   filter     := or_expr
#   or_expr    := and_expr (OR and_expr)*
#   and_expr   := unary (AND unary)*
#   unary      := NOT unary | "(" or_expr ")" | comparison
#   comparison := ident ( op value | [NOT] IN "(" string ("," string)* ")" | (LIKE | ILIKE)
#                         string | IS [NOT] NULL )
#   order_by   := ident [ASC | DESC]
#   ident      := entity "." (key | `key` | "key") | bare_attribute | `bare attribute`


def _rule(entity: str, key: str) -> tuple[bool, tuple[str, ...], str]:
    """Whether ``entity.key`` takes numbers, its operators and an example comparison."""
    if entity == "metrics":
        return True, _NUMERIC_OPS, "metrics.acc > 0.9"
    if entity in ("params", "tags"):
        example = "params.model = 'cnn'" if entity == "params" else "tags.mlflow.user = 'alice'"
        return False, _STRING_OPS + _NULL_OPS, example
    if entity == "attributes" and key in NUMERIC_ATTRIBUTES:
        return True, _NUMERIC_OPS, f"attributes.{key} >= 1700000000000"
    if entity == "attributes":
        return False, _STRING_OPS, "attributes.status = 'FINISHED'"
    return False, _STRING_OPS, "datasets.name IN ('mnist', 'cifar10')"


def _flatten(kind: type[And] | type[Or], parts: list[Node]) -> Node:
    """``parts`` joined by ``kind``, splicing in the parts of any nested ``kind``."""
    if len(parts) == 1:
        return parts[0]
    return kind(tuple(q for p in parts for q in (p.parts if isinstance(p, kind) else (p,))))


class _Parser:
    def __init__(self, src: _Source) -> None:
        self.src = src
        self.tokens = _tokenize(src)
        self.i = self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: str, text: str) -> bool:
        found = (self.peek().kind, self.peek().text) == (kind, text)
        if found:
            self.advance()
        return found

    def describe(self, token: _Token) -> str:
        if token.kind == "end":
            return f"the end of the {self.src.what}"
        return f"the {token.kind} {_clip(token.text)}" if token.kind in (
            "string", "number") else repr(_clip(token.text))

    def fail(self, token: _Token, problem: str, example: str | None = None) -> SearchSyntaxError:
        return self.src.error(token.pos, problem, example)

    def expected(self, what: str, example: str | None = None) -> SearchSyntaxError:
        return self.fail(self.peek(), f"expected {what}, found {self.describe(self.peek())}",
                         example)

    def filter(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.expected("AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.accept("keyword", "OR"):
            parts.append(self.and_expr())
        return _flatten(Or, parts)

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while self.accept("keyword", "AND"):
            parts.append(self.unary())
        return _flatten(And, parts)

    def unary(self) -> Node:
        token = self.peek()
        if (token.kind, token.text) not in (("keyword", "NOT"), ("punct", "(")):
            return self.comparison()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(token, f"more than {MAX_DEPTH} nested parentheses and NOTs")
        self.advance()
        node: Node
        if token.text == "NOT":
            node = Not(self.unary())
        else:
            node = self.or_expr()
            if not self.accept("punct", ")"):
                raise self.expected(f"')' to close the '(' at position {token.pos}")
        self.depth -= 1
        return node

    def identifier(self) -> tuple[_Token, str, str]:
        """The next token, an identifier, with its canonical entity and key."""
        token = self.advance()
        if token.kind != "ident":
            raise self.fail(token, "expected an identifier such as metrics.acc, params.model "
                            f"or attributes.status, found {self.describe(token)}")
        key = str(token.value)
        if token.prefix is None:
            entity = "attributes"
        elif token.prefix.lower() in _ENTITY_NAMES:
            entity = _ENTITY_NAMES[token.prefix.lower()]
        else:
            raise self.fail(token, f"unknown entity {_clip(token.prefix)!r} (identifiers start "
                            "with metrics., params., tags., attributes. or datasets.)")
        if not key:
            raise self.fail(token, f"missing key after {_clip(f'{token.prefix}.')!r} (quote "
                            "keys with spaces, as in metrics.`f1 score`)")
        if entity == "attributes":
            name = _ATTRIBUTE_ALIASES.get(key.lower(), key.lower())
            if name not in STRING_ATTRIBUTES + NUMERIC_ATTRIBUTES:
                unknown = "attribute" if token.prefix else "identifier"
                raise self.fail(token, f"unknown {unknown} {_clip(key)!r} (attributes are "
                                f"{', '.join(STRING_ATTRIBUTES + NUMERIC_ATTRIBUTES)}; "
                                "other names need a prefix: metrics., params., tags., "
                                "datasets.)")
            key = name
        elif entity == "datasets":
            if key.lower() not in DATASET_KEYS:
                raise self.fail(token, f"unknown dataset key {_clip(key)!r} (dataset keys "
                                f"are {', '.join(DATASET_KEYS)})",
                                "datasets.name = 'mnist'")
            key = key.lower()
        return token, entity, key

    def operator(self, ident: _Token) -> str:
        token = self.advance()
        keyword = token.text if token.kind == "keyword" else ""
        if token.kind == "op" or keyword in ("LIKE", "ILIKE", "IN"):
            return token.text
        if keyword == "NOT" and self.accept("keyword", "IN"):
            return "NOT IN"
        if keyword == "NOT":
            raise self.fail(token, "NOT after an identifier can only start NOT IN; to negate "
                            "a comparison put NOT before it", "NOT params.model LIKE 'cnn%'")
        if keyword == "IS":
            negated = self.accept("keyword", "NOT")
            if not self.accept("keyword", "NULL"):
                raise self.expected("NULL after IS" + (" NOT" if negated else ""),
                                    "tags.note IS NULL")
            return "IS NOT NULL" if negated else "IS NULL"
        raise self.fail(token, "expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, "
                        f"NOT IN, IS NULL, IS NOT NULL) after {_clip(ident.text)!r}, found "
                        f"{self.describe(token)}")

    def comparison(self) -> Comparison:
        ident, entity, key = self.identifier()
        op_token = self.peek()
        op = self.operator(ident)
        numeric, allowed, example = _rule(entity, key)
        name = _clip(f"{entity}.{key}")
        if op not in allowed:
            raise self.fail(op_token, f"{op} cannot be used with {name}, which takes only "
                            f"{', '.join(allowed)}", example)
        if op in _NULL_OPS:
            return Comparison(entity, key, op, None)
        if op in ("IN", "NOT IN"):
            return Comparison(entity, key, op, self.string_list(example))
        token = self.advance()
        wanted = "number" if numeric else "string"
        if token.kind == wanted:
            return Comparison(entity, key, op, token.value)
        hint = (" (compare with NULL using IS NULL or IS NOT NULL)" if token.text == "NULL"
                else " (write numbers without quotes)" if numeric else " (quote strings: 'v')")
        raise self.fail(token, f"{name} compares with {'numbers' if numeric else 'strings'}, "
                        f"but after {op} found {self.describe(token)}{hint}", example)

    def string_list(self, example: str) -> tuple[str, ...]:
        if not self.accept("punct", "("):
            raise self.expected("'(' and a list of strings after IN", example)
        values: list[str] = []
        while True:
            token = self.advance()
            if token.kind != "string":
                raise self.fail(token, "expected a quoted string in the IN list, found "
                                f"{self.describe(token)}", example)
            values.append(str(token.value))
            if self.accept("punct", ")"):
                return tuple(values)
            if not self.accept("punct", ","):
                raise self.expected("',' or ')' in the IN list", example)

    def order_by(self) -> OrderBy:
        if self.peek().kind == "end":
            raise self.expected("a column to order by")
        token, entity, key = self.identifier()
        if entity == "datasets":
            raise self.fail(token, "runs cannot be ordered by datasets (order by metrics, "
                            "params, tags or attributes)")
        ascending, direction = True, self.peek()
        if direction.kind == "ident" and direction.prefix is None and not direction.quoted \
                and direction.text.upper() in ("ASC", "DESC"):
            ascending = direction.text.upper() == "ASC"
            self.advance()
        if self.peek().kind != "end":
            raise self.expected("ASC, DESC or the end of the clause")
        return OrderBy(entity, key, ascending)


def parse_filter(text: str) -> Node | None:
    """The syntax tree of a ``search_runs`` filter string; None when it is blank.

    Raises SearchSyntaxError for anything malformed (never another exception).
    """
    if not isinstance(text, str):
        raise SearchSyntaxError(f"A search filter must be a string, not {type(text).__name__}; "
                                f"for example: {_FILTER_EXAMPLE}")
    if not text.strip():
        return None
    src = _Source(text, "search filter", _FILTER_EXAMPLE)
    try:
        return _Parser(src).filter()
    except RecursionError:  # MAX_DEPTH keeps well inside the limit; belt and braces
        raise src.error(0, "the filter is nested too deeply") from None


def parse_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """The ``order_by`` clauses (``"metrics.acc DESC"``, ``"start_time"``...), parsed.

    A bare attribute name means ``attributes.<name>``; the default is ascending.
    Raises SearchSyntaxError for anything malformed.
    """
    if isinstance(clauses, str) or not isinstance(clauses, Sequence):
        raise SearchSyntaxError("order_by must be a list of clauses such as "
                                f"['{_ORDER_BY_EXAMPLE}'], not {type(clauses).__name__}")
    parsed = []
    for index, clause in enumerate(clauses):
        if not isinstance(clause, str):
            raise SearchSyntaxError(f"order_by clause #{index} must be a string such as "
                                    f"'{_ORDER_BY_EXAMPLE}', not {type(clause).__name__}")
        parsed.append(_Parser(_Source(clause, "order_by clause", _ORDER_BY_EXAMPLE)).order_by())
    return parsed


_NEGATED_NULL_TESTS = {"IS NULL": "IS NOT NULL", "IS NOT NULL": "IS NULL"}


def push_negations(node: Node, negate: bool = False) -> Node:
    """``node`` (negated when ``negate``) with every NOT moved down onto a comparison.

    De Morgan's laws hold in SQL's three-valued logic too (NOT (a AND b) is NOT a OR
    NOT b, whatever is unknown), so the rewrite selects the same runs. A negated
    IS [NOT] NULL becomes the other test (neither is ever unknown); other comparisons
    keep their NOT, so a run without the value matches neither ``x = 1`` nor
    ``NOT x = 1``. Groups of one kind that meet are merged, as the parser does.
    """
    if isinstance(node, Not):
        return push_negations(node.part, not negate)
    if isinstance(node, (And, Or)):
        kind: type[And] | type[Or] = type(node)
        if negate:
            kind = Or if kind is And else And
        return _flatten(kind, [push_negations(p, negate) for p in node.parts])
    if not negate:
        return node
    if node.op in _NEGATED_NULL_TESTS:
        return Comparison(node.entity, node.key, _NEGATED_NULL_TESTS[node.op], None)
    return Not(node)
