"""What changed in the open pipeline between two days (``crmsync pipeline changes`` and the
dashboard's pipeline changes page; docs/pipeline-changes.md). The SQL is in
:mod:`crmsync.metrics.pipeline_changes`.

See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crmsync.core.config import Config
from crmsync.core.errors import MetricError
from crmsync.core.periods import period_end
from crmsync.core.schema import users
from crmsync.metrics.pipeline_changes import (
    CATEGORIES,
    GROUPINGS,
    ChangesSpec,
    Window,
    category_sums,
    deal_categories,
    deal_rows,
    sums_of_rows,
)
from crmsync.metrics.report import today_in
from crmsync.orchestration.connections import open_store
from crmsync.store import Store

__all__ = ["pipeline_changes", "parse_window", "default_dates", "WINDOWS"]

#: ``--window`` keywords (besides ``FIRST..LAST``).
WINDOWS = ("quarter", "month", "year", "all")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
_CENT = Decimal("0.01")


def _fiscal_start(day: dt.date, period: str, fiscal_year_start_month: int) -> dt.date:
    """The first day of the month, fiscal quarter or fiscal year containing ``day``."""
    if period == "month":
        return day.replace(day=1)
    months = 3 if period == "quarter" else 12
    offset = (day.month - fiscal_year_start_month) % months
    index = day.year * 12 + day.month - 1 - offset
    return dt.date(index // 12, index % 12 + 1, 1)


def parse_window(text: str | None, date_from: dt.date, fiscal_year_start_month: int = 1
                 ) -> Window:
    """The target window of ``--window``: ``quarter`` (default), ``month`` or ``year`` — the
    fiscal one containing ``date_from`` —, ``all`` (no close-date condition) or
    ``FIRST..LAST`` (ISO days, both included)."""
    text = (text or "quarter").strip()
    if text == "all":
        return Window(None, None, "all close dates")
    if text in WINDOWS:
        first = _fiscal_start(date_from, text, fiscal_year_start_month)
        end = period_end(text, first)
        assert end is not None
        last = end - dt.timedelta(days=1)
        return Window(first, last, f"fiscal {text} {first.isoformat()} – {last.isoformat()}")
    m = _RANGE.fullmatch(text)
    bounds: tuple[dt.date, dt.date] | None = None
    try:
        if m:
            bounds = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
    except ValueError:
        bounds = None
    if bounds is None or bounds[0] > bounds[1]:
        raise MetricError(f"window '{text}' is not one of {', '.join(WINDOWS)} nor "
                          "FIRST..LAST (two ISO days, FIRST not after LAST)")
    first, last = bounds
    return Window(first, last, f"{first.isoformat()} – {last.isoformat()}")


def _instant(day: dt.date, timezone: str) -> dt.datetime:
    """Midnight starting ``day`` in ``timezone``, as naive UTC."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _money(cents: int) -> float:
    return float((Decimal(cents) / 100).quantize(_CENT))


def _groups(store: Store, by: str | None, values: set[str | None]) -> dict[str | None, str]:
    """Display names of the groups (owner names; team names are themselves)."""
    names: dict[str | None, str] = {None: f"(no {by})" if by else "all deals"}
    if by == "owner":
        with store.engine.connect() as conn:
            for rid, name in conn.execute(sa.select(users.c.remote_id, users.c.name)
                                          .order_by(users.c.is_deleted.desc(), users.c.id)):
                names[str(rid)] = name or str(rid)
    return {v: names.get(v, str(v)) for v in values}


def _lines(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"category": key, "label": label, "deals": int(row[f"{key}_deals"] or 0),
             "count": int(row[f"{key}_count"] or 0), "cents": int(row[f"{key}_cents"] or 0),
             "amount": _money(int(row[f"{key}_cents"] or 0))}
            for key, label, _ in CATEGORIES]


