"""The fake Salesforce org's state and REST operations (no HTTP here; see salesforce_org.py).

Tests change the org through :meth:`Org.update`, :meth:`Org.insert`, :meth:`Org.delete` and
:meth:`Org.merge` (changes get a new SystemModstamp, or the one given: a late-committing
transaction), script faults (:attr:`Org.faults`, :attr:`Org.record_faults`), hide fields from
the integration user (:meth:`Org.hide_field`) and set the daily API allowance
(:attr:`Org.api_max`, :attr:`Org.api_used`). Merges and record counts live in ``sf_merge.py``
and ``sf_record_counts.py``, record types and describe layouts in ``sf_record_types.py``.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from . import soql
from .sf_data import Dataset
from .sf_faults import Faults, RecordFaults
from .sf_ids import fmt_datetime, make_id
from .sf_merge import Merges
from .sf_prefetch import Prefetcher
from .sf_query import ApiError, Plan, plan, shape
from .sf_record_counts import RecordCounts
from .sf_record_types import RecordTypeDescribe, record_type_infos
from .sf_schema import F, Field, describe_object, global_entry
from .sf_tables import Table, stamp_of

__all__ = ["Org", "ApiError"]

_MAX_COLLECTION = 200
#: Open query cursors per user; opening another releases the oldest (as Salesforce does).
MAX_CURSORS = 10


class Org(Merges, RecordCounts, RecordTypeDescribe):
    """An in-memory org built from a :class:`~fakes.sf_data.Dataset`."""

    def __init__(self, dataset: Dataset | None = None, *, api_max: int = 15_000) -> None:
        self.dataset = dataset or Dataset()
        self.tables = {spec.name: Table(spec) for spec in self.dataset.build()}
        self.by_prefix = {t.spec.prefix: t for t in self.tables.values()}
        self.objects_by_lower = {name.lower(): name for name in self.tables}
        self.lock = threading.RLock()
        self.api_max = api_max
        self.api_used = 0
        self.org_id = "00D8d0000000001AAA"
        self.user_id = make_id("005", 0)
        self.session_id = self.org_id[:15] + "!" + secrets.token_urlsafe(24)
        self.sessions = {self.session_id}
        self.users: dict[str, str] = {"integration@example.com": "s3cret" + "TOKEN123"}
        self.jwt_apps: dict[str, bytes] = {}  # consumer key → public key PEM
        self.hidden: set[tuple[str, str]] = set()
        self.metadata_access = True
        self.faults = Faults()
        #: the most rows one REST query page answers, whatever batchSize asked (Salesforce
        #: may send fewer); ``done``/``nextRecordsUrl`` still say more follows
        self.page_cap: int | None = None
        self.record_faults = RecordFaults()
        self.clock = time.time
        self._cursors: OrderedDict[str, Plan] = OrderedDict()
        self.ahead = Prefetcher()
        self._ids = itertools.count(1)

    # -- time, sessions and the API allowance --------------------------------------------------

    def now(self) -> int:
        """The org's clock, whole seconds (SystemModstamp precision)."""
        return int(self.clock())

    def new_session(self) -> str:
        """A fresh valid session id (what a login returns)."""
        sid = self.org_id[:15] + "!" + secrets.token_urlsafe(24)
        with self.lock:
            self.sessions.add(sid)
        return sid

    def expire_sessions(self) -> None:
        """Every session becomes invalid (the next call gets 401 INVALID_SESSION_ID)."""
        with self.lock:
            self.sessions.clear()

    def count_call(self) -> None:
        """Count one API request against the daily allowance, or refuse it (403)."""
        with self.lock:
            if self.api_used >= self.api_max:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.api_used += 1

    def limits(self) -> dict[str, Any]:
        """``/limits``: a few of the real keys."""
        return {
            "DailyApiRequests": {"Max": self.api_max, "Remaining": self.api_max - self.api_used},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }

    # -- field-level security and custom fields -----------------------------------------------

    def hide_field(self, obj: str, name: str) -> None:
        """Hide a field from the integration user: gone from describe, INVALID_FIELD in SOQL."""
        self.hidden.add((obj.lower(), name.lower()))

    def add_field(self, obj: str, spec: Field) -> None:
        """Add a (custom) field to ``obj``; existing records read it as null."""
        with self.lock:
            table = self.tables[obj]
            if not table.has(spec.name):
                table.fields.append(spec)

    def visible_fields(self, table: Table) -> list[Field]:
        """The fields the integration user can see."""
        return [f for f in table.fields if (table.spec.name.lower(), f.name.lower())
                not in self.hidden]

    # -- changes made by tests (or by the write endpoints) -------------------------------------

    def table(self, obj: str) -> Table:
        """The table of ``obj`` (any case)."""
        name = self.objects_by_lower.get(obj.lower())
        if name is None:
            raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {obj}")
        return self.tables[name]

    def get(self, obj: str, rid: str) -> dict[str, Any] | None:
        """A copy of record ``rid`` (soft-deleted included), or None."""
        with self.lock:
            rec = self.table(obj).get(rid)
            return dict(rec) if rec is not None else None

    def update(self, obj: str, rid: str, *, stamp: int | None = None, **values: Any) -> None:
        """Change fields of a record; SystemModstamp and LastModifiedDate become ``stamp``
        (default: now). An older ``stamp`` models a transaction that committed late."""
        with self.lock:
            table = self.table(obj)
            old = table.get(rid)
            if old is None:
                raise KeyError(f"{obj} {rid} does not exist")
            rec = {**old, **values}
            when = fmt_datetime(self.now() if stamp is None else stamp)
            for name in ("SystemModstamp", "LastModifiedDate"):  # history objects have none
                if name in rec:
                    rec[name] = when
            table.put(rec, rid, old)

    def insert(self, obj: str, *, stamp: int | None = None, **values: Any) -> str:
        """Create a record (unset fields are null); returns its Id."""
        with self.lock:
            table = self.table(obj)
            rid = table.new_id()
            when = fmt_datetime(self.now() if stamp is None else stamp)
            rec: dict[str, Any] = {f.name: None for f in table.fields}
            rec.update(values, Id=rid)
            if table.has("SystemModstamp"):
                rec["SystemModstamp"] = when
            for name, value in (("CreatedDate", when), ("LastModifiedDate", when),
                                ("IsDeleted", False)):
                if table.has(name):
                    rec.setdefault(name, value)
                    rec[name] = rec[name] if rec[name] is not None else value
            table.put(rec, rid, None)
            return rid

    def delete(self, obj: str, rid: str, *, hard: bool = False, stamp: int | None = None) -> None:
        """Delete a record: to the recycle bin (IsDeleted = true, seen by queryAll) or, with
        ``hard``, for good (seen only by getDeleted)."""
        with self.lock:
            table = self.table(obj)
            old = table.get(rid)
            if old is None:
                raise KeyError(f"{obj} {rid} does not exist")
            when = self.now() if stamp is None else stamp
            if hard:
                table.put(None, rid, old)
            else:
                self.update(obj, rid, stamp=when, IsDeleted=True)
            table.deleted_log.append((rid, when))

    # -- query ---------------------------------------------------------------------------------

    def plan(self, text: str, include_deleted: bool) -> Plan:
        """Parse and plan a query (raising the org's 400 errors)."""
        try:
            q = soql.parse(text)
        except soql.SoqlError as exc:
            raise ApiError(400, exc.code, exc.message) from None
        with self.lock:
            return plan(q, self.tables, self.hidden, include_deleted, self.objects_by_lower)

    def query(self, text: str, *, include_deleted: bool, batch_size: int,
              version: str) -> dict[str, Any]:
        """The first page of ``/query`` or ``/queryAll``."""
        p = self.plan(text, include_deleted)
        if p.query.count:
            return {"totalSize": p.total, "done": True, "records": []}
        locator = f"0r8xx{next(self._ids):010d}"
        with self.lock:
            self._cursors[locator] = p
            while len(self._cursors) > MAX_CURSORS:  # Salesforce releases the oldest cursor
                self._cursors.popitem(last=False)
        page = self._page(p, locator, 0, batch_size, version)
        if page["done"]:  # one page: no cursor stays open
            with self.lock:
                self._cursors.pop(locator, None)
        return page

    def query_more(self, locator: str, offset: int, batch_size: int,
                   version: str) -> dict[str, Any]:
        """A next page (``/query/{locator}-{offset}``)."""
        p = self._cursors.get(locator)
        if p is None or (offset and offset not in p.positions and p.refs is None):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(p, locator, offset, batch_size, version)

    def _page(self, p: Plan, locator: str, offset: int, size: int,
              version: str) -> dict[str, Any]:
        size = min(size, self.page_cap or size)
        page = self.ahead.take((locator, offset, size, version)) or \
            self._make_page(p, locator, offset, size, version)
        if not page["done"]:
            nxt = int(page["nextRecordsUrl"].rsplit("-", 1)[1])
            self.ahead.start((locator, nxt, size, version), self._make_page, p, locator, nxt,
                             size, version)
        return page

    def _make_page(self, p: Plan, locator: str, offset: int, size: int,
                   version: str) -> dict[str, Any]:
        with self.lock:
            records, nxt = p.page(offset, size)
            out = [shape(p, r, version, self.tables, self.by_prefix) for r in records]
        page: dict[str, Any] = {"totalSize": p.total, "done": nxt is None}
        if nxt is not None:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{nxt}"
        page["records"] = out
        return page

    # -- describe ------------------------------------------------------------------------------

    def describe_global(self, version: str) -> dict[str, Any]:
        """``/sobjects/``."""
        return {"encoding": "UTF-8", "maxBatchSize": 200,
                "sobjects": [global_entry(t.spec, version) for t in self.tables.values()]}

    def describe(self, obj: str, version: str) -> dict[str, Any]:
        """``/sobjects/{obj}/describe/``."""
        table = self.table(obj)
        children = [(t.spec.name, f.name, None if f.name == "MasterRecordId" else
                     t.spec.plural.replace(" ", ""))
                    for t in self.tables.values() for f in t.fields
                    if table.spec.name in f.reference_to and f.name not in (
                        "CreatedById", "LastModifiedById")]
        return describe_object(table.spec, self.visible_fields(table), version, children,
                               record_type_infos(self, table.spec.name, version))

    # -- replication: getUpdated / getDeleted --------------------------------------------------

    def deleted(self, obj: str, start: int, end: int) -> dict[str, Any]:
        """``/sobjects/{obj}/deleted/``: records deleted within [start, end] (at most 30 days
        back; a window shorter than a minute is refused, as Salesforce does)."""
        table = self.table(obj)
        earliest = self.now() - 30 * 86400
        if start < earliest or end - start < 60:
            raise ApiError(400, "INVALID_REPLICATION_DATE",
                           "startDate must chronologically precede endDate by at least one "
                           "minute and be no more than 30 days in the past")
        with self.lock:
            rows = [{"id": rid, "deletedDate": fmt_datetime(at)}
                    for rid, at in table.deleted_log if start <= at <= end]
        first = min((at for _, at in table.deleted_log), default=earliest)
        return {"deletedRecords": rows, "earliestDateAvailable": fmt_datetime(max(first, earliest)
                                                                             // 60 * 60),
                "latestDateCovered": fmt_datetime(min(end, self.now()) // 60 * 60)}

    def updated(self, obj: str, start: int, end: int) -> dict[str, Any]:
        """``/sobjects/{obj}/updated/``: Ids of records changed within [start, end]."""
        table = self.table(obj)
        with self.lock:
            ids = [ref if isinstance(ref, str) else key[1]
                   for key, ref in table.scan(((start, ""), True), ((end, "\uffff"), True))]
        return {"ids": ids[:600_000], "latestDateCovered": fmt_datetime(min(end, self.now())
                                                                        // 60 * 60)}

    # -- writes ---------------------------------------------------------------------------------

    def check_fields(self, table: Table, values: dict[str, Any]) -> list[str]:
        """Names of ``values`` that are not writable (read-only or hidden); unknown → 400."""
        bad = []
        for name in values:
            f = table.field(name)
            if f is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of "
                                                     f"type {table.spec.name}")
            if not f.updateable or (table.spec.name.lower(), f.name.lower()) in self.hidden:
                bad.append(f.name)
        return bad

    def save(self, obj: str, rid: str | None, values: dict[str, Any]) -> dict[str, Any]:
        """Update one record as a write call would; returns its SaveResult."""
        with self.lock:
            table = self.table(obj)
            if not rid:
                return _failure("MISSING_ARGUMENT", "Id not specified in an update call", [])
            current = table.get(rid)
            if current is None or current.get("IsDeleted"):
                code = "ENTITY_IS_DELETED" if current is not None else "INVALID_CROSS_REFERENCE_KEY"
                return _failure(code, "entity is deleted" if current else
                                f"invalid cross reference id: {rid}", [])
            bad = self.check_fields(table, values)
            if bad:
                return _failure("INVALID_FIELD_FOR_INSERT_UPDATE",
                                f"Unable to create/update fields: {', '.join(bad)}. Please check "
                                "the security settings of this field and verify that it is "
                                "read/write for your profile or permission set.", bad)
            canonical = {table.field(k).name: v for k, v in values.items()}  # type: ignore[union-attr]
            error = self.record_faults.pick(table.spec.name, {**current, **canonical})
            if error:
                return {"success": False, "errors": [error]}
            self.update(table.spec.name, rid, **canonical)
            return {"id": rid, "success": True, "errors": []}

    def collections_update(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """``PATCH /composite/sobjects``: SaveResults in input order (HTTP 200 regardless)."""
        records = body.get("records") or []
        if len(records) > _MAX_COLLECTION:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more "
                                                     "than 200 records into this call")
        results = []
        for rec in records:
            obj = (rec.get("attributes") or {}).get("type")
            if not obj:
                results.append(_failure("INVALID_TYPE", "Must send a concrete entity type.", []))
                continue
            values = {k: v for k, v in rec.items() if k not in ("attributes", "Id", "id")}
            results.append(self.save(obj, rec.get("Id") or rec.get("id"), values))
        if body.get("allOrNone") and any(not r["success"] for r in results):
            results = [r if not r["success"] else _failure(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all "
                "records were valid and the request was using AllOrNone header", [])
                for r in results]  # the fake keeps the good ones written: tests avoid it
        return results

    def create_custom_field(self, full_name: str, label: str, type_: str, precision: int | None,
                            scale: int | None, length: int | None) -> dict[str, Any]:
        """Metadata API createMetadata of one CustomField; returns the SaveResult."""
        obj, _, name = full_name.partition(".")
        if not self.metadata_access:
            return {"fullName": full_name, "success": False, "errors": [
                {"statusCode": "INSUFFICIENT_ACCESS",
                 "message": "insufficient access rights on cross-reference id"}]}
        if obj.lower() not in self.objects_by_lower or not name.endswith("__c"):
            return {"fullName": full_name, "success": False, "errors": [
                {"statusCode": "INVALID_CROSS_REFERENCE_KEY",
                 "message": f"In field: fullName - no CustomObject named {obj} found"}]}
        table = self.table(obj)
        if table.has(name):
            return {"fullName": full_name, "success": False, "errors": [
                {"statusCode": "DUPLICATE_DEVELOPER_NAME",
                 "message": f"There is already a field named {name} on {obj}."}]}
        kind = {"Number": "double", "Percent": "percent", "Currency": "currency", "Date": "date",
                "Text": "string", "Checkbox": "boolean", "DateTime": "datetime"}.get(type_)
        if kind is None:
            return {"fullName": full_name, "success": False, "errors": [
                {"statusCode": "FIELD_INTEGRITY_EXCEPTION", "message": f"Unknown type {type_}"}]}
        extra: dict[str, Any] = {"label": label}
        if precision is not None:
            extra["precision"] = precision
        if scale is not None:
            extra["scale"] = scale
        if length is not None:
            extra["length"] = length
        self.add_field(table.spec.name, F(name, kind, **extra))
        return {"fullName": full_name, "success": True, "errors": []}

    def record_json(self, obj: str, rid: str, version: str) -> dict[str, Any]:
        """``GET /sobjects/{obj}/{id}``."""
        table = self.table(obj)
        rec = table.get(rid)
        if rec is None or rec.get("IsDeleted"):
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        out = {"attributes": {"type": table.spec.name,
                              "url": f"/services/data/v{version}/sobjects/{table.spec.name}/{rid}"}}
        out.update((f.name, rec.get(f.name)) for f in self.visible_fields(table))
        return out


def _failure(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message,
                                          "fields": fields}]}


def parse_when(text: str) -> int:
    """Epoch seconds of a getDeleted/getUpdated ``start``/``end`` parameter."""
    from .soql import _datetime

    try:
        return int(_datetime(text.replace(" ", "+")).epoch)
    except ValueError:
        return stamp_of(text)
