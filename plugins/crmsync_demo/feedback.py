"""Survey responses (NPS, CSAT, CES) from contacts at customer accounts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from crmsync_demo.accounts import AccountBook, account_id, contact_id
from crmsync_demo.seeding import FEEDBACK, Weighted, below, rng_for
from crmsync_demo.timeline import DAY, to_datetime

__all__ = ["FeedbackRecords"]

_TYPE = Weighted((("nps", 45.0), ("csat", 45.0), ("ces", 10.0)))
#: Score distributions: NPS 0–10 (about +35), CSAT 1–5, CES 1–7 (7 = very easy).
_SCORE = {
    "nps": Weighted(zip(range(11), (1.0, 1, 1, 1.5, 2, 4, 6, 12, 18, 27, 26), strict=False)),
    "csat": Weighted(zip(range(1, 6), (3.0, 5, 12, 38, 42), strict=False)),
    "ces": Weighted(zip(range(1, 8), (2.0, 3, 5, 10, 20, 30, 30), strict=False)),
}
#: Responses per customer account over the window, (fewest, most), by segment.
_RESPONSES = {"SMB": (0, 3), "Mid-Market": (1, 5), "Enterprise": (2, 8)}
#: Comments by mood: what customers write about support, performance, price, onboarding,
#: features and value, some in German, French and Spanish (the demo sells in DACH, France
#: and Latin America), so that theme analysis (docs/themes.md) has something to find.
_COMMENTS = {
    "bad": ("Support took too long to answer.", "Dashboards are slow on large datasets.",
            "Pricing went up at renewal.", "Too expensive for what we use.",
            "The tool crashes when we export big reports.",
            "Onboarding took months and the training was thin.",
            "Der Support antwortet zu langsam.", "Le prix a beaucoup augmenté au renouvellement.",
            "Missing an integration with our ERP.", "Hard to use for our sales team."),
    "fine": ("Does the job.", "Onboarding could be smoother.", "Would like more connectors.",
             "Good product, but the price is high for a small team.",
             "Support is friendly but slow.", "We wish the mobile app had more features.",
             "Funktioniert, aber die Einarbeitung dauerte lange.",
             "Correct, mais il manque des fonctionnalités.", "Cumple, pero el soporte tarda.",
             "Fine overall; the contract terms were a pain with our legal team."),
    "good": ("Great product and great people.", "Our analysts love it.",
             "Saved us weeks of reporting work.", "Easy to use and quick to set up.",
             "Our account manager is always responsive.",
             "Support solved our issue the same day.", "Sehr einfach zu bedienen, tolles Team.",
             "Excellent support, très réactif.", "Un vrai gain de temps pour nos analystes.",
             "Muy fácil de usar y gran relación con el equipo."),
}

class FeedbackRecords:
    """The ``feedback`` records: responses per customer account, in account order."""

    def __init__(self, accounts: AccountBook) -> None:
        self.accounts = accounts
        self.seed = accounts.seed
        self.now = accounts.timeline.now

    def _rng(self, customer: int) -> random.Random:
        return rng_for(self.seed, FEEDBACK, customer)

    def count_for(self, account: int) -> int:
        """How many responses came from ``account`` (a customer)."""
        low, high = _RESPONSES[self.accounts.segment_of(account).name]
        return low + below(self._rng(account), high - low + 1)

    def for_account(self, account: int) -> list[dict[str, Any]]:
        """The responses from ``account``'s contacts."""
        accounts = self.accounts
        rng = self._rng(account)
        low, high = _RESPONSES[accounts.segment_of(account).name]
        n = low + below(rng, high - low + 1)
        records = []
        for k in range(n):
            ordinal = below(rng, accounts.n_contacts[account])
            earliest = min(max(accounts.contact_created(account, ordinal),
                               accounts.timeline.start) + DAY, self.now - DAY)
            responded = earliest + int(rng.random() * (self.now - earliest))
            kind = _TYPE.pick(rng)
            score = _SCORE[kind].pick(rng)
            comment = None
            if rng.random() < 0.3:
                top = {"nps": 10, "csat": 5, "ces": 7}[kind]
                mood = "good" if score >= top - 1 else "bad" if score <= top / 2 else "fine"
                comment = _COMMENTS[mood][below(rng, len(_COMMENTS[mood]))]
            at = to_datetime(responded)
            records.append({
                "remote_id": f"FB{account:06d}{k:02d}",
                "remote_created_at": at,
                "remote_updated_at": at,
                "type": kind,
                "score": float(score),
                "contact_id": contact_id(account, ordinal),
                "account_id": account_id(account),
                "owner_id": accounts.owner_at(account, responded),
                "responded_at": at,
                "comment": comment,
            })
        return records

    def records_from(self, offset: int) -> Iterator[dict[str, Any]]:
        """``feedback`` records from position ``offset`` of the stream on."""
        skip = offset
        for account in self.accounts.customers:
            if skip:
                n = self.count_for(account)
                if skip >= n:
                    skip -= n
                    continue
                yield from self.for_account(account)[skip:]
                skip = 0
            else:
                yield from self.for_account(account)
