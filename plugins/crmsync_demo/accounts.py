"""Accounts and their contacts.

The few facts other generators look up about an account (when it was created, its segment,
territory, owning seat, whether it is a customer, how many contacts it has) are precomputed
for all accounts: a handful of small integers each. Full records are regenerated from the
account's own random stream when emitted.

Accounts are numbered in creation order, so "the accounts that existed at time t" is a prefix
of the index range, found by bisection.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from typing import Any

from crmsync_demo.sales_team import AE_SEATS, SalesTeam, Seat, email_of
from crmsync_demo.seeding import ACCOUNT, CONTACT, Weighted, below, rng_for, uniform
from crmsync_demo.timeline import DAY, Timeline, to_datetime
from crmsync_demo.vocabulary import (
    COMPANY_PREFIXES,
    COMPANY_ROOTS,
    COMPANY_SUFFIXES,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    LEAD_SOURCES,
    LIFECYCLE_STAGES,
    REGION_TZ,
    SEGMENTS,
    TERRITORIES,
    TITLES,
    Segment,
    Territory,
)

__all__ = ["AccountBook", "account_id", "contact_id", "company_name"]

_TERRITORY = Weighted((n, t.weight) for n, t in enumerate(TERRITORIES))
_SEGMENT = Weighted((n, s.weight) for n, s in enumerate(SEGMENTS))
_INDUSTRY = Weighted(INDUSTRIES)
_LEAD_SOURCE = Weighted((name, share) for name, share, _ in LEAD_SOURCES)
_LIFECYCLE = {customer: Weighted(pairs) for customer, pairs in LIFECYCLE_STAGES.items()}
_COUNTRY_CODE = {"NA": "1", "UK & Ireland": "44", "DACH": "49", "France": "33", "Benelux": "31",
                 "Nordics": "46", "Southern Europe": "39", "ANZ": "61", "Japan": "81",
                 "Singapore": "65", "India": "91", "Brazil": "55", "Mexico": "52",
                 "Southern Cone": "54"}
_TIERS = {"SMB": "bronze", "Mid-Market": "silver", "Enterprise": "gold"}
_N_COMPANIES = len(COMPANY_PREFIXES) * len(COMPANY_ROOTS) * len(COMPANY_SUFFIXES)
#: Accounts are created from this long before the window opens until shortly before "now".
_BACKLOG_DAYS = 730
#: Time between the creation of one contact of an account and the next.
_CONTACT_SPACING = 3 * DAY + 3_600


def account_id(index: int) -> str:
    """The remote id of account ``index``."""
    return f"A{index:06d}"


def contact_id(account: int, ordinal: int) -> str:
    """The remote id of contact ``ordinal`` of ``account``."""
    return f"C{account:06d}{ordinal:02d}"


def company_name(n: int, offset: int) -> tuple[str, str]:
    """The ``n``-th of a sequence of distinct company names and the industry the name implies.

    Distinct for ``n`` below the number of prefix/root/suffix combinations (23,040).
    """
    k = (n * 7_919 + offset) % _N_COMPANIES  # 7,919 is prime, so n -> k is a bijection
    k, prefix = divmod(k, len(COMPANY_PREFIXES))
    suffix, root = divmod(k, len(COMPANY_ROOTS))
    word, industry = COMPANY_SUFFIXES[suffix]
    return f"{COMPANY_PREFIXES[prefix]}{COMPANY_ROOTS[root]} {word}", industry


class AccountBook:
    """The accounts of a dataset and what other generators need to know about them.

    :param seed: the dataset seed.
    :param timeline: the dataset's time frame.
    :param team: the sales organisation that owns the accounts.
    :param n_accounts: how many accounts to generate.
    """

    def __init__(self, seed: int, timeline: Timeline, team: SalesTeam, n_accounts: int) -> None:
        self.seed = seed
        self.timeline = timeline
        self.team = team
        self.count = n_accounts
        self._name_offset = below(rng_for(seed, ACCOUNT, 1 << 40), _N_COMPANIES)
        self.created: list[int] = []
        self.territory: list[int] = []
        self.segment: list[int] = []
        self.team_of: list[int] = []
        self.seat: list[int] = []
        self.is_customer: list[bool] = []
        self.n_contacts: list[int] = []
        #: Index of each account's first contact in the ``contacts`` stream, plus the total.
        self.contact_offsets: list[int] = [0]
        for i in range(n_accounts):
            self._precompute(i)
        #: Customer accounts in creation order, and their creation times.
        self.customers = [i for i in range(n_accounts) if self.is_customer[i]]
        self._customer_created = [self.created[i] for i in self.customers]
        self._enterprises = [i for i in range(n_accounts) if self.segment[i] == 2]

    def _precompute(self, i: int) -> None:
        rng = rng_for(self.seed, ACCOUNT, i)
        tl = self.timeline
        first = tl.start - _BACKLOG_DAYS * DAY
        span = tl.now - 14 * DAY - first
        territory = _TERRITORY.pick(rng)
        region = TERRITORIES[territory].region
        created = tl.next_business_time(first + int((i + rng.random()) / self.count * span),
                                        REGION_TZ[region], rng.random())
        if self.created and created < self.created[-1]:
            created = self.created[-1]
        segment = _SEGMENT.pick(rng)
        seg = SEGMENTS[segment]
        age_days = (tl.now - created) / DAY
        p_customer = 0.55 if created < tl.start else 0.35 if age_days > 120 else 0.1
        self.created.append(created)
        self.territory.append(territory)
        self.segment.append(segment)
        self.team_of.append(self.team.team_for(region, seg.name, below(rng, 1 << 20)))
        self.seat.append(below(rng, AE_SEATS))
        self.is_customer.append(rng.random() < p_customer)
        low, high = seg.contacts
        n_contacts = low + below(rng, high - low + 1)
        self.n_contacts.append(n_contacts)
        self.contact_offsets.append(self.contact_offsets[-1] + n_contacts)

    # -- lookups -------------------------------------------------------------------------

    def segment_of(self, i: int) -> Segment:
        """Account ``i``'s segment."""
        return SEGMENTS[self.segment[i]]

    def territory_of(self, i: int) -> Territory:
        """Account ``i``'s territory (region, currency)."""
        return TERRITORIES[self.territory[i]]

    def tz_of(self, i: int) -> int:
        """Account ``i``'s working-hours offset from UTC, in seconds."""
        return REGION_TZ[TERRITORIES[self.territory[i]].region]

    def seat_of(self, i: int) -> Seat:
        """The AE seat that owns account ``i``."""
        return self.team.ae_seats[self.team_of[i]][self.seat[i]]

    def owner_at(self, i: int, t: int) -> str:
        """The user who owned account ``i`` at epoch second ``t``."""
        return self.team.ae_seats[self.team_of[i]][self.seat[i]].at(t)

    def existing_at(self, t: int) -> int:
        """How many accounts had been created by epoch second ``t`` (a prefix of indices)."""
        return bisect.bisect_right(self.created, t)

    def customer_pick(self, created_by: int, u: float) -> int | None:
        """A customer account created by epoch second ``created_by``, chosen by ``u`` (0…1)."""
        n = bisect.bisect_right(self._customer_created, created_by)
        return self.customers[int(u * n)] if n else None

    @property
    def n_contacts_total(self) -> int:
        """Number of contacts of all accounts."""
        return self.contact_offsets[-1]

    # -- records -------------------------------------------------------------------------

    def name_of(self, i: int) -> tuple[str, str]:
        """Account ``i``'s name and the industry its name implies ("" for none)."""
        return company_name(i, self._name_offset)

    def domain_of(self, i: int) -> str:
        """Account ``i``'s web domain."""
        name = self.name_of(i)[0]
        return name.lower().replace(" ", "") + ".example"

    def account_record(self, i: int) -> dict[str, Any]:
        """The ``accounts`` record of account ``i``."""
        rng = rng_for(self.seed, ACCOUNT, i + (1 << 32))
        seg = self.segment_of(i)
        territory = self.territory_of(i)
        name, industry = self.name_of(i)
        employees = int(math.exp(uniform(rng, math.log(seg.min_employees),
                                             math.log(seg.max_employees))))
        parent = None
        if seg.name != "Enterprise" and rng.random() < 0.06:
            older = bisect.bisect_left(self._enterprises, i)
            if older:
                parent = account_id(self._enterprises[below(rng, older)])
        created = self.created[i]
        updated = created + int(rng.random() * (self.timeline.now - created))
        return {
            "remote_id": account_id(i),
            "remote_created_at": to_datetime(created),
            "remote_updated_at": to_datetime(updated),
            "custom": {"tier": _TIERS[seg.name] if self.is_customer[i] else "prospect"},
            "name": name,
            "domain": self.domain_of(i),
            "industry": industry or _INDUSTRY.pick(rng),
            "segment": seg.name,
            "region": territory.region,
            "territory": territory.name,
            "employee_count": employees,
            "annual_revenue": float(round(employees * uniform(rng, 80_000, 350_000), -4)),
            "owner_id": self.owner_at(i, self.timeline.now),
            "parent_id": parent,
        }

    def contact_name(self, account: int, ordinal: int) -> tuple[str, str]:
        """First and last name of contact ``ordinal`` of ``account``."""
        return _contact_name(self._contact_rng(account, ordinal))

    def _contact_rng(self, account: int, ordinal: int) -> random.Random:
        return rng_for(self.seed, CONTACT, account * 100 + ordinal)

    def contact_created(self, account: int, ordinal: int) -> int:
        """Epoch second contact ``ordinal`` of ``account`` was created.

        The first contact comes with the account, the others every few days after it.
        """
        created = self.created[account]
        return min(created + ordinal * _CONTACT_SPACING, self.timeline.now - DAY)

    def contacts_by(self, account: int, t: int) -> int:
        """How many of ``account``'s contacts existed at epoch second ``t`` (at least one)."""
        existing = (t - self.created[account]) // _CONTACT_SPACING + 1
        return max(1, min(existing, self.n_contacts[account]))

    def contact_record(self, account: int, ordinal: int) -> dict[str, Any]:
        """The ``contacts`` record of contact ``ordinal`` of ``account``."""
        rng = self._contact_rng(account, ordinal)
        first, last = _contact_name(rng)
        territory = self.territory_of(account)
        seniority = 0 if ordinal == 0 else min(3, int(rng.random() * 4))
        titles = TITLES[seniority]
        created = self.contact_created(account, ordinal)
        updated = created + int(rng.random() * (self.timeline.now - created))
        code = _COUNTRY_CODE.get(territory.name, _COUNTRY_CODE.get(territory.region, "1"))
        return {
            "remote_id": contact_id(account, ordinal),
            "remote_created_at": to_datetime(created),
            "remote_updated_at": to_datetime(updated),
            "first_name": first,
            "last_name": last,
            "email": email_of(first, last, self.domain_of(account)),
            "phone": f"+{code} 555 {int(rng.random() * 1000):03d} "
                     f"{int(rng.random() * 10_000):04d}",
            "title": titles[int(rng.random() * len(titles))],
            "account_id": account_id(account),
            "owner_id": self.owner_at(account, self.timeline.now),
            "lifecycle_stage": _LIFECYCLE[self.is_customer[account]].pick(rng),
            "lead_source": _LEAD_SOURCE.pick(rng),
        }

    def contacts_from(self, offset: int) -> Iterator[dict[str, Any]]:
        """``contacts`` records from position ``offset`` of the stream on."""
        account = bisect.bisect_right(self.contact_offsets, offset) - 1
        if account >= self.count:
            return
        ordinal = offset - self.contact_offsets[account]
        for a in range(account, self.count):
            for j in range(ordinal, self.n_contacts[a]):
                yield self.contact_record(a, j)
            ordinal = 0


def _contact_name(rng: random.Random) -> tuple[str, str]:
    r = rng.random
    return FIRST_NAMES[int(r() * len(FIRST_NAMES))], LAST_NAMES[int(r() * len(LAST_NAMES))]
