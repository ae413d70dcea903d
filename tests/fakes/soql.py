"""A small SOQL parser for the fake Salesforce org (the subset in the SF contract).

``SELECT f[, f…] FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC][, …]] [LIMIT n]`` and
``SELECT COUNT() FROM Obj [WHERE cond]``. Conditions: ``AND``, ``OR``, ``NOT``, parentheses,
``= != <> > >= < <=`` against unquoted datetime literals, dates, quoted strings, numbers,
``true``/``false``/``null``, and ``f IN ('a', …)`` / ``f NOT IN (…)``.

Errors are :class:`SoqlError` carrying Salesforce's errorCode and its caret-style message
(``\\n<query>\\n   ^\\nERROR at Row:1:Column:N\\n<text>``), as the real org answers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SoqlError", "Query", "Compare", "InList", "BoolOp", "Not", "Condition", "parse",
           "DatetimeLiteral", "caret_message"]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op>!=|<>|>=|<=|=|>|<)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)

_KEYWORDS = {"select", "from", "where", "order", "by", "limit", "and", "or", "not", "in", "asc",
             "desc", "true", "false", "null", "nulls", "first", "last", "count", "group",
             "offset"}


class SoqlError(Exception):
    """A query the org refuses: ``code`` is the errorCode (MALFORMED_QUERY, INVALID_FIELD…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def caret_message(soql: str, pos: int, text: str) -> str:
    """Salesforce's caret-style error text pointing at character ``pos`` of ``soql``."""
    line = " ".join(soql.split("\n"))
    return f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{text}"


@dataclass(frozen=True)
class DatetimeLiteral:
    """An unquoted datetime literal, normalised to Salesforce's response format."""

    text: str  # 2024-01-02T03:04:05.000+0000 (fixed width: compares as a string)
    epoch: float


@dataclass(frozen=True)
class Token:
    kind: str
    value: str
    pos: int


@dataclass
class Compare:
    """``field op value``; ``value`` is str, float, bool, None, or a :class:`DatetimeLiteral`;
    ``quoted`` says the literal was a quoted string; ``pos`` is its place in the query."""

    field: str
    op: str
    value: Any
    quoted: bool
    pos: int
    field_pos: int


@dataclass
class InList:
    """``field [NOT] IN (v, …)``."""

    field: str
    values: list[Any]
    negate: bool
    field_pos: int


@dataclass
class BoolOp:
    """``AND``/``OR`` of two or more conditions."""

    op: str
    items: list[Condition]


@dataclass
class Not:
    """``NOT cond``."""

    item: Condition


Condition = Compare | InList | BoolOp | Not


@dataclass
class Query:
    """A parsed SELECT."""

    text: str
    fields: list[tuple[str, int]]  # (name as written, position)
    obj: str
    obj_pos: int
    where: Condition | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None
    count: bool = False


def _datetime(text: str) -> DatetimeLiteral:
    norm = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", norm):
        norm = f"{norm[:-2]}:{norm[-2:]}"
    value = dt.datetime.fromisoformat(norm).astimezone(dt.timezone.utc)
    whole = value.replace(microsecond=0)
    return DatetimeLiteral(whole.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
                           + "+0000", value.timestamp())


def _tokens(soql: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(soql):
        m = _TOKEN.match(soql, pos)
        if not m:
            raise SoqlError("MALFORMED_QUERY", caret_message(
                soql, pos, f"unexpected token: '{soql[pos:pos + 10].split()[0]}'"))
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.toks = _tokens(soql)
        self.i = 0

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "name" and tok.value.lower() in words

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error(len(self.soql), "unexpected end of query")
        self.i += 1
        return tok

    def expect(self, kind: str, value: str | None = None) -> Token:
        tok = self.take()
        if tok.kind != kind or (value is not None and tok.value.lower() != value):
            raise self.error(tok.pos, f"unexpected token: '{tok.value}'")
        return tok

    def error(self, pos: int, text: str) -> SoqlError:
        return SoqlError("MALFORMED_QUERY", caret_message(self.soql, pos, text))

    def parse(self) -> Query:
        self.expect("name", "select")
        fields: list[tuple[str, int]] = []
        count = False
        if self.kw("count") and self.toks[self.i + 1:self.i + 2] and \
                self.toks[self.i + 1].value == "(":
            self.i += 1
            self.expect("punct", "(")
            self.expect("punct", ")")
            count = True
        else:
            while True:
                tok = self.expect("name")
                fields.append((tok.value, tok.pos))
                if not (self.peek() and self.peek().value == ","):  # type: ignore[union-attr]
                    break
                self.take()
        self.expect("name", "from")
        obj = self.expect("name")
        query = Query(self.soql, fields, obj.value, obj.pos, count=count)
        if self.kw("where"):
            self.take()
            query.where = self.condition()
        if self.kw("group", "offset"):
            tok = self.take()
            raise self.error(tok.pos, f"{tok.value.upper()} is not supported by this fake org")
        if self.kw("order"):
            self.take()
            self.expect("name", "by")
            while True:
                name = self.expect("name").value
                desc = False
                if self.kw("asc", "desc"):
                    desc = self.take().value.lower() == "desc"
                if self.kw("nulls"):
                    self.take()
                    self.expect("name")
                query.order_by.append((name, desc))
                if not (self.peek() and self.peek().value == ","):  # type: ignore[union-attr]
                    break
                self.take()
        if self.kw("limit"):
            self.take()
            query.limit = int(self.expect("number").value)
        tok = self.peek()
        if tok is not None:
            raise self.error(tok.pos, f"unexpected token: '{tok.value}'")
        return query

    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.kw("or"):
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("or", items)

    def conjunction(self) -> Condition:
        items = [self.unary()]
        while self.kw("and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp("and", items)

    def unary(self) -> Condition:
        if self.kw("not"):
            self.take()
            return Not(self.unary())
        tok = self.peek()
        if tok is not None and tok.value == "(":
            self.take()
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Condition:
        name = self.expect("name")
        if name.value.lower() in _KEYWORDS:
            raise self.error(name.pos, f"unexpected token: '{name.value}'")
        if self.kw("not", "in"):
            negate = self.take().value.lower() == "not"
            if negate:
                self.expect("name", "in")
            self.expect("punct", "(")
            values = [self.literal()[0]]
            while self.peek() and self.peek().value == ",":  # type: ignore[union-attr]
                self.take()
                values.append(self.literal()[0])
            self.expect("punct", ")")
            return InList(name.value, values, negate, name.pos)
        op = self.expect("op").value
        value, quoted, pos = self.literal()
        return Compare(name.value, "!=" if op == "<>" else op, value, quoted, pos, name.pos)

    def literal(self) -> tuple[Any, bool, int]:
        tok = self.take()
        if tok.kind == "string":
            return re.sub(r"\\(.)", r"\1", tok.value[1:-1]), True, tok.pos
        if tok.kind == "datetime":
            return _datetime(tok.value), False, tok.pos
        if tok.kind == "date":
            return tok.value, False, tok.pos
        if tok.kind == "number":
            return float(tok.value), False, tok.pos
        if tok.kind == "name" and tok.value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok.value.lower()], False, tok.pos
        raise self.error(tok.pos, f"unexpected token: '{tok.value}'")


def parse(soql: str) -> Query:
    """Parse ``soql``; raises :class:`SoqlError` (MALFORMED_QUERY) on a syntax error."""
    return _Parser(soql).parse()
