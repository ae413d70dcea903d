"""Lead KPIs by the lead's account (plugins/crmsync_kpis/lead_accounts.py): the converted
account, else the account whose domain is the lead's e-mail domain, else none. SQLite and
PostgreSQL.

Accounts: A1 acme.example (Enterprise, EMEA, DACH, Software); A7 also acme.example (Other: the
lower remote id A1 wins); A2 WWW.Globex.example (SMB, Nordics); A4 initech.example, deleted.

January 2026 leads:

* L1 a@acme.example, converted into A2 and the won O1 → A2 (the CRM's link beats the domain).
* L2 b@Acme.Example, not converted → A1 by domain (case ignored).
* L3 c@globex.example, not converted → A2 (the account's ``www.`` ignored).
* L4 d@initech.example → none (its only account is deleted).
* L5 "no e-mail at all" → none.
* L6 f@acme.example, converted into A1 and the open O2 → A1.
"""

from __future__ import annotations

import datetime as dt

from conftest import load_records
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync_kpis.leads import LeadConversionRate, LeadToOpportunityRate

JAN = dt.date(2026, 1, 1)
AS_OF = dt.datetime(2026, 3, 31)


def lead(rid, email, account=None, opportunity=None):
    return {"remote_id": rid, "email": email, "remote_created_at": "2026-01-05T09:00:00",
            "converted_account_id": account, "converted_opportunity_id": opportunity}


DATA = {
    "accounts": [
        {"remote_id": "A1", "domain": "acme.example", "segment": "Enterprise",
         "region": "EMEA", "territory": "DACH", "industry": "Software"},
        {"remote_id": "A7", "domain": "acme.example", "segment": "Other"},
        {"remote_id": "A2", "domain": "WWW.Globex.example", "segment": "SMB",
         "region": "EMEA", "territory": "Nordics", "industry": "Retail"},
        {"remote_id": "A4", "domain": "initech.example", "segment": "Mid", "is_deleted": True},
    ],
    "opportunities": [{"remote_id": "O1", "status": "won", "closed_at": "2026-02-01T00:00:00"},
                      {"remote_id": "O2", "status": "open"}],
    "leads": [lead("L1", "a@acme.example", "A2", "O1"), lead("L2", "b@Acme.Example"),
              lead("L3", "c@globex.example"), lead("L4", "d@initech.example"),
              lead("L5", "no e-mail at all"), lead("L6", "f@acme.example", "A1", "O2")],
}


def values(store, metric, dimension):
    result = compute(store, [metric], MetricsConfig(), period="month",
                     dimensions=(dimension,), as_of=AS_OF)
    return {v.dimension_value: (v.value, v.numerator, v.denominator) for v in result.values
            if v.period_start == JAN}


def test_lead_to_opportunity_rate_by_segment_counts_unconverted_leads_of_known_domains(store):
    load_records(store, DATA)
    assert values(store, LeadToOpportunityRate(), "segment") == {
        "Enterprise": (0.5, 1, 2),   # L2 (by domain), L6 (converted)
        "SMB": (0.5, 1, 2),          # L1 (converted), L3 (by domain)
        None: (0.0, 0, 2)}           # L4, L5: no account


def test_lead_conversion_rate_by_territory_region_and_industry(store):
    load_records(store, DATA)
    metric = LeadConversionRate()
    assert values(store, metric, "territory") == {
        "DACH": (0.0, 0, 2), "Nordics": (0.5, 1, 2), None: (0.0, 0, 2)}
    assert values(store, metric, "region") == {"EMEA": (0.25, 1, 4), None: (0.0, 0, 2)}
    assert values(store, metric, "industry") == {
        "Software": (0.0, 0, 2), "Retail": (0.5, 1, 2), None: (0.0, 0, 2)}


def test_the_organisation_total_is_unchanged_by_the_account_lookup(store):
    load_records(store, DATA)
    assert values(store, LeadToOpportunityRate(), None) == {None: (2 / 6, 2, 6)}
