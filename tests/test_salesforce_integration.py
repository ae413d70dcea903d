"""The real Salesforce connector through ``crmsync sync`` against the local fake org.

Each test runs the whole stack — config with ``${ENV}`` secrets, the plugin registry, the
sync engine, the store (SQLite and PostgreSQL), simple-salesforce over HTTPS with the fake's
throwaway CA — and checks one behaviour of a sync: completeness, resume after a crash,
changes during a sync, deletes, quota stops, faults, REST vs Bulk, write-back.
REST pages are shrunk to 200 rows (Salesforce's minimum batchSize) so small orgs page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import make_config, table_rows
from crmsync import api
from crmsync.cli import cli
from crmsync.core.config import Config
from crmsync.core.errors import AuthError
from crmsync.core.reports import STOPPED_QUOTA, RunReport
from crmsync.core.schema import metadata, sync_runs
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import Dataset, make_id

SESSION_ENV = "SF_TEST_SESSION_ID"
#: The fake org's source objects per schema table (1:1 tables only).
ONE_TO_ONE = {"users": ("User",), "accounts": ("Account",), "contacts": ("Contact",),
              "leads": ("Lead",), "stages": ("OpportunityStage",),
              "opportunities": ("Opportunity",), "opportunity_stage_history":
              ("OpportunityHistory",), "opportunity_contacts": ("OpportunityContactRole",),
              "activities": ("Task", "Event")}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforceOrg]:
    """An org where most objects take several 200-row pages (600 history rows, 300 tasks)."""
    org = FakeSalesforceOrg.start(dataset=Dataset(opportunities=150, activities=450))
    monkeypatch.setenv(SESSION_ENV, org.session_id)
    monkeypatch.setattr("crmsync_salesforce.reader.REST_BATCH_SIZE", 200)
    try:
        yield org
    finally:
        org.stop()


def sf_config(store_url: str, fake: FakeSalesforceOrg, **settings: Any) -> Config:
    """A config with one connection ``sf`` on the fake org (session auth, secret from env)."""
    return make_config(store_url, sf={
        "type": "salesforce", "instance_url": fake.instance_url,
        "session_id": f"${{{SESSION_ENV}}}", "ca_bundle": fake.ca_bundle, **settings})


@pytest.fixture
def run_sync(store: Store, store_url: str, fake: FakeSalesforceOrg, registry: Registry
             ) -> Callable[..., RunReport]:
    """``run_sync(**settings)``: one ``crmsync sync`` of the fake org into ``store``."""
    def run(progress: Any = None, **settings: Any) -> RunReport:
        return api.sync(sf_config(store_url, fake, **settings), registry, store=store,
                        progress=progress)
    return run


def org_ids(fake: FakeSalesforceOrg, *objects: str, deleted: bool = False) -> set[str]:
    """Ids of the org's records of ``objects`` (soft-deleted ones only when asked)."""
    out = set()
    for obj in objects:
        table = fake.org.tables[obj]
        for _, ref in table.scan(None, None):
            rec = table.record(ref)
            if deleted or not rec.get("IsDeleted"):
                out.add(rec["Id"])
    return out


def stored_ids(store: Store, table: str) -> list[str]:
    """remote_ids of ``table`` (a list: duplicates would show)."""
    return [r[0] for r in table_rows(store, table, "remote_id")]


def entity_runs(store: Store, entity: str) -> list[tuple[str, int]]:
    """(status, rows_read) of each run of ``entity``, oldest first."""
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(sync_runs.c.status, sync_runs.c.rows_read)
            .where(sync_runs.c.entity == entity).order_by(sync_runs.c.id))]


def deleted_flag(store: Store, table: str, remote_id: str) -> bool:
    tbl = metadata.tables[table]
    with store.engine.connect() as conn:
        return bool(conn.execute(sa.select(tbl.c.is_deleted)
                                 .where(tbl.c.remote_id == remote_id)).scalar_one())


# -- a full sync -----------------------------------------------------------------------------

