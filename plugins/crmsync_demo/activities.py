"""Calls, e-mails, meetings, tasks and notes logged against leads and deals.

Lead activities are the SDR's touches drawn in the lead's plan (first touch minutes to days
after the lead arrives, follow-ups after it, a meeting just before conversion). Deal activities
are spread over the deal's life, at a rate that depends on its segment, in the account's
working hours. How many activities a parent has is known from its plan and the first draws of
its activity stream, so a stream can skip whole parents when resuming.
"""

from __future__ import annotations

import random
from typing import Any

from crmsync_demo.accounts import account_id, contact_id
from crmsync_demo.deal_plan import DealPlan
from crmsync_demo.deals import DealRecords
from crmsync_demo.leads import LeadBook, LeadPlan, lead_id, opportunity_id
from crmsync_demo.seeding import DEAL_ACTIVITY, LEAD_ACTIVITY, Weighted, rng_for
from crmsync_demo.timeline import DAY, to_datetime

__all__ = ["ActivityRecords"]

WEEK = 7 * DAY
#: Most activities one deal carries.
MAX_PER_DEAL = 150

_LEAD_FOLLOW_UP = Weighted((("call", 45.0), ("email", 45.0), ("task", 10.0)))
_DEAL_TYPE = Weighted((("email", 42.0), ("call", 24.0), ("meeting", 20.0), ("task", 11.0),
                       ("note", 3.0)))
_CALL_OUTCOME = Weighted((("Connected", 35.0), ("Left voicemail", 35.0), ("No answer", 25.0),
                          ("Busy", 5.0)))
_MEETING_OUTCOME = Weighted((("Held", 88.0), ("No show", 7.0), ("Rescheduled", 5.0)))

_SUBJECTS = {
    "call": ("Intro call", "Discovery call", "Follow-up call", "Check-in call",
             "Pricing call", "Negotiation call"),
    "email": ("Intro: Northwind Analytics", "Following up", "Re: next steps", "Recap and resources",
              "Re: proposal", "Re: order form"),
    "meeting": ("Discovery meeting", "Product demo", "Technical deep dive", "Business case review",
                "Pricing review", "Contract review"),
    "task": ("Send follow-up", "Research account", "Prepare demo", "Build business case",
             "Prepare proposal", "Chase signature"),
    "note": ("Call notes", "Stakeholder map", "Deal notes", "Competitive notes",
             "Pricing notes", "Handover notes"),
}
#: Subjects of an SDR's first touch and of the follow-ups.
_LEAD_SUBJECTS = {
    "call": ("Intro call", "Follow-up call"),
    "email": ("Intro: Northwind Analytics", "Following up"),
    "meeting": ("Discovery meeting", "Discovery meeting"),
    "task": ("Research lead", "Send follow-up"),
}
_SEQUENCE_SUBJECTS = ("Sequence step 1: quick question", "Sequence step 2: following up",
                      "Sequence step 3: a customer story", "Sequence step 4: breaking up")


