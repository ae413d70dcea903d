"""Records of opportunities, their stage and field history and their contact roles."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from crmsync_demo.accounts import account_id, contact_id
from crmsync_demo.deal_plan import DealBook, DealPlan
from crmsync_demo.field_history import DealHistory, HistoryBuilder, history_records
from crmsync_demo.finance import campaign_id
from crmsync_demo.leads import opportunity_id
from crmsync_demo.seeding import DEAL, Weighted, rng_for
from crmsync_demo.timeline import HOUR, to_date, to_datetime
from crmsync_demo.vocabulary import CONTACT_ROLES, LOST_REASONS, WON_REASONS

__all__ = ["DealRecords", "stage_history_id", "opportunity_contact_id"]

_WON_REASON = Weighted(WON_REASONS)
_LOST_REASON = Weighted(LOST_REASONS)
_PRIMARY_ROLE = Weighted((("Decision Maker", 50.0), ("Champion", 35.0), ("Economic Buyer", 15.0)))
#: Contacts involved in a deal, (fewest, most), by segment.
_BUYING_GROUP = {"SMB": (1, 2), "Mid-Market": (1, 3), "Enterprise": (2, 4)}
# Salts that give a deal's record details and its contact roles their own random streams,
# apart from the stream its plan draws from.
_RECORD_SALT = 1 << 40
_CONTACTS_SALT = 2 << 40
_REOPENED_SALT = 4 << 40


def stage_history_id(deal: int, visit: int) -> str:
    """The remote id of the ``visit``-th stage visit of opportunity ``deal``."""
    return f"OSH{deal:07d}{visit:02d}"


def opportunity_contact_id(deal: int, position: int) -> str:
    """The remote id of the ``position``-th contact role on opportunity ``deal``."""
    return f"OC{deal:07d}{position}"


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


class DealRecords:
    """Builds the records of opportunities from their plans."""

    def __init__(self, book: DealBook) -> None:
        self.book = book
        self.accounts = book.accounts
        self.now = book.timeline.now
        self.today = book.timeline.as_of
        self.histories = HistoryBuilder(book.seed, book.accounts, self.now)

    def _shown(self, plan: DealPlan) -> tuple[dt.date, str | None, str | None]:
        """The close date the record shows today, and its won or lost reason."""
        rng = rng_for(self.book.seed, DEAL, plan.index + _RECORD_SALT)
        expected = to_date(plan.expected_close)
        if plan.closed_at is None and expected > self.today and rng.random() < 0.35:
            expected = _month_end(expected)  # many reps forecast to the end of a month
        status = plan.status
        won = _WON_REASON.pick(rng) if status == "won" else None
        lost = _LOST_REASON.pick(rng) if status == "lost" else None
        return expected, won, lost

    def history(self, plan: DealPlan) -> DealHistory:
        """The field history of ``plan``, ending in the values its record shows today."""
        return self.histories.build(plan, self._shown(plan)[0])

    def opportunity(self, plan: DealPlan, until: int | None = None) -> dict[str, Any] | None:
        """The ``opportunities`` record of ``plan`` as it stood at epoch second ``until``
        (default: today), or ``None`` if it did not exist yet."""
        until = self.now - 1 if until is None else until
        if plan.created > until:
            return None
        shown, won_reason, lost_reason = self._shown(plan)
        history = self.histories.build(plan, shown)
        values, changes, pushes = history.state_at(until)
        visits = [v for v in plan.visits if v[1] <= until]
        stage, entered = visits[-1]
        status = "open" if not stage.is_closed else "won" if stage.is_won else "lost"
        if status != plan.status:
            won_reason = None
            lost_reason = _LOST_REASON.pick(rng_for(self.book.seed, DEAL, plan.index
                                                    + _REOPENED_SALT)) \
                if status == "lost" else None
        updated = max(entered, history.changes[changes - 1][0] if changes else entered)
        name, _ = self.accounts.name_of(plan.account)
        title = f"{name} - {plan.product_line}"
        if plan.kind == "Renewal":
            title += f" Renewal {shown.year}"
        elif plan.kind == "Expansion":
            title += " Expansion"
        close_text, amount_text = values["expected_close_date"], values["amount"]
        return {
            "remote_id": opportunity_id(plan.index),
            "remote_created_at": to_datetime(plan.created),
            "remote_updated_at": to_datetime(updated),
            "custom": {"product_line": plan.product_line,
                       "push_count": pushes},
            "name": title,
            "type": plan.kind,
            "pipeline_id": plan.pipeline.remote_id,
            "stage_id": values["stage_id"],
            "status": status,
            "amount": float(amount_text) if amount_text is not None else None,
            "currency": values["currency"],
            "amount_base": None,
            "probability": float(values["probability"] or 0.0),
            "expected_close_date": dt.date.fromisoformat(close_text) if close_text else None,
            "closed_at": to_datetime(entered) if stage.is_closed else None,
            "owner_id": values["owner_id"],
            "account_id": account_id(plan.account),
            "lead_source": plan.source,
            "campaign_id": campaign_id(plan.source, to_date(plan.created), self.book.timeline),
            "won_reason": won_reason if status == "won" else None,
            "lost_reason": lost_reason if status == "lost" else None,
            "forecast_category": values["forecast_category"],
        }

    def stage_history(self, plan: DealPlan, until: int | None = None) -> list[dict[str, Any]]:
        """The ``opportunity_stage_history`` records of ``plan``: one per stage visit entered
        at or before epoch second ``until`` (default: today)."""
        until = self.now - 1 if until is None else until
        deal = opportunity_id(plan.index)
        visits = [v for v in plan.visits if v[1] <= until]
        amount, changes = self.histories.amounts(plan)
        following = iter(changes)
        change = next(following, None)
        records = []
        for v, (stage, entered) in enumerate(visits):
            exited = visits[v + 1][1] if v + 1 < len(visits) else None
            entered_at = to_datetime(entered)
            exited_at = to_datetime(exited) if exited is not None else None
            while change is not None and change[0] <= entered:
                amount = change[3]
                change = next(following, None)
            records.append({
                "remote_id": stage_history_id(plan.index, v),
                "remote_created_at": entered_at,
                "remote_updated_at": exited_at or entered_at,
                "opportunity_id": deal,
                "stage_id": stage.remote_id,
                "entered_at": entered_at,
                "exited_at": exited_at,
                "amount": float(amount) if amount is not None else None,
                "changed_by": self.accounts.owner_at(plan.account, entered),
            })
        return records

    def field_history(self, plan: DealPlan, until: int | None = None) -> list[dict[str, Any]]:
        """The ``opportunity_field_history`` records of ``plan``: its changes at or before
        epoch second ``until`` (default: today)."""
        until = self.now - 1 if until is None else until
        return history_records(plan, self.history(plan), until)

    def buying_group(self, plan: DealPlan) -> list[tuple[int, str]]:
        """(contact ordinal, role) of the account's contacts on the deal; the primary first."""
        rng = rng_for(self.book.seed, DEAL, plan.index + _CONTACTS_SALT)
        accounts = self.accounts
        account = plan.account
        r = rng.random
        # Only contacts that already existed when the deal was created.
        available = accounts.contacts_by(account, plan.created)
        low, high = _BUYING_GROUP[accounts.segment_of(account).name]
        size = min(available, low + int(r() * (high - low + 1)))
        if plan.lead is not None and plan.lead.contact is not None:
            primary = plan.lead.contact
        else:
            primary = int(r() * available)
        group = [(primary, _PRIMARY_ROLE.pick(rng))]
        # The others: a run of consecutive ordinals among the non-primary contacts.
        n_others = available - 1
        start = int(r() * n_others) if n_others else 0
        for k in range(size - 1):
            m = (start + k) % n_others
            ordinal = m if m < primary else m + 1
            group.append((ordinal, CONTACT_ROLES[int(r() * len(CONTACT_ROLES))]))
        return group

    def opportunity_contacts(self, plan: DealPlan) -> list[dict[str, Any]]:
        """The ``opportunity_contacts`` records of ``plan``."""
        deal = opportunity_id(plan.index)
        records = []
        for position, (ordinal, role) in enumerate(self.buying_group(plan)):
            linked = to_datetime(min(plan.created + position * HOUR, self.now - 1))
            records.append({
                "remote_id": opportunity_contact_id(plan.index, position),
                "remote_created_at": linked,
                "remote_updated_at": linked,
                "opportunity_id": deal,
                "contact_id": contact_id(plan.account, ordinal),
                "role": role,
                "is_primary": position == 0,
            })
        return records
