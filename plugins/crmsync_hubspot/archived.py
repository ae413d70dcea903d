"""The ``archived=true`` list pass of an object type: records archived since the last pass
become deletions (docs/connectors/hubspot.md, "Deletions and merges")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Deletion, parse_datetime
from crmsync_hubspot.paging import follow
from crmsync_hubspot.search import SearchCursor, epoch_ms

if TYPE_CHECKING:  # the client needs the SDK (crmsync_hubspot.sdk)
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["LIST_LIMIT", "archived_pass", "flag"]

#: Records per page of the list endpoints (owners, archived objects).
LIST_LIMIT = 100


def flag(value: bool) -> str:
    """A boolean query parameter as HubSpot documents it. hubspot-api-client would send
    Python's ``True``/``False``; the documented spelling is ``true``/``false``."""
    return "true" if value else "false"


def _aware(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return parse_datetime(value)


def archived_pass(client: HubSpotClient, object_type: str, entity: str, position: SearchCursor,
                  since: int | None) -> Iterator[Batch]:
    """The ``archived=true`` list pass: archived since ``since`` (epoch ms) → deleted; one
    batch whose cursor is ``position`` with the newest archive time seen."""
    newest = since
    deleted: list[Deletion] = []

    def archived_page(after: str | None) -> dict[str, Any]:
        return client.call(f"GET /crm/v3/objects/{object_type}?archived=true",
                           client.objects.get_page, object_type,
                           limit=LIST_LIMIT, after=after, archived=flag(True),
                           properties=["hs_object_id"], entity=entity).data

    for res in follow(archived_page):
        for r in res.get("results", ()):
            if r.get("archived") is False:  # only archived records are deletions
                continue
            at = r.get("archivedAt") or r.get("updatedAt")
            ms = epoch_ms(at) if at else None
            if since is None or ms is None or ms > since:
                deleted.append(Deletion(str(r["id"]), _aware(at)))
            if ms is not None and (newest is None or ms > newest):
                newest = ms
    yield Batch(deleted=deleted, cursor={**position.to_json(), "archived_at": newest})
