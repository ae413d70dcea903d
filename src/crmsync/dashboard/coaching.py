"""The dashboard's coaching page: the open coaching findings per rep with their evidence, as
the last ``crmsync coach`` run left them (docs/coaching.md, docs/dashboard.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from crmsync import api
from crmsync.core.formatting import format_value
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters

__all__ = ["coaching_page"]


def _evidence(e: Mapping[str, Any], currency: str) -> dict[str, str]:
    """One KPI of a finding, formatted for the page."""
    unit = str(e.get("unit") or "count")

    def fmt(v: float | None) -> str:
        return format_value(v, unit, currency).strip() if v is not None else "–"

    return {"kpi": str(e.get("kpi")), "title": str(e.get("title") or e.get("kpi")),
            "condition": str(e.get("condition") or ""), "value": fmt(e.get("value")),
            "n": f"{e['n']:,.0f}" if e.get("n") is not None else "–",
            "median": fmt(e.get("team_median")), "target": fmt(e.get("target")),
            "threshold": fmt(e.get("threshold"))}


def coaching_page(data: DashboardData, f: Filters) -> dict[str, Any]:
    """The open findings of the reps in scope (a rep, a team, or everyone), grouped by rep."""
    try:
        found = api.coaching_findings(data.config, store=data.store)
    except sa.exc.DBAPIError:  # a store not upgraded since coaching findings arrived
        return {"reps": [], "total": 0, "missing_table": True}
    if f.rep:
        found = [r for r in found if r["rep_id"] == f.rep]
    elif f.team:
        found = [r for r in found if r["team"] == f.team]
    reps: dict[str, dict[str, Any]] = {}
    for r in found:
        rep = reps.setdefault(r["rep_id"], {"rep_id": r["rep_id"], "rep": r["rep"],
                                            "team": r["team"], "findings": []})
        rep["findings"].append({**r, "evidence": [_evidence(e, data.currency)
                                                  for e in r["evidence"]]})
    return {"reps": list(reps.values()), "total": len(found), "missing_table": False}