def test_a_full_sync_stores_every_entity(run_sync, store, fake):
    report = run_sync()

    assert report.status == "success", [(d.entity, d.status, d.error) for d in report.details]
    for table, objects in ONE_TO_ONE.items():
        assert sorted(stored_ids(store, table)) == sorted(org_ids(fake, *objects)), table
    assert stored_ids(store, "currency_rates")
    assert stored_ids(store, "pipelines")


def test_every_api_call_is_counted_in_the_run_log(run_sync, store, fake):
    fake.reset_calls()
    report = run_sync()

    assert sum(d.api_calls for d in report.details) == len(fake.calls)


# -- crash and resume ------------------------------------------------------------------------

def _interrupt_after(entity: str, rows: int, committed: list[int]
                     ) -> Callable[[str, str, int], None]:
    def progress(connection: str, name: str, read: int) -> None:
        if name == entity and read >= rows:
            committed.append(read)
            raise KeyboardInterrupt
    return progress


def test_a_sync_killed_mid_read_resumes_without_loss_or_duplicates(run_sync, store, fake):
    committed: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        run_sync(progress=_interrupt_after("opportunity_stage_history", 400, committed))
    kept = stored_ids(store, "opportunity_stage_history")

    report = run_sync()

    assert report.status == "success"
    assert len(kept) == committed[0] < 600  # the committed batches survived the crash
    ids = stored_ids(store, "opportunity_stage_history")
    assert sorted(ids) == sorted(org_ids(fake, "OpportunityHistory"))
    (first, _), (_, reread) = entity_runs(store, "opportunity_stage_history")
    assert first == "interrupted"
    assert reread < 600  # resumed from the committed cursor, not from the start


def test_a_sync_failing_mid_read_resumes_without_loss_or_duplicates(run_sync, store, fake):
    fake.org.faults.add(lambda r: "/query/" in r.path, error="INVALID_SESSION_ID", after=1)
    # The third page of some object fails: session auth cannot log in again. The connection
    # stops, reported (not raised): the entities it kept from syncing are "not started".
    failed = run_sync()
    assert failed.status == "failed"
    assert [isinstance(e, AuthError) for e in failed.connection_errors.values()] == [True]
    assert any((d.error or "").startswith("not started") for d in failed.details)

    report = run_sync()

    assert report.status == "success"
    for table, objects in ONE_TO_ONE.items():
        assert sorted(stored_ids(store, table)) == sorted(org_ids(fake, *objects)), table


# -- changes during a sync -------------------------------------------------------------------

def _late_commit_scenario(run_sync, fake) -> tuple[str, str]:
    """Sync once; meanwhile one task changes normally and another commits late: its
    SystemModstamp (set when its transaction began) is older than rows the sync already read."""
    normal, late = make_id("00T", 3), make_id("00T", 5)
    newest = fake.org.tables["Task"].last_key()  # where this sync's Task cursor ends

    def progress(connection: str, entity: str, read: int) -> None:
        if entity == "activities" and read == 200:
            fake.org.update("Task", normal, Subject="changed during the sync")
    run_sync(progress=progress)
    fake.org.update("Task", late, stamp=int(newest[0]) - 60, Subject="committed late")
    return normal, late


def _subject(store: Store, remote_id: str) -> str:
    tbl = metadata.tables["activities"]
    with store.engine.connect() as conn:
        return conn.execute(sa.select(tbl.c.subject).where(tbl.c.remote_id == remote_id)
                            ).scalar_one()


def test_changes_made_during_a_sync_are_read_by_the_next_one(run_sync, store, fake):
    normal, late = _late_commit_scenario(run_sync, fake)

    run_sync()

    assert _subject(store, normal) == "changed during the sync"
    assert _subject(store, late) == "committed late"


def test_the_lookback_is_what_catches_a_late_commit(run_sync, store, fake):
    _normal, late = _late_commit_scenario(run_sync, fake)

    run_sync(lookback_seconds=0)

    assert _subject(store, late) != "committed late"  # missed without the lookback


# -- deletes ---------------------------------------------------------------------------------

def test_a_soft_delete_is_read_through_query_all(run_sync, store, fake):
    run_sync()
    gone = make_id("003", 4)
    fake.org.delete("Contact", gone)

    run_sync()

    assert deleted_flag(store, "contacts", gone)


