"""Bulk API 2.0 query and ingest jobs of the fake Salesforce org.

Query results are CSV pages chained by the ``Sforce-Locator`` header (the string ``null`` on the
last page) with ``Sforce-NumberOfRecords``; every value is quoted, null is empty, booleans are
``true``/``false``, datetimes ``2024-01-02T03:04:05.000+0000`` and relationship fields dotted
columns. Ingest jobs take CSV uploads, run when polled after ``UploadComplete`` and report
per-record ``successfulResults/`` and ``failedResults/`` (``sf__Id``, ``sf__Error``…).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
from dataclasses import dataclass, field
from typing import Any

from .sf_ids import fmt_datetime, make_id
from .sf_query import ApiError, Plan, related

__all__ = ["BulkJobs"]


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Job:
    id: str
    kind: str  # query | ingest
    operation: str
    obj: str
    created: int
    version: str
    state: str
    plan: Plan | None = None
    polls: int = 0
    data: list[str] = field(default_factory=list)
    ok: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    error: str | None = None

    def info(self, user: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.obj,
            "createdById": user, "createdDate": fmt_datetime(self.created),
            "systemModstamp": fmt_datetime(self.created), "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.version), "lineEnding": "LF", "columnDelimiter": "COMMA"}
        if self.kind == "ingest":
            out["contentUrl"] = f"services/data/v{self.version}/jobs/ingest/{self.id}/batches"
            out["jobType"] = "V2Ingest"
        if self.state in ("JobComplete", "Failed"):
            if self.kind == "query":
                out.update(numberRecordsProcessed=self.plan.total if self.plan else 0,
                           retries=0, totalProcessingTime=120)
            else:
                out.update(numberRecordsProcessed=len(self.ok) + len(self.failed),
                           numberRecordsFailed=len(self.failed), retries=0,
                           totalProcessingTime=150, apiActiveProcessingTime=100,
                           apexProcessingTime=0)
        if self.error:
            out["errorMessage"] = self.error
        return out


class BulkJobs:
    """The org's Bulk 2.0 jobs. ``polls_until_complete``: how many status reads answer
    ``InProgress`` before ``JobComplete`` (real jobs take a while)."""

    def __init__(self, org: Any) -> None:
        self.org = org
        self.jobs: dict[str, _Job] = {}
        self.polls_until_complete = 1
        self._ids = itertools.count(1)

    def _job(self, kind: str, job_id: str) -> _Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def _new_id(self) -> str:
        return make_id("750", next(self._ids))

    # -- query ---------------------------------------------------------------------------------

    def create_query(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        """``POST /jobs/query``."""
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", f"Operation '{operation}' is not supported "
                                              "for query jobs")
        p = self.org.plan(str(body.get("query") or ""), operation == "queryAll")
        if p.query.count:
            raise ApiError(400, "INVALIDJOB", "Aggregate functions such as COUNT() are not "
                                              "supported by Bulk API 2.0 query")
        job = _Job(self._new_id(), "query", operation, p.table.spec.name, self.org.now(),
                   version, "UploadComplete", p)
        self.jobs[job.id] = job
        return job.info(self.org.user_id)

    def get(self, kind: str, job_id: str) -> dict[str, Any]:
        """``GET /jobs/{kind}/{id}``: polling moves a job along."""
        job = self._job(kind, job_id)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.polls <= self.polls_until_complete:
                job.state = "InProgress"
            elif kind == "query":
                job.state = "JobComplete"
            else:
                self._run_ingest(job)
        return job.info(self.org.user_id)

    def results(self, job_id: str, locator: str | None, max_records: int | None
                ) -> tuple[bytes, dict[str, str]]:
        """``GET /jobs/query/{id}/results``: one CSV page and its headers."""
        job = self._job("query", job_id)
        if job.state != "JobComplete" or job.plan is None:
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job_id} is not complete "
                                                   f"(state {job.state})")
        offset = 0
        if locator and locator != "null":
            try:
                offset = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
            except ValueError:
                raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None
        size = max_records or 100_000
        body, count, nxt = self.org.ahead.take((job_id, offset, size)) or \
            self._page(job.plan, offset, size)
        if nxt is not None:
            self.org.ahead.start((job_id, nxt, size), self._page, job.plan, nxt, size)
        token = "null" if nxt is None else base64.b64encode(str(nxt).encode()).decode().rstrip("=")
        return body, {"Sforce-Locator": token, "Sforce-NumberOfRecords": str(count)}

    def _page(self, plan: Plan, offset: int, size: int) -> tuple[bytes, int, int | None]:
        with self.org.lock:
            records, nxt = plan.page(offset, size)
            rows = [plan.columns] + [self._row(plan, r) for r in records]
        return _csv(rows), len(records), nxt

    def _row(self, p: Plan, rec: dict[str, Any]) -> list[str]:
        out = []
        for col in p.columns:
            if "." not in col:
                out.append(_cell(rec.get(col)))
                continue
            rel, _, rest = col.partition(".")
            ref = next(f for f in p.table.fields if f.relationship == rel)
            value: Any = related(rec.get(ref.name), [rest], "0", self.org.by_prefix)
            for part in rest.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            out.append(_cell(value))
        return out

    # -- ingest --------------------------------------------------------------------------------

    def create_ingest(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        """``POST /jobs/ingest``."""
        operation = body.get("operation")
        if operation not in ("update", "insert"):
            raise ApiError(400, "INVALIDJOB", f"Operation '{operation}' is not supported by "
                                              "this fake org (update, insert)")
        table = self.org.table(str(body.get("object") or ""))
        job = _Job(self._new_id(), "ingest", operation, table.spec.name, self.org.now(), version,
                   "Open")
        self.jobs[job.id] = job
        return job.info(self.org.user_id)

    def upload(self, job_id: str, data: bytes) -> None:
        """``PUT /jobs/ingest/{id}/batches``."""
        job = self._job("ingest", job_id)
        if job.state != "Open":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job_id} is not open for upload")
        job.data.append(data.decode("utf-8"))

    def set_state(self, kind: str, job_id: str, state: str) -> dict[str, Any]:
        """``PATCH /jobs/{kind}/{id}``: UploadComplete or Aborted."""
        job = self._job(kind, job_id)
        if state == "Aborted" and job.state not in ("JobComplete", "Failed"):
            job.state = "Aborted"
        elif state == "UploadComplete" and job.state == "Open":
            job.state = "UploadComplete"
        else:
            raise ApiError(400, "INVALIDJOBSTATE", f"Cannot change job {job_id} from "
                                                   f"{job.state} to {state}")
        return job.info(self.org.user_id)

    def delete(self, kind: str, job_id: str) -> None:
        """``DELETE /jobs/{kind}/{id}``."""
        self._job(kind, job_id)
        del self.jobs[job_id]

    def _run_ingest(self, job: _Job) -> None:
        rows: list[list[str]] = []
        for chunk in job.data:
            parsed = list(csv.reader(io.StringIO(chunk)))
            if parsed:
                job.header = job.header or parsed[0]
                rows.extend(parsed[1:])
        if not job.header:
            job.state, job.error = "Failed", "InvalidBatch : no data was uploaded"
            return
        table = self.org.table(job.obj)
        unknown = [h for h in job.header if h.lower() != "id" and table.field(h) is None]
        if unknown:
            job.state, job.error = "Failed", f"InvalidBatch : Field name not found : {unknown[0]}"
            return
        for row in rows:
            # an uploaded CSV row may be shorter or longer than the header: pair what is there
            values = dict(zip(job.header, row, strict=False))
            rid = values.pop("Id", None) or values.pop("id", None) or ""
            converted, error = self._convert(table, values)
            if error is None and job.operation == "insert":
                rid = self.org.insert(job.obj, **converted)
                job.ok.append([rid, "true", *row])
                continue
            result = {"success": False, "errors": [error]} if error else \
                self.org.save(job.obj, rid, converted)
            if result["success"]:
                job.ok.append([rid, "false", *row])
            else:
                e = result["errors"][0]
                job.failed.append([rid, f"{e['statusCode']}:{e['message']}:"
                                        f"{','.join(e.get('fields') or [])} --", *row])
        job.state = "JobComplete"

    @staticmethod
    def _convert(table: Any, values: dict[str, str]) -> tuple[dict[str, Any], Any]:
        out: dict[str, Any] = {}
        for name, text in values.items():
            if text == "":
                continue  # Bulk API: an empty cell leaves the field alone; #N/A clears it
            f = table.field(name)
            if text == "#N/A":
                out[f.name] = None
                continue
            try:
                if f.type in ("double", "currency", "percent"):
                    out[f.name] = float(text)
                elif f.type == "int":
                    out[f.name] = int(text)
                elif f.type == "boolean":
                    if text.lower() not in ("true", "false"):
                        raise ValueError(text)
                    out[f.name] = text.lower() == "true"
                else:
                    out[f.name] = text
            except ValueError:
                return {}, {"statusCode": "INVALID_TYPE_ON_FIELD_IN_RECORD",
                            "message": f"{f.name}: value not of required type: {text}",
                            "fields": [f.name]}
        return out, None

    def ingest_results(self, job_id: str, which: str) -> bytes:
        """``successfulResults/``, ``failedResults/`` or ``unprocessedrecords/`` CSV."""
        job = self._job("ingest", job_id)
        if which == "successfulResults":
            return _csv([["sf__Id", "sf__Created", *job.header], *job.ok])
        if which == "failedResults":
            return _csv([["sf__Id", "sf__Error", *job.header], *job.failed])
        return _csv([job.header] if job.header else [])
