"""The life of one opportunity: its account, amount and walk through the pipeline stages.

A deal's whole path is drawn up front, as if it had already played out: the stages it visits,
how long it stays in each, how it ends, whether it is lost and reopened. The part of that path
after "now" has not happened yet: a deal whose close lies in the future is open, in the stage it
has reached, and its projected close becomes its expected close date.

One deal in :data:`~crmsync_demo.leads.DEALS_PER_CONVERSION` is the opportunity a converted
lead became: it starts at the conversion, on the lead's account, with the lead's source.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from crmsync_demo.accounts import AccountBook
from crmsync_demo.leads import DEALS_PER_CONVERSION, LeadBook, LeadPlan
from crmsync_demo.pipelines import NEW_BUSINESS, RENEWALS, Pipeline, Stage
from crmsync_demo.seeding import DEAL, Weighted, approx_normal, rng_for
from crmsync_demo.timeline import DAY, HOUR, Timeline
from crmsync_demo.vocabulary import DEAL_SOURCES, FX_BASE_RATES, PRODUCT_LINES, Segment

__all__ = ["DealPlan", "DealBook"]

_KIND = Weighted((("New Business", 70.0), ("Renewal", 15.0), ("Expansion", 15.0)))
_SOURCE = Weighted(DEAL_SOURCES)
_PRODUCT = Weighted(PRODUCT_LINES)
#: How a deal's source changes its odds of being won, relative to its segment's rate.
_SOURCE_WIN_FACTOR = {"Referral": 1.5, "Partner": 1.25, "Event": 1.0, "Web": 0.95,
                      "Outbound": 0.8, "Webinar": 0.9, "Paid Social": 0.8}
_KIND_WIN_RATE = {"Renewal": 0.8, "Expansion": 0.45}
_KIND_AMOUNT = {"New Business": 1.0, "Renewal": 0.9, "Expansion": 0.35}
_KIND_CYCLE = {"New Business": 1.0, "Renewal": 0.55, "Expansion": 0.7}
#: Where lost deals die: relative weights of each open stage, earliest first.
_LOSS_WEIGHTS = {NEW_BUSINESS.remote_id: (30.0, 25.0, 16.0, 13.0, 10.0, 6.0),
                 RENEWALS.remote_id: (40.0, 30.0, 20.0, 10.0)}
_LOSS_STAGE = {pid: Weighted(enumerate(w)) for pid, w in _LOSS_WEIGHTS.items()}
#: How long a zombie deal sits in the stage where it was abandoned.
_ZOMBIE_YEARS = 4
#: How far ahead of "now" a rep is willing to forecast a close.
_HORIZON = 270 * DAY


class DealPlan:
    """The facts of one opportunity that its record, history, contacts and activities share."""

    __slots__ = (
        "account",
        "active_until",
        "amount",
        "created",
        "currency",
        "early_amount",
        "expected_close",
        "index",
        "kind",
        "lead",
        "pipeline",
        "planned",
        "product_line",
        "push_count",
        "source",
        "tz",
        "visits",
    )

    index: int
    kind: str
    pipeline: Pipeline
    created: int
    account: int
    tz: int
    source: str
    #: The converted lead this deal came from, if any.
    lead: LeadPlan | None
    #: Amount in the deal's currency now, and while the deal was early in the pipeline.
    amount: float
    early_amount: float
    currency: str
    product_line: str
    #: (stage, entered epoch second) of every stage visit so far, in order.
    visits: list[tuple[Stage, int]]
    #: The close date the CRM shows, as an epoch second: the actual close of a closed deal,
    #: the rep's current estimate of an open one (which may have passed, on a neglected deal).
    expected_close: int
    #: The rep's first estimate of the close, as an epoch second: the segment's typical cycle.
    planned: int
    #: How many times the expected close date was pushed out.
    push_count: int
    #: When work on the deal stopped: its close, "now", or when it went stale.
    active_until: int

    @property
    def stage(self) -> Stage:
        """The current stage."""
        return self.visits[-1][0]

    @property
    def closed_at(self) -> int | None:
        """When the deal entered its current stage, if that stage is closed."""
        stage, entered = self.visits[-1]
        return entered if stage.is_closed else None

    @property
    def status(self) -> str:
        """``open``, ``won`` or ``lost``."""
        stage = self.visits[-1][0]
        return "open" if not stage.is_closed else "won" if stage.is_won else "lost"


class DealBook:
    """The opportunities of a dataset."""

    def __init__(self, seed: int, timeline: Timeline, accounts: AccountBook, leads: LeadBook,
                 n_deals: int) -> None:
        self.seed = seed
        self.timeline = timeline
        self.accounts = accounts
        self.leads = leads
        self.count = n_deals

    def plans_from(self, start: int) -> Iterator[DealPlan]:
        """Plans of opportunities ``start``, ``start + 1``… to the last."""
        for index in range(start, self.count):
            yield self.plan(index)

    def _converted_lead(self, index: int) -> LeadPlan | None:
        if index % DEALS_PER_CONVERSION:
            return None
        k = index // DEALS_PER_CONVERSION
        if k >= self.leads.conversion_slots:
            return None
        lead = self.leads.plan(self.leads.lead_of_conversion(k))
        return lead if lead.conversion == k else None

    def plan(self, index: int) -> DealPlan:
        """Regenerate the facts of opportunity ``index``."""
        rng = rng_for(self.seed, DEAL, index)
        tl, accounts = self.timeline, self.accounts
        plan = DealPlan()
        plan.index = index
        plan.lead = lead = self._converted_lead(index)
        if lead is not None:
            assert lead.account is not None and lead.converted_at is not None
            plan.kind, plan.account, plan.created = "New Business", lead.account, lead.converted_at
            plan.source = lead.source
            plan.tz = accounts.tz_of(lead.account)
        else:
            created = tl.grown_time((index + rng.random()) / self.count)
            plan.kind = _KIND.pick(rng)
            account = None
            if plan.kind != "New Business":
                history = 300 * DAY if plan.kind == "Renewal" else 90 * DAY
                account = accounts.customer_pick(created - history, rng.random())
            if account is None:
                plan.kind = "New Business"
                account = int(rng.random() * accounts.existing_at(created))
            plan.account = account
            plan.source = _SOURCE.pick(rng) if plan.kind == "New Business" else \
                "Existing Customer"
            plan.tz = accounts.tz_of(account)
            snapped = tl.next_business_time(created, plan.tz, rng.random())
            plan.created = snapped if snapped < tl.now - HOUR else created
        plan.pipeline = NEW_BUSINESS if plan.kind == "New Business" else RENEWALS
        self._price(plan, rng)
        self._walk(plan, rng)
        return plan

    def _price(self, plan: DealPlan, rng: random.Random) -> None:
        segment = self.accounts.segment_of(plan.account)
        plan.currency = self.accounts.territory_of(plan.account).currency
        r = rng.random
        usd = segment.median_deal * _KIND_AMOUNT[plan.kind] * math.exp(0.6 * approx_normal(r))
        rate = FX_BASE_RATES.get(plan.currency, 1.0)
        step = 10_000 if plan.currency == "JPY" else 500 if usd >= 20_000 else 100
        plan.amount = float(max(step, round(usd / rate / step) * step))
        early = plan.amount * (0.7 + 0.65 * r())
        plan.early_amount = float(max(step, round(early / step) * step))
        plan.product_line = _PRODUCT.pick(rng)

    def _walk(self, plan: DealPlan, rng: random.Random) -> None:
        """Draw the deal's stage path and timing, then cut it at "now"."""
        r = rng.random
        tl = self.timeline
        segment = self.accounts.segment_of(plan.account)
        n_open = len(plan.pipeline.open_stages)
        win_rate = _win_rate(plan, segment)
        first = 1 if plan.lead is None and plan.kind == "New Business" and r() < 0.2 else 0
        cycle = (segment.cycle_days * _KIND_CYCLE[plan.kind] * DAY
                 * math.exp(0.45 * approx_normal(r)))
        stage_time = cycle / n_open
        stalled = r() < 0.08
        zombie = r() < 0.03
        path, durations = _stage_path(plan.pipeline, segment, rng, win_rate, first, stage_time,
                                      stalled)

        # A zombie deal is abandoned in some open stage and never touched again.
        zombie_at = int(r() * (len(path) - 1)) if zombie else -1
        if zombie:
            durations[zombie_at] = _ZOMBIE_YEARS * 365 * DAY

        visits: list[tuple[Stage, int]] = []
        t = plan.created
        for stage, duration in zip(path, durations, strict=False):
            visits.append((stage, t))
            t = tl.next_business_time(t + int(duration) + HOUR, plan.tz, r())
        projected = visits[-1][1]
        # The first visit, at creation, is always in the past.
        plan.visits = [v for v in visits if v[1] < tl.now]
        closed_at = plan.closed_at
        plan.active_until = closed_at if closed_at is not None else tl.now
        if zombie and zombie_at < len(plan.visits):
            plan.active_until = min(plan.active_until,
                                    visits[zombie_at][1] + int((14 + 28 * r()) * DAY))
        self._estimate(plan, segment, projected, zombie, rng)

    def _estimate(self, plan: DealPlan, segment: Segment, projected: int, zombie: bool,
                  rng: random.Random) -> None:
        """The rep's expected close date and how often it was pushed.

        The rep's first estimate comes from the segment's typical cycle. Reps push it out as
        the deal drags on, except on deals they neglect, whose estimate goes stale.
        """
        tl, closed_at = self.timeline, plan.closed_at
        planned = plan.created + int(segment.cycle_days * _KIND_CYCLE[plan.kind] * DAY)
        plan.planned = planned
        if closed_at is not None:
            expected = closed_at
        elif planned < tl.now and (zombie or rng.random() < 0.12):
            expected = planned
        elif projected < tl.now + _HORIZON:
            expected = projected
        else:
            expected = max(planned, tl.now + 30 * DAY)
        plan.expected_close = expected
        overrun = expected - planned
        plan.push_count = min(5, 1 + overrun // (30 * DAY)) if overrun > 14 * DAY else 0


def _win_rate(plan: DealPlan, segment: Segment) -> float:
    """The chance the deal is won: by segment and source for new business, else by kind."""
    if plan.kind == "New Business":
        return segment.new_business_win_rate * _SOURCE_WIN_FACTOR.get(plan.source, 1.0)
    return _KIND_WIN_RATE[plan.kind]


def _stage_path(pipeline: Pipeline, segment: Segment, rng: random.Random, win_rate: float,
                first: int, stage_time: float, stalled: bool
                ) -> tuple[list[Stage], list[float]]:
    """The stages a deal visits from stage ``first`` until won or lost (reopened now and
    then), and the time it spends in each."""
    r = rng.random
    n_open = len(pipeline.open_stages)
    path: list[Stage] = []
    durations: list[float] = []

    def go(stages: range, end: Stage) -> None:
        for s in stages:
            # Small deals skip middle stages now and then (never the stage a reopened deal
            # resumes in: a deal lost twice in a row was never reopened).
            if path and not path[-1].is_closed and segment.name == "SMB" \
                    and 0 < s < n_open - 1 and r() < 0.25:
                continue
            path.append(pipeline.open_stages[s])
            durations.append(stage_time * (0.4 + 1.2 * r()))
        if stalled and durations:
            durations[int(r() * len(durations))] *= 3 + 4 * r()
        path.append(end)
        durations.append(0.0)

    if r() < win_rate:
        go(range(first, n_open), pipeline.won)
    else:
        lost_at = max(first, _LOSS_STAGE[pipeline.remote_id].pick(rng))
        go(range(first, lost_at + 1), pipeline.lost)
        if r() < 0.06:
            # Reopened: the buyer comes back weeks later and the deal resumes.
            durations[-1] = (20 + 100 * r()) * DAY
            back = max(first, lost_at - 1)
            if r() < 0.45:
                go(range(back, n_open), pipeline.won)
            else:
                go(range(back, lost_at + 1), pipeline.lost)
    return path, durations