def test_a_hard_delete_is_read_through_get_deleted(run_sync, store, fake):
    run_sync()
    gone = make_id("00Q", 6)
    fake.org.delete("Lead", gone, hard=True)

    run_sync()

    assert deleted_flag(store, "leads", gone)
    assert any(path.endswith("/sobjects/Lead/deleted") or "/sobjects/Lead/deleted" in path
               for _, path in fake.calls)


def test_a_merge_points_every_stored_reference_at_the_survivor(run_sync, store, fake):
    run_sync()
    loser = min(i for i in _contact_ids(store, "opportunity_contacts") if i)
    survivor = min(set(stored_ids(store, "contacts")) - {loser})
    fake.org.merge("Contact", survivor, [loser])  # the loser: recycle bin, MasterRecordId

    run_sync()

    assert deleted_flag(store, "contacts", loser) and not deleted_flag(store, "contacts",
                                                                       survivor)
    for table in ("opportunity_contacts", "activities"):
        assert loser not in _contact_ids(store, table), table
    assert survivor in _contact_ids(store, "opportunity_contacts")


def _contact_ids(store: Store, table: str) -> set[str | None]:
    tbl = metadata.tables[table]
    with store.engine.connect() as conn:
        return set(conn.execute(sa.select(tbl.c.contact_id)).scalars())


# -- the API quota ---------------------------------------------------------------------------

def test_a_spent_quota_stops_cleanly_and_the_next_run_resumes(run_sync, store, fake):
    def others_use_the_quota(req: Any) -> bool:
        """Other clients spend the quota while the first stage-history page is served:
        its answer reports it (a predicate that never answers with a fault)."""
        if "FROM OpportunityHistory" in req.query.get("q", ""):
            fake.org.api_used = int(fake.org.api_max * 0.95)  # past quota_total_percent (90)
        return False

    fake.org.faults.add(others_use_the_quota, times=None)
    stopped = run_sync()
    fake.org.faults.clear()
    fake.org.api_used = 0  # the next day
    resumed = run_sync()

    assert stopped.status == STOPPED_QUOTA
    assert [d.status for d in stopped.details][:3] == ["success"] * 3  # finished ones kept
    (_, first), (_, second) = entity_runs(store, "opportunity_stage_history")
    assert 0 < first < 600  # stopped between pages, the committed ones kept
    assert resumed.status == "success"
    assert second < 600  # resumed from the cursor: starting over reads all 600 rows again
    for table, objects in ONE_TO_ONE.items():
        assert sorted(stored_ids(store, table)) == sorted(org_ids(fake, *objects)), table


def test_request_limit_exceeded_stops_the_run_with_committed_pages_kept(run_sync, store, fake):
    fake.org.api_max = 10  # the org itself refuses the 11th request with a 403

    stopped = run_sync(quota_run_percent=100, quota_total_percent=100)

    assert stopped.status == STOPPED_QUOTA
    assert fake.org.api_used == 10
    assert any(d.rows_upserted for d in stopped.details)


# -- faults ----------------------------------------------------------------------------------

def test_a_503_is_retried_and_the_sync_succeeds(run_sync, store, fake):
    fake.org.faults.add(lambda r: r.path.endswith("/queryAll") and "Lead" in
                        r.query.get("q", ""), status=503)

    report = run_sync()

    assert report.status == "success"
    assert sorted(stored_ids(store, "leads")) == sorted(org_ids(fake, "Lead"))
    assert [s for s, _ in entity_runs(store, "leads")] == ["success"]


def test_an_invalid_session_with_session_auth_is_one_clear_error(fake, tmp_path, monkeypatch):
    config = tmp_path / "crmsync.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n'
                      f'[connections.sf]\ntype = "salesforce"\n'
                      f'instance_url = "{fake.instance_url}"\n'
                      f'session_id = "${{{SESSION_ENV}}}"\nca_bundle = "{fake.ca_bundle}"\n')
    fake.org.expire_sessions()

    result = CliRunner().invoke(cli, ["--config", str(config), "sync"])

    assert result.exit_code != 0
    assert "INVALID_SESSION_ID" in result.output and "session_id" in result.output
    assert len(result.output.strip().splitlines()) == 1  # one line, no traceback
    assert fake.session_id not in result.output


