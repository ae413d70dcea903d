"""One sObject's records in the fake org: lazily generated base records plus changes.

Records are kept in ``(SystemModstamp, Id)`` order — ``(CreatedDate, Id)`` for an object
without SystemModstamp, such as OpportunityFieldHistory (:attr:`Table.key_field`): the base
records through a sorted index (two compact arrays), changed and new records in a small sorted
list of keys. A cursor condition is a bisect on both, so a page costs O(page), never O(table),
and counting the rows of a pure cursor condition is O(log n); so is :meth:`Table.live_count`.
"""

from __future__ import annotations

import bisect
import heapq
from array import array
from collections.abc import Iterator
from typing import Any

from .sf_ids import make_id, parse_id
from .sf_schema import Field, ObjectSpec

__all__ = ["Table", "Key", "Bound", "MAXID", "stamp_of"]

MAXID = "\uffff"  # sorts after every Id
Key = tuple[float, str]  # (SystemModstamp — or CreatedDate — epoch seconds, Id)
Bound = tuple[Key, bool]  # (key, inclusive)
Ref = int | str  # a base record index, or the Id of a changed/new record


def stamp_of(text: str) -> int:
    """Epoch seconds of ``2024-01-02T03:04:05.000+0000``."""
    import calendar
    import time

    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


class _BaseKeys:
    """The sorted base keys as a sequence, for :mod:`bisect` (keys are made on demand)."""

    def __init__(self, table: Table) -> None:
        self.t = table

    def __len__(self) -> int:
        return len(self.t.order)

    def __getitem__(self, p: int) -> Key:
        return self.t.stamps[p], make_id(self.t.spec.prefix, self.t.order[p])


def _start(seq: Any, lo: Bound | None) -> int:
    if lo is None:
        return 0
    return bisect.bisect_left(seq, lo[0]) if lo[1] else bisect.bisect_right(seq, lo[0])


def _end(seq: Any, hi: Bound | None) -> int:
    if hi is None:
        return len(seq)
    return bisect.bisect_right(seq, hi[0]) if hi[1] else bisect.bisect_left(seq, hi[0])


