"""The selling company's sales organisation: users, teams, who owns what, and quotas.

The org is small (a few dozen to a couple of thousand users) and is built whole. Teams cover a
slice of the market (region and segment); each team has a manager, a few account executives
(role ``rep``) and an SDR (role ``sdr``). Some reps leave during the window: their seat passes
to a new hire, so ownership is a function of the seat and the moment.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from crmsync_demo.seeding import TEAM, below, rng_for
from crmsync_demo.timeline import DAY, GROWTH_PER_YEAR, Timeline, epoch_of, to_date, to_datetime
from crmsync_demo.vocabulary import FIRST_NAMES, LAST_NAMES, SELLER_DOMAIN

__all__ = ["Coverage", "COVERAGES", "AE_SEATS", "Seat", "SalesTeam", "person_name", "email_of"]

#: Account executive seats per team.
AE_SEATS = 4


@dataclass(frozen=True)
class Coverage:
    """The slice of the market a group of teams sells to."""

    name: str
    regions: tuple[str, ...]
    segments: tuple[str, ...]
    #: An AE's quota for the quarter holding ``as_of``, in USD; earlier quarters are lower by
    #: the business's growth.
    quarterly_quota: float


_ALL_SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
COVERAGES = (
    Coverage("NA Enterprise", ("NA",), ("Mid-Market", "Enterprise"), 340_000.0),
    Coverage("NA Commercial", ("NA",), ("SMB",), 90_000.0),
    Coverage("EMEA", ("EMEA",), _ALL_SEGMENTS, 260_000.0),
    Coverage("APAC & LATAM", ("APAC", "LATAM"), _ALL_SEGMENTS, 210_000.0),
)


def person_name(n: int, offset: int) -> tuple[str, str]:
    """The ``n``-th name of a sequence of distinct (first, last) names, shifted by ``offset``.

    Distinct for ``n`` below ``len(FIRST_NAMES) * len(LAST_NAMES)``.
    """
    size = len(FIRST_NAMES) * len(LAST_NAMES)
    k = (n * 1_201 + offset) % size  # 1,201 is prime, so n -> k is a bijection
    return FIRST_NAMES[k % len(FIRST_NAMES)], LAST_NAMES[k // len(FIRST_NAMES)]


def email_of(first: str, last: str, domain: str) -> str:
    """``first.last@domain``, lower case, accents and punctuation removed."""
    local = f"{first}.{last}".lower().replace("'", "")
    local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    return f"{local}@{domain}"


@dataclass(frozen=True)
class Seat:
    """A seat in a team, held by one user or, after a departure, by their successor."""

    holder: str
    successor: str | None = None
    #: Epoch second the holder left and the successor took over.
    handover: int = 0

    def at(self, t: int) -> str:
        """The user id holding the seat at epoch second ``t``."""
        if self.successor is not None and t >= self.handover:
            return self.successor
        return self.holder

    @property
    def current(self) -> str:
        """The user id holding the seat now."""
        return self.successor or self.holder


class SalesTeam:
    """The sales organisation of a dataset.

    :param seed: the dataset seed.
    :param timeline: the dataset's time frame.
    :param pods: teams per :class:`Coverage`.
    """

    def __init__(self, seed: int, timeline: Timeline, pods: int) -> None:
        self.timeline = timeline
        self.pods = pods
        self.team_names: list[str] = []
        self.ae_seats: list[tuple[Seat, ...]] = []
        self.sdr_seats: list[Seat] = []
        #: ``users`` records, in id order.
        self.users: list[dict[str, Any]] = []
        self._hired: dict[str, int] = {}
        self._left: dict[str, int] = {}
        self._build(seed)

    # -- lookups -------------------------------------------------------------------------

    @property
    def n_teams(self) -> int:
        """Number of teams."""
        return len(self.team_names)

    def team_for(self, region: str, segment: str, pick: int) -> int:
        """The team covering ``region`` and ``segment``; ``pick`` chooses among its pods."""
        for c, coverage in enumerate(COVERAGES):
            if region in coverage.regions and segment in coverage.segments:
                return c * self.pods + pick % self.pods
        raise ValueError(f"no team covers {region}/{segment}")

    def coverage_of(self, team: int) -> Coverage:
        """The market slice ``team`` sells to."""
        return COVERAGES[team // self.pods]

    # -- building --------------------------------------------------------------------------

    def _add_user(self, name_offset: int, *, team: str, role: str, manager: str | None,
                  hired: int, left: int | None = None) -> str:
        n = len(self.users) + 1
        remote_id = f"U{n:04d}"
        first, last = person_name(n, name_offset)
        hired = min(hired, self.timeline.now - DAY)
        self.users.append({
            "remote_id": remote_id,
            "remote_created_at": to_datetime(hired),
            "remote_updated_at": to_datetime(left if left is not None else hired),
            "name": f"{first} {last}",
            "email": email_of(first, last, SELLER_DOMAIN),
            "is_active": left is None,
            "team": team,
            "role": role,
            "manager_id": manager,
        })
        self._hired[remote_id] = hired
        if left is not None:
            self._left[remote_id] = left
        return remote_id

    def _build(self, seed: int) -> None:
        rng = rng_for(seed, TEAM, 0)
        offset = below(rng, len(FIRST_NAMES) * len(LAST_NAMES))
        start = self.timeline.start
        years = 365 * DAY
        vp = self._add_user(offset, team="Sales Leadership", role="manager", manager=None,
                            hired=start - 3 * years)
        for coverage in COVERAGES:
            for pod in range(self.pods):
                team = coverage.name if self.pods == 1 else f"{coverage.name} {pod + 1}"
                t = len(self.team_names)
                self.team_names.append(team)
                manager = self._add_user(offset, team=team, role="manager", manager=vp,
                                         hired=start - years - below(rng, 2 * years))
                seats = [self._add_user(offset, team=team, role="rep", manager=manager,
                                        hired=start - below(rng, 3 * years))
                         for _ in range(AE_SEATS)]
                sdr = self._add_user(offset, team=team, role="sdr", manager=manager,
                                     hired=start - below(rng, years))
                ae_seats = [Seat(s) for s in seats]
                sdr_seat = Seat(sdr)
                # Teams 1, 5, 9… lose an AE during the window, teams 3, 7, 11… their SDR.
                if t % 4 in (1, 3):
                    left = self.timeline.now - 100 * DAY - below(rng, 200 * DAY)
                    quitter = seats[0] if t % 4 == 1 else sdr
                    self._mark_left(quitter, left)
                    successor = self._add_user(offset, team=team,
                                               role="rep" if t % 4 == 1 else "sdr",
                                               manager=manager, hired=left - 21 * DAY)
                    if t % 4 == 1:
                        ae_seats[0] = Seat(seats[0], successor, left)
                    else:
                        sdr_seat = Seat(sdr, successor, left)
                self.ae_seats.append(tuple(ae_seats))
                self.sdr_seats.append(sdr_seat)

    def _mark_left(self, user_id: str, left: int) -> None:
        record = self.users[int(user_id[1:]) - 1]
        record["is_active"] = False
        record["remote_updated_at"] = to_datetime(left)
        self._left[user_id] = left

    # -- quotas ------------------------------------------------------------------------------

    def quota_rows(self) -> list[tuple[str, str, dt.date, dt.date, float]]:
        """(owner, team, period start, period end, USD amount) per AE and quarter worked.

        A rep who leaves carries quota for the quarters they started; a new hire's first
        quarter is ramped at half quota.
        """
        quarters = self.timeline.reporting_quarters()
        growth = 1.0 + GROWTH_PER_YEAR
        rows = []
        for team, seats in enumerate(self.ae_seats):
            coverage = self.coverage_of(team)
            for seat in seats:
                for user in (seat.holder, seat.successor):
                    if user is None:
                        continue
                    hired, left = self._hired[user], self._left.get(user)
                    for q, start in enumerate(quarters):
                        end_excl = (quarters[q + 1] if q + 1 < len(quarters)
                                    else _add_quarter(start))
                        if epoch_of(end_excl) <= hired or (left is not None
                                                           and epoch_of(start) >= left):
                            continue
                        years_back = (len(quarters) - 1 - q) / 4
                        amount = coverage.quarterly_quota / growth ** years_back
                        if epoch_of(start) < hired + 90 * DAY and hired > self.timeline.start:
                            amount /= 2
                        rows.append((user, self.team_names[team], start,
                                     end_excl - dt.timedelta(days=1), round(amount, -3)))
        return rows

    def quota_record(self, index: int, row: tuple[str, str, dt.date, dt.date, float]
                     ) -> dict[str, Any]:
        """The ``quotas`` record of one of :meth:`quota_rows`."""
        owner, team, start, end, amount = row
        set_at = to_datetime(max(epoch_of(start) - 14 * DAY, self._hired[owner]))
        return {
            "remote_id": f"Q{index + 1:06d}",
            "remote_created_at": set_at,
            "remote_updated_at": set_at,
            "owner_id": owner,
            "team": team,
            "period_start": start,
            "period_end": end,
            "amount": amount,
            "currency": "USD",
        }

    def hired_at(self, user_id: str) -> dt.date:
        """The day ``user_id`` joined."""
        return to_date(self._hired[user_id])


def _add_quarter(day: dt.date) -> dt.date:
    month = day.month + 3
    return dt.date(day.year + 1, month - 12, 1) if month > 12 else dt.date(day.year, month, 1)
