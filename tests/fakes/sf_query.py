"""Running parsed SOQL against the fake org's tables: validation, planning, paging, shaping.

A query on the ``(SystemModstamp, Id)`` order (``(CreatedDate, Id)`` for an object without
SystemModstamp) walks the table's sorted index from the bound its WHERE implies
(``SystemModstamp > t OR (SystemModstamp = t AND Id > 'x')`` is a bisect);
``IN``/``=`` on Id or an indexed reference field reads just those records; anything else is a
scan. Errors are the org's (INVALID_FIELD, INVALID_TYPE, MALFORMED_QUERY) with caret messages.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import soql
from .sf_ids import parse_id
from .sf_schema import Field
from .sf_tables import MAXID, Bound, Key, Table

__all__ = ["ApiError", "Plan", "plan", "shape", "related"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le}
_TYPE_WORD = {"datetime": "dateTime", "date": "date", "boolean": "boolean", "currency": "double",
              "double": "double", "percent": "double", "int": "double"}
_STRINGY = {"id", "reference", "string", "textarea", "picklist", "email", "phone", "url"}


class ApiError(Exception):
    """An error answer: HTTP ``status`` and the Salesforce ``[{message, errorCode}]`` list."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> list[dict[str, Any]]:
        """The JSON body."""
        return [{"message": self.message, "errorCode": self.code, **self.extra}]


def _no_column(q: soql.Query, name: str, pos: int) -> ApiError:
    return ApiError(400, "INVALID_FIELD", soql.caret_message(
        q.text, pos, f"No such column '{name}' on entity '{q.obj}'. If you are attempting to "
        "use a custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names."))


