"""One demo dataset: its size, and every entity as a stream of records from any offset.

Only small things are built up front (the sales team, per-account facts, quotas, rates and
spend); leads, deals and everything hanging off them are regenerated from their index as the
stream reaches them, so memory stays flat whatever the size. Child entities (stage history,
contact roles, activities, feedback) walk their parents in order; resuming at an offset skips
whole parents by counting their children, which is much cheaper than building them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from crmsync_demo.accounts import AccountBook
from crmsync_demo.activities import ActivityRecords
from crmsync_demo.cut import CutStreams
from crmsync_demo.deal_plan import DealBook, DealPlan
from crmsync_demo.deals import DealRecords
from crmsync_demo.feedback import FeedbackRecords
from crmsync_demo.finance import currency_rate_records, spend_records, target_records
from crmsync_demo.leads import LeadBook, LeadPlan
from crmsync_demo.line_items import LineItemRecords, product_records
from crmsync_demo.pipelines import pipeline_records, stage_records
from crmsync_demo.sales_team import SalesTeam
from crmsync_demo.timeline import DAY, Timeline, epoch_of_instant, to_datetime
from crmsync_demo.web_traffic import WebTraffic

__all__ = ["SizeProfile", "SIZES", "ENTITIES", "DemoDataset"]

P = TypeVar("P")
Record = dict[str, Any]

#: Every table of the unified schema, parents first.
ENTITIES = (
    "users", "accounts", "contacts", "leads", "pipelines", "stages", "opportunities",
    "opportunity_stage_history", "opportunity_field_history", "opportunity_contacts",
    "activities", "currency_rates",
    "quotas", "spend", "feedback", "targets",
    "products", "opportunity_line_items", "web_traffic",
)


@dataclass(frozen=True)
class SizeProfile:
    """How big a dataset is. Leads follow from deals (one deal in four comes from a lead)."""

    name: str
    #: Teams per market slice (each team: a manager, four AEs and an SDR).
    pods: int
    accounts: int
    deals: int


SIZES = {
    "small": SizeProfile("small", pods=1, accounts=300, deals=2_000),
    "medium": SizeProfile("medium", pods=10, accounts=3_000, deals=20_000),
    "large": SizeProfile("large", pods=60, accounts=18_000, deals=120_000),
}


def _children(parents: Iterable[P], count: Callable[[P], int],
              build: Callable[[P], list[Record]], offset: int) -> Iterator[Record]:
    """The children of ``parents`` in order, from position ``offset`` on."""
    skip = offset
    for parent in parents:
        if skip:
            n = count(parent)
            if n <= skip:
                skip -= n
                continue
            yield from build(parent)[skip:]
            skip = 0
        else:
            yield from build(parent)


class DemoDataset:
    """A deterministic demo CRM.

    :param size: a key of :data:`SIZES`.
    :param seed: the random seed; the same seed and settings give the same records, always.
    :param as_of: the dataset's "today"; all history lies in the two years before it.
    :param cut_at: give the dataset as it stood at this instant (naive UTC) instead of
        today: :mod:`crmsync_demo.cut`. An instant at or after ``as_of`` changes nothing.
    """

    def __init__(self, size: str, seed: int, as_of: dt.date,
                 cut_at: dt.datetime | None = None) -> None:
        self.profile = SIZES[size]
        self.seed = seed
        self.timeline = Timeline(as_of)
        self.team = SalesTeam(seed, self.timeline, self.profile.pods)
        self.accounts = AccountBook(seed, self.timeline, self.team, self.profile.accounts)
        self.leads = LeadBook(seed, self.timeline, self.accounts, self.profile.deals)
        self.deals = DealBook(seed, self.timeline, self.accounts, self.leads,
                              self.profile.deals)
        self.deal_records = DealRecords(self.deals)
        self.activities = ActivityRecords(self.leads, self.deal_records)
        self.feedback = FeedbackRecords(self.accounts)
        self.line_items = LineItemRecords(seed)
        self.web_traffic = WebTraffic(seed, self.timeline, self.leads.count)
        self._quota_rows = self.team.quota_rows()
        self._streams: dict[str, Callable[[int], Iterator[Record]]] = {
            "users": lambda o: iter(self.team.users[o:]),
            "accounts": self._accounts,
            "contacts": self.accounts.contacts_from,
            "leads": self._leads,
            "pipelines": lambda o: iter(pipeline_records(self._configured_at)[o:]),
            "stages": lambda o: iter(stage_records(self._configured_at)[o:]),
            "opportunities": self._opportunities,
            "opportunity_stage_history": self._stage_history,
            "opportunity_field_history": self._field_history,
            "opportunity_contacts": self._opportunity_contacts,
            "activities": self._activities,
            "currency_rates": lambda o: itertools.islice(
                currency_rate_records(seed, self.timeline), o, None),
            "quotas": self._quotas,
            "spend": lambda o: itertools.islice(
                spend_records(seed, self.timeline, self.team), o, None),
            "feedback": self.feedback.records_from,
            "targets": lambda o: iter(target_records(self.timeline)[o:]),
            "products": lambda o: iter(product_records(self._configured_at)[o:]),
            "opportunity_line_items": lambda o: _children(
                self.deals.plans_from(0), self.line_items.count, self.line_items.for_deal, o),
            "web_traffic": self.web_traffic.records_from,
        }
        self.cut: CutStreams | None = None
        if cut_at is not None and epoch_of_instant(cut_at) < self.timeline.now:
            self.cut = CutStreams(self, epoch_of_instant(cut_at))

    @property
    def _configured_at(self) -> dt.datetime:
        """When the CRM's pipelines were set up: before any of the history."""
        return to_datetime(self.timeline.start - 730 * DAY)

    def records(self, entity: str, offset: int = 0) -> Iterator[Record]:
        """Records of ``entity`` from position ``offset`` of its stream on.

        :raises KeyError: for an entity the dataset does not have.
        """
        if self.cut is not None:
            if entity not in self._streams:
                raise KeyError(entity)
            return itertools.islice(self.cut.records(entity), max(0, offset), None)
        return self._streams[entity](max(0, offset))

    def full_records(self, entity: str) -> Iterator[Record]:
        """Records of ``entity`` as of the dataset's today, whatever the cut."""
        return self._streams[entity](0)

    def fixed_count(self, entity: str) -> int | None:
        """The number of records of ``entity`` when it follows from the size alone.

        ``None`` for entities whose count is only known by generating them (contact roles,
        stage and field history, activities, feedback, and every entity of a cut dataset);
        contacts are counted from per-account facts.
        """
        if self.cut is not None:
            return None
        if entity in ("currency_rates", "spend"):
            return sum(1 for _ in self.records(entity))  # a few hundred rows at most
        counts = {
            "users": len(self.team.users),
            "accounts": self.accounts.count,
            "contacts": self.accounts.n_contacts_total,
            "leads": self.leads.count,
            "pipelines": len(pipeline_records(self._configured_at)),
            "stages": len(stage_records(self._configured_at)),
            "opportunities": self.deals.count,
            "quotas": len(self._quota_rows),
            "targets": len(target_records(self.timeline)),
            "products": len(product_records(self._configured_at)),
        }
        return counts.get(entity)

    # -- streams ----------------------------------------------------------------------------

    def _accounts(self, offset: int) -> Iterator[Record]:
        for i in range(offset, self.accounts.count):
            yield self.accounts.account_record(i)

    def _leads(self, offset: int) -> Iterator[Record]:
        for plan in self.leads.plans_from(offset):
            yield self.leads.record(plan)

    def _opportunities(self, offset: int) -> Iterator[Record]:
        for plan in self.deals.plans_from(offset):
            record = self.deal_records.opportunity(plan)
            assert record is not None
            yield record

    def _stage_history(self, offset: int) -> Iterator[Record]:
        return _children(self.deals.plans_from(0), lambda p: len(p.visits),
                         self.deal_records.stage_history, offset)

    def _field_history(self, offset: int) -> Iterator[Record]:
        return _children(self.deals.plans_from(0),
                         lambda p: len(self.deal_records.history(p).changes),
                         self.deal_records.field_history, offset)

    def _opportunity_contacts(self, offset: int) -> Iterator[Record]:
        return _children(self.deals.plans_from(0),
                         lambda p: len(self.deal_records.buying_group(p)),
                         self.deal_records.opportunity_contacts, offset)

    def _activities(self, offset: int) -> Iterator[Record]:
        # Leads' activities first, then deals'.
        parents: Iterator[LeadPlan | DealPlan] = itertools.chain(
            self.leads.plans_from(0), self.deals.plans_from(0))

        def count(plan: LeadPlan | DealPlan) -> int:
            if isinstance(plan, LeadPlan):
                return self.activities.lead_count(plan)
            return self.activities.deal_count(plan)

        def build(plan: LeadPlan | DealPlan) -> list[Record]:
            if isinstance(plan, LeadPlan):
                return self.activities.for_lead(plan)
            return self.activities.for_deal(plan)

        return _children(parents, count, build, offset)

    def _quotas(self, offset: int) -> Iterator[Record]:
        for index in range(offset, len(self._quota_rows)):
            yield self.team.quota_record(index, self._quota_rows[index])
