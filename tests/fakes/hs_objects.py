"""One object type of the fake portal, stored compactly: arrays of timestamps, a status byte
per record, and the changes tests made (overrides, history, archives, merges) in small dicts.

Generated property values come from :class:`fakes.hs_data.Generator` on demand. The search
index is one sorted ``array('q')`` of keys ``(modified_ms << IDX_BITS) | index``; since ids
rise with the index, key order is ``(timestamp, hs_object_id)`` order, and a range of it is
found with :mod:`bisect` in O(log n).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from fakes.hs_data import ENGAGEMENTS, PIPELINES, TS_PROPERTY, Generator, iso

__all__ = ["ObjectTable", "IDX_BITS", "LIVE", "ARCHIVED", "MERGED", "SINGULAR", "ID_BASE"]

IDX_BITS = 22
IDX_MASK = (1 << IDX_BITS) - 1
LIVE, ARCHIVED, MERGED = 0, 1, 2
SINGULAR = {"deals": "deal", "companies": "company", "contacts": "contact", "calls": "call",
            "emails": "email", "meetings": "meeting", "tasks": "task", "notes": "note",
            "leads": "lead", "products": "product", "line_items": "line_item",
            "goal_targets": "goal_target", "feedback_submissions": "feedback_submission"}
#: (first id, stride): HubSpot ids are numeric strings; contacts' are small, others large.
ID_BASE = {"contacts": (51, 50), "companies": (8_000_000_011, 3), "deals": (9_000_000_007, 3),
           "leads": (12_000_000_001, 3), "products": (1_500_000_001, 3),
           "line_items": (2_600_000_003, 5), "goal_targets": (44_027_423_340, 7),
           "feedback_submissions": (512, 3),
           **{t: (40_000_000_000 + k * 5_000_000_000, 7) for k, t in enumerate(ENGAGEMENTS)}}
STAGES = {s[0]: (pid, s) for pid, _, stages in PIPELINES for s in stages}


class ObjectTable:
    """The records of one object type."""

    def __init__(self, object_type: str, gen: Generator, count: int) -> None:
        self.type = object_type
        self.gen = gen
        self.ts_prop = TS_PROPERTY[object_type]
        self.base, self.stride = ID_BASE[object_type]
        self.generated = count
        self.created = array("q", (gen.created_ms(object_type, i) for i in range(count)))
        self.updated = array("q", (gen.updated_ms(object_type, i) for i in range(count)))
        self.status = bytearray(count)
        self.keys = array("q", sorted((u << IDX_BITS) | i for i, u in enumerate(self.updated)))
        self.overrides: dict[int, dict[str, str | None]] = {}
        self.history: dict[int, dict[str, list[tuple[str | None, int, str]]]] = {}
        self.archived_at: dict[int, int] = {}
        self.merged_into: dict[int, int] = {}
        self.absorbed: dict[int, list[int]] = {}
        #: associations added after generation: to_type → index → target indexes
        self.extra_links: dict[str, dict[int, list[int]]] = {}

    # -- ids --------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.created)

    def id_of(self, i: int) -> str:
        """The HubSpot id (numeric string) of index ``i``."""
        return str(self.base + i * self.stride)

    def index_of(self, record_id: Any) -> int | None:
        """The index of ``record_id``, or None when no record ever had it."""
        try:
            n = int(str(record_id)) - self.base
        except ValueError:
            return None
        i, rest = divmod(n, self.stride)
        return i if rest == 0 and 0 <= i < len(self.created) else None

    def index_bound(self, record_id: int, upper: bool) -> int:
        """The first index whose id is >= ``record_id`` (or the last <= it when ``upper``)."""
        n = record_id - self.base
        return n // self.stride if upper else -(-n // self.stride)

    def resolve(self, i: int) -> int:
        """Follow merges: the index of the record that absorbed ``i`` (or ``i`` itself)."""
        while i in self.merged_into:
            i = self.merged_into[i]
        return i

    # -- properties -------------------------------------------------------------------------------

    def properties(self, i: int) -> dict[str, str | None]:
        """Every property of record ``i`` (strings or None), system properties included."""
        props = self.gen.properties(self.type, i) if i < self.generated else {}
        if i in self.overrides:
            props.update(self.overrides[i])
        created = iso(self.created[i])
        props["hs_object_id"] = self.id_of(i)
        props["createdate"] = created
        props["hs_createdate"] = created
        props[self.ts_prop] = iso(self.updated[i])
        if i in self.absorbed:
            props["hs_merged_object_ids"] = ";".join(self.id_of(j) for j in self.absorbed[i])
        return props

    def history_of(self, i: int, prop: str) -> list[dict[str, Any]]:
        """``propertiesWithHistory`` entries of ``prop`` on record ``i``, newest first."""
        entries: list[tuple[str | None, int, str]] = []
        if i < self.generated:
            generated = self.gen.deal_history(i, prop) if self.type == "deals" else None
            if self.type == "deals" and prop == "dealstage":
                entries = [(sid, at, "CRM_UI") for sid, at in self.gen.deal_path(i)[1]]
            elif generated is not None:
                entries = [(v, at, "CRM_UI") for v, at in generated]
            else:
                value = self.gen.properties(self.type, i).get(prop)
                if value is not None:
                    entries = [(value, self.created[i], "CRM_UI")]
        entries += self.history.get(i, {}).get(prop, [])
        owner = int(self.gen.owner_id(i, 21)) - 100_000 + 9_000_000
        return [{"value": v, "timestamp": iso(at), "sourceType": src,
                 "sourceId": f"userId:{owner}", "updatedByUserId": owner}
                for v, at, src in sorted(entries, key=lambda e: e[1], reverse=True)]

    # -- changes ----------------------------------------------------------------------------------

    def _move(self, i: int, at: int) -> None:
        if self.status[i] == LIVE:
            old = (self.updated[i] << IDX_BITS) | i
            pos = bisect.bisect_left(self.keys, old)
            if pos < len(self.keys) and self.keys[pos] == old:
                del self.keys[pos]
        self.updated[i] = at
        if self.status[i] == LIVE:
            bisect.insort(self.keys, (at << IDX_BITS) | i)

    def append(self, props: dict[str, str | None], at: int) -> int:
        """Create a record with ``props`` at ``at`` (ms); returns its index."""
        i = len(self.created)
        if i > IDX_MASK:
            raise OverflowError("fake portal: too many records of one type")
        self.created.append(at)
        self.updated.append(at)
        self.status.append(LIVE)
        self.overrides[i] = dict(props)
        bisect.insort(self.keys, (at << IDX_BITS) | i)
        return i

    def update(self, i: int, props: dict[str, str | None], at: int, source: str = "CRM_UI") -> None:
        """Set properties of record ``i`` at ``at`` (ms): history kept, index key moved."""
        over = self.overrides.setdefault(i, {})
        hist = self.history.setdefault(i, {})
        props = dict(props)
        stage = props.get("dealstage")
        if self.type == "deals" and stage in STAGES:
            previous = self.properties(i).get("dealstage")
            _, (_, _, prob, closed) = STAGES[stage]
            props.setdefault("hs_is_closed", "true" if closed else "false")
            props.setdefault("hs_is_closed_won", "true" if closed and prob == "1.0" else "false")
            props.setdefault("hs_deal_stage_probability", prob)
            props.setdefault("pipeline", STAGES[stage][0])
            props[f"hs_v2_date_entered_{stage}"] = iso(at)
            if previous and previous != stage:
                props[f"hs_v2_date_exited_{previous}"] = iso(at)
        for name, value in props.items():
            over[name] = value
            hist.setdefault(name, []).append((value, at, source))
        self._move(i, at)

    def touch(self, i: int, at: int) -> None:
        """Bump the modification time of record ``i`` to ``at`` without changing values."""
        self._move(i, at)

    def archive(self, i: int, at: int) -> None:
        """Archive (soft-delete) record ``i``: out of lists and search, into archived lists."""
        if self.status[i] != LIVE:
            return
        self._move(i, at)
        pos = bisect.bisect_left(self.keys, (at << IDX_BITS) | i)
        del self.keys[pos]
        self.status[i] = ARCHIVED
        self.archived_at[i] = at

    def merge(self, primary: int, secondary: int, at: int) -> None:
        """Merge ``secondary`` into ``primary``: the secondary disappears, reads of its id
        return the primary, which lists it in ``hs_merged_object_ids``."""
        if self.status[secondary] == LIVE:
            pos = bisect.bisect_left(self.keys, (self.updated[secondary] << IDX_BITS) | secondary)
            del self.keys[pos]
        self.status[secondary] = MERGED
        self.merged_into[secondary] = primary
        self.absorbed.setdefault(primary, []).extend([secondary, *self.absorbed.pop(secondary, [])])
        self._move(primary, at)

    # -- scans ------------------------------------------------------------------------------------

    def scan(self, after_index: int, status: int) -> Iterator[int]:
        """Indexes with ``status`` from ``after_index`` upward (id order)."""
        if status == ARCHIVED:
            yield from (i for i in sorted(self.archived_at)
                        if i >= after_index and self.status[i] == ARCHIVED)
            return
        st = self.status
        for i in range(max(after_index, 0), len(st)):
            if st[i] == status:
                yield i

    def live(self, indexes: Iterable[int]) -> list[int]:
        """``indexes`` mapped through merges, de-duplicated, archived ones dropped."""
        out: list[int] = []
        for j in indexes:
            j = self.resolve(j)
            if self.status[j] == LIVE and j not in out:
                out.append(j)
        return out
