"""What the org holds, read once per run: every object's describe and its record count.

* **Describes** run on every sync (new custom fields appear without configuration). The first
  one a run asks for fetches every object the run will read in one composite call — one API
  request instead of one per object (:mod:`crmsync_salesforce.composite`). An object the org
  lacks (``NOT_FOUND``/``INVALID_TYPE``: a single-currency org has no CurrencyType) is
  ``None``.
* **Record counts** (``/limits/recordCount?sObjects=…``, one request for every object) size a
  full read before it starts, so a large one goes straight to Bulk API 2.0 without a REST page
  first. Salesforce's counts are approximate and leave out the recycle bin — good enough to
  choose a path, which yields the same records either way. The resource needs *View Setup and
  Configuration*; without it (or on an old API version) the counts are unknown and the first
  REST page's ``totalSize`` decides instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crmsync import ConnectorError
from crmsync_salesforce import composite
from crmsync_salesforce.describe import ObjectDescription

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["Catalog"]

log = logging.getLogger(__name__)

#: Describe's answer for an object this org does not have.
NO_SUCH_OBJECT = ("NOT_FOUND", "INVALID_TYPE")


class Catalog:
    """Describes and record counts of one run.

    :param client: returns the logged-in client (created on first use).
    :param objects: returns every object the run reads, in reading order.
    """

    def __init__(self, client: Callable[[], SalesforceClient],
                 objects: Callable[[], Sequence[str]]) -> None:
        self._client = client
        self._objects = objects
        self._describes: dict[str, ObjectDescription | None] = {}
        self._counts: dict[str, int] | None = None

    def describe(self, obj: str) -> ObjectDescription | None:
        """``obj``'s describe, ``None`` when the org lacks it."""
        if obj not in self._describes:
            wanted = [obj] + [o for o in self._objects()
                              if o != obj and o not in self._describes]
            if len(wanted) == 1:
                self._describe_one(obj)
            else:
                self._describe_many(obj, wanted)
        return self._describes[obj]

    def forget(self, obj: str) -> None:
        """Drop ``obj``'s describe (its fields changed): the next one asks again."""
        self._describes.pop(obj, None)

    def _describe_one(self, obj: str) -> None:
        try:
            body = self._client().call(f"describe {obj}",
                                       lambda sf: getattr(sf, obj).describe())
        except ConnectorError as exc:
            if getattr(exc, "code", None) in NO_SUCH_OBJECT:
                self._describes[obj] = None
                return
            raise
        self._describes[obj] = ObjectDescription.from_describe(body)

    def _describe_many(self, obj: str, wanted: list[str]) -> None:
        client = self._client()
        answers = composite.get_all(
            client, [composite.Get(o, f"sobjects/{o}/describe") for o in wanted],
            what="describe objects")
        for o in wanted:
            answer = answers.get(o)
            if answer is not None and answer.ok:
                self._describes[o] = ObjectDescription.from_describe(answer.body)
            elif answer is not None and answer.code in NO_SUCH_OBJECT:
                self._describes[o] = None
            elif o == obj:  # the others are asked for again when a read needs them
                raise (answer or composite.Answer(500, None)).error(client, f"describe {o}")

    def record_count(self, obj: str) -> int | None:
        """About how many (live) records ``obj`` holds; ``None`` when unknown."""
        if self._counts is None:
            self._counts = self._read_counts()
        return self._counts.get(obj)

    def known_count(self, obj: str) -> int | None:
        """``obj``'s record count if the run has read the counts already (a full read
        does), without asking for them; ``None`` otherwise."""
        return None if self._counts is None else self._counts.get(obj)

    def _read_counts(self) -> dict[str, int]:
        names = [o for o in self._objects() if self.describe(o) is not None]
        if not names:
            return {}
        client = self._client()
        try:
            body = client.restful("read record counts", "limits/recordCount",
                                  params={"sObjects": ",".join(names)})
        except ConnectorError as exc:
            log.info("%s: record counts unavailable (%s); the first query page sizes each "
                     "full read", client.connection, getattr(exc, "code", None) or exc)
            return {}
        return {str(e["name"]): int(e["count"]) for e in (body or {}).get("sObjects") or ()}
