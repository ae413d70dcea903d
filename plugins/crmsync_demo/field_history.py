"""The field history of a deal: every change of its tracked fields, drawn from its plan.

A deal's history is built backwards from what its record shows, so that the last value of
each field is the record's and every change's ``old_value`` is the previous change's
``new_value``. Each field gets a list of *points* (epoch second, value, author) in the order
they happened; the first point is the value at creation, which is not a change. Then:

- **stage_id**, **probability**: every stage entry after the first (the stage history's).
- **amount**: the early amount while the deal is in an early stage (probability below 0.6),
  the final amount from its first later stage on; some deals are resized in between, up or
  down, and an open deal still early at "now" is resized within its current stage.
- **currency**: a few deals in another currency were first entered in USD and corrected days
  later (the amount converted at the same instant).
- **expected_close_date**: the rep's first estimate (the segment's typical cycle), pushed out
  ``push_count`` times, pulled in now and then, set to the close date when the deal closes.
- **owner_id**: the account's owner at each stage entry, and the seat's successor when its
  holder leaves while the deal is open (reassigned by the team's manager).
- **forecast_category**: on some deals the rep overrides the stage's category for a while
  (``best_case``, ``commit``, ``pipeline`` or ``omitted``); the next stage change clears it.

Values are text in the one encoding of ``opportunity_field_history`` (docs/history.md):
numbers as Python float text, dates as ``YYYY-MM-DD``, references as remote ids.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from typing import Any

from crmsync_demo.accounts import AccountBook
from crmsync_demo.deal_plan import DealPlan
from crmsync_demo.leads import opportunity_id
from crmsync_demo.pipelines import Stage
from crmsync_demo.seeding import DEAL, rng_for
from crmsync_demo.timeline import DAY, HOUR, to_date, to_datetime
from crmsync_demo.vocabulary import FX_BASE_RATES

__all__ = ["FIELDS", "DealHistory", "HistoryBuilder", "field_history_id", "history_records",
           "is_early"]

#: The tracked fields (``crmsync.HISTORY_FIELDS``), in the order same-instant changes are listed.
FIELDS = ("stage_id", "amount", "currency", "expected_close_date", "owner_id", "probability",
          "forecast_category")
_first = operator.itemgetter(0)
#: A salt giving a deal's history its own random stream.
_HISTORY_SALT = 3 << 40
#: A rep's override of the stage's forecast category, by the stage's category.
_OVERRIDES = {"Pipeline": ("best_case", "omitted"), "Best Case": ("commit", "pipeline"),
              "Commit": ("best_case", "omitted")}

Text = str | None
#: (epoch second, field, old value, new value, author)
Change = tuple[int, str, Text, Text, Text]
Point = tuple[int, Text, Text]


def field_history_id(deal: int, n: int) -> str:
    """The remote id of the ``n``-th change (in time order) of opportunity ``deal``."""
    return f"OFH{deal:07d}{n:03d}"


def is_early(stage: Stage) -> bool:
    """An open stage before the deal is sized for real (probability below 0.6)."""
    return not stage.is_closed and stage.probability < 0.6


def _amount_text(x: float) -> str:
    return repr(float(x))


def _rounded(x: float, currency: str) -> float:
    step = 10_000 if currency == "JPY" else 500 if x * FX_BASE_RATES.get(currency, 1.0) >= 20_000 \
        else 100
    return float(max(step, round(x / step) * step))


class DealHistory:
    """A deal's values at creation and its changes, oldest first."""

    __slots__ = ("changes", "initial")

    def __init__(self, initial: dict[str, Text], changes: list[Change]) -> None:
        self.initial = initial
        self.changes = changes

    def values_at(self, t: int) -> dict[str, Text]:
        """Every tracked field's value at epoch second ``t`` (changes at ``t`` included)."""
        values = dict(self.initial)
        for change in self.changes:
            if change[0] > t:
                break
            values[change[1]] = change[3]
        return values

    def state_at(self, t: int) -> tuple[dict[str, Text], int, int]:
        """:meth:`values_at`, :meth:`count_until` and :meth:`pushes_until` of ``t`` in one
        pass."""
        values = dict(self.initial)
        n = pushes = 0
        for change in self.changes:
            if change[0] > t:
                break
            n += 1
            field, old, new = change[1], change[2], change[3]
            values[field] = new
            if field == "expected_close_date" and old is not None and new is not None \
                    and new > old:
                pushes += 1
        return values, n, pushes

    def count_until(self, t: int) -> int:
        """How many changes happened at or before epoch second ``t``."""
        return sum(1 for change in self.changes if change[0] <= t)

    def pushes_until(self, t: int) -> int:
        """How many times the expected close date was moved later, at or before ``t``."""
        return sum(1 for c in self.changes if c[0] <= t and c[1] == "expected_close_date"
                   and c[2] is not None and c[3] is not None and c[3] > c[2])