class ActivityRecords:
    """Builds ``activities`` records for leads and deals."""

    def __init__(self, leads: LeadBook, deals: DealRecords) -> None:
        self.seed = leads.seed
        self.leads = leads
        self.deals = deals
        self.accounts = leads.accounts
        self.now = leads.timeline.now
        self.timeline = leads.timeline

    # -- leads ----------------------------------------------------------------------------------

    @staticmethod
    def lead_count(plan: LeadPlan) -> int:
        """How many activities lead ``plan`` has."""
        return len(plan.touches)

    def for_lead(self, plan: LeadPlan) -> list[dict[str, Any]]:
        """The activities of lead ``plan``, oldest first."""
        rng = rng_for(self.seed, LEAD_ACTIVITY, plan.index)
        r = rng.random
        seat = self.accounts.team.sdr_seats[plan.team]
        lead = lead_id(plan.index)
        touches = plan.touches
        last = len(touches) - 1
        records = []
        for n, t in enumerate(touches):
            automated = False
            if n == 0 and plan.source == "Outbound":
                kind, automated = "email", True
            elif n == 0:
                kind = "call" if r() < 0.55 else "email"
            elif n == last and plan.converted_at is not None:
                kind = "meeting"
            else:
                kind = _LEAD_FOLLOW_UP.pick(rng)
                automated = kind == "email" and r() < 0.4
            if automated:
                subject = _SEQUENCE_SUBJECTS[min(n, len(_SEQUENCE_SUBJECTS) - 1)]
            else:
                subject = _LEAD_SUBJECTS[kind][n > 0]
            records.append(self._activity(
                rng, f"ACTL{plan.index:07d}{n:02d}", kind, t, subject, seat.at(t),
                automated, 0.0 if n == 0 else 0.25, plan.created, lead, None, None, None))
        return records

    # -- deals ----------------------------------------------------------------------------------

    def _deal_times(self, plan: DealPlan, rng: random.Random) -> list[int]:
        r = rng.random
        start = plan.created
        end = plan.active_until
        life = end - start
        per_week = self.accounts.segment_of(plan.account).touches_per_week
        if plan.kind != "New Business":
            per_week *= 0.6
        n = int(life / WEEK * per_week * (0.6 + 0.8 * r()) + r())
        n = max(1, min(n, MAX_PER_DEAL))
        on_day = self.timeline.business_time_on_day
        tz = plan.tz
        times = []
        for _ in range(n):
            t = on_day(start + int(r() * life), tz, r())
            if start < t < end:
                times.append(t)
        times.sort()
        return times

    def deal_count(self, plan: DealPlan) -> int:
        """How many activities deal ``plan`` has."""
        return len(self._deal_times(plan, rng_for(self.seed, DEAL_ACTIVITY, plan.index)))

    def for_deal(self, plan: DealPlan) -> list[dict[str, Any]]:
        """The activities of deal ``plan``, oldest first."""
        rng = rng_for(self.seed, DEAL_ACTIVITY, plan.index)
        times = self._deal_times(plan, rng)
        if not times:
            return []
        r = rng.random
        group = self.deals.buying_group(plan)
        contacts = [contact_id(plan.account, ordinal) for ordinal, _ in group]
        account = account_id(plan.account)
        deal = opportunity_id(plan.index)
        owner_at = self.accounts.seat_of(plan.account).at
        start = plan.created
        span = max(1, plan.active_until - start)
        pick_kind = _DEAL_TYPE.pick
        activity = self._activity
        others = len(contacts) - 1
        prefix = f"ACTO{plan.index:07d}"
        records = []
        for n, t in enumerate(times):
            kind = pick_kind(rng)
            automated = kind == "email" and r() < 0.1
            # Subjects follow the deal: discovery early on, contracts at the end.
            subject = _SUBJECTS[kind][min(5, int((t - start) / span * 6))]
            contact = contacts[0] if not others or r() < 0.5 else \
                contacts[1 + int(r() * others)]
            records.append(activity(rng, f"{prefix}{n:03d}", kind, t, subject, owner_at(t),
                                    automated, 0.3, start, None, contact, account, deal))
        return records

    # -- one activity ---------------------------------------------------------------------------

    def _activity(self, rng: random.Random, remote_id: str, kind: str, t: int, subject: str,
                  owner: str, automated: bool, inbound_share: float, created: int,
                  lead: str | None, contact: str | None, account: str | None,
                  deal: str | None) -> dict[str, Any]:
        """One activity at epoch second ``t``; ``created`` is when its parent was created.

        Arguments are positional: this runs a million times for a large dataset.
        """
        r = rng.random
        direction: str | None = None
        outcome: str | None = None
        duration: int | None = None
        status = "Completed"
        logged = t
        if kind == "call":
            direction, outcome, duration = _call(rng, inbound_share)
            logged = t + duration
        elif kind == "email":
            direction = "inbound" if not automated and r() < inbound_share else "outbound"
            if direction == "inbound" and not subject.startswith("Re: "):
                subject = "Re: " + subject
        elif kind == "meeting":
            outcome = _MEETING_OUTCOME.pick(rng)
            duration = (1_800, 2_700, 3_600)[int(r() * 3)]
            # Meetings are booked a few days ahead, never before their parent existed.
            logged = max(created, t - int(r() * 5 * DAY))
        elif kind == "task":
            recent = self.now - t < 7 * DAY
            if r() < (0.6 if recent else 0.08):
                status = "Open"
        occurred_at = to_datetime(t)
        logged_at = occurred_at if logged == t else to_datetime(min(logged, self.now))
        return {
            "remote_id": remote_id,
            "remote_created_at": logged_at if logged < t else occurred_at,
            "remote_updated_at": logged_at if logged > t else occurred_at,
            "type": kind,
            "direction": direction,
            "subject": subject,
            "occurred_at": occurred_at,
            "status": status,
            "outcome": outcome,
            "duration_seconds": duration,
            "is_automated": automated,
            "owner_id": owner,
            "contact_id": contact,
            "lead_id": lead,
            "account_id": account,
            "opportunity_id": deal,
        }


def _call(rng: random.Random, inbound_share: float) -> tuple[str, str, int]:
    """A call's direction, outcome and duration in seconds."""
    r = rng.random
    # Prospects call back now and then; a rep's first touch is always outbound.
    direction = "inbound" if r() < inbound_share / 3 else "outbound"
    outcome = _CALL_OUTCOME.pick(rng)
    if outcome == "Connected":
        duration = 180 + int(r() * 1_620)
    elif outcome == "Left voicemail":
        duration = 20 + int(r() * 40)
    else:
        duration = 0
    return direction, outcome, duration
