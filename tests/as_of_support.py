"""A small deterministic CRM with histories for the as-of tests (tests/test_as_of_cut.py).

:func:`world` plays an event log — deals created, moved through stages, pushed and pulled in,
resized, reassigned, switched to another currency, won, lost, reopened, deleted; activities,
leads converted, survey answers — and returns the records a connector would serve: the store
*now* (``cut=None``) or the store as a sync at ``cut`` would have left it (every record created
by then, in its state of then, the histories up to then). No crmsync code is used to build
either, so the two can check the reconstruction.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

T0 = dt.datetime(2025, 10, 1)
END = dt.datetime(2026, 7, 15)
USERS = {"U1": "East", "U2": "East", "U3": "West", "U4": "West"}
OPEN_STAGES = ("S1", "S2", "S3")
PROBABILITY = {"S1": 0.2, "S2": 0.5, "S3": 0.8}
STRUCTURE: dict[str, list[dict[str, Any]]] = {
    "users": [{"remote_id": u, "name": f"Rep {u}", "team": t} for u, t in USERS.items()],
    "pipelines": [{"remote_id": "PL", "label": "Sales"}],
    "stages": [
        *({"remote_id": s, "pipeline_id": "PL", "label": s, "display_order": i,
           "probability": PROBABILITY[s], "is_closed": False} for i, s in enumerate(OPEN_STAGES)),
        {"remote_id": "W", "pipeline_id": "PL", "label": "Won", "display_order": 3,
         "is_closed": True, "is_won": True},
        {"remote_id": "L", "pipeline_id": "PL", "label": "Lost", "display_order": 4,
         "is_closed": True, "is_won": False},
    ],
    "quotas": [{"remote_id": f"Q-{u}-{q}", "owner_id": u, "team": t,
                "period_start": f"{y}-{m:02d}-01",
                "period_end": f"{y + (m + 3 > 12)}-{(m + 2) % 12 + 1:02d}-01", "amount": 20000.0}
               for u, t in USERS.items()
               for q, (y, m) in enumerate(((2025, 10), (2026, 1), (2026, 4), (2026, 7)))],
}


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


@dataclass
class Deal:
    """One deal's state, changed by :meth:`apply` as its events happen."""

    rid: str
    created: dt.datetime
    state: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    updated: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None

    def apply(self, at: dt.datetime, changes: dict[str, Any], source: str = "crm") -> None:
        for name, new in changes.items():
            old = self.state[name]
            if old == new:
                continue
            self.history.append({
                "remote_id": f"{self.rid}-h{len(self.history)}", "opportunity_id": self.rid,
                "field": name, "changed_at": iso(at), "old_value": _text(old),
                "new_value": _text(new), "source": source})
            self.state[name] = new
            if name == "stage_id":
                self.visits[-1]["exited_at"] = iso(at)
                self._visit(at)
                self.closed_at = at if new in ("W", "L") else None
        self.updated = at

    def _visit(self, at: dt.datetime) -> None:
        self.visits.append({"remote_id": f"{self.rid}-v{len(self.visits)}",
                            "opportunity_id": self.rid, "stage_id": self.state["stage_id"],
                            "entered_at": iso(at), "exited_at": None,
                            "amount": self.state["amount"]})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _step(rng: random.Random, deal: Deal, at: dt.datetime) -> None:
    """One random event of ``deal`` at ``at``."""
    s = deal.state
    closed = s["stage_id"] in ("W", "L")
    kinds = (["reopen", "owner", "resize"] if closed else
             ["advance", "advance", "push", "push", "pull", "resize", "owner", "currency",
              "won", "won", "won", "lost", "lost", "forecast", "probability"])
    kind = rng.choice(kinds)
    if kind == "advance":
        nxt = OPEN_STAGES[min(OPEN_STAGES.index(s["stage_id"]) + 1, 2)]
        deal.apply(at, {"stage_id": nxt})
    elif kind in ("push", "pull"):
        days = rng.randint(7, 60) if kind == "push" else -rng.randint(3, 20)
        deal.apply(at, {"expected_close_date": s["expected_close_date"]
                        + dt.timedelta(days=days)})
    elif kind == "resize":
        deal.apply(at, {"amount": float(round(s["amount"] * rng.uniform(0.5, 1.6)))})
    elif kind == "owner":
        deal.apply(at, {"owner_id": rng.choice([u for u in USERS if u != s["owner_id"]])})
    elif kind == "currency":
        cur = "EUR" if s["currency"] == "USD" else "USD"
        deal.apply(at, {"currency": cur, "amount": float(round(s["amount"] * 0.9))})
    elif kind in ("won", "lost"):
        deal.apply(at, {"stage_id": "W" if kind == "won" else "L"})
    elif kind == "reopen":
        deal.apply(at, {"stage_id": "S2"})
    elif kind == "forecast":
        deal.apply(at, {"forecast_category": rng.choice(["pipeline", "best_case", "commit"])})
    else:  # a change crmsync saw between two syncs (the CRM does not track probability)
        deal.apply(at, {"probability": rng.choice([0.1, 0.3, 0.6, 0.9])}, source="observed")


