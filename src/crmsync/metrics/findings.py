"""Data-quality findings the metric engine reports while computing: records it had to leave
out, named, so nobody trusts a number built on silently dropped data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from crmsync.plugin.context import MetricContext

if TYPE_CHECKING:
    from crmsync.core.config import MetricsConfig
    from crmsync.store import Store

__all__ = ["Finding", "unconverted_deals"]


@dataclass(frozen=True)
class Finding:
    """One record a computation could not use, and why."""

    connection: str
    entity: str
    remote_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.connection}/{self.entity} record {self.remote_id}: {self.problem}"


def unconverted_deals(store: Store, config: MetricsConfig, *, limit: int = 1000
                      ) -> list[Finding]:
    """Deals with an amount in a currency that has no rate to the base currency (at the close
    date for closed deals, the latest for open ones): money metrics leave them out."""
    ctx = MetricContext(dialect=store.dialect, base_currency=config.base_currency)
    o = ctx.table("opportunities")
    converted = sa.case((o.c.status == "open", ctx.amount_in_base(o)),
                        else_=ctx.amount_in_base(o, o.c.closed_at))
    stmt = (sa.select(o.c.connection, o.c.remote_id, o.c.currency, o.c.status, o.c.closed_at)
            .where(ctx.live(o), o.c.amount.is_not(None), converted.is_(None))
            .order_by(o.c.connection, o.c.remote_id).limit(limit))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        when = ("the latest rate" if r.status == "open" or r.closed_at is None
                else f"the rate on {r.closed_at.date().isoformat()}")
        out.append(Finding(r.connection, "opportunities", r.remote_id,
                           f"no {r.currency}→{config.base_currency} rate for {when}; "
                           "left out of money metrics"))
    return out