def _changes(field: str, points: list[Point]) -> tuple[Text, list[Change]]:
    """The initial value and the changes of ``field`` from its points (time-sorted, stable).

    Points at the same second collapse to the last; a point repeating the value is no change.
    """
    points.sort(key=_first)
    initial = points[0][1]
    merged: list[Point] = [points[0]]
    for point in points[1:]:
        if point[0] == merged[-1][0]:
            merged[-1] = point
        else:
            merged.append(point)
    changes: list[Change] = []
    current = merged[0][1]
    for t, value, by in merged[1:]:
        if value != current:
            changes.append((t, field, current, value, by))
            current = value
    return initial, changes


class HistoryBuilder:
    """Draws the field history of deals.

    :param seed: the dataset seed.
    :param accounts: the accounts (owners over time).
    :param now: the dataset's "now", an epoch second.
    """

    def __init__(self, seed: int, accounts: AccountBook, now: int) -> None:
        self.seed = seed
        self.accounts = accounts
        self.now = now
        self._managers = {u["remote_id"]: u["manager_id"] for u in accounts.team.users}

    def build(self, plan: DealPlan, shown_close: dt.date) -> DealHistory:
        """The history of ``plan`` ending in the values its record shows.

        :param shown_close: the expected close date the record shows.
        """
        rng = rng_for(self.seed, DEAL, plan.index + _HISTORY_SALT)
        r = rng.random
        visits = plan.visits
        closed_at = plan.closed_at
        if closed_at is not None:
            end = closed_at
        else:
            end = max(min(plan.active_until, self.now - 1), visits[-1][1])
        owner_at = self.accounts.seat_of(plan.account).at
        stage_points: list[Point] = []
        probability_points: list[Point] = []
        for stage, entered in visits:
            by = owner_at(entered)
            stage_points.append((entered, stage.remote_id, by))
            probability_points.append((entered, repr(stage.probability), by))
        amounts, currencies = self._amounts(plan, end, r)
        points = {
            "stage_id": stage_points,
            "amount": amounts,
            "currency": currencies,
            "expected_close_date": self._close_dates(plan, shown_close, end, r),
            "owner_id": self._owners(plan),
            "probability": probability_points,
            "forecast_category": self._forecast(plan, end, r),
        }
        initial: dict[str, Text] = {}
        changes: list[Change] = []
        for field in FIELDS:
            initial[field], field_changes = _changes(field, points[field])
            changes.extend(field_changes)
        changes.sort(key=_first)  # stable: same-instant changes stay in FIELDS order
        return DealHistory(initial, changes)

    def amounts(self, plan: DealPlan) -> tuple[Text, list[Change]]:
        """Only the amount's initial value and changes: what the stage history needs.

        The amount is drawn first from the deal's history stream, so it comes out the same
        as in :meth:`build`.
        """
        rng = rng_for(self.seed, DEAL, plan.index + _HISTORY_SALT)
        closed_at = plan.closed_at
        end = closed_at if closed_at is not None else \
            max(min(plan.active_until, self.now - 1), plan.visits[-1][1])
        return _changes("amount", self._amounts(plan, end, rng.random)[0])

    # -- one field each ---------------------------------------------------------------------

    def _amounts(self, plan: DealPlan, end: int, r: Any) -> tuple[list[Point], list[Point]]:
        visits, created = plan.visits, plan.created
        owner_at = self.accounts.seat_of(plan.account).at
        late = next((entered for stage, entered in visits if not is_early(stage)), None)
        early = plan.early_amount
        points: list[Point] = [(created, _amount_text(early if late != created else
                                                       plan.amount), None)]
        early_until = late if late is not None else visits[-1][1]
        if late != created and early_until - created > 2 * DAY and r() < 0.2:
            t = created + int((early_until - created) * (0.2 + 0.6 * r()))
            resized = _rounded(early * (0.75 + 0.55 * r()), plan.currency)
            points.append((t, _amount_text(resized), owner_at(t)))
        if late is None:
            # Still early at "now": sized within the current stage.
            last = visits[-1][1]
            t = last + max(1, int((end - last) * (0.3 + 0.6 * r())))
            points.append((min(t, end), _amount_text(plan.amount), owner_at(t)))
        elif late != created:
            before = plan.amount
            if end - late > 2 * DAY and r() < 0.15:
                before = _rounded(plan.amount * (0.85 + 0.35 * r()), plan.currency)
                t = late + int((end - late) * (0.2 + 0.7 * r()))
                points.append((t, _amount_text(plan.amount), owner_at(t)))
            points.append((late, _amount_text(before), owner_at(late)))
        currencies: list[Point] = [(created, plan.currency, None)]
        if plan.currency != "USD" and r() < 0.05:
            # Entered in USD by mistake, corrected (and converted) soon after.
            following = min([p[0] for p in points[1:] if p[0] > created] + [end])
            if following - created > 60:
                t = created + max(1, int((following - created) * (0.05 + 0.4 * r())))
                by = owner_at(t)
                first = float(points[0][1] or 0.0)
                usd = _rounded(first * FX_BASE_RATES.get(plan.currency, 1.0), "USD")
                points.append((t, points[0][1], by))
                points[0] = (created, _amount_text(usd), None)
                currencies = [(created, "USD", None), (t, plan.currency, by)]
        return points, currencies

    def _close_dates(self, plan: DealPlan, shown: dt.date, end: int, r: Any) -> list[Point]:
        visits, created = plan.visits, plan.created
        owner_at = self.accounts.seat_of(plan.account).at
        first = to_date(plan.planned)
        points: list[Point] = [(created, first.isoformat(), None)]
        start = created
        for (stage, entered), following in itertools.pairwise(visits):
            if stage.is_closed:
                # Closed, then reopened: the close date, then a new estimate.
                by = owner_at(entered)
                points.append((entered, to_date(entered).isoformat(), by))
                reopened = following[1]
                points.append((reopened, (to_date(reopened) + dt.timedelta(days=45)).isoformat(),
                               owner_at(reopened)))
                start = reopened
        closed = plan.closed_at is not None
        target = shown
        if closed and plan.push_count and r() < 0.5:
            target = shown + dt.timedelta(days=7 + int(r() * 30))  # pulled in at the close
        pushes = plan.push_count
        limit = end - HOUR if closed else end
        if pushes and limit > start:
            base = to_date(start) if start != created else first
            span = (target - base).days
            times = sorted(start + 1 + int((limit - start - 1) * (0.15 + 0.85 * r()))
                           for _ in range(pushes))
            for i, t in enumerate(times, 1):
                day = base + dt.timedelta(days=span * i // pushes)
                points.append((t, day.isoformat(), owner_at(t)))
        elif not closed and end > start:
            t = start + 1 + int((end - start - 1) * r())
            points.append((t, shown.isoformat(), owner_at(t)))
        if closed:
            points.append((end, shown.isoformat(), owner_at(end)))
        return points

    def _owners(self, plan: DealPlan) -> list[Point]:
        seat = self.accounts.seat_of(plan.account)
        owner_at = seat.at
        points: list[Point] = [(plan.created, owner_at(plan.created), None)]
        for _, entered in plan.visits[1:]:
            points.append((entered, owner_at(entered), None))
        handover = seat.handover
        if seat.successor is not None and plan.created < handover < self.now:
            current = next((s for s, entered in reversed(plan.visits) if entered <= handover),
                           None)
            if current is not None and not current.is_closed:
                manager = self._managers.get(seat.holder)
                points.append((handover, seat.successor, manager))
        return points

    def _forecast(self, plan: DealPlan, end: int, r: Any) -> list[Point]:
        points: list[Point] = [(plan.created, None, None)]
        if r() >= 0.15:
            return points
        visits = plan.visits
        open_visits = [v for v, (stage, _) in enumerate(visits) if not stage.is_closed]
        v = open_visits[int(r() * len(open_visits))]
        stage, entered = visits[v]
        leaves = visits[v + 1][1] if v + 1 < len(visits) else end
        if leaves - entered < 2 * HOUR:
            return points
        t = entered + 1 + int((leaves - entered - 1) * (0.2 + 0.6 * r()))
        choices = _OVERRIDES[stage.forecast_category]
        override = choices[0] if r() < 0.75 else choices[1]
        owner_at = self.accounts.seat_of(plan.account).at
        points.append((t, override, owner_at(t)))
        if v + 1 < len(visits):
            points.append((leaves, None, owner_at(leaves)))
        return points


def history_records(plan: DealPlan, history: DealHistory, until: int) -> list[dict[str, Any]]:
    """The ``opportunity_field_history`` records of ``plan``'s changes at or before ``until``."""
    deal = opportunity_id(plan.index)
    records = []
    for n, (t, field, old, new, by) in enumerate(history.changes):
        if t > until:
            break
        at = to_datetime(t)
        records.append({
            "remote_id": field_history_id(plan.index, n),
            "remote_created_at": at,
            "remote_updated_at": at,
            "opportunity_id": deal,
            "field": field,
            "changed_at": at,
            "old_value": old,
            "new_value": new,
            "changed_by": by,
            "source": "crm",
        })
    return records

