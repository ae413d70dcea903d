"""Histories for the pipeline-changes tests: a hand-built one whose every figure is read off by
hand (docs/pipeline-changes.md's worked example uses deals of it) and a seeded synthetic one.

Period: 1–31 July 2026 (UTC); target window: the quarter of 1 July (1 July – 30 September).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

STAGES = [
    {"remote_id": "S1", "pipeline_id": "PL", "label": "Qualify", "is_closed": False},
    {"remote_id": "W", "pipeline_id": "PL", "label": "Won", "is_closed": True, "is_won": True},
    {"remote_id": "L", "pipeline_id": "PL", "label": "Lost", "is_closed": True,
     "is_won": False},
]
USERS = [{"remote_id": "U1", "name": "Ann East", "team": "East"},
         {"remote_id": "U2", "name": "Bob West", "team": "West"}]
RATES = [
    {"remote_id": "EUR-1", "currency": "EUR", "base_currency": "USD", "rate_to_base": 1.05,
     "valid_from": "2026-01-01", "valid_to": "2026-07-01"},
    {"remote_id": "EUR-2", "currency": "EUR", "base_currency": "USD", "rate_to_base": 1.1,
     "valid_from": "2026-07-01"},
]


def deal(rid: str, name: str, amount: float, close: str, *, status: str = "open",
         stage: str = "S1", owner: str = "U1", created: str = "2026-01-10T00:00:00",
         currency: str = "USD", **more: Any) -> dict[str, Any]:
    """An opportunity record as it is now."""
    return {"remote_id": rid, "name": name, "amount": amount, "currency": currency,
            "expected_close_date": close, "status": status, "stage_id": stage,
            "owner_id": owner, "pipeline_id": "PL", "remote_created_at": created, **more}


def change(opp: str, field: str, at: str, old: str | None, new: str | None
           ) -> dict[str, Any]:
    """One row of opportunity_field_history (from the CRM)."""
    return {"remote_id": f"{opp}-{field}-{at}", "opportunity_id": opp, "field": field,
            "changed_at": at, "old_value": old, "new_value": new, "source": "crm"}


HAND: dict[str, list[dict[str, Any]]] = {
    "users": USERS,
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": STAGES,
    "currency_rates": RATES,
    "opportunities": [
        deal("P1", "Steady", 1000, "2026-08-15"),
        deal("P2", "Pushed thrice", 2000, "2026-10-15"),
        deal("P3", "Pulled in", 3000, "2026-09-01", owner="U2"),
        deal("P4", "Resized then won", 4500, "2026-08-30", status="won", stage="W",
             closed_at="2026-07-20T00:00:00"),
        deal("P5", "Lost", 500, "2026-09-30", status="lost", stage="L",
             closed_at="2026-07-15T00:00:00"),
        deal("P6", "Reopened", 700, "2026-09-10", owner="U2"),
        deal("P7", "Changed hands", 800, "2026-08-01", owner="U2"),
        deal("P8", "Euro to dollar", 1200, "2026-09-01"),
        deal("P9", "Quick win", 900, "2026-07-25", status="won", stage="W",
             closed_at="2026-07-22T00:00:00", created="2026-07-03T00:00:00"),
        deal("P10", "Deleted", 1500, "2026-08-10", is_deleted=True,
             deleted_at="2026-07-25T00:00:00"),
        deal("P11", "Created for next year", 300, "2027-01-15",
             created="2026-07-28T00:00:00"),
        deal("P12", "Created after the period", 100, "2026-08-20",
             created="2026-08-05T00:00:00"),
        deal("P13", "Created then pushed", 250, "2026-10-20", owner="U2",
             created="2026-07-02T00:00:00"),
    ],
    "opportunity_field_history": [
        change("P2", "expected_close_date", "2026-05-01T00:00:00", "2026-07-15", "2026-08-01"),
        change("P2", "expected_close_date", "2026-06-01T00:00:00", "2026-08-01", "2026-09-20"),
        change("P2", "expected_close_date", "2026-07-10T00:00:00", "2026-09-20", "2026-10-15"),
        change("P3", "expected_close_date", "2026-07-05T00:00:00", "2026-11-30", "2026-09-01"),
        change("P4", "amount", "2026-07-12T00:00:00", "4000.0", "4500.0"),
        change("P4", "stage_id", "2026-07-20T00:00:00", "S1", "W"),
        change("P5", "stage_id", "2026-07-15T00:00:00", "S1", "L"),
        change("P6", "stage_id", "2026-06-10T00:00:00", "S1", "L"),
        change("P6", "stage_id", "2026-07-08T00:00:00", "L", "S1"),
        change("P7", "owner_id", "2026-07-18T00:00:00", "U1", "U2"),
        change("P8", "currency", "2026-07-09T00:00:00", "EUR", "USD"),
        change("P8", "amount", "2026-07-09T00:00:00", "1000.0", "1200.0"),
        change("P9", "amount", "2026-07-10T00:00:00", "600.0", "900.0"),
        change("P9", "stage_id", "2026-07-22T00:00:00", "S1", "W"),
        change("P13", "expected_close_date", "2026-07-20T00:00:00", "2026-09-15",
               "2026-10-20"),
    ],
}

#: The report of HAND, read off by hand: category → (deals, amount).
HAND_EXPECTED = {
    "start": (7, 10900.0), "created": (2, 850.0), "pulled_in": (1, 3000.0),
    "reopened": (1, 700.0), "moved_in": (0, 0.0), "amount_change": (3, 900.0),
    "moved_out": (0, 0.0), "pushed_out": (2, -2250.0), "pulled_out": (0, 0.0),
    "won": (2, -5400.0), "lost": (1, -500.0), "removed": (1, -1500.0), "end": (5, 6700.0),
}

_DAY0 = dt.datetime(2026, 4, 1)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _synthetic_deal(rng: random.Random, i: int, out: dict[str, list[dict[str, Any]]]) -> None:
    created = _DAY0 + dt.timedelta(hours=rng.randrange(0, 24 * 150))
    currency = rng.choice(("USD", "USD", "EUR", "GBP"))
    amount = round(rng.uniform(100, 50_000), 2)
    close = (created + dt.timedelta(days=rng.randrange(10, 200))).date()
    owner, stage = rng.choice(("U1", "U2", "U3")), "S1"
    t, rid = created, f"D{i}"
    for k in range(rng.randrange(0, 7)):
        t += dt.timedelta(hours=rng.randrange(1, 24 * 40))
        field = rng.choice(("amount", "expected_close_date", "owner_id", "currency",
                            "stage_id", "expected_close_date"))
        if field == "amount":
            new: Any = round(amount * rng.uniform(0.5, 1.6), 2)
            old_s, new_s = str(float(amount)), str(float(new))
        elif field == "expected_close_date":
            new = close + dt.timedelta(days=rng.randrange(-40, 90))
            old_s, new_s = close.isoformat(), new.isoformat()
        elif field == "owner_id":
            new = rng.choice(("U1", "U2", "U3"))
            old_s, new_s = owner, new
        elif field == "currency":
            new = rng.choice(("USD", "EUR", "GBP"))
            old_s, new_s = currency, new
        else:
            new = rng.choice(("S1", "W", "L")) if stage == "S1" else "S1"
            old_s, new_s = stage, new
        out["opportunity_field_history"].append(
            {"remote_id": f"{rid}-{k}", "opportunity_id": rid, "field": field,
             "changed_at": _iso(t), "old_value": old_s, "new_value": new_s, "source": "crm"})
        amount, close, owner, currency, stage = (
            new if field == "amount" else amount,
            new if field == "expected_close_date" else close,
            new if field == "owner_id" else owner,
            new if field == "currency" else currency,
            new if field == "stage_id" else stage)
    status = {"S1": "open", "W": "won", "L": "lost"}[stage]
    record = {"remote_id": rid, "name": f"Deal {i}", "amount": amount, "currency": currency,
              "expected_close_date": close.isoformat(), "status": status,
              "stage_id": stage, "owner_id": owner, "pipeline_id": "PL",
              "remote_created_at": _iso(created)}
    if status != "open":
        record["closed_at"] = _iso(t)
    if rng.random() < 0.05:
        record.update(is_deleted=True, deleted_at=_iso(t + dt.timedelta(days=3)))
    out["opportunities"].append(record)


def synthetic(n: int = 400, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """``n`` deals created April–August 2026 with 0–6 random changes each (amount, close
    date, owner, currency, stage: wins, losses, reopens), some deleted; EUR and GBP rates."""
    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {
        "users": [*USERS, {"remote_id": "U3", "name": "Cy West", "team": "West"}],
        "pipelines": [{"remote_id": "PL", "label": "Sales"}], "stages": STAGES,
        "currency_rates": [*RATES, {"remote_id": "GBP-1", "currency": "GBP",
                                    "base_currency": "USD", "rate_to_base": 1.27,
                                    "valid_from": "2026-01-01"}],
        "opportunities": [], "opportunity_field_history": []}
    for i in range(n):
        _synthetic_deal(rng, i, out)
    return out
