"""MLflow's clause-list search language, as its registry and its traces use it: parsing
a ``filter`` (clauses joined by AND) and ``order_by`` against a ``Grammar`` and applying
them to records in memory (a registry or an experiment's traces hold thousands of
records, not millions).

For the registry (``search_registered_models`` / ``search_model_versions``) the grammar
is MLflow's, checked the way its SQL store checks it:

* clauses joined by ``AND`` (``OR`` is refused);
* registered models: ``name`` with ``= != LIKE ILIKE IN NOT IN``;
* model versions: ``name`` and ``run_id`` with those, ``source_path`` with
  ``= != LIKE ILIKE``, ``version_number`` with ``= != < <= > >=``;
* ``tags.<key>`` / ``tag.<key>`` (the key bare, in backticks or quoted) with
  ``= != LIKE ILIKE``; a model without the tag never matches a clause on it;
* ``LIKE`` is case-sensitive, ``ILIKE`` not; ``%`` and ``_`` are the wildcards.

Prompts are registered models tagged ``mlflow.prompt.is_prompt = 'true'``; a search
leaves them out unless the filter asks for them (``= 'true'`` or ``!= 'false'`` on that
tag), and any other clause on that tag only means "not prompts", as in MLflow.

Where MLflow's server answers a 500 for a client's mistake (the same ``order_by``
field twice, ``IS NULL``), this module raises ``InvalidParameterError`` (a 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..errors import InvalidParameterError

PROMPT_TAG = "mlflow.prompt.is_prompt"
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Clause:
    kind: str  # "attribute" or "tag"
    key: str  # canonical attribute name, or the tag key
    op: str
    value: str | int | tuple[str, ...]


@dataclass(frozen=True)
class Grammar:
    """What one kind of record can be searched and ordered by."""

    what: str
    string_attributes: dict[str, tuple[str, ...]]  # attribute -> its comparators
    numeric_attributes: tuple[str, ...]
    aliases: dict[str, str]  # other names of attributes
    order_keys: dict[str, str]  # order_by key -> the field it sorts on
    default_order: tuple[tuple[str, bool], ...]  # (field, ascending), after the user's
    tie_breakers: tuple[tuple[str, bool], ...]
    # prefixes of keyed values (``tags.k``) -> the kind of value they name
    keyed: dict[str, str] = field(default_factory=lambda: {"tag": "tag", "tags": "tag"})
    attribute_prefixes: tuple[str, ...] = ("attribute",)
    null_tests: bool = False  # IS NULL / IS NOT NULL on keyed values
    order_key_word: str = "order by"  # how MLflow's message names a bad order_by key


REGISTERED_MODELS = Grammar(
    "registered model", {"name": _STRING_OPS}, (), {},
    {"name": "name", "timestamp": "last_updated_timestamp",
     "last_updated_timestamp": "last_updated_timestamp"},
    (), (("name", True),))

MODEL_VERSIONS = Grammar(
    "model version",
    {"name": _STRING_OPS, "run_id": _STRING_OPS, "source_path": _TAG_OPS},
    ("version_number",), {"source": "source_path", "version": "version_number"},
    {"name": "name", "version_number": "version_number",
     "creation_timestamp": "creation_timestamp",
     "last_updated_timestamp": "last_updated_timestamp"},
    (("last_updated_timestamp", False),), (("name", True), ("version_number", False)),
    order_key_word="attribute")


# -- parsing --------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<list>\((?:[^()'"]|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")*\))
  | (?P<number>[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<ident>(?:[A-Za-z_][\w]*\.)?(?:`[^`]*`|'[^']*'|"[^"]*"|[A-Za-z_][\w.\-]*))
""", re.VERBOSE)
_WORD_OPS = {"LIKE", "ILIKE", "IN", "NOT", "IS", "NULL"}


def _tokens(text: str) -> list[tuple[str, str]]:
    found, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise InvalidParameterError(
                f"Error on parsing filter {text!r}: unexpected {text[pos:pos + 20]!r} at "
                f"character {pos}. Write clauses like \"name = 'model'\" joined by AND.")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append((kind, match.group()))
        pos = match.end()
    return found


