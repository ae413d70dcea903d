"""The survey subjects of answers sent to no contact: looked up by parent, or read whole.

An answer whose invitation went to a lead, a user or an anonymous link names its contact or
account through the ``SurveySubject`` rows of its invitation or response
(:mod:`crmsync_salesforce.surveys`). There are two ways to find them, with the same result:

* **look up** each page's subjects by ``ParentId`` — one query per 150 such answers, on every
  page that has any;
* **read the object whole** once per read (``ceil(subjects / 2000)`` query pages) and look the
  parents up in memory.

Whichever costs fewer API calls is used: the whole read when its pages (from the org's record
count, :mod:`crmsync_salesforce.catalog`) are fewer than the lookups the read would make — this
page's lookups, and as many for every page a full read still expects (the answers' record
count). An incremental read (its size unknown) weighs this page's lookups only, so a few
changed answers are still looked up. The counts are used only when the run has read them
already (a full read of any object does): they are never asked for just for this, so a run
without them — an incremental one, or an org that refuses them — looks the subjects up. A
tie goes to the lookups (fewer rows sent). The whole read is kept for the rest of that read
of the answers only: the next read asks again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crmsync_salesforce import soql

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["SUBJECTS", "Subjects", "PAGE_ROWS"]

SUBJECTS = "SurveySubject"
#: Rows of a REST query page (Salesforce's maximum), for the whole read's cost.
PAGE_ROWS = 2000
_FIELDS = ["ParentId", "SubjectId", "SubjectEntityType"]
_KINDS = "SubjectEntityType IN ('Account', 'Contact')"

#: parent id → {"Contact"/"Account": the first SubjectId of that kind}
Found = dict[str, dict[str, str]]


def _query(client: SalesforceClient, where: str) -> Found:
    text = soql.select(SUBJECTS, _FIELDS, where=where, order_by=("ParentId", "SubjectId"))
    found: Found = {}
    for page in client.query_pages(text, what=f"query {SUBJECTS}", include_deleted=False):
        for s in page:
            kind = str(s.get("SubjectEntityType"))
            found.setdefault(str(s["ParentId"]), {}).setdefault(kind, str(s["SubjectId"]))
    return found


def _parents(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({str(r[k]) for r in rows for k in ("InvitationId", "ResponseId") if r.get(k)})


class Subjects:
    """Finds the survey subjects of the answers of one connector's reads.

    :param count: about how many ``SurveySubject`` records the org holds (``None``: unknown;
        called only when the whole read could be cheaper).
    """

    def __init__(self, count: Callable[[], int | None] = lambda: None) -> None:
        self._count = count
        self._whole: Found | None = None
        self._left = 0  # answers a full read still expects after the pages seen

    def expect(self, answers: int | None) -> None:
        """A read of the answers starts: ``answers`` is how many a full read expects
        (``None``: an incremental read, or unknown). A whole read of before is dropped."""
        self._whole = None
        self._left = answers or 0

    def attach(self, client: SalesforceClient, anonymous: Sequence[dict[str, Any]], *,
               page_rows: int, key: tuple[str, str]) -> None:
        """Put the contact and account (``key``) of each of ``anonymous`` (answers of a page
        of ``page_rows`` answers) in its row."""
        self._left = max(self._left - page_rows, 0)
        if not anonymous:
            return
        lookups = math.ceil(len(anonymous) / soql.IDS_PER_QUERY)
        if self._whole is None and self._whole_is_cheaper(lookups, page_rows):
            self._whole = _query(client, _KINDS)
        for start in range(0, len(anonymous), soql.IDS_PER_QUERY):
            rows = anonymous[start:start + soql.IDS_PER_QUERY]
            parents = _parents(rows)
            if not parents:
                continue
            found = self._whole if self._whole is not None else _query(
                client, f"{soql.in_ids('ParentId', parents)} AND {_KINDS}")
            for r in rows:  # the invitation's subjects before the response's
                subjects = {**found.get(str(r.get("ResponseId")), {}),
                            **found.get(str(r.get("InvitationId")), {})}
                r[key[0]], r[key[1]] = subjects.get("Contact"), subjects.get("Account")

    def _whole_is_cheaper(self, lookups: int, page_rows: int) -> bool:
        count = self._count()
        if count is None:
            return False
        pages_after = math.ceil(self._left / page_rows) if page_rows else 0
        return max(1, math.ceil(count / PAGE_ROWS)) < lookups * (1 + pages_after)
