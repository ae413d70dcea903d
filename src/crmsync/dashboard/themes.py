"""The dashboard's customers page with what customers and deals say: the customer KPIs
(:func:`crmsync.dashboard.operations.customers`), then each source's themes with share,
``n``, sentiment, NPS and redacted example quotes, as the last analysis stored them
(docs/themes.md, docs/dashboard.md)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crmsync import api
from crmsync.core.errors import CrmsyncError
from crmsync.dashboard import operations
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters

__all__ = ["customers_page", "themes_section"]


def _fmt(theme: dict[str, Any]) -> dict[str, Any]:
    share = theme["share"]
    return {**theme, "share_text": "–" if share is None else f"{share:.1%}",
            "sentiment_text": "–" if theme["sentiment"] is None else f"{theme['sentiment']:+.2f}",
            "nps_text": "–" if theme["nps"] is None else f"{theme['nps']:+.0f}"}


def themes_section(data: DashboardData, f: Filters) -> dict[str, Any]:
    """The themes of the latest period of the page's period with texts, up to its ``to``
    date; the rep filter narrows them to that rep's texts. Nothing is analysed here."""
    as_of = f.date_to if f.date_to is not None else data.as_of()
    try:
        result = api.themes(data.config, data.registry, period=f.period, as_of=as_of,
                            analyse=False, rep=f.rep, store=data.store)
    except sa.exc.DBAPIError:  # a store not upgraded since text themes arrived
        return {"sources": [], "missing_table": True, "error": None}
    except CrmsyncError as exc:  # an invalid [themes] section
        return {"sources": [], "missing_table": False, "error": str(exc)}
    sources = [{**s, "themes": [_fmt(t) for t in s["themes"]]} for s in result["sources"]]
    return {"sources": sources, "missing_table": False, "error": None,
            "period_start": result["period_start"], "partial": result["partial"]}


def customers_page(data: DashboardData, f: Filters) -> dict[str, Any]:
    """The customer KPIs and the themes section."""
    return {**operations.customers(data, f), "themes": themes_section(data, f)}
