"""Leads: when they arrive, how fast reps touch them, and which of them convert.

Which leads convert is decided in blocks of :data:`BLOCK` consecutive leads, of which exactly
:data:`CONVERTED_PER_BLOCK` convert. That makes the mapping between the k-th converted lead and
its lead index arithmetic, in both directions, so a converted lead and the opportunity it
became (opportunity ``4 * k``, see :mod:`crmsync_demo.deal_plan`) can each be generated
without the other. A conversion that would fall after "now" does not happen: the lead stays
open and its opportunity slot is filled by an ordinary deal.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from crmsync_demo.accounts import AccountBook, account_id, company_name, contact_id
from crmsync_demo.sales_team import email_of
from crmsync_demo.seeding import LEAD, LEAD_BLOCK, Weighted, below, rng_for
from crmsync_demo.timeline import DAY, HOUR, MINUTE, Timeline, to_datetime
from crmsync_demo.vocabulary import (
    FIRST_NAMES,
    LAST_NAMES,
    LEAD_SOURCES,
    REGION_TZ,
    SEGMENTS,
    TERRITORIES,
)

__all__ = ["BLOCK", "CONVERTED_PER_BLOCK", "DEALS_PER_CONVERSION", "LeadPlan", "LeadBook",
           "lead_id", "opportunity_id"]

BLOCK = 20
CONVERTED_PER_BLOCK = 6
#: Every this many opportunities, one comes from a converted lead.
DEALS_PER_CONVERSION = 4

# Source mixes of leads that convert and of leads that do not: share × conversion rate, and
# share × (1 - conversion rate). Together they reproduce each source's conversion rate.
_SOURCE_IF_CONVERTED = Weighted((name, share * rate) for name, share, rate in LEAD_SOURCES)
_SOURCE_IF_NOT = Weighted((name, share * (1 - rate)) for name, share, rate in LEAD_SOURCES)
_TERRITORY = Weighted((n, t.weight) for n, t in enumerate(TERRITORIES))
_SEGMENT = Weighted((n, s.weight) for n, s in enumerate(SEGMENTS))
#: Time to first touch of inbound leads: (shortest, longest) seconds; None: never touched.
_FIRST_TOUCH = Weighted((
    ((2 * MINUTE, HOUR), 35.0),
    ((HOUR, 8 * HOUR), 30.0),
    ((8 * HOUR, 3 * DAY), 20.0),
    ((3 * DAY, 10 * DAY), 5.0),
    (None, 10.0),
))
#: Share of leads arriving during the local working day (forms, events, reps' own entries).
_IN_OFFICE_HOURS = 0.75
#: How far moving a lead into working hours can shift it (a weekend to a weekday).
_SNAP_MARGIN = 7 * DAY
_FRESH_STATUS = Weighted((("Working", 70.0), ("Qualified", 15.0), ("Nurturing", 15.0)))
_OLD_STATUS = Weighted((("Unqualified", 50.0), ("Nurturing", 42.0), ("Working", 5.0),
                        ("Qualified", 3.0)))


def lead_id(index: int) -> str:
    """The remote id of lead ``index``."""
    return f"L{index:07d}"


def opportunity_id(index: int) -> str:
    """The remote id of opportunity ``index``."""
    return f"O{index:07d}"


class LeadPlan:
    """The facts of one lead that its record, its activities and its deal share."""

    __slots__ = (
        "account",
        "contact",
        "conversion",
        "converted_at",
        "created",
        "index",
        "source",
        "status",
        "team",
        "touches",
        "tz",
    )

    def __init__(self, index: int, created: int, source: str, tz: int, team: int) -> None:
        self.index = index
        self.created = created
        self.source = source
        self.tz = tz
        self.team = team
        #: Epoch seconds of the reps' touches, ascending, all before "now" and conversion.
        self.touches: list[int] = []
        self.converted_at: int | None = None
        #: k when this is the k-th converted lead (whose deal is opportunity 4k).
        self.conversion: int | None = None
        self.account: int | None = None
        self.contact: int | None = None
        self.status = "New"


class LeadBook:
    """The leads of a dataset.

    :param n_deals: opportunities in the dataset; one in :data:`DEALS_PER_CONVERSION` comes
        from a lead, which sets the number of leads.
    """

    def __init__(self, seed: int, timeline: Timeline, accounts: AccountBook,
                 n_deals: int) -> None:
        self.seed = seed
        self.timeline = timeline
        self.accounts = accounts
        #: How many conversions have an opportunity slot.
        self.conversion_slots = math.ceil(n_deals / DEALS_PER_CONVERSION)
        self.count = math.ceil(self.conversion_slots / CONVERTED_PER_BLOCK) * BLOCK
        self._name_offset = below(rng_for(seed, LEAD, 1 << 40), 1 << 30)
        self._block: tuple[int, list[int]] = (-1, [])

    # -- conversion mapping ---------------------------------------------------------------

    def _converting_positions(self, block: int) -> list[int]:
        cached_block, positions = self._block
        if cached_block != block:
            rng = rng_for(self.seed, LEAD_BLOCK, block)
            pool = list(range(BLOCK))
            for i in range(CONVERTED_PER_BLOCK):  # a partial Fisher-Yates shuffle
                j = i + below(rng, BLOCK - i)
                pool[i], pool[j] = pool[j], pool[i]
            positions = sorted(pool[:CONVERTED_PER_BLOCK])
            self._block = (block, positions)
        return positions

    def conversion_of(self, index: int) -> int | None:
        """k when lead ``index`` is the k-th lead meant to convert (and k has a deal slot)."""
        block, position = divmod(index, BLOCK)
        positions = self._converting_positions(block)
        if position not in positions:
            return None
        k = block * CONVERTED_PER_BLOCK + positions.index(position)
        return k if k < self.conversion_slots else None

    def lead_of_conversion(self, k: int) -> int:
        """The index of the k-th lead meant to convert."""
        block, rank = divmod(k, CONVERTED_PER_BLOCK)
        return block * BLOCK + self._converting_positions(block)[rank]

    # -- plans ------------------------------------------------------------------------------

    def _converting(self, rng: random.Random, created: int) -> tuple[str, int, int, int]:
        """A converting lead's source, account (a recent one), time zone and team."""
        accounts = self.accounts
        source = _SOURCE_IF_CONVERTED.pick(rng)
        existing = accounts.existing_at(created - _SNAP_MARGIN)
        window = max(10, accounts.count // 25)
        account = max(0, existing - 1 - int(rng.random() * window))
        return source, account, accounts.tz_of(account), accounts.team_of[account]

    def plan(self, index: int) -> LeadPlan:
        """Regenerate the facts of lead ``index``."""
        rng = rng_for(self.seed, LEAD, index)
        tl, accounts, team = self.timeline, self.accounts, self.accounts.team
        created = tl.grown_time((index + rng.random()) / self.count)
        conversion = self.conversion_of(index)
        if conversion is not None:
            source, account, tz, team_index = self._converting(rng, created)
        else:
            source = _SOURCE_IF_NOT.pick(rng)
            region = TERRITORIES[_TERRITORY.pick(rng)].region
            segment = SEGMENTS[_SEGMENT.pick(rng)].name
            tz = REGION_TZ[region]
            team_index = team.team_for(region, segment, int(rng.random() * 1024))
            account = None
        if rng.random() < _IN_OFFICE_HOURS:
            snapped = tl.business_time_on_day(created, tz, rng.random())
            if tl.start <= snapped < tl.now - HOUR:
                created = snapped
        plan = LeadPlan(index, created, source, tz, team_index)
        r = rng.random
        delay = _first_touch_delay(rng, source, converts=conversion is not None)
        if delay is None:
            return self._settle(plan, rng)
        first = created + delay[0] + int(r() * (delay[1] - delay[0]))
        n_touches = 2 + int(r() * 5) if conversion is not None else 1 + int(r() * 7)
        t = tl.next_business_time(first, tz, r())
        touches = plan.touches
        now = tl.now
        for _ in range(n_touches):
            if t >= now:
                break
            touches.append(t)
            # Follow-ups land on a working day, at a time of it that comes after this touch.
            follow_up = tl.business_time_on_day(t + HOUR + int(r() * 5 * DAY), tz, r())
            t = follow_up if follow_up > t else tl.next_business_time(t + HOUR, tz, r())
        if account is not None and conversion is not None and len(touches) == n_touches:
            converted_at = touches[-1] + 30 * MINUTE + int(r() * 3 * DAY)
            if converted_at < tl.now:
                plan.converted_at = converted_at
                plan.conversion = conversion
                plan.account = account
                plan.contact = int(r() * accounts.contacts_by(account, converted_at))
        return self._settle(plan, rng)

    def _settle(self, plan: LeadPlan, rng: random.Random) -> LeadPlan:
        """Set the lead's status from what happened to it."""
        if plan.converted_at is not None:
            plan.status = "Converted"
        elif plan.touches:
            fresh = self.timeline.now - plan.created < 21 * DAY
            plan.status = (_FRESH_STATUS if fresh else _OLD_STATUS).pick(rng)
        return plan

    def plans_from(self, start: int) -> Iterator[LeadPlan]:
        """Plans of leads ``start``, ``start + 1``… to the last."""
        for index in range(start, self.count):
            yield self.plan(index)

    # -- records ------------------------------------------------------------------------------

    def record(self, plan: LeadPlan) -> dict[str, Any]:
        """The ``leads`` record of ``plan``."""
        rng = rng_for(self.seed, LEAD, plan.index + (1 << 40))
        accounts = self.accounts
        if plan.account is not None and plan.contact is not None:
            first, last = accounts.contact_name(plan.account, plan.contact)
            company = accounts.name_of(plan.account)[0]
            domain = accounts.domain_of(plan.account)
        else:
            r = rng.random
            first = FIRST_NAMES[int(r() * len(FIRST_NAMES))]
            last = LAST_NAMES[int(r() * len(LAST_NAMES))]
            company = company_name(int(r() * (1 << 20)), self._name_offset)[0]
            domain = company.lower().replace(" ", "") + ".example"
        seat = accounts.team.sdr_seats[plan.team]
        is_open = plan.status in ("New", "Working", "Nurturing", "Qualified")
        owner = seat.current if is_open else seat.at(plan.created)
        updated = max(plan.created, plan.touches[-1] if plan.touches else 0,
                      plan.converted_at or 0)
        converted_at = converted_contact = converted_account = converted_deal = None
        if plan.converted_at is not None:
            assert plan.account is not None and plan.contact is not None
            assert plan.conversion is not None
            converted_at = to_datetime(plan.converted_at)
            converted_contact = contact_id(plan.account, plan.contact)
            converted_account = account_id(plan.account)
            converted_deal = opportunity_id(DEALS_PER_CONVERSION * plan.conversion)
        return {
            "remote_id": lead_id(plan.index),
            "remote_created_at": to_datetime(plan.created),
            "remote_updated_at": to_datetime(updated),
            "name": f"{first} {last}",
            "company": company,
            "email": email_of(first, last, domain),
            "status": plan.status,
            "lead_source": plan.source,
            "owner_id": owner,
            "converted_at": converted_at,
            "converted_contact_id": converted_contact,
            "converted_account_id": converted_account,
            "converted_opportunity_id": converted_deal,
        }


def _first_touch_delay(rng: random.Random, source: str, *, converts: bool
                       ) -> tuple[int, int] | None:
    """The range of seconds before a rep first touches the lead (``None``: never)."""
    if source == "Outbound":
        return (MINUTE, 30 * MINUTE)
    delay = _FIRST_TOUCH.pick(rng)
    if delay is None and converts:
        return (2 * MINUTE, HOUR)
    return delay
