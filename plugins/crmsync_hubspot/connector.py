"""The ``hubspot`` connector: reads a HubSpot portal into the unified schema, writes back.

Objects are read incrementally through the search API (:mod:`crmsync_hubspot.search`), with
associations from the v4 batch endpoint (search returns none), custom properties into
``custom``, an ``archived=true`` pass for deletions and ``hs_merged_object_ids`` for merges.
Owners and pipelines are small and re-read whole. See docs/connectors/hubspot.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from crmsync import (
    SYNCED_TABLES,
    Batch,
    ConfigError,
    Connector,
    Deletion,
    FieldInfo,
    FieldSpec,
    Quota,
    Reject,
    WriteResult,
    WriteUpdate,
)
from crmsync_hubspot import links
from crmsync_hubspot import mapping as m
from crmsync_hubspot.archived import LIST_LIMIT as _LIST_LIMIT
from crmsync_hubspot.archived import archived_pass
from crmsync_hubspot.archived import flag as _flag
from crmsync_hubspot.associations import attach
from crmsync_hubspot.deal_spool import DealSpool
from crmsync_hubspot.deal_tables import DealTables, spooled_deals
from crmsync_hubspot.field_history import HISTORY_PROPERTIES, owners_by_user
from crmsync_hubspot.inputs import INPUT_ENTITIES, Inputs
from crmsync_hubspot.lead_spool import LeadSpool
from crmsync_hubspot.line_items import OBJECT_TYPES as _ECOMMERCE
from crmsync_hubspot.line_items import line_item_to_line_item, product_to_product, without_scope
from crmsync_hubspot.paging import follow
from crmsync_hubspot.properties import ENGAGEMENT_TYPES, MODIFIED_PROPERTY, OBJECT_PROPERTIES
from crmsync_hubspot.sdk import client_class
from crmsync_hubspot.search import SearchCursor, anchored_search, grouped
from crmsync_hubspot.settings import INPUT_SOURCES, SETTINGS, check_settings
from crmsync_hubspot.throttle import Throttle
from crmsync_hubspot.web_analytics import WebTrafficReader
from crmsync_hubspot.write import PropertyWriter, writable_object

if TYPE_CHECKING:  # the client needs the SDK (crmsync_hubspot.sdk)
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["HubSpotConnector"]

#: Object types each schema table is read from.
OBJECT_OF = {"accounts": "companies", "contacts": "contacts", "opportunities": "deals",
             "opportunity_contacts": "deals", "opportunity_stage_history": "deals",
             "opportunity_field_history": "deals"}
#: Associations each object type is read with (engagements: all three).
ASSOCIATIONS = {"contacts": ("companies",), "deals": ("companies",), "line_items": ("deals",),
                "leads": ("contacts",), "feedback_submissions": ("contacts",),
                **{t: ("contacts", "companies", "deals") for t in ENGAGEMENT_TYPES}}
#: Records per batch (one transaction): five search pages, one v4 association call.
BATCH_RECORDS = 1000


class HubSpotConnector(Connector):
    """Reads owners, pipelines, companies, contacts, leads, deals (with contacts and stage
    history), engagements, products, goals, campaigns, surveys and web traffic from HubSpot;
    writes values into deal/company/contact properties."""

    NAME = "hubspot"
    ENTITIES: ClassVar[tuple[str, ...]] = (
        "users", "pipelines", "stages", "accounts", "contacts", "leads", "opportunities",
        "opportunity_field_history", "opportunity_stage_history", "opportunity_contacts",
        "activities", "products", "opportunity_line_items", "quotas", "spend", "feedback",
        "web_traffic")
    SETTINGS, INPUT_SOURCES = SETTINGS, INPUT_SOURCES

    def __init__(self, name: str, settings: Mapping[str, Any], *,
                 throttle: Throttle | None = None) -> None:
        super().__init__(name, settings)
        s = self.settings
        oauth = check_settings(s, type(self).ENTITIES, f"connections.{name}")
        if s["objects"]:  # narrow what `crmsync sync` reads, for this connection only
            # ENTITIES is a ClassVar; this instance shadows it on purpose (one connection)
            self.ENTITIES = tuple(  # type: ignore[misc]
                e for e in type(self).ENTITIES if e in s["objects"])
        self._oauth = oauth
        self._throttle = throttle or Throttle(s["rate_limit"], s["search_rate_limit"])
        self._client: HubSpotClient | None = None
        self._client_class = client_class()  # the SDK is missing: one error for the connection
        self._writer: PropertyWriter | None = None
        self._stages: m.StageIndex | None = None
        self.spool: DealSpool | None = None
        self.lead_spool: LeadSpool | None = None
        self.deal_tables = DealTables(self)
        self.inputs = Inputs(self)  # quotas, spend, feedback (crmsync_hubspot.inputs)
        self._pipeline_list: list[dict[str, Any]] | None = None
        self._custom: dict[str, list[str]] = {}
        self.web_traffic = WebTrafficReader(lambda: self.client, name)  # tests pin .today

    @property
    def client(self) -> HubSpotClient:
        """The API client, made on first use: it needs the SDK (:mod:`crmsync_hubspot.sdk`)."""
        if self._client is None:
            s = self.settings
            self._client = self._client_class(
                base_url=s["base_url"], counter=self.api_calls,
                access_token=s["access_token"] or None, oauth=self._oauth,
                daily_budget_percent=s["daily_budget_percent"], connection=self.name,
                timeout=(s["connect_timeout"], s["read_timeout"]), throttle=self._throttle)
        return self._client

    @property
    def writer(self) -> PropertyWriter:
        """Reads and writes the properties write-back uses."""
        if self._writer is None:
            self._writer = PropertyWriter(self.client)
        return self._writer

    # -- probes -----------------------------------------------------------------------------

    def check(self) -> str:
        """Read one owner page and the deal pipelines."""
        owners = self.client.call("GET /crm/v3/owners", self.client.owners.get_page, limit=1)
        pipelines = self._pipelines()
        return (f"HubSpot at {self.settings['base_url']}: {len(pipelines)} deal pipelines, "
                f"owners readable ({len(owners.data.get('results', []))} on the first page)")

    def record_url(self, entity: str, remote_id: str) -> str | None:
        """The record page in app.hubspot.com when the ``portal_id`` setting is given."""
        return links.record_url(self.settings, entity, remote_id)

    def history_fields(self) -> frozenset[str]:
        """Every history column when the table is read (:mod:`crmsync_hubspot.field_history`)."""
        return frozenset(HISTORY_PROPERTIES.values() if "opportunity_field_history" in
                         self.ENTITIES else ())

    def quota(self) -> Quota | None:
        """The daily allowance, from the last response's rate-limit headers."""
        return self._client.quota if self._client is not None else None

    def close(self) -> None:
        """Close pooled connections; delete the spools; forget the per-run caches (pipelines,
        custom properties, owners) so a reused instance reads them afresh."""
        for spool in (self.spool, self.lead_spool):
            if spool is not None:
                spool.close()
        self.spool = self.lead_spool = None
        self.deal_tables.close()
        self.inputs.forget()
        self._pipeline_list, self._stages, self._custom = None, None, {}
        if self._writer is not None:
            self._writer.forget()
        if self._client is not None:
            self._client.close()

    # -- reading ----------------------------------------------------------------------------

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Yield pages of ``entity`` changed after ``cursor`` (see the module docstring)."""
        readers: dict[str, Callable[[Any], Iterator[Batch]]] = {
            "users": self._read_users, "pipelines": self._read_pipelines,
            "stages": self._read_stages, "activities": self._read_activities,
            "leads": self._read_leads, "opportunity_contacts": self.deal_tables.read_contacts,
            "opportunity_stage_history": self.deal_tables.read_history,
            "opportunity_field_history": self.deal_tables.read_field_history,
            **{e: partial(self.inputs.read, e) for e in INPUT_ENTITIES},  # quotas, spend…
            "web_traffic": self.web_traffic.read,  # crmsync_hubspot.web_analytics
        }
        if entity in readers:
            return readers[entity](cursor)
        if entity == "accounts":
            return self._read_objects("companies", cursor, m.company_to_account)
        if entity == "contacts":
            return self._read_objects("contacts", cursor, m.contact_to_contact)
        if entity == "opportunities":
            stages = self.stage_index()
            return self._read_objects("deals", cursor, lambda r: m.deal_to_opportunity(r, stages))
        if entity in _ECOMMERCE:  # crmsync_hubspot.line_items
            to_record = product_to_product if entity == "products" else line_item_to_line_item
            return without_scope(lambda: self._read_objects(_ECOMMERCE[entity], cursor,
                                                            to_record, entity=entity),
                                 connection=self.name, entity=entity)
        raise ConfigError(f"the hubspot connector does not read {entity!r}")

    def _read_users(self, cursor: Any) -> Iterator[Batch]:
        """Owners, active then archived (archived owners become inactive users)."""
        seen = self.inputs.owners = list[dict[str, Any]]()  # goals' assignees too
        for archived in (False, True):
            def owners(after: str | None, archived: bool = archived) -> dict[str, Any]:
                return self.client.call(f"GET /crm/v3/owners?archived={_flag(archived)}",
                                        self.client.owners.get_page, limit=_LIST_LIMIT,
                                        after=after, archived=_flag(archived),
                                        entity="users").data
            for res in follow(owners):
                seen.extend(res.get("results", ()))
                yield Batch(records=[{**m.owner_to_user(o), "is_active": not archived}
                                     for o in res.get("results", ())])
        self.deal_tables.users = owners_by_user(seen)  # authors of field history

    def _pipelines(self) -> list[dict[str, Any]]:
        """The deal pipelines, read once per connector instance (one sync run)."""
        if self._pipeline_list is None:
            res = self.client.call("GET /crm/v3/pipelines/deals", self.client.pipelines.get_all,
                                   "deals")
            self._pipeline_list = list(res.data.get("results", ()))
        return self._pipeline_list

    def stage_index(self) -> m.StageIndex:
        """The deal stages by id (from the pipelines read once per run)."""
        if self._stages is None:
            self._stages = m.StageIndex.from_pipelines(self._pipelines())
        return self._stages

    def _read_pipelines(self, cursor: Any) -> Iterator[Batch]:
        pipelines = self._pipelines()
        yield Batch(records=m.pipelines_to_records(pipelines)[0])

    def _read_stages(self, cursor: Any) -> Iterator[Batch]:
        pipelines = self._pipelines()
        yield Batch(records=[stage for _, stage in m.pipelines_to_records(pipelines)[1]])

    # -- objects ------------------------------------------------------------------------------

    def _custom_properties(self, object_type: str) -> list[str]:
        """Names of the portal's custom properties on ``object_type`` (→ ``custom``)."""
        if object_type not in self._custom:
            props = self.writer.properties(object_type)
            self._custom[object_type] = [p["name"] for p in props
                                         if not p.get("hubspotDefined")
                                         and not str(p["name"]).startswith("hs_")]
        return self._custom[object_type]

    def _field_map(self, object_type: str, entity: str) -> dict[str, str]:
        """``field_map`` entries of ``object_type`` that ``entity``'s table has a column for
        (contacts feed both ``contacts`` and ``leads``)."""
        columns = {c.name for c in SYNCED_TABLES[entity].columns}
        return {prop: column for prop, column
                in (self.settings["field_map"].get(object_type) or {}).items()
                if column in columns}

    def search_pages(self, object_type: str, cursor: Any, properties: Iterable[str],
                     entity: str) -> Iterator[tuple[list[dict[str, Any]], SearchCursor]]:
        """Anchored search pages of ``object_type`` after ``cursor`` (lookback applied),
        grouped about 1,000 records at a time."""
        start = SearchCursor.from_json(cursor)
        if start.id is None:  # a finished position: look back for late-indexed records
            start = start.minus(self.settings["lookback_seconds"] * 1000)
        endpoint = f"POST /crm/v3/objects/{object_type}/search"

        def run(body: dict[str, Any]) -> dict[str, Any]:
            return self.client.call(endpoint, self.client.objects_search.do_search,
                                    object_type, body, search=True, entity=entity).data

        ts_property = MODIFIED_PROPERTY.get(object_type, "hs_lastmodifieddate")
        pages = anchored_search(run, ts_property=ts_property, properties=list(properties),
                                start=start)
        return grouped(pages, BATCH_RECORDS)

    def associate(self, object_type: str, records: list[dict[str, Any]],
                  to_types: Iterable[str], entity: str) -> None:
        """Attach associations to search results (:func:`~crmsync_hubspot.associations.attach`)."""
        attach(self.client, object_type, records, to_types, entity)

    def _read_objects(self, object_type: str, cursor: Any,
                      to_record: Callable[[dict[str, Any]], dict[str, Any] | None],
                      *, entity: str | None = None, replay: LeadSpool | None = None
                      ) -> Iterator[Batch]:
        """Search pages (or ``replay``'s) → mapped batches, then the archived pass; cursor
        ``{"ts", "id", "archived_at"}``."""
        entity = entity or next(k for k, v in OBJECT_OF.items() if v == object_type)
        custom = self._custom_properties(object_type)
        fmap = self._field_map(object_type, entity)
        props = [*OBJECT_PROPERTIES[object_type], *custom, *fmap]
        if object_type == "deals":  # closed_at: when the deal entered its current stage
            props += [f"hs_v2_date_entered_{s}" for s in self.stage_index().stages]
        spool = self._start_spool(cursor) if entity == "opportunities" else None
        leads = self._start_lead_spool(cursor, props) if entity == "contacts" else None
        associations = ASSOCIATIONS.get(object_type, ())
        if spool is not None:
            props += [p for p in self.deal_tables.dated_properties() if p not in props]
            associations = (*associations, "contacts")
        archived_at = (cursor or {}).get("archived_at")
        last = SearchCursor.from_json(cursor)
        pages = (self.search_pages(object_type, cursor, props, entity) if replay is None
                 else ((page, SearchCursor.from_json(at)) for page, at in replay.pages()))
        for page, position in pages:
            if replay is None:  # replayed pages carry their associations
                self.associate(object_type, page, associations, entity)
            last = position
            if leads is not None:
                leads.add(page, position.to_json())
            if spool is not None:
                spool.add(spooled_deals(page), self.deal_tables.contacts_of(page),
                          position.to_json())
            yield self._batch(object_type, page, to_record, custom, fmap,
                              {**position.to_json(), "archived_at": archived_at})
        for done in (spool, leads):
            if done is not None:
                done.finish()
        yield from archived_pass(self.client, object_type, entity, last, archived_at)

    def _start_spool(self, cursor: Any) -> DealSpool | None:
        """A new spool for the derived deal tables this connection reads, if any."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None
        if {"opportunity_stage_history", "opportunity_contacts",
                "opportunity_field_history"} & set(self.ENTITIES):
            self.spool = DealSpool(cursor)
        return self.spool

    def _start_lead_spool(self, cursor: Any, props: list[str]) -> LeadSpool | None:
        """A new spool of the contact pages for ``leads`` when this connection reads leads
        from contacts (:mod:`crmsync_hubspot.lead_spool`); adds the lead properties to
        ``props``."""
        if self.lead_spool is not None:
            self.lead_spool.close()
            self.lead_spool = None
        if "leads" in self.ENTITIES and self.settings["lead_definition"] != "leads_object":
            props += [p for p in self._field_map("contacts", "leads") if p not in props]
            self.lead_spool = LeadSpool(cursor)
        return self.lead_spool

    def _batch(self, object_type: str, page: list[dict[str, Any]],
               to_record: Callable[[dict[str, Any]], dict[str, Any] | None],
               custom: list[str], fmap: Mapping[str, str], cursor: Any) -> Batch:
        records: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        deleted: list[Deletion] = []
        for raw in page:
            props = raw.get("properties") or {}
            try:
                record = to_record(raw)
            except m.Unmappable as exc:
                rejects.append(Reject(str(exc), remote_id=str(raw.get("id")), field=exc.field,
                                      source=f"HubSpot {object_type}", payload=raw))
                continue
            survivor = str(raw.get("id"))  # the merged-away ids now answer as this record
            deleted.extend(Deletion(i, merged_into=survivor) for i in m.merged_ids(props))
            if record is None:
                continue
            record["custom"] = {**(m.custom_values(props, custom) or {}),
                                **(record.get("custom") or {})} or None
            for prop, column in fmap.items():
                record[column] = props.get(prop)
            records.append(record)
        return Batch(records=records, rejects=rejects, deleted=deleted, cursor=cursor)

    # -- derived entities -------------------------------------------------------------------------

    def _read_leads(self, cursor: Any) -> Iterator[Batch]:
        if self.settings["lead_definition"] == "leads_object":
            return self._read_objects("leads", cursor, m.lead_object_to_lead, entity="leads")
        spool = self.lead_spool
        return self._read_objects("contacts", cursor, m.contact_to_lead, entity="leads",
                                  replay=spool if spool and spool.covers(cursor) else None)

    def _read_activities(self, cursor: Any) -> Iterator[Batch]:
        """Calls, emails, meetings, tasks and notes; one cursor per engagement type."""
        state = dict(cursor or {})
        for object_type in ENGAGEMENT_TYPES:
            def to_record(raw: dict[str, Any], t: str = object_type) -> dict[str, Any]:
                return m.engagement_to_activity(t, raw)
            for batch in self._read_objects(object_type, state.get(object_type), to_record,
                                            entity="activities"):
                state[object_type] = batch.cursor
                batch.cursor = dict(state)
                yield batch

    # -- write-back ---------------------------------------------------------------------------

    def _writable(self, entity: str) -> str:
        return writable_object(entity, self.settings["lead_definition"])

    def fields(self, entity: str) -> list[FieldInfo]:
        """The properties of ``entity``'s object type (calculated and read-only flagged)."""
        return self.writer.fields(self._writable(entity))

    def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
        """Create property ``spec`` in the ``crmsync`` group unless it exists."""
        return self.writer.ensure_field(self._writable(entity), spec)

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        """Batch-update properties, 100 records a call; one result per record."""
        return self.writer.write(self._writable(entity), updates)

    def read_values(self, entity: str, remote_ids: Sequence[str],
                    fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Current values of ``fields`` on ``remote_ids`` (batch read, 100 a call)."""
        return self.writer.read_values(self._writable(entity), remote_ids, fields)