def _split_clauses(text: str, tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    clauses: list[list[tuple[str, str]]] = [[]]
    for kind, value in tokens:
        if kind == "ident" and value.upper() == "AND":
            clauses.append([])
        elif kind == "ident" and value.upper() == "OR":
            raise InvalidParameterError(f"Invalid clause(s) in filter string: OR. The "
                                        f"registry's search joins clauses with AND only: {text!r}")
        else:
            clauses[-1].append((kind, value))
    if any(not c for c in clauses):
        raise InvalidParameterError(f"Invalid filter {text!r}. Could not be parsed: an AND "
                                    "needs a clause on each side.")
    return clauses


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        quote = text[0]
        inner = text[1:-1].replace(quote * 2, quote)
        return re.sub(r"\\(.)", r"\1", inner) if quote != "`" else inner
    return text


def _identifier(grammar: Grammar, raw: str) -> tuple[str, str]:
    """(kind, key) of an identifier as written: ``name``, ``attribute.name``,
    ``tags.k``, ``tag.`k```."""
    prefix, dot, rest = raw.partition(".")
    if dot and prefix.lower() in grammar.keyed:
        return grammar.keyed[prefix.lower()], _unquote(rest)
    if dot and prefix.lower() in grammar.attribute_prefixes:
        key = rest
    elif dot and raw[0] not in "`'\"":
        entities = tuple(grammar.attribute_prefixes) + tuple(grammar.keyed)
        raise InvalidParameterError(f"Invalid entity type '{prefix}'. Valid entity types are "
                                    f"{entities}")
    else:
        key = raw
    key = grammar.aliases.get(key, key)
    valid = set(grammar.string_attributes) | set(grammar.numeric_attributes)
    if key not in valid:
        raise InvalidParameterError(f"Invalid attribute key '{key}' specified. Valid keys are "
                                    f"'{sorted(valid)}'")
    return "attribute", key


def _comparator(tokens: list[tuple[str, str]], null_tests: bool = False
                ) -> tuple[str, list[tuple[str, str]]]:
    """The comparator at the head of ``tokens`` (upper-cased) and the tokens after it."""
    if not tokens:
        raise InvalidParameterError("Invalid filter: a clause ends before its comparator.")
    kind, value = tokens[0]
    if kind == "op":
        return ("!=" if value == "<>" else value), tokens[1:]
    words = []
    for kind, value in tokens:
        if kind != "ident" or value.upper() not in _WORD_OPS:
            break
        words.append(value.upper())
    op = " ".join(words)
    if op in ("IS NULL", "IS NOT NULL") and null_tests:
        return op, tokens[len(words):]
    if op in ("IS NULL", "IS NOT NULL"):
        raise InvalidParameterError(f"Invalid comparator '{op}': this search has no null "
                                    "tests. Compare with a value, e.g. \"tags.k = 'v'\".")
    if op not in ("LIKE", "ILIKE", "IN", "NOT IN"):
        raise InvalidParameterError(f"Invalid comparator {tokens[0][1]!r}: use one of "
                                    "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN.")
    return op, tokens[len(words):]


def _list_value(raw: str) -> tuple[str, ...]:
    inner = raw[1:-1].strip()
    if not inner:
        raise InvalidParameterError("While parsing a list in the query, expected a non-empty "
                                    "list of string values, but got empty list")
    items = re.findall(r"""\s*('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")\s*(?:,|$)""", inner)
    rebuilt = ",".join(items)
    if re.sub(r"\s", "", rebuilt) != re.sub(r"\s", "", inner).rstrip(","):
        raise InvalidParameterError("While parsing a list in the query, expected a non-empty "
                                    "list of string values, but got ill-formed list.")
    return tuple(_unquote(i.strip()) for i in items)


def _clause(grammar: Grammar, text: str, tokens: list[tuple[str, str]]) -> Clause:
    kind, raw = tokens[0]
    if kind not in ("ident", "string"):
        raise InvalidParameterError(f"Invalid filter {text!r}: a clause must start with an "
                                    f"attribute or tags.<key>, not {raw!r}.")
    entity, key = _identifier(grammar, raw)
    op, rest = _comparator(tokens[1:], grammar.null_tests and entity != "attribute")
    if op in ("IS NULL", "IS NOT NULL"):
        if rest:
            raise InvalidParameterError(f"Invalid filter {text!r}: nothing may follow {op}.")
        return Clause(entity, key, op, "")
    if len(rest) != 1:
        raise InvalidParameterError(f"Invalid filter {text!r}: expected one value after "
                                    f"{key} {op}.")
    value_kind, value = rest[0]
    if entity != "attribute":
        if value_kind != "string":
            raise InvalidParameterError(f"Expected a quoted string value for {entity} (e.g. "
                                        f"'my-value'). Got value {value}")
        if op not in _TAG_OPS:
            raise InvalidParameterError(f"Invalid comparator for {entity}: {op}")
        return Clause(entity, key, op, _unquote(value))
    if key in grammar.numeric_attributes:
        return _numeric_clause(key, op, value_kind, value)
    if op not in grammar.string_attributes[key]:
        listed = [a for a, ops in grammar.string_attributes.items() if "IN" in ops]
        if op in ("IN", "NOT IN"):
            raise InvalidParameterError(f"Only {listed} attributes support comparison with a "
                                        "list of quoted string values.")
        raise InvalidParameterError(f"Invalid comparator for attribute: {op}")
    if op in ("IN", "NOT IN"):
        if value_kind != "list":
            raise InvalidParameterError(f"Expected a list of quoted string values for {op}, "
                                        f"e.g. ('a', 'b'). Got value {value}")
        return Clause("attribute", key, op, _list_value(value))
    if value_kind != "string":
        raise InvalidParameterError(
            f"Parameter value is either not quoted or unidentified quote types used for "
            f"string value {value}. Use either single or double quotes.")
    return Clause("attribute", key, op, _unquote(value))


def _numeric_clause(key: str, op: str, value_kind: str, value: str) -> Clause:
    if op not in _NUMERIC_OPS:
        raise InvalidParameterError(f"Invalid comparator for attribute {key}: {op}")
    text = _unquote(value) if value_kind == "string" else value
    if value_kind not in ("string", "number") or not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise InvalidParameterError(f"Invalid value for numeric attribute '{key}': {text}")
    return Clause("attribute", key, op, int(text))


def parse_filter(grammar: Grammar, text: str | None) -> list[Clause]:
    """The clauses of a registry ``filter`` (none for an empty one)."""
    if not text or not text.strip():
        return []
    if not isinstance(text, str):
        raise InvalidParameterError(f"Invalid filter {text!r}: it must be a string.")
    return [_clause(grammar, text, c) for c in _split_clauses(text, _tokens(text))]


def parse_order_by(grammar: Grammar, clauses: Sequence[str] | None) -> list[tuple[str, bool]]:
    """``order_by`` clauses as (field, ascending), MLflow's tie-breakers appended."""
    order: list[tuple[str, bool]] = []
    for clause in clauses or []:
        words = str(clause).replace("`", "").split()
        if not words or len(words) > 2:
            raise InvalidParameterError(f"Invalid order_by clause '{clause}'. Could not be "
                                        "parsed.")
        if len(words) == 2 and words[1].lower() not in ("asc", "desc"):
            raise InvalidParameterError(f"Invalid ordering key in order_by clause '{clause}'.")
        key = words[0].removeprefix("attribute.")
        key = grammar.aliases.get(key, key)
        if key not in grammar.order_keys:
            raise InvalidParameterError(f"Invalid {grammar.order_key_word} key '{key}' "
                                        f"specified. Valid keys are "
                                        f"'{sorted(grammar.order_keys)}'")
        field_name = grammar.order_keys[key]
        if any(f == field_name for f, _ in order):
            raise InvalidParameterError(f"`order_by` contains duplicate fields: "
                                        f"{list(clauses or [])}")
        order.append((field_name, len(words) == 1 or words[1].lower() == "asc"))
    if not order:
        order = list(grammar.default_order)
    order += [t for t in grammar.tie_breakers if all(t[0] != f for f, _ in order)]
    return order


# -- applying -------------------------------------------------------------------------

def asks_for_prompts(clauses: Sequence[Clause]) -> bool:
    """Whether a filter selects prompts (MLflow's rule: the first clause on the prompt
    tag is ``= 'true'`` or ``!= 'false'``)."""
    for c in clauses:
        if c.kind == "tag" and c.key == PROMPT_TAG and isinstance(c.value, str):
            return ((c.op == "=" and c.value.lower() == "true")
                    or (c.op == "!=" and c.value.lower() == "false"))
    return False


def without_prompt_clauses(clauses: Sequence[Clause]) -> list[Clause]:
    return [c for c in clauses if not (c.kind == "tag" and c.key == PROMPT_TAG)]


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(regex, flags | re.DOTALL)


def _test(op: str, actual: Any, expected: Any) -> bool:
    if op in ("IS NULL", "IS NOT NULL"):
        return (actual is None) == (op == "IS NULL")
    if actual is None:
        return False
    if op == "LIKE":
        return _like(expected, 0).fullmatch(actual) is not None
    if op == "ILIKE":
        return _like(expected, re.IGNORECASE).fullmatch(actual) is not None
    if op == "IN":
        return actual in expected
    if op == "NOT IN":
        return actual not in expected
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
    return comparisons[op](actual, expected)


def matches(clauses: Sequence[Clause], attributes: Mapping[str, Any],
            tags: Mapping[str, str], **keyed: Mapping[str, str]) -> bool:
    """Whether a record with these attribute values, tags and other keyed values
    (``metadata=``...) passes every clause."""
    values = {"attribute": attributes, "tag": tags, **keyed}
    return all(_test(c.op, values.get(c.kind, {}).get(c.key), c.value) for c in clauses)


def sort(records: list[Any], order: Sequence[tuple[str, bool]],
         field_of: Callable[[Any, str], Any]) -> list[Any]:
    """``records`` sorted by (field, ascending) pairs, the first most significant."""
    result = list(records)
    for field_name, ascending in reversed(order):
        result.sort(key=partial(_field_value, field_of, field_name), reverse=not ascending)
    return result


def _field_value(field_of: Callable[[Any, str], Any], field_name: str, record: Any) -> Any:
    return field_of(record, field_name)
