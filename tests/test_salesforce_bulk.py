"""Bulk API 2.0 reads against the local fake org: result pages stream through temporary files.

A page is downloaded into a file under the temporary directory, parsed from there in chunks of
``REST_BATCH_SIZE`` rows and removed; pages are left to Salesforce's own size (no
``maxRecords``), and every step of a job runs with the session of the moment, so a new login
goes on with the same job.
"""

from __future__ import annotations

import datetime as dt
import resource
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import table_rows
from crmsync.core.errors import ConnectorError, TransientError
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync_salesforce import SalesforceConnector
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset

LEADS = 300


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(leads=LEADS)) as fake:
        yield fake


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory the pages go through (watched by the tests)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def connector(fake: FakeSalesforceOrg, **settings: Any) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings({
        "instance_url": fake.instance_url, "session_id": fake.session_id,
        "ca_bundle": fake.ca_bundle, **settings}))


def leads(c: SalesforceConnector) -> list[dict[str, Any]]:
    return sorted((r for b in c.read("leads", None) for r in b.records),
                  key=lambda r: r["remote_id"])


def result_requests(fake: FakeSalesforceOrg) -> list[dict[str, str]]:
    return [dict(r.query) for r in fake.requests if r.path.endswith("/results")]


def test_pages_of_a_set_size_give_the_records_of_rest_and_leave_no_file(
        org: FakeSalesforceOrg, spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.BULK_PAGE_SIZE", 70)
    by_rest = leads(connector(org))
    org.reset_calls()

    by_bulk = leads(connector(org, bulk_threshold=0))

    assert len(by_bulk) == LEADS and by_bulk == by_rest
    pages = result_requests(org)
    assert len(pages) == 5 and {p["maxRecords"] for p in pages} == {"70"}
    assert "locator" not in pages[0]
    assert list(spool.iterdir()) == []


def test_pages_are_left_to_salesforces_size(org: FakeSalesforceOrg, spool: Path) -> None:
    assert len(leads(connector(org, bulk_threshold=0))) == LEADS

    assert result_requests(org) == [{}]  # one page, no maxRecords: the fewest calls


def test_a_read_left_halfway_removes_its_page(org: FakeSalesforceOrg, spool: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 100)
    batches = connector(org, bulk_threshold=0).read("leads", None)
    first = next(iter(batches))
    assert len(first.records) == 100 and any(spool.rglob("*.csv"))

    batches.close()  # type: ignore[attr-defined]

    assert list(spool.iterdir()) == []


def test_a_page_short_of_its_announced_rows_never_yields_its_last_chunk(
        org: FakeSalesforceOrg, spool: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 120)
    announce_one_more(org, times=1)
    got: list[int] = []

    with pytest.raises(TransientError, match=r"bulk query Lead: a result page held 300 of "
                                             r"its 301 rows \(cut short\)"):
        for batch in connector(org, bulk_threshold=0).read("leads", None):
            got.append(len(batch.records))

    assert got == [120, 120]  # the last 60 rows are held back, never stored
    assert list(spool.iterdir()) == []


def test_a_sync_through_a_short_page_stores_every_row_once(
        org: FakeSalesforceOrg, spool: Path, sqlite_store: Store,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 120)
    announce_one_more(org, times=1)
    c = connector(org, bulk_threshold=0)

    (result,) = SyncEngine(sqlite_store, c, sleep=lambda s: None).run(["leads"])

    assert result.status == "success"
    assert len(table_rows(sqlite_store, "leads", "remote_id")) == LEADS
    assert "held 300 of its 301 rows" in caplog.text  # a retry from the cursor (240 rows)
    assert c.api_calls.by_endpoint["POST /jobs/query"] == 1  # the last 60 rows through REST
    # the resumed full read asks getDeleted from when the read began, without a warning
    (deleted,) = [r for r in org.requests if r.path.endswith("/Lead/deleted/")]
    began = dt.datetime.fromisoformat(deleted.query["start"].replace("Z", "+00:00"))
    assert dt.datetime.now(dt.timezone.utc) - began < dt.timedelta(minutes=2)
    assert "cannot be read" not in caplog.text


def test_a_new_login_goes_on_with_the_same_job(org: FakeSalesforceOrg, spool: Path,
                                               sqlite_store: Store,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmsync_salesforce.reader.BULK_PAGE_SIZE", 100)
    c = connector(org, instance_url="", session_id="", username="integration@example.com",
                  password="s3cret", security_token="TOKEN123", login_url=org.instance_url,
                  bulk_threshold=0)
    org.org.faults.add(lambda req: req.path.endswith("/results"), error="INVALID_SESSION_ID",
                       after=1)  # the second page

    (result,) = SyncEngine(sqlite_store, c, sleep=lambda s: None).run(["leads"])

    assert result.status == "success"
    assert len(table_rows(sqlite_store, "leads", "remote_id")) == LEADS
    assert c.api_calls.by_endpoint["POST /Soap/u (login)"] == 2
    assert c.api_calls.by_endpoint["POST /jobs/query"] == 1
    locators = [p.get("locator") for p in result_requests(org)]
    assert len(locators) == 4 and locators[0] is None and locators[1] == locators[2] \
        and None not in locators[1:]  # page 2 asked twice, with the new session, then 3


def test_a_page_that_cannot_be_written_names_the_directory(
        org: FakeSalesforceOrg, spool: Path) -> None:
    c = connector(org, bulk_threshold=0)
    ignored = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limits[1]))
    try:
        with pytest.raises(ConnectorError) as caught:
            leads(c)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, ignored)

    message = str(caught.value)
    assert f"bulk query Lead: cannot write a result page to the temporary directory {spool}" \
        in message and "TMPDIR" in message
    assert list(spool.iterdir()) == []


def announce_one_more(fake: FakeSalesforceOrg, *, times: int) -> None:
    """The fake's next ``times`` result pages announce one row more than they hold."""
    real = fake.bulk.results
    left = [times]

    def results(job_id: str, locator: str | None, max_records: int | None
                ) -> tuple[bytes, dict[str, str]]:
        body, headers = real(job_id, locator, max_records)
        if left[0]:
            left[0] -= 1
            headers = {**headers, "Sforce-NumberOfRecords":
                       str(int(headers["Sforce-NumberOfRecords"]) + 1)}
        return body, headers

    fake.bulk.results = results  # type: ignore[method-assign]
