"""The Salesforce connector: entities → objects, cursors, rejects, write-back.

Each schema table is read from one or more Salesforce objects (``settings.ENTITY_OBJECTS``);
an entity's cursor is ``{Object: object cursor}`` (see :mod:`crmsync_salesforce.reader`), so
``activities`` resumes Task and Event independently. Every page becomes one :class:`Batch`.
Behaviour the integration tests rely on:

* a batch's cursor covers exactly its page, so a crash loses at most the page being stored;
* an incremental read starts ``lookback_seconds`` before the cursor (rows changed during the
  previous sync are read again, never missed);
* ``IsDeleted = true`` rows (queryAll) become records with ``is_deleted``; getDeleted's ids
  become ``Batch.deleted`` in a last batch per object;
* :class:`crmsync.QuotaExhausted` (budget spent or ``REQUEST_LIMIT_EXCEEDED``) stops the read
  between requests; committed batches stay and the next run resumes from their cursors.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from crmsync.connector import (
    Batch,
    Connector,
    Deletion,
    FieldInfo,
    FieldSpec,
    Quota,
    Reject,
    WriteResult,
    WriteUpdate,
)
from crmsync.errors import ConfigError, ConnectorError
from crmsync.schema import SYNCED_TABLES

from crmsync_salesforce import lookups, mapping, soql, write as writing
from crmsync_salesforce.catalog import Catalog
from crmsync_salesforce.client import SalesforceClient, auth_mode
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.quota import QuotaBudget
from crmsync_salesforce.reader import ObjectReader, Page, utcnow
from crmsync_salesforce.settings import (
    ENTITY_LOOKUPS,
    ENTITY_OBJECTS,
    SETTINGS,
    check_field_map,
)
from crmsync_salesforce.stage_history import StageTracker, closed_at_from_history

__all__ = ["SalesforceConnector"]

log = logging.getLogger(__name__)

_HISTORY_FIELDS = ["Id", "OpportunityId", "StageName", "Amount", "CreatedById", "CreatedDate",
                   "SystemModstamp", "IsDeleted"]
#: Ids per ``IN (…)`` list: Salesforce caps a string in a WHERE clause at 4,000 characters;
#: 150 quoted 18-character ids take about 3,300.
_IDS_PER_QUERY = 150
_COLUMNS = {t: {c.name for c in table.columns} for t, table in SYNCED_TABLES.items()}


class SalesforceConnector(Connector):
    """Reads a Salesforce org into the unified schema and writes KPI fields back."""

    NAME: ClassVar[str] = "salesforce"
    ENTITIES: ClassVar[tuple[str, ...]] = tuple(ENTITY_OBJECTS)
    SETTINGS = SETTINGS

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.budget = QuotaBudget(run_percent=float(self.settings["quota_run_percent"]),
                                  total_percent=float(self.settings["quota_total_percent"]))
        self.field_map = check_field_map(self.settings.get("field_map") or {}, _COLUMNS)
        self._client: SalesforceClient | None = None
        self.catalog = Catalog(lambda: self.client, self._objects_to_read)
        self._lookups: lookups.Lookups | None = None
        #: The clock windows and getDeleted ranges end at (tests pin it).
        self.clock: Callable[[], dt.datetime] = utcnow

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any], *, file: str | None = None,
                          section: str | None = None) -> dict[str, Any]:
        """Check the settings, then that one auth mode is complete and the objects known."""
        out = super().validate_settings(raw, file=file, section=section)
        try:
            auth_mode(out)
        except ConfigError as exc:
            raise ConfigError(str(exc), file=file, section=section, key=exc.key) from None
        unknown = set(out["objects"]) - set(cls.ENTITIES)
        if unknown:
            raise ConfigError(f"unknown entities {sorted(unknown)} (known: "
                              f"{', '.join(cls.ENTITIES)})", file=file, section=section,
                              key="objects")
        try:
            check_field_map(out["field_map"], _COLUMNS)
        except ConfigError as exc:
            raise ConfigError(str(exc).split(": ", 1)[-1], file=file, section=section,
                              key="field_map") from None
        for key in ("quota_run_percent", "quota_total_percent"):
            if not 0 < float(out[key]) <= 100:
                raise ConfigError("expected a percentage in (0, 100]", file=file,
                                  section=section, key=key)
        return out

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def client(self) -> SalesforceClient:
        """The logged-in client. The run's quota budget starts from the first answer's
        ``Sforce-Limit-Info`` (see :mod:`crmsync_salesforce.client`)."""
        if self._client is None:
            self._client = SalesforceClient(self.settings, connection=self.name,
                                            counter=self.api_calls, budget=self.budget)
        return self._client

    def describe(self, obj: str) -> ObjectDescription | None:
        """The object's describe (cached per run, see :mod:`crmsync_salesforce.catalog`);
        ``None`` when the org lacks it."""
        return self.catalog.describe(obj)

    def _objects_to_read(self) -> list[str]:
        """Every object the enabled entities read or look up."""
        out: list[str] = []
        for entity, objects in ENTITY_OBJECTS.items():
            if self._enabled(entity):
                out.extend(o for o in objects + ENTITY_LOOKUPS.get(entity, ()) if o not in out)
        return out

    def _enabled(self, entity: str) -> bool:
        objects = self.settings.get("objects") or {}
        if isinstance(objects, list):
            return entity in objects
        return bool(objects.get(entity, True))

    def check(self) -> str:
        """Log in and read ``/limits``."""
        client = self.client
        limits = client.call("read limits", lambda sf: sf.limits())
        daily = limits.get("DailyApiRequests") or {}
        if daily.get("Max"):
            self.budget.observe(used=int(daily["Max"]) - int(daily.get("Remaining", 0)),
                                limit=int(daily["Max"]))
        quota = self.budget.quota()
        left = f"; {quota.remaining} of {quota.limit} daily API requests left" if quota else ""
        return f"Salesforce org at {client.sf.sf_instance} (API v{client.version}){left}"

    def quota(self) -> Quota | None:
        """The org's daily API usage as last seen (``/limits`` or ``Sforce-Limit-Info``)."""
        return self.budget.quota()

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.close()

    # -- reading --------------------------------------------------------------------------------

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Yield one batch per page of every object ``entity`` is read from."""
        if entity not in ENTITY_OBJECTS:
            raise ConnectorError(f"connector type 'salesforce' does not read {entity}",
                                 connection=self.name, entity=entity)
        if not self._enabled(entity):
            return
        self.client.entity = entity
        if entity == "pipelines":
            yield Batch(records=[{"remote_id": mapping.DEFAULT_PIPELINE_ID,
                                  "label": "Opportunities", "display_order": 0,
                                  "is_default": True}])
            return
        state: dict[str, Any] = dict(cursor or {})
        objects = ENTITY_OBJECTS[entity]
        if entity == "currency_rates":
            objects = self._rate_objects()
        for obj in objects:
            describe = self.describe(obj)
            if describe is None:
                log.info("%s: this org has no %s; skipping", self.name, obj)
                continue
            yield from self._read_object(entity, describe, state)

    def _rate_objects(self) -> tuple[str, ...]:
        if self.describe("CurrencyType") is None:
            return ()  # a single-currency org
        dated = self.describe("DatedConversionRate")
        return ("DatedConversionRate",) if dated is not None else ("CurrencyType",)

    def _read_object(self, entity: str, describe: ObjectDescription, state: dict[str, Any]
                     ) -> Iterator[Batch]:
        obj = describe.name
        field_map = self.field_map.get(obj, {})
        fields = describe.select_list(
            [f for f in mapping.SYSTEM_FIELDS if describe.has(f)] +
            list(mapping.STANDARD_FIELDS.get(obj, ())), extra=list(field_map))
        ctx = self._context(obj, describe, field_map)
        reader = ObjectReader(self.client, bulk_threshold=int(self.settings["bulk_threshold"]),
                              lookback_seconds=int(self.settings["lookback_seconds"]),
                              now=self.clock)
        if obj == "OpportunityHistory" and not (state.get(obj) or {}).get("ts"):
            yield from self._history_full(describe, fields, reader, state)
            return
        tracker = StageTracker(self._stages()) if obj == "OpportunityHistory" else None
        incremental = bool(state.get(obj))
        expected = None if incremental else self.catalog.record_count(obj)
        for page in reader.pages(describe, fields, state.get(obj), expected=expected):
            state[obj] = page.cursor
            if tracker is not None:
                yield self._history_batch(page, tracker, incremental, dict(state))
            else:
                yield self._batch(obj, page, ctx, dict(state))

    def _context(self, obj: str, describe: ObjectDescription, field_map: Mapping[str, str]
                 ) -> mapping.MappingContext:
        ctx = mapping.MappingContext(field_map=field_map,
                                     custom_fields=tuple(describe.custom_fields))
        if obj == "Opportunity":
            ctx.stage_ids = self._stages()
            ctx.multi_currency = describe.multi_currency
            if ctx.multi_currency:
                rates = self._run_lookups().rates
                ctx.to_base = rates.rate
                ctx.corporate_currency = rates.corporate
        if obj in ("DatedConversionRate", "CurrencyType"):
            ctx.corporate_currency = self._run_lookups().rates.corporate
        return ctx

    def _batch(self, obj: str, page: Page, ctx: mapping.MappingContext,
               cursor: dict[str, Any]) -> Batch:
        mapper = mapping.MAPPERS[obj]
        describe = self.describe(obj)
        if obj == "Opportunity" and describe is not None and \
                not describe.has("LastStageChangeDate"):
            ctx.closed_at = self._closed_at([r for r in page.rows if r.get("IsClosed")])
        records, rejects = [], []
        for raw in page.rows:
            try:
                records.append(mapper(raw, ctx))
            except (mapping.Unmappable, ValueError, TypeError) as exc:
                field_name = getattr(exc, "field", None) or None
                rejects.append(Reject(f"{obj}: {exc}", remote_id=raw.get("Id"),
                                      field=field_name, source=page.source, payload=raw))
        return Batch(records=records, rejects=rejects, cursor=cursor, deleted=page.deleted,
                     sources=[page.source] * len(records))

    # -- lookups loaded once per run --------------------------------------------------------

    def _run_lookups(self) -> lookups.Lookups:
        """Stage ids and conversion rates, read once per run (one composite call)."""
        if self._lookups is None:
            self._lookups = lookups.load(self.client, {
                o: self.describe(o) for o in lookups.OBJECTS})
        return self._lookups

    def _stages(self) -> dict[str, str]:
        """Opportunity ``StageName`` → OpportunityStage Id."""
        return self._run_lookups().stage_ids

    def _closed_at(self, closed: list[dict[str, Any]]) -> dict[str, dt.datetime]:
        """closed_at of a page's closed deals from their OpportunityHistory (fallback)."""
        self._stages()
        rows: list[dict[str, Any]] = []
        ids = [r["Id"] for r in closed]
        for start in range(0, len(ids), _IDS_PER_QUERY):
            rows.extend(self._history_of(ids[start:start + _IDS_PER_QUERY]))
        return closed_at_from_history(rows, self._run_lookups().closed_stages)

    def _history_of(self, opportunity_ids: list[str]) -> list[dict[str, Any]]:
        text = soql.select("OpportunityHistory", _HISTORY_FIELDS,
                           where=soql.in_ids("OpportunityId", opportunity_ids),
                           order_by=("OpportunityId", "CreatedDate", "Id"))
        out: list[dict[str, Any]] = []
        for rows in self.client.query_pages(text, what="query OpportunityHistory",
                                            include_deleted=False):
            out.extend(rows)
        return out

    def _history_batch(self, page: Page, tracker: StageTracker, incremental: bool,
                       cursor: dict[str, Any]) -> Batch:
        """Stage entries from a page of OpportunityHistory rows (see stage_history.py)."""
        live = [r for r in page.rows if not r.get("IsDeleted")]
        deleted = list(page.deleted) + [
            _deletion(r) for r in page.rows if r.get("IsDeleted")]
        out: dict[str, dict[str, Any]] = {}
        if incremental:
            unknown = sorted({str(r["OpportunityId"]) for r in live
                              if not tracker.knows(str(r["OpportunityId"]))})
            for start in range(0, len(unknown), _IDS_PER_QUERY):
                history = self._history_of(unknown[start:start + _IDS_PER_QUERY])
                by_opp: dict[str, list[dict[str, Any]]] = {}
                for row in history:
                    by_opp.setdefault(str(row["OpportunityId"]), []).append(row)
                for rows in by_opp.values():
                    for record in tracker.start_from(rows):
                        out[record["remote_id"]] = record
        rejects = []
        for row in live:
            try:
                for record in tracker.add(row):
                    out[record["remote_id"]] = record
            except (KeyError, ValueError, AssertionError) as exc:
                rejects.append(Reject(f"OpportunityHistory: {exc}", remote_id=row.get("Id"),
                                      source=page.source, payload=row))
        records = list(out.values())
        return Batch(records=records, rejects=rejects, cursor=cursor, deleted=deleted,
                     sources=[page.source] * len(records))

    def _history_full(self, describe: ObjectDescription, fields: list[str],
                      reader: ObjectReader, state: dict[str, Any]) -> Iterator[Batch]:
        """A full read of OpportunityHistory, one opportunity's history at a time.

        The cursor ``{"started": …, "after_opportunity": Id}`` names the last opportunity whose
        history is stored complete; when the read ends it becomes an ordinary
        ``{"ts": started, …}`` cursor, so the next run reads what changed since this one began.
        """
        obj = describe.name
        cur = dict(state.get(obj) or {})
        started = cur.get("started") or soql.datetime_literal(self.clock())
        after = cur.get("after_opportunity")
        where = f"OpportunityId > {soql.quote(after)}" if after else ""
        tracker = StageTracker(self._stages())
        current: str | None = None
        for rows, source in reader.rows(describe, fields, where,
                                        ("OpportunityId", "CreatedDate", "Id"),
                                        expected=None if after else
                                        self.catalog.record_count(obj)):
            seen: set[str] = set()
            for row in rows:
                opp = str(row["OpportunityId"])
                seen.add(opp)
                if opp != current:
                    after = current if current is not None else after
                    current = opp
            page = Page(rows=rows, source=source,
                        cursor={"started": started, "after_opportunity": after})
            state[obj] = page.cursor
            batch = self._history_batch(page, tracker, False, dict(state))
            for opp in seen - {current}:
                tracker.forget(opp)  # complete: only the last one may continue on the next page
            yield batch
        state[obj] = {"ts": started, "id": "", "deleted_since": started}
        yield Batch(cursor=dict(state))

    # -- write-back -----------------------------------------------------------------------------

    def fields(self, entity: str) -> list[FieldInfo]:
        """The object's fields from describe (fresh: the cache is dropped first)."""
        obj = writing.sobject(entity)
        self.catalog.forget(obj)
        describe = self.describe(obj)
        return writing.fields(describe) if describe is not None else []

    def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
        """Create the custom field ``crmsync_<name>__c`` unless it exists (Metadata API)."""
        obj = writing.sobject(entity)
        self.client.entity = entity
        self.catalog.forget(obj)
        describe = self.describe(obj)
        if describe is None:
            raise ConnectorError(f"this org has no {obj} object", connection=self.name,
                                 entity=entity)
        info = writing.ensure_field(self.client, describe, spec)
        self.catalog.forget(obj)
        return info

    @classmethod
    def default_field_name(cls, metric: str) -> str:
        """``crmsync_<metric>__c``: Salesforce custom fields end in ``__c``."""
        return writing.field_api_name(metric)

    def read_values(self, entity: str, remote_ids: Sequence[str],
                    fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Current values of ``fields`` (one SOQL query per 150 ids)."""
        obj = writing.sobject(entity)
        self.client.entity = entity
        return writing.read_values(self.client, obj, remote_ids, fields)

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        """sObject Collections PATCH (200 a call), Bulk API 2.0 above ``bulk_threshold``."""
        obj = writing.sobject(entity)
        self.client.entity = entity
        yield from writing.write(self.client, obj, updates,
                                 bulk_threshold=int(self.settings["bulk_threshold"]))


def _deletion(row: Mapping[str, Any]) -> Deletion:
    stamp = row.get("SystemModstamp")
    return Deletion(remote_id=str(row["Id"]),
                    deleted_at=soql.parse_datetime(str(stamp)) if stamp else None)
