"""The Salesforce connector: entities → objects, cursors, rejects, write-back.

Each schema table is read from one or more Salesforce objects (``settings.ENTITY_OBJECTS``);
an entity's cursor is ``{Object: object cursor}`` (see :mod:`crmsync_salesforce.reader`), so
``activities`` resumes Task and Event independently. Every page becomes one :class:`Batch`.
``opportunity_stage_history`` and ``opportunity_field_history`` have their own reader
(:mod:`crmsync_salesforce.history_reader`);
``pipelines`` and ``stages`` are built from the run's lookups (:mod:`crmsync_salesforce.lookups`)
and read whole every run, their cursor keeping the ids stored so vanished ones are deleted.
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
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from crmsync import (
    SYNCED_TABLES,
    Batch,
    ConfigError,
    Connector,
    ConnectorError,
    Deletion,
    FieldInfo,
    FieldSpec,
    Quota,
    Reject,
    WriteResult,
    WriteUpdate,
)
from crmsync_salesforce import extras, inputs, line_items, lookups, mapping, surveys
from crmsync_salesforce import write as writing
from crmsync_salesforce.catalog import Catalog
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.history_reader import HistoryReader
from crmsync_salesforce.quota import QuotaBudget
from crmsync_salesforce.reader import ObjectReader, Page, utcnow
from crmsync_salesforce.sdk import client_class
from crmsync_salesforce.settings import (
    ENTITY_LOOKUPS,
    ENTITY_OBJECTS,
    INPUT_SOURCES,
    SETTINGS,
    auth_mode,
    check_api_version,
    check_field_map,
    check_login_domain,
    check_timeouts,
    instance_host,
)

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["SalesforceConnector"]

log = logging.getLogger(__name__)

_COLUMNS = {t: {c.name for c in table.columns} for t, table in SYNCED_TABLES.items()}
_MAPPERS, _STANDARD, _OPTIONAL = extras.ALL_MAPPERS, extras.ALL_STANDARD, extras.ALL_OPTIONAL


class SalesforceConnector(Connector):
    """Reads a Salesforce org into the unified schema and writes KPI fields back."""

    NAME: ClassVar[str] = "salesforce"
    ENTITIES: ClassVar[tuple[str, ...]] = tuple(ENTITY_OBJECTS)
    SETTINGS = SETTINGS
    INPUT_SOURCES = INPUT_SOURCES

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.budget = QuotaBudget(run_percent=float(self.settings["quota_run_percent"]),
                                  total_percent=float(self.settings["quota_total_percent"]))
        self.field_map = check_field_map(self.settings.get("field_map") or {}, _COLUMNS)
        self._client: SalesforceClient | None = None
        self._client_class = client_class()  # the SDK is missing: one error for the connection
        self.catalog = Catalog(lambda: self.client, self._objects_to_read)
        self.history = HistoryReader(
            client=lambda: self.client, describe=self.describe,
            record_count=self.catalog.record_count, reader=self._object_reader,
            pipelines=lambda: self._run_lookups().pipelines, clock=lambda: self.clock(),
            fields_read=lambda: self._enabled("opportunity_field_history"))
        self._lookups: lookups.Lookups | None = None
        #: The clock windows and getDeleted ranges end at (tests pin it).
        self.clock: Callable[[], dt.datetime] = utcnow
        self.extras = extras.Extras(self)  # surveys, territories, revenue schedules

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
        try:
            out["domain"] = check_login_domain(
                out["domain"], allow_custom=bool(out["allow_custom_login_host"]))
            out["api_version"] = check_api_version(out["api_version"])
            check_timeouts(out)
            surveys.check_survey_types(out["survey_types"])
        except ConfigError as exc:
            raise ConfigError(str(exc).split(": ", 1)[-1], file=file, section=section,
                              key=exc.key) from None
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
            self._client = self._client_class(self.settings, connection=self.name,
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

    def record_url(self, entity: str, remote_id: str) -> str | None:
        """The Lightning record page, when the instance is known without logging in: the
        ``instance_url`` setting (session auth) or a My Domain ``domain``. Quotas have no
        record page (they live in the forecasts' quota view)."""
        objects = [o for o in ENTITY_OBJECTS.get(entity, ()) if o != "OpportunityStage"]
        host = instance_host(self.settings)
        if not objects or host is None or entity in ("activities", "opportunity_field_history",
                                                     "quotas"):
            return None
        quoted = urllib.parse.quote(remote_id, safe="")
        return f"https://{host}/lightning/r/{objects[0]}/{quoted}/view"

    def quota(self) -> Quota | None:
        """The org's daily API usage as last seen (``/limits`` or ``Sforce-Limit-Info``)."""
        return self.budget.quota()

    def history_fields(self) -> frozenset[str]:
        """OpportunityHistory's fields and those this org tracks in field history
        (:mod:`crmsync_salesforce.field_history`); none unless the table is read."""
        if not self._enabled("opportunity_field_history"):
            return frozenset()
        return self.history.history_fields()

    def close(self) -> None:
        """Close the HTTP session; delete the history spool."""
        self.history.close()
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
            yield lookups.whole_batch(self._run_lookups().pipelines.pipeline_records(), [], cursor)
            return
        if entity == "stages":
            yield self._stages_batch(cursor)
            return
        if entity in ("opportunity_stage_history", "opportunity_field_history"):
            yield from self.history.read(entity, cursor)
            return
        state: dict[str, Any] = dict(cursor or {})
        objects = ENTITY_OBJECTS[entity]
        if entity == "currency_rates":
            objects = self._rate_objects()
        for obj in objects:
            pages = self._read_named(entity, obj, state)  # quotas and spend may be unreadable
            yield from inputs.unless_unreadable(self.name, obj, pages) \
                if obj in inputs.MAPPERS else pages
        if entity == "accounts":
            yield from self.extras.territory_changes(state, cursor)

    def _read_named(self, entity: str, obj: str, state: dict[str, Any]) -> Iterator[Batch]:
        describe = self.describe(obj)
        if describe is None:
            log.info("%s: this org has no %s; skipping", self.name, obj)
            return
        yield from self._read_object(entity, describe, state)

    def _rate_objects(self) -> tuple[str, ...]:
        if self.describe("CurrencyType") is None:
            return ()  # a single-currency org
        dated = self.describe("DatedConversionRate")
        return ("DatedConversionRate",) if dated is not None else ("CurrencyType",)

    def _select_fields(self, describe: ObjectDescription) -> list[str]:
        """What a read of ``describe``'s object selects: the fields its mapping uses that this
        user can read, optional ones the org has, ``field_map`` sources and custom fields."""
        obj = describe.name
        standard = [f for f in mapping.SYSTEM_FIELDS if describe.has(f)] + \
            list(_STANDARD.get(obj, ())) + [f for f in _OPTIONAL.get(obj, ()) if describe.has(f)]
        return describe.select_list(standard, extra=list(self.field_map.get(obj, {})))

    def _object_reader(self) -> ObjectReader:
        return ObjectReader(self.client, bulk_threshold=int(self.settings["bulk_threshold"]),
                            lookback_seconds=int(self.settings["lookback_seconds"]),
                            now=self.clock)

    def _read_object(self, entity: str, describe: ObjectDescription, state: dict[str, Any]
                     ) -> Iterator[Batch]:
        obj = describe.name
        fields = self._select_fields(describe)
        ctx = self._context(obj, describe, self.field_map.get(obj, {}))
        expected = None if state.get(obj) else self.catalog.record_count(obj)
        self.extras.expect(obj, expected)
        for page in self._object_reader().pages(describe, fields, state.get(obj),
                                                expected=expected):
            state[obj] = page.cursor
            yield self._batch(obj, page, ctx, dict(state))

    def _context(self, obj: str, describe: ObjectDescription, field_map: Mapping[str, str]
                 ) -> mapping.MappingContext:
        ctx = inputs.InputContext(field_map=field_map, custom_fields=tuple(describe.custom_fields),
                                  forecast_type=str(self.settings["forecast_type"]))
        if obj in line_items.MAPPERS or obj in inputs.MAPPERS:
            ctx.multi_currency = describe.multi_currency
        if obj == "Opportunity":
            ctx.pipelines = self._run_lookups().pipelines
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
        mapper = _MAPPERS[obj]
        describe = self.describe(obj)
        if obj == "Opportunity" and describe is not None and \
                not describe.has("LastStageChangeDate"):
            ctx.closed_at = self._closed_at([r for r in page.rows if r.get("IsClosed")])
        self.extras.prepare(obj, page.rows)  # surveys, territories, revenue schedules
        records, rejects, skipped = [], [], []
        for raw in page.rows:
            try:
                records.append(mapper(raw, ctx))
            except inputs.NotAnInput:  # not a row of the table: gone if it was one before
                skipped.append(Deletion(remote_id=str(raw["Id"]), deleted_at=mapping
                                        .to_datetime(raw.get("SystemModstamp"))))
            except (mapping.Unmappable, ValueError, TypeError) as exc:
                field_name = getattr(exc, "field", None) or None
                rejects.append(Reject(f"{obj}: {exc}", remote_id=raw.get("Id"),
                                      field=field_name, source=page.source, payload=raw))
        # A merge deletes the losers with MasterRecordId = the survivor: the engine then points
        # every stored reference to them at the survivor.
        merged = [Deletion(remote_id=str(r["Id"]), deleted_at=mapping.to_datetime(
            r.get("SystemModstamp")), merged_into=str(r["MasterRecordId"]))
            for r in page.rows if r.get("IsDeleted") and r.get("MasterRecordId")]
        return Batch(records=records, rejects=rejects, cursor=cursor,
                     deleted=[*page.deleted, *merged, *skipped],
                     sources=[page.source] * len(records))

    # -- lookups loaded once per run, and the small entities built from them ------------------

    def _run_lookups(self) -> lookups.Lookups:
        """Stages, conversion rates and sales processes, read once per run (one composite
        call)."""
        if self._lookups is None:
            wanted = set(self._objects_to_read())
            describes = {o: self.describe(o) if o in wanted else None for o in lookups.OBJECTS}
            stage = describes["OpportunityStage"]
            self._lookups = lookups.load(
                self.client, describes,
                stage_fields=self._select_fields(stage) if stage is not None else [])
        return self._lookups

    def _stages_batch(self, cursor: Any) -> Batch:
        """Every stage of every pipeline (a small entity, read whole every run)."""
        stage = self.describe("OpportunityStage")
        if stage is None:
            return Batch(cursor=cursor)
        ctx = mapping.MappingContext(field_map=self.field_map.get("OpportunityStage", {}),
                                     custom_fields=tuple(stage.custom_fields))
        rejects: list[Reject] = []

        def mapper(raw: Mapping[str, Any]) -> dict[str, Any] | None:
            try:
                return mapping.stage(raw, ctx)
            except (mapping.Unmappable, ValueError, TypeError) as exc:
                rejects.append(Reject(f"OpportunityStage: {exc}", remote_id=raw.get("Id"),
                                      field=getattr(exc, "field", None) or None,
                                      source="query OpportunityStage", payload=dict(raw)))
                return None

        run = self._run_lookups()
        return lookups.whole_batch(run.pipelines.stage_records(run.stages, mapper), rejects, cursor)

    def _closed_at(self, closed: list[dict[str, Any]]) -> dict[str, dt.datetime]:
        """closed_at of a page's closed deals from their stage history (fallback)."""
        return self.history.closed_at([r["Id"] for r in closed],
                                      self._run_lookups().closed_stages)

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

