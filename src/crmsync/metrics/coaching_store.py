"""Coaching findings kept in the store across runs (docs/coaching.md, "Lifecycle").

One ``coaching_findings`` row per rule and rep. Each evaluation of a set of reps:

* a finding with no row is **opened** (``status = open``);
* a finding whose row is open is **still open** (its evidence and period are updated);
* a finding whose row was resolved is **reopened** (``status = open``, ``opened_at`` the
  time of this run, ``reopened`` + 1, ``resolved_at`` cleared);
* an open row of an evaluated rep whose rule no longer fires (or no longer exists, or lacks
  a large enough sample) is **resolved** (``resolved_at`` the time of this run).

Reps that were not evaluated (outside ``--rep``/``--team``) keep their rows as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core.internal_tables import coaching_findings
from crmsync.metrics.coaching import Finding

if TYPE_CHECKING:
    from crmsync.store import Store

__all__ = ["CHANGES", "record_findings", "stored_findings"]

#: The kinds of change one evaluation reports, in the order they are shown.
CHANGES = ("opened", "reopened", "still_open", "resolved")
_BATCH = 500


def _values(f: Finding, now: dt.datetime) -> dict[str, Any]:
    """The columns a fired finding sets."""
    return {"rep_name": f.rep, "team": f.team, "title": f.title, "area": f.area,
            "severity": f.severity, "gap": f.gap, "period": f.period,
            "period_start": dt.date.fromisoformat(f.period_start) if f.period_start else None,
            "period_end": dt.date.fromisoformat(f.period_end) if f.period_end else None,
            "evidence": {"evidence": f.as_dict()["evidence"],
                         "advice": f.advice},
            "status": "open", "last_seen_at": now, "last_run_at": now}


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _as_dict(row: Any) -> dict[str, Any]:
    """A stored finding as JSON-able data (the shape :func:`stored_findings` returns)."""
    stored = row.evidence or {}
    return {"id": row.id, "rule_id": row.rule_id, "rep_id": row.rep_id,
            "rep": row.rep_name or row.rep_id, "team": row.team, "title": row.title,
            "area": row.area, "severity": row.severity, "gap": row.gap, "period": row.period,
            "period_start": _iso(row.period_start), "period_end": _iso(row.period_end),
            "evidence": stored.get("evidence", []), "advice": stored.get("advice", ""),
            "status": row.status, "opened_at": _iso(row.opened_at),
            "last_seen_at": _iso(row.last_seen_at), "resolved_at": _iso(row.resolved_at),
            "reopened": row.reopened}


def _existing(conn: sa.Connection, reps: Sequence[str]) -> dict[tuple[str, str], Any]:
    """The stored rows of ``reps`` by (rule, rep)."""
    t = coaching_findings
    out: dict[tuple[str, str], Any] = {}
    for i in range(0, len(reps), _BATCH):
        for row in conn.execute(sa.select(t).where(t.c.rep_id.in_(reps[i:i + _BATCH]))):
            out[(row.rule_id, row.rep_id)] = row
    return out


def record_findings(store: Store, findings: Iterable[Finding], evaluated: Collection[str],
                    now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Store one evaluation of the reps ``evaluated`` (remote ids) at ``now`` (naive UTC);
    returns the findings by change (:data:`CHANGES`), each as :func:`stored_findings` rows."""
    t = coaching_findings
    fired = {(f.rule_id, f.rep_id): f for f in findings}
    touched: dict[str, list[int]] = {c: [] for c in CHANGES}
    with store.engine.begin() as conn:
        existing = _existing(conn, sorted(set(evaluated) | {k[1] for k in fired}))
        for key, f in fired.items():
            row = existing.get(key)
            values = _values(f, now)
            if row is None:
                inserted = conn.execute(t.insert().values(
                    rule_id=f.rule_id, rep_id=f.rep_id, opened_at=now, reopened=0,
                    **values)).inserted_primary_key
                assert inserted is not None
                touched["opened"].append(int(inserted[0]))
                continue
            if row.status == "open":
                touched["still_open"].append(row.id)
            else:
                values.update(opened_at=now, resolved_at=None, reopened=row.reopened + 1)
                touched["reopened"].append(row.id)
            conn.execute(t.update().where(t.c.id == row.id).values(**values))
        gone = [row.id for key, row in existing.items()
                if key not in fired and row.status == "open" and row.rep_id in evaluated]
        if gone:
            conn.execute(t.update().where(t.c.id.in_(gone))
                         .values(status="resolved", resolved_at=now, last_run_at=now))
        touched["resolved"] = gone
        ids = [i for c in CHANGES for i in touched[c]]
        rows = {r.id: r for i in range(0, len(ids), _BATCH)
                for r in conn.execute(sa.select(t).where(t.c.id.in_(ids[i:i + _BATCH])))}
    return {c: [_as_dict(rows[i]) for i in touched[c]] for c in CHANGES}


def stored_findings(store: Store, *, reps: Collection[str] | None = None,
                    include_resolved: bool = False) -> list[dict[str, Any]]:
    """The stored findings (open ones only unless ``include_resolved``), of ``reps`` (remote
    ids) if given, ordered by rep name, then open before resolved, then rule."""
    t = coaching_findings
    query = sa.select(t)
    if not include_resolved:
        query = query.where(t.c.status == "open")
    with store.engine.connect() as conn:
        rows = [r for r in conn.execute(query) if reps is None or r.rep_id in reps]
    rows.sort(key=lambda r: ((r.rep_name or r.rep_id).lower(), r.rep_id, r.status != "open",
                             r.rule_id))
    return [_as_dict(r) for r in rows]