def _deals(rng: random.Random, n: int) -> list[Deal]:
    deals = []
    for i in range(n):
        created = T0 + dt.timedelta(days=rng.randint(0, 260), seconds=rng.randint(0, 86399))
        deal = Deal(f"D{i}", created, {
            "stage_id": "S1", "amount": float(rng.choice([500, 1000, 2500, 8000])),
            "currency": rng.choice(["USD", "USD", "EUR"]), "owner_id": rng.choice(list(USERS)),
            "expected_close_date": (created + dt.timedelta(days=rng.randint(20, 120))).date(),
            "probability": None, "forecast_category": None})
        deal._visit(created)
        deal.updated = created
        at = created
        for _ in range(rng.randint(0, 8)):
            at += dt.timedelta(days=rng.randint(1, 25), seconds=rng.randint(0, 86399))
            if at > END:
                break
            _step(rng, deal, at)
        if rng.random() < 0.07:
            deal.deleted_at = at + dt.timedelta(days=rng.randint(1, 40))
        deals.append(deal)
    return deals


def _replay(deal: Deal, cut: dt.datetime | None) -> Deal | None:
    """``deal`` as it stood at ``cut`` (``None``: now): its events up to then, replayed."""
    if cut is not None and deal.created > cut:
        return None
    first = {h["field"]: h for h in reversed(deal.history)}
    state = {**deal.state, **{f: _value(f, h["old_value"]) for f, h in first.items()}}
    then = Deal(deal.rid, deal.created, state)
    then._visit(deal.created)
    then.updated = deal.created
    for h in deal.history:
        at = dt.datetime.fromisoformat(h["changed_at"])
        if cut is None or at <= cut:
            then.apply(at, {h["field"]: _value(h["field"], h["new_value"])}, h["source"])
    if deal.deleted_at is not None and (cut is None or deal.deleted_at <= cut):
        then.deleted_at = deal.deleted_at
    return then


def _value(name: str, text: str | None) -> Any:
    if text is None:
        return None
    if name in ("amount", "probability"):
        return float(text)
    return dt.date.fromisoformat(text) if name == "expected_close_date" else text


def _deal_record(d: Deal) -> dict[str, Any]:
    s = d.state
    status = {"W": "won", "L": "lost"}.get(s["stage_id"], "open")
    return {"remote_id": d.rid, "name": f"Deal {d.rid}", "pipeline_id": "PL", "account_id":
            f"A{int(d.rid[1:]) % 4}", "status": status, "stage_id": s["stage_id"],
            "amount": s["amount"], "currency": s["currency"],
            "amount_base": s["amount"] if s["currency"] == "USD" else None,
            "owner_id": s["owner_id"], "probability": s["probability"],
            "forecast_category": s["forecast_category"],
            "expected_close_date": s["expected_close_date"].isoformat(),
            "closed_at": iso(d.closed_at) if d.closed_at else None,
            "remote_created_at": iso(d.created), "remote_updated_at": iso(d.updated or d.created),
            "is_deleted": d.deleted_at is not None,
            "deleted_at": iso(d.deleted_at) if d.deleted_at else None}


