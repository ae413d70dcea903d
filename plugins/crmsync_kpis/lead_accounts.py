"""Which account a lead belongs to, for the account dimensions of the lead KPIs (``segment``,
``region``, ``territory``, ``industry``; docs/metrics/leads.md, "A lead's account").

1. Its ``converted_account_id``: the account the CRM says the lead became or joined.
2. Else the live account of its connection whose ``domain`` is the lead's e-mail domain (case
   and a leading ``www.`` ignored; of several such accounts the lowest ``remote_id``, so the
   choice is stable across runs and databases).
3. Else none: the lead is grouped under the empty value.

Step 2 is what keeps conversion rates by segment honest: with step 1 alone only converted
leads would have an account, every segment would convert at 100 % and the unconverted leads
would all sit in the empty group.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from crmsync import MetricContext

__all__ = ["ACCOUNT_DIMENSIONS", "email_domain", "lead_account"]

#: The dimensions read from a lead's account.
ACCOUNT_DIMENSIONS = ("segment", "region", "territory", "industry")


def _bare(ctx: MetricContext, domain: ColumnElement[Any]) -> ColumnElement[Any]:
    """``domain`` lower-cased and trimmed, without a leading ``www.``."""
    low = sa.func.lower(sa.func.trim(domain))
    return sa.case((low.like("www.%"), sa.func.substr(low, 5)), else_=low)


def email_domain(ctx: MetricContext, email: ColumnElement[Any]) -> ColumnElement[Any]:
    """The part of ``email`` after its ``@``, normalised like an account's domain; ``NULL``
    without an ``@``."""
    at = (sa.func.instr(email, "@") if ctx.dialect == "sqlite"
          else sa.func.strpos(email, "@"))
    return sa.case((at > 0, _bare(ctx, sa.func.substr(email, at + 1))), else_=None)


def lead_account(ctx: MetricContext, lead: FromClause
                 ) -> tuple[FromClause, ColumnElement[Any]]:
    """``lead`` joined to the account its e-mail domain names, and the lead's account id
    (converted account, else that account). Only joined when the run breaks down by an
    account dimension; otherwise the converted account alone (no other column needs it)."""
    if ctx.dimension not in ACCOUNT_DIMENSIONS:
        return lead, lead.c.converted_account_id
    a = ctx.table("accounts").alias("domain_account")
    bare = (sa.select(a.c.connection, a.c.remote_id, _bare(ctx, a.c.domain).label("domain"))
            .where(ctx.live(a), a.c.domain.is_not(None))
            .subquery("bare_domains"))
    domains = (
        sa.select(bare.c.connection, bare.c.domain,
                  sa.func.min(bare.c.remote_id).label("account_id"))
        .where(bare.c.domain != "")
        .group_by(bare.c.connection, bare.c.domain)
        .subquery("account_domains"))
    joined = lead.outerjoin(domains, sa.and_(domains.c.connection == lead.c.connection,
                                             domains.c.domain == email_domain(ctx,
                                                                              lead.c.email)))
    return joined, sa.func.coalesce(lead.c.converted_account_id, domains.c.account_id)
