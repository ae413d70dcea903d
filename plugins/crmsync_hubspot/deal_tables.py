"""The tables derived from deals: ``opportunity_contacts`` and ``opportunity_stage_history``.

Both come from the deals ``opportunities`` reads. When the ``opportunities`` read of this run
started from the same cursor, they replay its spool (:mod:`crmsync_hubspot.deal_spool`) and
make no search of their own; otherwise they search the deals changed since their cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from crmsync import Batch
from crmsync_hubspot import mapping as m
from crmsync_hubspot.stage_history import (
    dated_history,
    fallback_history,
    history_records,
    read_histories,
)

if TYPE_CHECKING:
    from crmsync_hubspot.connector import HubSpotConnector

__all__ = ["DealTables", "spooled_deals"]


class DealTables:
    """Reads the deal-derived tables for one connector."""

    def __init__(self, connector: HubSpotConnector) -> None:
        self.connector = connector

    def contacts_of(self, deals: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """``opportunity_contacts`` records of deals with their contacts attached."""
        records = []
        for deal in deals:
            updated = (deal.get("properties") or {}).get("hs_lastmodifieddate")
            for i, contact in enumerate(m.associated_ids(deal, "contacts")):
                records.append({"remote_id": f"{deal['id']}:{contact}",
                                "opportunity_id": str(deal["id"]), "contact_id": contact,
                                "is_primary": i == 0, "remote_updated_at": updated})
        return records

    def read_contacts(self, cursor: Any) -> Iterator[Batch]:
        """Deal↔contact associations of deals changed since the cursor."""
        if self.connector.spool is not None and self.connector.spool.covers(cursor):
            for _, contacts, position in self.connector.spool.pages():
                yield Batch(records=contacts, cursor=position)
            return
        for page, position in self.connector.search_pages("deals", cursor, ("hs_lastmodifieddate",),
                                           "opportunity_contacts"):
            self.connector.associate("deals", page, ("contacts",), "opportunity_contacts")
            yield Batch(records=self.contacts_of(page), cursor=position.to_json())

    def dated_properties(self) -> list[str]:
        return [f"hs_v2_date_{edge}_{s}" for s in self.connector.stage_index().stages
                for edge in ("entered", "exited")]

    def histories(self, deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stage history rows of ``deals``: from their stage dates when exact, else read with
        ``propertiesWithHistory`` (50 deals a call)."""
        stages = self.connector.stage_index()
        endpoint = "POST /crm/v3/objects/deals/batch/read"

        def batch_read(ids: list[str]) -> list[dict[str, Any]]:
            body = {"inputs": [{"id": i} for i in ids], "properties": ["hs_merged_object_ids"],
                    "propertiesWithHistory": ["dealstage"]}
            client = self.connector.client
            res = client.call(endpoint, client.objects_batch.read, "deals", body,
                              archived="false", entity="opportunity_stage_history")
            return list(res.data.get("results", ()))

        exact = {str(d["id"]): rows for d in deals
                 if (rows := dated_history(d, stages)) is not None}
        histories = read_histories(batch_read, [str(d["id"]) for d in deals
                                                if str(d["id"]) not in exact])
        records: list[dict[str, Any]] = []
        for deal in deals:
            rid = str(deal["id"])
            if rid in exact:
                records.extend(exact[rid])
                continue
            answered, entries = histories.get(rid, (rid, []))
            records.extend(history_records(answered, entries) if entries
                           else fallback_history(deal, stages))
        return records

    def read_history(self, cursor: Any) -> Iterator[Batch]:
        """Stage history of the deals changed since the cursor."""
        if self.connector.spool is not None and self.connector.spool.covers(cursor):
            for deals, _, position in self.connector.spool.pages():
                yield Batch(records=self.histories(deals), cursor=position)
            return
        for page, position in self.connector.search_pages("deals", cursor,
                                           ("dealstage", "createdate", *self.dated_properties()),
                                           "opportunity_stage_history"):
            yield Batch(records=self.histories(page), cursor=position.to_json())


def spooled_deals(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the stage history needs of each deal: id, stage, creation and stage dates."""
    keep = ("dealstage", "createdate", "hs_lastmodifieddate")
    return [{"id": d["id"], "properties": {k: v for k, v in (d.get("properties") or {}).items()
                                           if k in keep or k.startswith("hs_v2_date_")}}
            for d in page]