def _total(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The categories summed over the groups (a moved deal counts out of one, into another)."""
    total = [dict(line, deals=0, count=0, cents=0) for line in groups[0]["lines"]]
    for g in groups:
        for line, add in zip(total, g["lines"], strict=True):
            for k in ("deals", "count", "cents"):
                line[k] += add[k]
    for line in total:
        line["amount"] = _money(line["cents"])
    return total


def _deal(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "deal_id": row["deal_id"], "connection": row["connection"],
        "name": row["name"] or row["deal_id"],
        "owner": row["owner_name_e"] or row["owner_e"],
        "owner_at_start": row["owner_name_a"] or row["owner_a"],
        "group_at_start": row["group_a"], "group": row["group_e"],
        "categories": [c for c, _, _, _ in deal_categories(row) if c not in ("start", "end")],
        "amount_start": _money(int(row["cents_a"])), "amount_end": _money(int(row["cents_e"])),
        "close_start": str(row["close_a"])[:10] if row["close_a"] else None,
        "close_end": str(row["close_e"])[:10] if row["close_e"] else None,
        "status_start": row["status_a"], "status_end": row["status_e"],
        "pushes": int(row["pushes"]), "push_days": int(row["push_days"]),
        "pushes_in_period": int(row["pushes_in_period"]),
    }


def pipeline_changes(config: Config, *, date_from: dt.date, date_to: dt.date,
                     window: str | None = None, by: str | None = None, deals: bool = False,
                     store: Store | None = None) -> dict[str, Any]:
    """The open pipeline of the target window at the start of ``date_from`` and at the end of
    ``date_to`` (midnights in ``[metrics] timezone``) and the changes between, per deal
    decomposed so that ``start + Σ changes = end`` exactly, in count and in cents::

        {"from", "to", "start_at", "end_at", "window": {"first", "last", "label"},
         "by", "currency", "unpriced",
         "groups": [{"group", "name", "lines": [{"category", "label", "deals", "count",
                                                 "cents", "amount"}]}],
         "total": [...lines...],
         "deals": [{"deal_id", "name", "owner", "owner_at_start", "group_at_start", "group",
                    "categories", "amount_start", "amount_end", "close_start", "close_end",
                    "status_start", "status_end", "pushes", "push_days",
                    "pushes_in_period"}]}

    ``count`` is a line's signed contribution to the number of deals (0 for amount changes),
    ``deals`` how many deals it holds. ``deals`` (the list) only with ``deals=True``.

    :param window: ``quarter`` (default), ``month``, ``year``, ``all`` or ``FIRST..LAST``
        (:func:`parse_window`).
    :param by: ``owner`` or ``team`` for one line set per group (a deal that changes hands
        moves between them).
    """
    if date_to < date_from:
        raise MetricError(f"--to {date_to} is before --from {date_from}")
    if by is not None and by not in GROUPINGS:
        raise MetricError(f"cannot group pipeline changes by '{by}' "
                          f"(one of {', '.join(GROUPINGS)})")
    m = config.metrics
    spec = ChangesSpec(start=_instant(date_from, m.timezone),
                       end=_instant(date_to + dt.timedelta(days=1), m.timezone),
                       window=parse_window(window, date_from, m.fiscal_year_start_month),
                       by=by, base_currency=m.base_currency)
    own = store is None
    store = store or open_store(config)
    try:
        with store.engine.connect() as conn:
            if deals:  # one query: the deals, and the lines summed from them
                listed = [dict(r) for r in conn.execute(deal_rows(store.dialect, spec))
                          .mappings()]
                rows = sums_of_rows(listed)
            else:
                listed = []
                rows = [dict(r) for r in conn.execute(category_sums(store.dialect, spec))
                        .mappings()]
        names = _groups(store, by, {r["grp"] for r in rows})
    finally:
        if own:
            store.dispose()
    groups = sorted(({"group": r["grp"], "name": names[r["grp"]], "lines": _lines(r)}
                     for r in rows), key=lambda g: (g["group"] is None, g["name"].lower()))
    nothing = {"lines": _lines({f"{k}_{c}": 0 for k, _, _ in CATEGORIES
                                for c in ("deals", "count", "cents")})}
    out: dict[str, Any] = {
        "from": date_from.isoformat(), "to": date_to.isoformat(),
        "start_at": spec.start.isoformat(), "end_at": spec.end.isoformat(),
        "window": {"first": spec.window.first.isoformat() if spec.window.first else None,
                   "last": spec.window.last.isoformat() if spec.window.last else None,
                   "label": spec.window.label},
        "by": by, "currency": m.base_currency, "timezone": m.timezone,
        "unpriced": sum(int(r["unpriced"] or 0) for r in rows),
        "groups": groups if by else [], "total": _total(groups or [nothing])}
    if deals:
        out["deals"] = [d for d in map(_deal, listed) if d["categories"]]
    return out


def default_dates(config: Config, date_from: dt.date | None, date_to: dt.date | None,
                  today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """``--to`` defaults to today (``[metrics] timezone``), ``--from`` to 6 days before it
    (a week: both days are included)."""
    date_to = date_to or today or today_in(config.metrics.timezone)
    return date_from or date_to - dt.timedelta(days=6), date_to
