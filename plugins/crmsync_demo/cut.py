"""A demo dataset as it stood at an earlier instant (the ``cut_at`` setting).

The generator draws every record's whole life up to the dataset's "today"; a cut replays those
plans up to the cut instant ``T`` instead of emitting their end state. Everything that happened
at or before ``T`` is there, nothing after it:

- a record created after ``T`` is absent (so is a stage visit, a field change, an activity,
  a contact role, a feedback response, a rate or a spend line dated after it);
- a deal shows its values at ``T``, replayed from its field history: stage, status,
  ``closed_at``, amount, currency, probability, expected close date, owner, forecast
  category, ``custom.push_count``, and ``remote_updated_at`` (its last change at or before
  ``T``); a won or lost reason only if it was closed at ``T``;
- the stage visit current at ``T`` has no ``exited_at``;
- a lead converted after ``T`` is unconverted (``Working`` if a rep had touched it, else
  ``New``); a lead whose last event is after ``T`` shows ``Working`` or ``New`` likewise;
- a rep or SDR who left after ``T`` is active; account and contact owners are those at ``T``;
- any other ``remote_updated_at`` after ``T`` is brought back to ``T``.

Fields the generator does not date (an activity's status, a contact's lifecycle stage, an
account's tier) keep their values of "today".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from crmsync_demo.leads import LeadPlan
from crmsync_demo.timeline import to_datetime

if TYPE_CHECKING:
    from crmsync_demo.dataset import DemoDataset

__all__ = ["CutStreams", "parse_cut"]

Record = dict[str, Any]
_OPEN_LEAD = ("New", "Working", "Nurturing", "Qualified")


class CutStreams:
    """Every entity of ``dataset`` as it stood at epoch second ``until`` (included)."""

    def __init__(self, dataset: DemoDataset, until: int) -> None:
        self.dataset = dataset
        self.until = until
        self.until_at = to_datetime(until)
        deals = dataset.deal_records
        self._streams: dict[str, Callable[[], Iterable[Record]]] = {
            "users": self._users,
            "accounts": self._accounts,
            "contacts": self._contacts,
            "leads": self._leads,
            "opportunities": lambda: (r for p in dataset.deals.plans_from(0)
                                      if (r := deals.opportunity(p, until)) is not None),
            "opportunity_stage_history": lambda: (r for p in dataset.deals.plans_from(0)
                                                  for r in deals.stage_history(p, until)),
            "opportunity_field_history": lambda: (r for p in dataset.deals.plans_from(0)
                                                  for r in deals.field_history(p, until)),
            "activities": self._activities,
        }

    def records(self, entity: str) -> Iterator[Record]:
        """``entity``'s records at the cut, in the order of the full dataset's stream."""
        stream = self._streams.get(entity)
        if stream is not None:
            yield from stream()
            return
        for record in self.dataset.full_records(entity):
            if record["remote_created_at"] <= self.until_at:
                yield self._clamped(record)

    def _clamped(self, record: Record) -> Record:
        if record["remote_updated_at"] > self.until_at:
            record["remote_updated_at"] = max(record["remote_created_at"], self.until_at)
        return record

    def _users(self) -> Iterator[Record]:
        for user in self.dataset.full_records("users"):
            if user["remote_created_at"] > self.until_at:
                continue
            user = dict(user)
            if not user["is_active"] and user["remote_updated_at"] > self.until_at:
                user["is_active"] = True  # left after the cut
                user["remote_updated_at"] = user["remote_created_at"]
            yield user

    def _accounts(self) -> Iterator[Record]:
        book = self.dataset.accounts
        for i in range(book.count):
            if book.created[i] > self.until:
                continue
            record = book.account_record(i)
            record["owner_id"] = book.owner_at(i, self.until)
            yield self._clamped(record)

    def _contacts(self) -> Iterator[Record]:
        book = self.dataset.accounts
        for record in self.dataset.full_records("contacts"):
            if record["remote_created_at"] > self.until_at:
                continue
            record["owner_id"] = book.owner_at(int(record["account_id"][1:]), self.until)
            yield self._clamped(record)

    def _leads(self) -> Iterator[Record]:
        book = self.dataset.leads
        for plan in book.plans_from(0):
            if plan.created <= self.until:
                yield self._lead(plan, book.record(plan))

    def _lead(self, plan: LeadPlan, record: Record) -> Record:
        until = self.until
        seat = self.dataset.accounts.team.sdr_seats[plan.team]
        last = max(plan.touches[-1] if plan.touches else 0, plan.converted_at or 0)
        if last <= until:
            # Nothing happened to it after the cut; an open lead's owner is the SDR then.
            if plan.status in _OPEN_LEAD:
                record["owner_id"] = seat.at(until)
            return record
        touches = [t for t in plan.touches if t <= until]
        record.update({
            "status": "Working" if touches else "New",
            "owner_id": seat.at(until),
            "remote_updated_at": to_datetime(max([plan.created, *touches])),
            "converted_at": None, "converted_contact_id": None,
            "converted_account_id": None, "converted_opportunity_id": None,
        })
        return record

    def _activities(self) -> Iterator[Record]:
        until_at = self.until_at
        for record in self.dataset.full_records("activities"):
            if max(record["occurred_at"], record["remote_created_at"],
                   record["remote_updated_at"]) <= until_at:
                yield record


def parse_cut(text: str) -> dt.datetime:
    """The instant of a ``cut_at`` setting: an ISO date (its midnight UTC) or a date and time
    in UTC without offset.

    :raises ValueError: for anything else.
    """
    instant = dt.datetime.fromisoformat(text)
    if instant.tzinfo is not None:
        raise ValueError("a time zone offset")
    return instant