def _events(rng: random.Random, deals: list[Deal]) -> dict[str, list[dict[str, Any]]]:
    """Activities, leads, contacts, accounts, feedback and rates (records born at a time)."""
    acts, leads, feedback = [], [], []
    for d in deals:
        for k in range(rng.randint(0, 5)):
            at = d.created + dt.timedelta(days=rng.randint(0, 120), seconds=rng.randint(0, 86399))
            acts.append({"remote_id": f"{d.rid}-a{k}", "type": rng.choice(["call", "email", "task",
                                                                           "meeting"]),
                         "direction": "outbound", "occurred_at": iso(at),
                         "remote_created_at": iso(at), "outcome": rng.choice(["connected", ""]),
                         "owner_id": rng.choice(list(USERS)), "opportunity_id": d.rid,
                         "account_id": f"A{int(d.rid[1:]) % 4}", "is_automated": False})
    for i in range(30):
        born = T0 + dt.timedelta(days=rng.randint(0, 250), seconds=rng.randint(0, 86399))
        lead = {"remote_id": f"L{i}", "name": f"Lead {i}", "owner_id": rng.choice(list(USERS)),
                "lead_source": rng.choice(["web", "event"]), "remote_created_at": iso(born)}
        if rng.random() < 0.4:
            lead.update(converted_at=iso(born + dt.timedelta(days=rng.randint(1, 40))),
                        converted_opportunity_id=f"D{i}", converted_contact_id=f"C{i % 6}",
                        converted_account_id=f"A{i % 4}")
        leads.append(lead)
        if rng.random() < 0.5:
            at = born + dt.timedelta(hours=rng.randint(1, 200))
            acts.append({"remote_id": f"L{i}-a", "type": "call", "direction": "outbound",
                         "occurred_at": iso(at), "remote_created_at": iso(at),
                         "owner_id": lead["owner_id"], "lead_id": f"L{i}", "is_automated": False})
    for i in range(20):
        at = T0 + dt.timedelta(days=rng.randint(0, 280), seconds=rng.randint(0, 86399))
        feedback.append({"remote_id": f"F{i}", "type": rng.choice(["nps", "csat"]),
                         "score": float(rng.randint(0, 10) if i % 2 else rng.randint(1, 5)),
                         "account_id": f"A{i % 4}", "owner_id": rng.choice(list(USERS)),
                         "contact_id": f"C{i % 6}", "responded_at": iso(at),
                         "remote_created_at": iso(at)})
    months = [dt.date(2025 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(10, 20)]
    rates = [{"remote_id": f"EUR-{m}", "currency": "EUR", "rate_to_base": 1.05 + 0.01 * i,
              "valid_from": m.isoformat(),
              "valid_to": months[i + 1].isoformat() if i + 1 < len(months) else None}
             for i, m in enumerate(months)]
    return {
        "accounts": [{"remote_id": f"A{i}", "name": f"Account {i}", "segment": "SMB" if i % 2
                      else "Enterprise", "remote_created_at": iso(T0)} for i in range(4)],
        "contacts": [{"remote_id": f"C{i}", "account_id": f"A{i % 4}",
                      "remote_created_at": iso(T0)} for i in range(6)],
        "activities": acts, "leads": leads, "feedback": feedback, "currency_rates": rates,
    }


def _cut_events(data: dict[str, list[dict[str, Any]]], cut: dt.datetime
                ) -> dict[str, list[dict[str, Any]]]:
    """The event tables as a sync at ``cut`` saw them."""
    c, day = iso(cut), cut.date().isoformat()
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in data.items():
        kept = []
        for row in rows:
            row = dict(row)
            if name == "currency_rates":
                if row["valid_from"] > day:
                    continue
                if row["valid_to"] and row["valid_to"] > day:
                    row["valid_to"] = None
            elif row.get("occurred_at", row.get("responded_at", row["remote_created_at"])) > c:
                continue
            if (row.get("converted_at") or "") > c:
                for k in ("converted_at", "converted_opportunity_id", "converted_contact_id",
                          "converted_account_id"):
                    row.pop(k, None)
            kept.append(row)
        out[name] = kept
    return out


def world(cut: dt.datetime | None = None, *, seed: int = 7, deals: int = 100
          ) -> dict[str, list[dict[str, Any]]]:
    """The dataset (entity → records) now, or as a sync at ``cut`` would have stored it."""
    rng = random.Random(seed)
    made = _deals(rng, deals)
    events = _events(rng, made)
    then = [d for d in (_replay(d, cut) for d in made) if d is not None]
    data = {**{k: [dict(r) for r in v] for k, v in STRUCTURE.items()},
            **(events if cut is None else _cut_events(events, cut))}
    data["opportunities"] = [_deal_record(d) for d in then]
    data["opportunity_stage_history"] = [v for d in then for v in d.visits]
    data["opportunity_field_history"] = [h for d in then for h in d.history]
    return data
