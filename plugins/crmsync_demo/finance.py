"""Monthly currency rates and sales and marketing spend."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

from crmsync_demo.sales_team import SalesTeam
from crmsync_demo.seeding import FX, SPEND, approx_normal, rng_for, uniform
from crmsync_demo.timeline import DAY, GROWTH_PER_YEAR, Timeline, epoch_of, next_month, to_datetime
from crmsync_demo.vocabulary import FX_BASE_RATES

__all__ = ["currency_rate_records", "spend_records", "campaign_id", "SPEND_LINES"]

#: Monthly spend lines: (category, channel, share of the month's sales payroll).
SPEND_LINES = (
    ("sales", "Salaries & commissions", 1.0),
    ("sales", "Sales tools", 0.06),
    ("sales", "Travel & entertainment", 0.05),
    # Marketing channels are named like the lead sources they feed (vocabulary.LEAD_SOURCES),
    # so CAC by channel finds the customers each one brought.
    ("marketing", "Web", 0.16),
    ("marketing", "Paid Social", 0.10),
    ("marketing", "Event", 0.14),
    ("marketing", "Webinar", 0.06),
    ("marketing", "Partner", 0.07),
)
#: Fully loaded monthly cost of each role, in USD.
_MONTHLY_COST = {"rep": 17_000.0, "sdr": 8_500.0, "manager": 22_000.0}


def currency_rate_records(seed: int, timeline: Timeline) -> Iterator[dict[str, Any]]:
    """One ``currency_rates`` record per non-USD currency and month, drifting gently.

    Months run from the one the history starts in to the one holding ``as_of``; each rate is
    valid from the first of its month to the first of the next.
    """
    months = list(timeline.month_starts())
    for n, (currency, base) in enumerate(FX_BASE_RATES.items()):
        rng = rng_for(seed, FX, n)
        log_rate = math.log(base)
        for month in months:
            # A random walk pulled back towards the long-run rate.
            log_rate += 0.015 * approx_normal(rng.random) - 0.2 * (log_rate - math.log(base))
            published = to_datetime(epoch_of(month))
            yield {
                "remote_id": f"FX-{currency}-{month:%Y-%m}",
                "remote_created_at": published,
                "remote_updated_at": published,
                "currency": currency,
                "base_currency": "USD",
                "rate_to_base": float(f"{math.exp(log_rate):.6g}"),
                "valid_from": month,
                "valid_to": next_month(month),
            }


def campaign_id(source: str | None, created: dt.date, timeline: Timeline) -> str | None:
    """The spend row a deal of lead source ``source`` created on ``created`` came from — its
    *primary campaign source*, as Salesforce keeps it: the previous month's campaign of that
    marketing channel (booked by the time the deal is created) — or None (a source no campaign
    pays for, or a month before the spend)."""
    month = (created.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if month < timeline.reporting_start:
        return None
    for n, (category, channel, _) in enumerate(SPEND_LINES):
        if category == "marketing" and channel == source:
            return f"SP-{month:%Y-%m}-{n}"
    return None


def spend_records(seed: int, timeline: Timeline, team: SalesTeam) -> Iterator[dict[str, Any]]:
    """Monthly spend per category and channel, in USD, sized to the sales team.

    Months run over the reporting quarters (:meth:`Timeline.reporting_quarters`).
    """
    payroll_now = sum(_MONTHLY_COST[u["role"]] for u in team.users if u["is_active"])
    months = list(timeline.month_starts(timeline.reporting_start))
    for m, month in enumerate(months):
        rng = rng_for(seed, SPEND, m)
        years_back = (len(months) - 1 - m) / 12
        payroll = payroll_now / (1 + GROWTH_PER_YEAR) ** years_back
        end = next_month(month)
        booked = to_datetime(min(epoch_of(end), timeline.now - DAY))
        for n, (category, channel, share) in enumerate(SPEND_LINES):
            # Events are lumpy: a big quarter-opening conference, quiet months between.
            lumpiness = 2.5 if channel == "Event" and month.month % 3 == 1 else 1.0
            amount = payroll * share * lumpiness * uniform(rng, 0.85, 1.15)
            yield {
                "remote_id": f"SP-{month:%Y-%m}-{n}",
                "remote_created_at": booked,
                "remote_updated_at": booked,
                "category": category,
                "channel": channel,
                "segment": None,
                "period_start": month,
                "period_end": end - dt.timedelta(days=1),
                "amount": round(amount, 2),
                "currency": "USD",
            }


#: The sales plan's targets: (metric, value, period, dimension). A RevOps team would keep these
#: in a spreadsheet; ``crmsync metrics show`` flags values that miss them.
TARGETS: tuple[tuple[str, float, str | None, str | None], ...] = (
    ("win_rate", 0.30, None, None),
    ("win_rate", 0.32, "quarter", "team"),
    ("sales_cycle_days", 60.0, None, None),
    ("lead_response_minutes", 60.0, None, None),
    ("lead_response_sla_rate", 0.5, None, None),
    ("quota_attainment", 1.0, "quarter", "owner"),
    ("calls", 40.0, "month", "owner"),
    ("nps", 30.0, None, None),
)


def target_records(timeline: Timeline) -> list[dict[str, Any]]:
    """The demo company's targets, set when its plan was written (the start of the history)."""
    written = to_datetime(timeline.start)
    return [{"remote_id": f"TG{n:02d}", "remote_created_at": written,
             "remote_updated_at": written, "metric": metric, "value": value,
             "period": period, "dimension": dimension}
            for n, (metric, value, period, dimension) in enumerate(TARGETS, start=1)]
