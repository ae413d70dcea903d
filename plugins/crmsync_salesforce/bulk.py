"""Bulk API 2.0: large queries (CSV, page by page) and large updates (ingest jobs).

Quirks (docs/connectors/salesforce.md#client-library-quirks):

* Results are CSV: every value is a string, ``""`` is null, booleans are ``true``/``false``;
  relationship fields are dotted column names (``UserRole.Name``). :func:`parse_rows` turns a
  page into the same dicts the REST API returns, typed from describe, so one mapper serves both.
* simple-salesforce yields one CSV string per result page (``Sforce-Locator`` chains them);
  only one page is held in memory at a time.
* The Bulk 2.0 handler captures the session id when ``sf.bulk2`` is first touched and never
  refreshes it: a 401 mid-job becomes a :class:`crmsync.TransientError` (the client logs in
  again on its next call) and the engine's retry starts a new job from the last committed page.
* Ingest results are not per record: failures are fetched afterwards (``sf__Id``,
  ``sf__Error`` = ``CODE:message``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crmsync_salesforce.describe import ObjectDescription

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["parse_rows", "query_pages", "ingest_update", "parse_failed_results",
           "POLL_SECONDS"]

#: First wait before polling a job's state (simple-salesforce then backs off up to 2 s).
POLL_SECONDS = 0.2


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"A.B.C": v}`` → ``{"A": {"B": {"C": v}}}`` at any depth (an empty relationship is
    ``None``)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *heads, last = key.split(".")
        for head in heads:
            child = node.get(head)
            if not isinstance(child, dict):
                if value is None:
                    node.setdefault(head, None)
                    break
                child = node[head] = {}
            node = child
        else:
            node[last] = value
    return out


def parse_rows(text: str, describe: ObjectDescription, *, chunk: int = 2000
               ) -> Iterator[list[dict[str, Any]]]:
    """One Bulk API CSV page as REST-shaped records (typed values, nested relationships), in
    lists of at most ``chunk`` rows (a page is never held parsed all at once)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return
    parse = describe.parse_csv_value
    rows: list[dict[str, Any]] = []
    for cells in reader:
        if not cells:
            continue
        rows.append(_nest({name: parse(name, cell)
                           for name, cell in zip(header, cells, strict=False)}))
        if len(rows) == chunk:
            yield rows
            rows = []
    if rows:
        yield rows


def query_pages(client: SalesforceClient, obj: str, soql: str, describe: ObjectDescription,
                *, page_size: int | None, chunk: int = 2000) -> Iterator[list[dict[str, Any]]]:
    """Run ``soql`` as a Bulk API 2.0 ``queryAll`` job; yield its rows parsed, ``chunk`` at a
    time (a result page of ``page_size`` rows, or of Salesforce's own size for None, is
    fetched when the previous one is used up)."""
    pages = client.call(f"bulk query {obj}", lambda sf: iter(
        getattr(sf.bulk2, obj).query_all(soql, max_records=page_size, wait=POLL_SECONDS)))
    while True:
        text = client.call(f"bulk query {obj}", lambda sf: next(pages, None), resumable=False)
        if text is None:
            return
        yield from parse_rows(text, describe, chunk=chunk)


def _cell(value: Any) -> str:
    if value is None:
        return "#N/A"  # Bulk API: #N/A sets a field to null; "" leaves it unchanged
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_failed_results(text: str) -> list[tuple[str, str, str]]:
    """``(Id, errorCode, message)`` for each row of a job's ``failedResults`` CSV."""
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        code, _, message = (row.get("sf__Error") or "").partition(":")
        out.append((row.get("sf__Id") or row.get("Id") or "", code.strip(), message.strip()))
    return out


def ingest_update(client: SalesforceClient, obj: str, records: Sequence[Mapping[str, Any]]
                  ) -> tuple[int, list[tuple[str, str, str]]]:
    """Update ``records`` (each with ``Id``) through Bulk API 2.0 ingest.

    :return: ``(processed, failures)`` where failures are ``(Id, errorCode, message)``.
    """
    rows = [{k: _cell(v) for k, v in r.items()} for r in records]
    results = client.call(f"bulk update {obj}", lambda sf: getattr(sf.bulk2, obj).update(
        records=rows, wait=POLL_SECONDS))
    failures: list[tuple[str, str, str]] = []
    processed = 0
    for job in results:
        processed += int(job.get("numberRecordsProcessed", 0))
        if int(job.get("numberRecordsFailed", 0)):
            job_id = str(job["job_id"])

            def failed(sf: Any, job_id: str = job_id) -> str:
                return str(getattr(sf.bulk2, obj).get_failed_records(job_id))

            failures.extend(parse_failed_results(
                client.call(f"bulk update {obj} results", failed)))
    return processed, failures
