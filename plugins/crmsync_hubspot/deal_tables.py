"""The tables derived from deals: ``opportunity_contacts``, ``opportunity_field_history`` and
``opportunity_stage_history``.

All come from the deals ``opportunities`` reads. When the ``opportunities`` read of this run
started from the same cursor, they replay its spool (:mod:`crmsync_hubspot.deal_spool`) and
make no search of their own; otherwise they search the deals changed since their cursor.

``opportunity_field_history`` batch-reads the property history of those deals (50 a call:
:mod:`crmsync_hubspot.field_history`), ``dealstage`` included. When it replays the spool it
keeps each page's ``dealstage`` histories in a second spool (:class:`StageHistories`), and the
stage-history read that follows takes them from there instead of reading them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Reject
from crmsync_hubspot import mapping as m
from crmsync_hubspot.archived import LIST_LIMIT, flag
from crmsync_hubspot.deal_spool import PageSpool
from crmsync_hubspot.field_history import deal_changes, history_names, owners_by_user
from crmsync_hubspot.paging import follow
from crmsync_hubspot.stage_history import (
    dated_history,
    fallback_history,
    history_records,
    read_histories,
    read_results,
)
from crmsync_hubspot.values import Unmappable, when

if TYPE_CHECKING:
    from crmsync_hubspot.connector import HubSpotConnector

__all__ = ["DealTables", "spooled_deals", "StageHistories"]

Histories = dict[str, tuple[str, list[dict[str, Any]]]]
_BATCH_READ = "POST /crm/v3/objects/deals/batch/read"


class StageHistories(PageSpool):
    """Per page of the deal spool, ``{deal id: (id answered, dealstage entries)}``."""

    def add(self, histories: Histories) -> None:
        """Append one page's histories."""
        self._append({"histories": histories})

    def pages(self) -> Iterator[Histories]:
        """Replay the pages from the start."""
        for page in self._replay():
            yield {k: (v[0], v[1]) for k, v in page["histories"].items()}


class DealTables:
    """Reads the deal-derived tables for one connector."""

    def __init__(self, connector: HubSpotConnector) -> None:
        self.connector = connector
        self.stage_histories: StageHistories | None = None
        #: HubSpot user id → owner id, from this run's owners (``users``) read, else read once.
        self.users: dict[str, str] | None = None

    def close(self) -> None:
        """Delete the stage-history spool; forget the owners."""
        if self.stage_histories is not None:
            self.stage_histories.close()
        self.stage_histories, self.users = None, None

    def _users(self) -> dict[str, str]:
        """HubSpot user id → owner id: the owners this run's ``users`` read saw, else the
        owners read here (one call per 100 owners, active and archived)."""
        if self.users is None:
            client, owners = self.connector.client, []
            for archived in (False, True):
                def fetch(after: str | None, archived: bool = archived) -> dict[str, Any]:
                    return client.call(f"GET /crm/v3/owners?archived={flag(archived)}",
                                       client.owners.get_page, limit=LIST_LIMIT, after=after,
                                       archived=flag(archived),
                                       entity="opportunity_field_history").data
                for res in follow(fetch):
                    owners += res.get("results", ())
            self.users = owners_by_user(owners)
        return self.users

    def _batch_read(self, ids: list[str], history: list[str], entity: str,
                    properties: tuple[str, ...] = ("hs_merged_object_ids",)
                    ) -> list[dict[str, Any]]:
        client = self.connector.client
        body = {"inputs": [{"id": i} for i in ids], "properties": list(properties),
                "propertiesWithHistory": history}
        res = client.call(_BATCH_READ, client.objects_batch.read, "deals", body,
                          archived="false", entity=entity)
        return list(res.data.get("results", ()))

    def field_changes(self, deals: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], Histories, list[Reject]]:
        """The field changes of ``deals`` (50 a batch read), their ``dealstage`` histories,
        and a reject per deal whose history holds a value that does not parse."""
        stages, users = self.connector.stage_index(), self._users()
        results = read_results(
            lambda ids: self._batch_read(ids, list(history_names()), "opportunity_field_history",
                                         ("hs_merged_object_ids", "createdate")),
            [str(d["id"]) for d in deals])
        records: dict[str, dict[str, Any]] = {}
        rejects: list[Reject] = []
        for rid, result in {v[0]: v[1] for v in results.values()}.items():
            history = result.get("propertiesWithHistory") or {}
            try:
                created = when(result.get("properties") or {}, "createdate")
                found = deal_changes(rid, created, history, stages, users)
            except Unmappable as exc:
                rejects.append(Reject(f"deal {rid} history: {exc}", remote_id=rid,
                                      field=exc.field, source="HubSpot deals history",
                                      payload=result))
                continue
            for change in found:
                records[change["remote_id"]] = change
        histories = {wanted: (rid, (r.get("propertiesWithHistory") or {}).get("dealstage")
                              or []) for wanted, (rid, r) in results.items()}
        return list(records.values()), histories, rejects

    def read_field_history(self, cursor: Any) -> Iterator[Batch]:
        """Field changes of the deals changed since the cursor."""
        spool = self.connector.spool
        if self.stage_histories is not None:
            self.stage_histories.close()
            self.stage_histories = None
        if spool is not None and spool.covers(cursor):
            if "opportunity_stage_history" in self.connector.ENTITIES:
                self.stage_histories = StageHistories(cursor)
            for deals, _, position in spool.pages():
                records, histories, rejects = self.field_changes(deals)
                if self.stage_histories is not None:
                    self.stage_histories.add(histories)
                yield Batch(records=records, rejects=rejects, cursor=position)
            if self.stage_histories is not None:
                self.stage_histories.finish()
            return
        for page, position in self.connector.search_pages(
                "deals", cursor, ("hs_lastmodifieddate",), "opportunity_field_history"):
            records, _, rejects = self.field_changes(page)
            yield Batch(records=records, rejects=rejects, cursor=position.to_json())

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

    def histories(self, deals: list[dict[str, Any]], known: Mapping[str, Any] | None = None
                  ) -> list[dict[str, Any]]:
        """Stage history rows of ``deals``: from their stage dates when exact, else from
        ``known`` histories (the field-history read's), else read with
        ``propertiesWithHistory`` (50 deals a call)."""
        stages = self.connector.stage_index()
        exact = {str(d["id"]): rows for d in deals
                 if (rows := dated_history(d, stages)) is not None}
        histories = dict(known or {})
        histories.update(read_histories(
            lambda ids: self._batch_read(ids, ["dealstage"], "opportunity_stage_history"),
            [str(d["id"]) for d in deals if str(d["id"]) not in exact and
             str(d["id"]) not in histories]))
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
        spool, cached = self.connector.spool, self.stage_histories
        if spool is not None and spool.covers(cursor):
            known = cached.pages() if cached is not None and cached.covers(cursor) else None
            for deals, _, position in spool.pages():
                held = next(known, None) if known is not None else None
                yield Batch(records=self.histories(deals, held), cursor=position)
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