# -- REST and Bulk ---------------------------------------------------------------------------

def test_rest_and_bulk_paths_store_identical_rows(fake, registry, tmp_path):
    stores = {}
    for path, threshold in (("rest", 10**9), ("bulk", 0)):
        url = f"sqlite:///{tmp_path / path}.db"
        stores[path] = Store(url)
        report = api.sync(sf_config(url, fake, bulk_threshold=threshold), registry,
                          store=stores[path])
        assert report.status == "success"
    try:
        assert any("/jobs/query" in path for _, path in fake.calls)
        for table in ONE_TO_ONE:
            assert table_rows(stores["rest"], table) == table_rows(stores["bulk"], table), table
    finally:
        for s in stores.values():
            s.dispose()


# -- write-back ------------------------------------------------------------------------------

FIELD = "Crmsync_Days_In_Current_Stage__c"  # Salesforce matches API names in any case


def writeback_config(tmp_path: Path, store_url: str, fake: FakeSalesforceOrg,
                     **settings: Any) -> Config:
    """crmsync.toml: the fake org plus one ``[[writeback]]`` mapping creating its field."""
    extra = "".join(f"{k} = {v!r}\n" for k, v in settings.items())
    path = tmp_path / "crmsync.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n[connections.sf]\ntype = "salesforce"\n'
        f'instance_url = "{fake.instance_url}"\nsession_id = "${{{SESSION_ENV}}}"\n'
        f'ca_bundle = "{fake.ca_bundle}"\n{extra}'
        '[[writeback]]\nmetric = "days_in_current_stage"\nconnection = "sf"\n'
        'object = "opportunity"\ncreate_field = true\n')
    return api.load_config(path)


def open_deals(fake: FakeSalesforceOrg) -> set[str]:
    return {rid for rid in org_ids(fake, "Opportunity")
            if not fake.org.get("Opportunity", rid)["IsClosed"]}


def written(fake: FakeSalesforceOrg) -> dict[str, Any]:
    """Opportunity Id → the write-back field's value, where set."""
    out: dict[str, Any] = {}
    field = fake.org.tables["Opportunity"].field(FIELD)
    if field is None:
        return out
    for rid in org_ids(fake, "Opportunity"):
        value = fake.org.get("Opportunity", rid).get(field.name)
        if value is not None:
            out[rid] = value
    return out


def test_crmsync_run_creates_the_field_and_writes_through_collections(
        fake, store, store_url, registry, tmp_path):
    locked = sorted(open_deals(fake))[0]
    fake.org.record_faults.add(locked, "UNABLE_TO_LOCK_ROW")  # once: sent again

    result = api.run(writeback_config(tmp_path, store_url, fake), registry, store=store)

    assert result.ok, result.writeback
    assert any(p.startswith("/services/Soap/m/") for _, p in fake.calls)  # createMetadata
    assert any(p.endswith("/composite/sobjects") for _, p in fake.calls)
    assert fake.org.tables["Opportunity"].field(FIELD) is not None
    assert set(written(fake)) >= open_deals(fake)  # every open deal has its days in stage


def test_a_large_write_back_goes_through_a_bulk_ingest_job(fake, store, store_url, registry,
                                                           tmp_path):
    refused = sorted(open_deals(fake))[1]
    fake.org.record_faults.add(refused, "FIELD_CUSTOM_VALIDATION_EXCEPTION", times=None)

    result = api.run(writeback_config(tmp_path, store_url, fake, bulk_threshold=10), registry,
                     store=store)

    assert any(p.endswith("/jobs/ingest") for _, p in fake.calls)
    assert not any(p.endswith("/composite/sobjects") for _, p in fake.calls)
    assert set(written(fake)) >= open_deals(fake) - {refused}
    assert refused not in written(fake)
    assert result.writeback is not None and not result.writeback.ok  # the refusal is reported
