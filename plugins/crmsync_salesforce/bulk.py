"""Bulk API 2.0: large queries (CSV, page by page) and large updates (ingest jobs).

Quirks (docs/connectors/salesforce.md#client-library-quirks):

* Results are CSV: every value is a string, ``""`` is null, booleans are ``true``/``false``;
  relationship fields are dotted column names (``UserRole.Name``). :func:`parse_rows` turns a
  page into the same dicts the REST API returns, typed from describe, so one mapper serves both.
* Result pages are chained by ``Sforce-Locator``. simple-salesforce's ``query_all`` holds a
  page in memory three times over (the bytes, the text, the text without NULs), and its
  ``download`` runs ``query`` (no recycle bin) and fetches every page before it returns. So the
  job is driven here with the handler's own calls (``create_job``, ``wait_for_job``,
  ``download_job_data``): each page streams into a temporary file, is parsed from there and
  removed, and memory does not grow with the page. Pages are left to Salesforce's own size
  (no ``maxRecords``): the fewest calls.
* The Bulk 2.0 handler captures the session id when ``sf.bulk2`` is first touched and never
  refreshes it. Every step here goes through :meth:`SalesforceClient.call` with a handler of
  the current session, so after a 401 the client logs in again and the same job goes on
  from the same page.
* Ingest results are not per record: failures are fetched afterwards (``sf__Id``,
  ``sf__Error`` = ``CODE:message``).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crmsync import ConnectorError, TransientError
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


def parse_rows(lines: Iterable[str], describe: ObjectDescription, *, chunk: int = 2000
               ) -> Iterator[list[dict[str, Any]]]:
    """One Bulk API CSV page (its lines, a file opened with ``newline=""``) as REST-shaped
    records (typed values, nested relationships), in lists of at most ``chunk`` rows (a page
    is never held parsed all at once)."""
    reader = csv.reader(lines)
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
    time. A result page (``page_size`` rows, or Salesforce's own size for None) is fetched
    into a temporary file when the previous one is used up, and removed once read."""
    what = f"bulk query {obj}"
    job_id = client.call(what, lambda sf: _start(sf, obj, soql))
    client.call(what, lambda sf: _jobs(sf, obj).wait_for_job(job_id, True, POLL_SECONDS))
    with tempfile.TemporaryDirectory(prefix="crmsync-bulk-") as spool:
        locator = ""
        while True:

            def fetch(sf: Any, at: str = locator) -> dict[str, Any]:
                return _download(client, sf, obj, spool, job_id, at, page_size)

            page = client.call(what, fetch)
            try:
                yield from _read_page(client, what, page, describe, chunk)
            finally:
                os.unlink(page["file"])
            locator = page["locator"]
            if not locator:
                return


def _jobs(sf: Any, obj: str) -> Any:
    """The Bulk 2.0 job calls of ``obj`` with ``sf``'s session (a new handler each time)."""
    return getattr(sf.bulk2, obj)._client


def _start(sf: Any, obj: str, soql: str) -> str:
    from simple_salesforce.bulk2 import Operation

    return str(_jobs(sf, obj).create_job(Operation.query_all, soql)["id"])


def _download(client: SalesforceClient, sf: Any, obj: str, spool: str, job_id: str,
              locator: str, page_size: int | None) -> dict[str, Any]:
    """One result page streamed into a file under ``spool``: ``{"file", "locator",
    "number_of_records"}``."""
    import requests

    try:
        return dict(_jobs(sf, obj).download_job_data(spool, job_id, locator, page_size))
    except requests.RequestException:
        raise
    except OSError as exc:  # the temporary file: a full disk, no permission
        raise ConnectorError(
            f"bulk query {obj}: cannot write a result page to the temporary directory "
            f"{os.path.dirname(spool)} ({exc.strerror or exc}); free space there or point "
            "TMPDIR at a directory with room for one page", connection=client.connection,
            entity=client.entity) from None


def _read_page(client: SalesforceClient, what: str, page: Mapping[str, Any],
               describe: ObjectDescription, chunk: int) -> Iterator[list[dict[str, Any]]]:
    """The rows of a downloaded page. Its last ``chunk`` is held back until the row count is
    checked against ``Sforce-NumberOfRecords``: a page cut short raises
    :class:`crmsync.TransientError` (the engine reads again from the last committed page)
    and its tail is never stored."""
    expected = int(page["number_of_records"])
    seen = 0
    held: list[dict[str, Any]] | None = None
    with open(page["file"], encoding="utf-8", newline="") as lines:
        for rows in parse_rows(lines, describe, chunk=chunk):
            seen += len(rows)
            if held is not None:
                yield held
            held = rows
    if seen != expected:
        raise TransientError(f"{what}: a result page held {seen} of its {expected} rows "
                             "(cut short); reading again from the last committed page",
                             connection=client.connection, entity=client.entity)
    if held is not None:
        yield held


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
