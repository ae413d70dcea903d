"""Associations through the v4 API: what the search API does not return.

``POST /crm/v4/associations/{from}/{to}/batch/read`` takes up to 1,000 ids a call and answers
each record's associated ids (a record with more than one row holds, 500, also gets a paging
cursor, followed on the per-record endpoint). Records without associations are left out of the
answer. The ids are attached to each record in the inline list-endpoint shape
(``associations: {to_type: {results: [{id}]}}``), so mapping reads one shape whatever the source.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crmsync_hubspot.paging import follow, next_after

if TYPE_CHECKING:
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["attach", "V4_BATCH"]

#: Inputs per v4 association batch read.
V4_BATCH = 1000


def attach(client: HubSpotClient, object_type: str, records: list[dict[str, Any]],
           to_types: Iterable[str], entity: str) -> None:
    """Attach the ``to_types`` associations of ``records`` (search results), in place."""
    ids = [str(r["id"]) for r in records]
    if not ids:
        return
    for to_type in to_types:
        found: dict[str, list[dict[str, str]]] = {}
        for start in range(0, len(ids), V4_BATCH):
            body = {"inputs": [{"id": i} for i in ids[start:start + V4_BATCH]]}
            res = client.call(f"POST /crm/v4/associations/{object_type}/{to_type}/batch/read",
                              client.associations.get_page, object_type, to_type, body,
                              entity=entity)
            for row in res.data.get("results", ()):
                from_id = str(row["from"]["id"])
                found.setdefault(from_id, []).extend(
                    {"id": str(t["toObjectId"])} for t in row.get("to", ()))
                after = next_after(row)
                if after is not None:  # more associations than one row holds
                    found[from_id].extend(_more(client, object_type, from_id, to_type, after,
                                                entity))
        for r in records:
            r.setdefault("associations", {})[to_type] = {"results": found.get(str(r["id"]), [])}


def _more(client: HubSpotClient, object_type: str, record_id: str, to_type: str, after: str,
          entity: str) -> list[dict[str, str]]:
    """The rest of one record's associations, from the v4 per-record endpoint."""
    def page(cursor: str | None) -> dict[str, Any]:
        return client.call(f"GET /crm/v4/objects/{object_type}/{{id}}/associations/{to_type}",
                           client.associations_basic.get_page, object_type, record_id, to_type,
                           after=cursor, limit=500, entity=entity).data

    return [{"id": str(t["toObjectId"])}
            for res in follow(page, after) for t in res.get("results", ())]