class Table:
    """The records of one object (see module doc)."""

    def __init__(self, spec: ObjectSpec) -> None:
        self.spec = spec
        keys = array("q", map(spec.stamp, range(spec.count)))  # in index order: generators
        order = sorted(range(spec.count), key=keys.__getitem__)  # cache by parent; stable
        self.order = array("I", order)
        self.stamps = array("q", (keys[i] for i in order))
        del order, keys
        self.fields: list[Field] = list(spec.fields)
        #: The datetime field of the index order: SystemModstamp, else CreatedDate.
        self.key_field = "SystemModstamp" if any(f.name == "SystemModstamp" for f in
                                                 spec.fields) else "CreatedDate"
        self.soft_deleted = 0  # records in the recycle bin (all of them changed records)
        self.changed: dict[str, dict[str, Any] | None] = {}  # None: hard-deleted
        self.shadowed: set[int] = set()
        self.shadowed_pos: list[int] = []
        self.extra: list[Key] = []  # sorted keys of changed/new records still present
        self.next_index = spec.count
        self.deleted_log: list[tuple[str, int]] = []  # (Id, epoch) for getDeleted

    # -- fields ---------------------------------------------------------------------------

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (any case), or None."""
        low = name.lower()
        for f in self.fields:
            if f.name.lower() == low:
                return f
        return None

    def has(self, name: str) -> bool:
        """Whether the object has a field ``name``."""
        return self.field(name) is not None

    # -- records --------------------------------------------------------------------------

    def get(self, rid: str) -> dict[str, Any] | None:
        """The current record with Id ``rid`` (soft-deleted included), or None."""
        if rid in self.changed:
            return self.changed[rid]
        parsed = parse_id(rid)
        if parsed and parsed[0] == self.spec.prefix and parsed[1] < self.spec.count:
            return self._base(parsed[1])
        if parsed and len(rid) == 15:
            full = make_id(parsed[0], parsed[1])
            return self.get(full) if full != rid else None
        return None

    def _base(self, i: int) -> dict[str, Any]:
        rec = self.spec.make(i)
        for f in self.fields[len(self.spec.fields):]:
            rec.setdefault(f.name, None)  # fields created through the Metadata API
        return rec

    def current(self, ref: Ref) -> dict[str, Any] | None:
        """The record ``ref`` points at as it is now (changed, deleted or still generated)."""
        if isinstance(ref, int) and ref in self.shadowed:
            return self.get(make_id(self.spec.prefix, ref))
        return self.record(ref) if isinstance(ref, int) else self.get(ref)

    def record(self, ref: Ref) -> dict[str, Any]:
        """The record a scan yielded."""
        if isinstance(ref, int):
            return self._base(ref)
        rec = self.changed[ref]
        assert rec is not None
        return rec

    def put(self, rec: dict[str, Any] | None, rid: str, old: dict[str, Any] | None) -> None:
        """Store the new version ``rec`` of record ``rid`` (None: hard delete)."""
        self.soft_deleted += bool(rec and rec.get("IsDeleted")) - \
            bool(old and old.get("IsDeleted"))
        if old is not None:
            key = (stamp_of(old[self.key_field]), rid)
            if rid in self.changed:
                self.extra.pop(bisect.bisect_left(self.extra, key))
            else:
                parsed = parse_id(rid)
                assert parsed is not None
                self.shadowed.add(parsed[1])
                bisect.insort(self.shadowed_pos, bisect.bisect_left(_BaseKeys(self), key))
        self.changed[rid] = rec
        if rec is not None:
            bisect.insort(self.extra, (stamp_of(rec[self.key_field]), rid))

    def new_id(self) -> str:
        """The Id of a record about to be inserted."""
        rid = make_id(self.spec.prefix, self.next_index)
        self.next_index += 1
        return rid

    # -- ordered scans --------------------------------------------------------------------

    def last_key(self) -> Key | None:
        """The greatest key present."""
        keys = [k for k in (self.extra[-1] if self.extra else None,) if k]
        p = len(self.order) - 1
        while p >= 0 and self.order[p] in self.shadowed:
            p -= 1
        if p >= 0:
            keys.append(_BaseKeys(self)[p])
        return max(keys) if keys else None

    def scan(self, lo: Bound | None, hi: Bound | None) -> Iterator[tuple[Key, Ref]]:
        """(key, ref) of the records with lo <= key <= hi, in key order."""
        base = _BaseKeys(self)
        p, pe = _start(base, lo), _end(base, hi)
        q, qe = _start(self.extra, lo), _end(self.extra, hi)
        extra = [(k, k[1]) for k in self.extra[q:qe]]
        prefix, order, stamps, shadowed = self.spec.prefix, self.order, self.stamps, self.shadowed

        def base_iter() -> Iterator[tuple[Key, Ref]]:
            for pos in range(p, pe):
                i = order[pos]
                if i not in shadowed:
                    yield (stamps[pos], make_id(prefix, i)), i
        if not extra:
            yield from base_iter()
            return
        yield from heapq.merge(base_iter(), extra, key=lambda item: item[0])

    def count(self, lo: Bound | None, hi: Bound | None) -> int:
        """How many records have lo <= key <= hi (deleted ones included), in O(log n)."""
        base = _BaseKeys(self)
        p, pe = _start(base, lo), _end(base, hi)
        gone = bisect.bisect_left(self.shadowed_pos, pe) - bisect.bisect_left(self.shadowed_pos, p)
        return (pe - p) - gone + _end(self.extra, hi) - _start(self.extra, lo)

    def live_count(self) -> int:
        """How many records exist outside the recycle bin, in O(log n)."""
        return self.count(None, None) - self.soft_deleted

    def changed_records(self, lo: Bound | None, hi: Bound | None) -> Iterator[dict[str, Any]]:
        """The changed/new records in the range (where soft deletes live)."""
        for _, rid in self.extra[_start(self.extra, lo):_end(self.extra, hi)]:
            rec = self.changed[rid]
            if rec is not None:
                yield rec

    def candidates(self, base_indexes: list[int]) -> list[Ref]:
        """Base records by index (skipping changed ones) plus every changed record."""
        out: list[Ref] = [i for i in base_indexes if i < self.spec.count and i not in self.shadowed]
        return out + [rid for _, rid in self.extra]
