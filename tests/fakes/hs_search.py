"""The CRM search API of the fake portal: filters, one sort, offset paging, the 10,000 cap.

Filter groups made only of bounds on the modification timestamp (and, on a single timestamp,
on ``hs_object_id``) map to ranges of the table's sorted key index and are answered in
O(log n + page): this is what an incremental sync asks, so the fake never dominates a
benchmark. Anything else (other properties, other sorts) is evaluated record by record,
which is fine at test sizes.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from fakes.hs_data import parse_ms
from fakes.hs_objects import IDX_BITS, IDX_MASK, ObjectTable

__all__ = ["SearchError", "search", "SEARCH_CAP", "MAX_LIMIT"]

SEARCH_CAP = 10_000
MAX_LIMIT = 200
TS_MAX = (1 << (63 - IDX_BITS)) - 1
RANGE_OPS = {"EQ", "GT", "GTE", "LT", "LTE", "BETWEEN"}


class SearchError(Exception):
    """A request HubSpot answers with HTTP 400 VALIDATION_ERROR."""


def _typed(ptype: str, value: Any) -> Any:
    if value is None:
        return None
    text = str(value)
    try:
        if ptype in ("datetime", "date"):
            return parse_ms(text)
        if ptype == "number":
            return float(text)
    except ValueError:
        return text
    return text.lower() if ptype != "bool" else text


def _matches(f: dict[str, Any], value: Any, ptype: str) -> bool:
    op = f.get("operator", "EQ")
    if op == "HAS_PROPERTY":
        return value not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return value in (None, "")
    v = _typed(ptype, value)
    if op in ("IN", "NOT_IN"):
        inside = v in {_typed(ptype, x) for x in f.get("values", [])}
        return inside if op == "IN" else not inside
    if v is None:
        return op == "NEQ"
    target = _typed(ptype, f.get("value"))
    try:
        if op == "EQ":
            return v == target
        if op == "NEQ":
            return v != target
        if op == "GT":
            return v > target
        if op == "GTE":
            return v >= target
        if op == "LT":
            return v < target
        if op == "LTE":
            return v <= target
        if op == "BETWEEN":
            return target <= v <= _typed(ptype, f.get("highValue"))
        if op == "CONTAINS_TOKEN":
            return str(target).strip("*") in str(v)
    except TypeError:
        return False
    raise SearchError(f"Unknown operator '{op}'")


class _Group:
    """One filter group: its key range, and whether the range is exactly its matches."""

    def __init__(self, table: ObjectTable, filters: list[dict[str, Any]]) -> None:
        ts_lo, ts_hi, ix_lo, ix_hi = 0, TS_MAX, 0, IDX_MASK
        self.filters = filters
        residual, by_id = False, False
        for f in filters:
            prop, op = f.get("propertyName"), f.get("operator", "EQ")
            if prop not in (table.ts_prop, "hs_object_id") or op not in RANGE_OPS:
                residual = True
                continue
            try:
                lo_v = int(f["value"]) if prop == "hs_object_id" else parse_ms(str(f["value"]))
                hi_v = lo_v
                if op == "BETWEEN":
                    hi_v = (int(f["highValue"]) if prop == "hs_object_id"
                            else parse_ms(str(f["highValue"])))
            except (KeyError, ValueError) as exc:
                raise SearchError(f"Invalid filter value for {prop}: {exc}") from None
            lo, hi = {"EQ": (lo_v, hi_v), "BETWEEN": (lo_v, hi_v), "GT": (lo_v + 1, None),
                      "GTE": (lo_v, None), "LT": (None, lo_v - 1), "LTE": (None, lo_v)}[op]
            if prop == "hs_object_id":
                by_id = True
                if lo is not None:
                    ix_lo = max(ix_lo, table.index_bound(lo, upper=False))
                if hi is not None:
                    ix_hi = min(ix_hi, table.index_bound(hi, upper=True))
            else:
                ts_lo = max(ts_lo, lo) if lo is not None else ts_lo
                ts_hi = min(ts_hi, hi) if hi is not None else ts_hi
        single = ts_lo == ts_hi
        if by_id and not single:
            residual = True
            ix_lo, ix_hi = 0, IDX_MASK
        ix_lo, ix_hi = max(ix_lo, 0), min(ix_hi, IDX_MASK)
        self.exact = not residual
        self.single_ts = ts_lo if single else None
        keys = table.keys
        if ts_lo > ts_hi or ix_lo > ix_hi:
            self.lo = self.hi = 0
        else:
            self.lo = bisect.bisect_left(keys, (ts_lo << IDX_BITS) | ix_lo)
            self.hi = bisect.bisect_right(keys, (ts_hi << IDX_BITS) | ix_hi)


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _sort_spec(body: dict[str, Any]) -> tuple[str | None, bool]:
    sorts = body.get("sorts") or []
    if not sorts:
        return None, False
    first = sorts[0]  # HubSpot honours one sort only
    if isinstance(first, str):
        return first.lstrip("-"), first.startswith("-")
    descending = str(first.get("direction", "ASCENDING")).upper().startswith("DESC")
    return first.get("propertyName"), descending


def search(table: ObjectTable, body: dict[str, Any], ptype: Callable[[str], str]
           ) -> tuple[int, list[int], int | None]:
    """Run a search request body; return ``(total, indexes of the page, next offset)``.

    :param ptype: the HubSpot type of a property (``number``, ``datetime``…).
    :raises SearchError: for what HubSpot rejects with HTTP 400 (limit > 200, paging past
        10,000 results, too many filters, bad values).
    """
    limit = int(body.get("limit") or 10)
    after = int(body.get("after") or 0)
    if not 0 < limit <= MAX_LIMIT:
        raise SearchError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if after + limit > SEARCH_CAP:  # the documented cap on paging one query
        raise SearchError(f"Paging past {SEARCH_CAP} results is not supported "
                          f"(after={after}, limit={limit})")
    groups_raw = body.get("filterGroups") or [{"filters": []}]
    if len(groups_raw) > 5 or sum(len(g.get("filters", [])) for g in groups_raw) > 25:
        raise SearchError("Too many filter groups or filters (max 5 groups, 25 filters)")
    groups = [_Group(table, g.get("filters", [])) for g in groups_raw]
    sort_prop, desc = _sort_spec(body)
    ranges = _union([(g.lo, g.hi) for g in groups])
    keys = table.keys
    single = {g.single_ts for g in groups}
    key_order = (sort_prop in (None, table.ts_prop) or
                 (sort_prop == "hs_object_id" and len(single) == 1 and None not in single))
    if all(g.exact for g in groups) and key_order:
        total = sum(hi - lo for lo, hi in ranges)
        positions: list[int] = []
        skip = after if not desc else max(total - after - limit, 0)
        want = min(limit, max(total - after, 0))
        for lo, hi in ranges:
            if skip >= hi - lo:
                skip -= hi - lo
                continue
            take = range(lo + skip, min(hi, lo + skip + want - len(positions)))
            positions.extend(take)
            skip = 0
            if len(positions) >= want:
                break
        page = [keys[p] & IDX_MASK for p in positions]
        if desc:
            page.reverse()
    else:
        matched: list[int] = []
        for lo, hi in ranges:
            for p in range(lo, hi):
                i = keys[p] & IDX_MASK
                props = table.properties(i)
                if any(all(_matches(f, props.get(str(f.get("propertyName"))),
                                    ptype(str(f.get("propertyName", ""))))
                           for f in g.filters) for g in groups):
                    matched.append(i)
        if sort_prop not in (None, table.ts_prop) or not key_order:
            name = sort_prop or "hs_object_id"
            kind = ptype(name)

            def sort_key(i: int) -> tuple[Any, ...]:
                v = _typed(kind, table.properties(i).get(name))
                return (v is None, v if v is not None else 0, i)

            matched.sort(key=sort_key)
        if desc:
            matched.reverse()
        total = len(matched)
        page = matched[after:after + limit]
    nxt = after + limit if after + limit < total else None
    return total, page, nxt