@dataclass
class Plan:
    """An executable query (see module doc)."""

    query: soql.Query
    table: Table
    select: list[tuple[str, Any]]  # (output name, field | (relationship, ref field, [subpaths]))
    columns: list[str]  # flat column names (Bulk CSV header)
    predicate: Callable[[dict[str, Any]], bool]
    include_deleted: bool
    lo: Bound | None = None
    hi: Bound | None = None
    tight: bool = False
    refs: list[Any] | None = None  # materialised order: base indexes or changed Ids
    total: int = 0
    positions: dict[int, Any] = field(default_factory=dict)  # offset → resume point

    def page(self, offset: int, size: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``size`` matching records from result position ``offset``, and the offset of
        the next page (None on the last page)."""
        want = size if self.query.limit is None else min(size, self.query.limit - offset)
        out: list[dict[str, Any]] = []
        if self.refs is not None:
            end = min(offset + want, self.total)
            for ref in self.refs[offset:end]:
                rec = self.table.current(ref)
                if rec is not None:
                    out.append(rec)
            return out, end if end < self.total else None
        last: Key | None = None
        for key, rec in self.matches(self.positions.get(offset, self.lo)):
            if len(out) == want:
                more = self.query.limit is None or offset + want < self.query.limit
                if not more:
                    break
                self.positions[offset + want] = (last, False)
                return out, offset + want
            out.append(rec)
            last = key
        return out, None

    def matches(self, lo: Bound | None) -> Iterator[tuple[Key, dict[str, Any]]]:
        """(key, record) of the matching records from ``lo`` to the plan's upper bound."""
        for key, ref in self.table.scan(lo, self.hi):
            rec = self.table.record(ref)
            if (self.include_deleted or not rec.get("IsDeleted")) and self.predicate(rec):
                yield key, rec


def plan(q: soql.Query, tables: dict[str, Table], hidden: set[tuple[str, str]],
         include_deleted: bool, objects_by_lower: dict[str, str]) -> Plan:
    """Validate ``q`` against the org and plan it."""
    name = objects_by_lower.get(q.obj.lower())
    if name is None:
        raise ApiError(400, "INVALID_TYPE", soql.caret_message(
            q.text, q.obj_pos, f"sObject type '{q.obj}' is not supported. If you are attempting "
            "to use a custom object, be sure to append the '__c' after the entity name. Please "
            "reference your WSDL or the describe call for the appropriate names."))
    table = tables[name]

    def resolve(t: Table, fname: str, pos: int) -> Field:
        f = t.field(fname)
        if f is None or (t.spec.name.lower(), f.name.lower()) in hidden:
            raise _no_column(q, fname, pos)
        return f

    select: list[tuple[str, Any]] = []
    columns: list[str] = []
    rels: dict[str, tuple[str, str, list[str]]] = {}
    for fname, pos in q.fields:
        if "." not in fname:
            f = resolve(table, fname, pos)
            select.append((f.name, f))
            columns.append(f.name)
            continue
        rel, _, rest = fname.partition(".")
        ref = next((f for f in table.fields if f.relationship and
                    f.relationship.lower() == rel.lower()), None)
        if ref is None or (table.spec.name.lower(), ref.name.lower()) in hidden:
            raise ApiError(400, "INVALID_FIELD", soql.caret_message(
                q.text, pos, f"Didn't understand relationship '{rel}' in field path. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the "
                "custom relationship name. Please reference your WSDL or the describe call for "
                "the appropriate names."))
        target = tables.get(ref.reference_to[0]) if ref.reference_to else None
        if target is not None and "." not in rest:
            rest = resolve(target, rest, pos + len(rel) + 1).name
        if ref.relationship not in rels:
            rels[ref.relationship] = (ref.relationship, ref.name, [])  # type: ignore[index]
            select.append((ref.relationship, rels[ref.relationship]))  # type: ignore[index]
        rels[ref.relationship][2].append(rest)  # type: ignore[index]
        columns.append(f"{ref.relationship}.{rest}")
    predicate = _compile(q, q.where, table, resolve) if q.where is not None else (lambda r: True)
    p = Plan(q, table, select, columns, predicate, include_deleted)
    if q.where is not None:
        p.lo, p.hi, p.tight = _range(q.where, table)
    for fname, _ in q.order_by:
        resolve(table, fname, 0)
    order = [(f.lower(), d) for f, d in q.order_by]
    key = table.key_field.lower()
    by_index = not any(d for _, d in order) and [f for f, _ in order] in ([], [key], [key, "id"])
    lookup = _lookup(q.where, table) if q.where is not None else None
    if lookup is not None or not by_index:
        if lookup is not None:
            refs = table.candidates(lookup)
        else:
            refs = [ref for _, ref in table.scan(p.lo, p.hi)]
        order_fields = [f.name for f, _ in ((table.field(n), d) for n, d in q.order_by) if f]
        desc = [d for n, d in q.order_by if table.field(n)]
        if not order_fields:
            order_fields, desc = [table.key_field, "Id"], [False, False]
        matching: list[tuple[tuple[Any, ...], Any]] = []  # (sort key, ref): records not kept
        for ref in refs:
            rec = table.record(ref) if isinstance(ref, int) else table.get(ref)
            if rec is not None and (include_deleted or not rec.get("IsDeleted")) and \
                    predicate(rec):
                # nulls first, as Salesforce sorts ascending
                matching.append((tuple((rec.get(f) is not None, rec.get(f) if rec.get(f)
                                        is not None else 0) for f in order_fields), ref))
        for k in reversed(range(len(order_fields))):
            matching.sort(key=lambda m, k=k: m[0][k], reverse=desc[k])
        p.refs = [ref for _, ref in matching]
        del matching
        p.total = min(len(p.refs), q.limit) if q.limit is not None else len(p.refs)
        return p
    p.hi = min([b for b in (p.hi, (table.last_key() or (0, ""), True)) if b],
               key=lambda b: (b[0], 1 if b[1] else 0))
    if p.tight or q.where is None:
        total = table.count(p.lo, p.hi)
        if not include_deleted:
            total -= sum(1 for r in table.changed_records(p.lo, p.hi) if r.get("IsDeleted"))
    else:
        total = sum(1 for _ in p.matches(p.lo))
    p.total = min(total, q.limit) if q.limit is not None else total
    return p


def _compile(q: soql.Query, cond: soql.Condition, table: Table,
             resolve: Callable[[Table, str, int], Field]) -> Callable[[dict[str, Any]], bool]:
    if isinstance(cond, soql.BoolOp):
        parts = [_compile(q, c, table, resolve) for c in cond.items]
        if cond.op == "and":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    if isinstance(cond, soql.Not):
        inner = _compile(q, cond.item, table, resolve)
        return lambda r: not inner(r)
    if "." in cond.field:
        raise ApiError(400, "MALFORMED_QUERY", soql.caret_message(
            q.text, cond.field_pos, "relationship fields in WHERE are not supported by the fake"))
    f = resolve(table, cond.field, cond.field_pos)
    name = f.name
    if isinstance(cond, soql.InList):
        values = {_literal(q, f, v, True, cond.field_pos) for v in cond.values}
        if cond.negate:
            return lambda r: r.get(name) not in values
        return lambda r: r.get(name) in values
    value = _literal(q, f, cond.value, cond.quoted, cond.pos)
    op = _OPS[cond.op]
    if value is None:
        return (lambda r: r.get(name) is None) if cond.op == "=" else (
            lambda r: r.get(name) is not None)
    if cond.op == "!=":
        return lambda r: r.get(name) != value
    return lambda r: (v := r.get(name)) is not None and op(v, value)


def _literal(q: soql.Query, f: Field, value: Any, quoted: bool, pos: int) -> Any:
    """The literal as the record stores it, or the org's type error."""
    if value is None:
        return None
    ok = {
        "datetime": isinstance(value, soql.DatetimeLiteral),
        "date": isinstance(value, str) and not quoted and len(value) == 10,
        "boolean": isinstance(value, bool),
    }.get(f.type)
    if ok is None:
        if f.type in _STRINGY:
            ok = quoted
        else:  # numbers
            ok = isinstance(value, float) and not isinstance(value, bool)
    if not ok:
        word = _TYPE_WORD.get(f.type, "string")
        hint = "should be enclosed in quotes" if f.type in _STRINGY else \
            "should not be enclosed in quotes"
        raise ApiError(400, "INVALID_FIELD", soql.caret_message(
            q.text, pos, f"value of filter criterion for field '{f.name}' must be of type "
            f"{word} and {hint}"))
    if isinstance(value, soql.DatetimeLiteral):
        return value.text
    if f.type == "int":
        return int(value)
    return value


def _tighter(a: Bound | None, b: Bound | None, upper: bool) -> Bound | None:
    if a is None or b is None:
        return a or b
    rank = (lambda x: (x[0], 1 if x[1] else 0)) if upper else (lambda x: (x[0], 0 if x[1] else 1))
    return (min if upper else max)(a, b, key=rank)


def _looser(a: Bound | None, b: Bound | None, upper: bool) -> Bound | None:
    if a is None or b is None:
        return None
    rank = (lambda x: (x[0], 1 if x[1] else 0)) if upper else (lambda x: (x[0], 0 if x[1] else 1))
    return (max if upper else min)(a, b, key=rank)


def _range(cond: soql.Condition, table: Table) -> tuple[Bound | None, Bound | None, bool]:
    """(lower bound, upper bound, whether the condition IS that key range)."""
    if isinstance(cond, soql.Compare) and cond.field.lower() == table.key_field.lower() and \
            isinstance(cond.value, soql.DatetimeLiteral):
        t = cond.value.epoch
        lo_key: Key = (t, "")
        hi_key: Key = (t, MAXID)
        bounds = {">": ((hi_key, False), None), ">=": ((lo_key, True), None),
                  "<": (None, (lo_key, False)), "<=": (None, (hi_key, True)),
                  "=": ((lo_key, True), (hi_key, True))}.get(cond.op, (None, None))
        return (*bounds, cond.op != "!=")  # type: ignore[return-value]
    if isinstance(cond, soql.BoolOp) and cond.op == "or":
        parts = [_range(c, table) for c in cond.items]
        lo, hi = parts[0][0], parts[0][1]
        for plo, phi, _ in parts[1:]:
            lo, hi = _looser(lo, plo, False), _looser(hi, phi, True)
        return lo, hi, all(t for _, _, t in parts) and _contiguous(parts)
    if isinstance(cond, soql.BoolOp):
        lo = hi = None
        tight = True
        ids = []
        for c in cond.items:
            if isinstance(c, soql.Compare) and c.field.lower() == "id" and c.quoted:
                ids.append(c)
                continue
            plo, phi, ptight = _range(c, table)
            lo, hi = _tighter(lo, plo, False), _tighter(hi, phi, True)
            tight = tight and ptight
        if ids:
            point = lo and hi and lo[1] and hi[1] and lo[0][0] == hi[0][0] and \
                lo[0][1] == "" and hi[0][1] == MAXID
            if not point:
                return lo, hi, False
            t = lo[0][0]  # type: ignore[index]
            for c in ids:
                key = (t, c.value)
                bounds = {">": ((key, False), None), ">=": ((key, True), None),
                          "<": (None, (key, False)), "<=": (None, (key, True)),
                          "=": ((key, True), (key, True))}.get(c.op)
                if bounds is None:
                    return lo, hi, False
                lo, hi = _tighter(lo, bounds[0], False), _tighter(hi, bounds[1], True)
        return lo, hi, tight
    return None, None, False


def _contiguous(parts: list[tuple[Bound | None, Bound | None, bool]]) -> bool:
    """Whether the union of the key ranges is one range (no gap between them)."""
    ordered = sorted(parts, key=lambda p: (0, ("", "")) if p[0] is None else (1, p[0][0]))
    reach = ordered[0][1]
    for lo, hi, _ in ordered[1:]:
        if reach is None:
            return True
        if lo is not None and lo[0] > reach[0]:
            return False
        reach = None if hi is None else max(reach, hi, key=lambda b: b[0])
    return True


def _lookup(cond: soql.Condition, table: Table) -> list[int] | None:
    """Base indexes of the only records ``cond`` can match (Id or indexed reference), or None."""
    items = cond.items if isinstance(cond, soql.BoolOp) and cond.op == "and" else [cond]
    for c in items:
        if isinstance(c, soql.InList) and not c.negate:
            values = c.values
        elif isinstance(c, soql.Compare) and c.op == "=" and c.quoted:
            values = [c.value]
        else:
            continue
        fname = c.field.lower()
        if fname == "id":
            parsed = [parse_id(v) for v in values]
            return [p[1] for p in parsed if p and p[0] == table.spec.prefix]
        for ref_field, children in table.spec.lookups.items():
            if ref_field.lower() == fname:
                return [i for v in values for i in children(v)]
    return None


def shape(plan_: Plan, rec: dict[str, Any], version: str, tables: dict[str, Table],
          by_prefix: dict[str, Table]) -> dict[str, Any]:
    """A record as the REST query returns it (``attributes`` first, nested relationships)."""
    obj = plan_.table.spec.name
    out: dict[str, Any] = {"attributes": {
        "type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{rec['Id']}"}}
    for name, item in plan_.select:
        if isinstance(item, Field):
            out[name] = rec.get(name)
            continue
        rel, ref_field, paths = item
        out[rel] = related(rec.get(ref_field), paths, version, by_prefix)
    return out


def related(rid: Any, paths: list[str], version: str,
            by_prefix: dict[str, Table]) -> dict[str, Any] | None:
    """The record ``rid`` refers to, as a nested relationship object with ``paths`` (dotted
    field names, e.g. ``Name`` or ``Owner.Name``), or None when the reference is empty."""
    if not rid:
        return None
    table = by_prefix.get(str(rid)[:3])
    target = table.get(rid) if table else None
    if target is None or table is None:
        return None
    obj = table.spec.name
    out: dict[str, Any] = {"attributes": {
        "type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{rid}"}}
    nested: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, []).append(rest)
        else:
            f = table.field(head)
            out[f.name if f else head] = target.get(f.name) if f else (
                obj if head.lower() == "type" else None)
    for head, rests in nested.items():
        f = next((x for x in table.fields if x.relationship and
                  x.relationship.lower() == head.lower()), None)
        out[f.relationship if f else head] = related(
            target.get(f.name) if f else None, rests, version, by_prefix)
    return out
