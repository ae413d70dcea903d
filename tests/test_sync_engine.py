"""The sync engine: batches, cursors, rejects, deletes, failures (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from conftest import table_rows
from crmsync import (
    Batch,
    ConfigError,
    Connector,
    ConnectorError,
    Deletion,
    Quota,
    QuotaExhausted,
    RateLimited,
    RecordError,
    Reject,
    Setting,
    TransientError,
)
from crmsync.core.redact import Redactor
from crmsync.core.retry import RetryPolicy
from crmsync.core.schema import sync_rejects, sync_runs, sync_state
from crmsync.sync import SyncEngine

T0 = dt.datetime(2026, 1, 1, 9, 0)


def account(i: int, **extra: Any) -> dict[str, Any]:
    return {"remote_id": f"A{i:03d}", "name": f"Account {i}",
            "remote_updated_at": T0 + dt.timedelta(minutes=i), **extra}


class PagedConnector(Connector):
    """Serves ``pages`` (lists of Batch) per entity; the cursor is the page number."""

    NAME = "paged"
    ENTITIES = ("accounts", "opportunities")
    SETTINGS: ClassVar[Mapping[str, Setting]] = {
        "token": Setting(str, "API token", default="", secret=True)}

    def __init__(self, name: str, settings: dict[str, Any],
                 pages: dict[str, list[Batch]] | None = None, fail_after: int | None = None
                 ) -> None:
        super().__init__(name, settings)
        self.pages = pages or {}
        self.fail_after = fail_after
        self.cursors_seen: list[Any] = []

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        self.cursors_seen.append(cursor)
        start = cursor["page"] if cursor else 0
        for n, page in enumerate(self.pages.get(entity, [])[start:], start=start):
            if self.fail_after is not None and n >= self.fail_after:
                raise ConnectorError("HTTP 503 from upstream", connection=self.name,
                                     entity=entity)
            self.api_calls.count("GET /accounts")
            yield Batch(records=page.records, deleted=page.deleted, rejects=page.rejects,
                        sources=page.sources, cursor={"page": n + 1})


def three_pages() -> dict[str, list[Batch]]:
    return {"accounts": [Batch(records=[account(i) for i in range(p * 10, p * 10 + 10)])
                         for p in range(3)]}


def engine_for(store, pages, **kw) -> tuple[SyncEngine, PagedConnector]:
    conn = PagedConnector("crm", {"token": "s3cr3t-token-value"}, pages, **kw)
    return SyncEngine(store, conn, redactor=Redactor(["s3cr3t-token-value"])), conn


def test_every_batch_lands_with_its_cursor(store):
    engine, _ = engine_for(store, three_pages())
    [result] = engine.run(["accounts"])
    assert (result.status, result.rows_upserted, result.batches) == ("success", 30, 3)
    assert len(table_rows(store, "accounts", "remote_id")) == 30
    with store.engine.connect() as c:
        assert c.execute(sa.select(sync_state.c.cursor)).scalar_one() == {"page": 3}
        run = c.execute(sa.select(sync_runs)).mappings().one()
    assert (run["status"], run["rows_upserted"], run["api_calls"]) == ("success", 30, 3)
    assert run["api_calls_by_endpoint"] == {"GET /accounts": 3}


def test_rerun_resumes_from_the_committed_cursor(store):
    engine, _ = engine_for(store, three_pages(), fail_after=2)
    [first] = engine.run(["accounts"])
    assert first.status == "failed" and "503" in first.error
    assert len(table_rows(store, "accounts", "remote_id")) == 20  # two committed pages kept
    engine, conn = engine_for(store, three_pages())
    [second] = engine.run(["accounts"])
    assert conn.cursors_seen == [{"page": 2}]
    assert second.rows_read == 10
    assert len(table_rows(store, "accounts", "remote_id")) == 30


def test_full_refresh_ignores_the_cursor(store):
    engine_for(store, three_pages())[0].run(["accounts"])
    engine, conn = engine_for(store, three_pages())
    engine.run(["accounts"], full=True)
    assert conn.cursors_seen == [None]


def test_upsert_updates_existing_rows_instead_of_duplicating(store):
    engine_for(store, three_pages())[0].run(["accounts"])
    changed = {"accounts": [Batch(records=[account(5, name="Renamed", industry="Retail")])]}
    engine_for(store, changed)[0].run(["accounts"], full=True)
    rows = dict(table_rows(store, "accounts", "remote_id", "name"))
    assert len(rows) == 30 and rows["A005"] == "Renamed"


def test_bad_records_are_rejected_and_good_ones_land(store):
    page = Batch(
        records=[account(1), {"remote_id": "A002", "employee_count": "many"},
                 {"name": "no id"}, account(4, is_deleted="perhaps"), account(5)],
        sources=["l1", "l2", "l3", "l4", "l5"])
    engine, _ = engine_for(store, {"accounts": [page]})
    [result] = engine.run(["accounts"])
    assert result.status == "success" and result.rejects == 3
    assert table_rows(store, "accounts", "remote_id") == [("A001",), ("A005",)]
    with store.engine.connect() as c:
        rejects = c.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.source,
                                      sync_rejects.c.field, sync_rejects.c.reason)
                            .order_by(sync_rejects.c.source)).all()
    assert [(r.remote_id, r.source, r.field) for r in rejects] == [
        ("A002", "l2", "employee_count"), (None, "l3", "remote_id"), ("A004", "l4", "is_deleted")]
    assert "not an integer: 'many'" in rejects[0].reason


def test_connector_rejects_are_kept_with_secrets_removed(store):
    raw = {"Id": "X1", "Name": "Bad", "Authorization": "Bearer abc", "note": "s3cr3t-token-value"}
    page = Batch(records=[account(1)],
                 rejects=[Reject("cannot map stage", remote_id="X1", field="StageName",
                                 payload=raw)])
    engine, _ = engine_for(store, {"accounts": [page]})
    [result] = engine.run(["accounts"])
    assert result.rejects == 1
    with store.engine.connect() as c:
        payload = c.execute(sa.select(sync_rejects.c.payload)).scalar_one()
    assert payload == {"Id": "X1", "Name": "Bad", "Authorization": "***", "note": "***"}


def test_deletions_mark_rows_deleted(store):
    engine_for(store, three_pages())[0].run(["accounts"])
    when = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.timezone.utc)
    page = Batch(deleted=[Deletion("A001", when), Deletion("A002"), Deletion("NEVER-SEEN")])
    [result] = engine_for(store, {"accounts": [page]})[0].run(["accounts"], full=True)
    assert result.rows_deleted == 2
    rows = {r[0]: r[1:] for r in table_rows(store, "accounts", "remote_id", "is_deleted",
                                            "deleted_at")}
    assert rows["A001"] == (True, dt.datetime(2026, 2, 1, 12, 0))
    assert rows["A002"][0] is True and rows["A002"][1] is not None
    assert rows["A003"] == (False, None)
    assert "NEVER-SEEN" not in rows


def test_the_last_version_of_a_record_in_one_batch_wins(store):
    page = Batch(records=[account(1, name="old"), account(1, name="new")])
    engine_for(store, {"accounts": [page]})[0].run(["accounts"])
    assert table_rows(store, "accounts", "remote_id", "name") == [("A001", "new")]


def test_connector_error_fails_the_entity_but_later_entities_still_sync(store):
    pages = three_pages()
    pages["opportunities"] = [Batch(records=[{"remote_id": "O1", "status": "open"}])]
    engine, _ = engine_for(store, pages, fail_after=1)
    results = engine.run()
    assert [(r.entity, r.status) for r in results] == [("accounts", "failed"),
                                                       ("opportunities", "success")]


def test_errors_never_carry_secrets(store):
    class Leaky(PagedConnector):
        def read(self, entity, cursor):
            raise ConnectorError("login failed for token s3cr3t-token-value")
            yield  # pragma: no cover

    conn = Leaky("crm", {"token": "s3cr3t-token-value"})
    [result] = SyncEngine(store, conn, redactor=Redactor(["s3cr3t-token-value"])).run(
        ["accounts"])
    assert "s3cr3t" not in result.error and "***" in result.error
    with store.engine.connect() as c:
        assert "s3cr3t" not in c.execute(sa.select(sync_runs.c.error)).scalar_one()


def test_a_bug_in_a_connector_is_recorded_as_its_entity_failing_not_raised(store):
    # docs/plugins.md, "Blast radius": a connector's bug fails its entity with one line.
    class Buggy(PagedConnector):
        def read(self, entity, cursor):
            raise ZeroDivisionError("oops")
            yield  # pragma: no cover

    [result] = SyncEngine(store, Buggy("crm", {})).run(["accounts"])
    assert result.status == "failed"
    assert "crm/accounts: connector" in result.error
    assert "ZeroDivisionError: oops" in result.error
    with store.engine.connect() as c:
        assert c.execute(sa.select(sync_runs.c.status)).scalar_one() == "failed"


def test_a_run_left_running_by_a_killed_process_is_marked_abandoned(store):
    with store.engine.begin() as c:
        c.execute(sa.insert(sync_runs).values(connection="crm", entity="accounts",
                                              started_at=T0, status="running"))
    engine_for(store, three_pages())[0].run(["accounts"])
    with store.engine.connect() as c:
        statuses = c.execute(sa.select(sync_runs.c.status).order_by(sync_runs.c.id)).scalars()
        assert list(statuses) == ["abandoned", "success"]


def test_an_entity_the_connector_does_not_read_is_a_clear_error(store):
    engine, _ = engine_for(store, {})
    with pytest.raises(ConnectorError, match="does not read leads"):
        engine.run(["leads"])


def test_timezone_aware_timestamps_are_stored_as_utc(store):
    aware = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    page = Batch(records=[account(1, remote_created_at=aware,
                                  remote_updated_at="2026-03-01T10:00:00Z")])
    engine_for(store, {"accounts": [page]})[0].run(["accounts"])
    assert table_rows(store, "accounts", "remote_created_at", "remote_updated_at") == [
        (dt.datetime(2026, 3, 1, 8, 0), dt.datetime(2026, 3, 1, 10, 0))]


class FlakyConnector(PagedConnector):
    """Raises ``errors`` in turn, each just before the page it is keyed by."""

    def __init__(self, pages, errors: dict[int, list[Exception]]) -> None:
        super().__init__("crm", {}, pages)
        self.errors = {k: list(v) for k, v in errors.items()}

    def read(self, entity, cursor):
        self.cursors_seen.append(cursor)
        start = cursor["page"] if cursor else 0
        for n, page in enumerate(self.pages[entity][start:], start=start):
            if self.errors.get(n):
                raise self.errors[n].pop(0)
            yield Batch(records=page.records, cursor={"page": n + 1})


def ten_pages() -> dict[str, list[Batch]]:
    return {"accounts": [Batch(records=[account(p * 3 + i) for i in range(3)])
                         for p in range(10)]}


def test_a_rate_limit_waits_retry_after_then_resumes_from_the_committed_cursor(store):
    conn = FlakyConnector(ten_pages(), {2: [RateLimited(retry_after=7)]})
    sleeps: list[float] = []
    [result] = SyncEngine(store, conn, sleep=sleeps.append).run(["accounts"])
    assert result.status == "success" and sleeps == [7.0]
    assert conn.cursors_seen == [None, {"page": 2}]
    assert result.rows_read == 30 and len(table_rows(store, "accounts", "remote_id")) == 30


def test_transient_errors_without_progress_give_up_after_the_policy_attempts(store):
    conn = FlakyConnector(ten_pages(), {4: [TransientError("HTTP 503")] * 10})
    sleeps: list[float] = []
    [result] = SyncEngine(store, conn, sleep=sleeps.append,
                          retry=RetryPolicy(attempts=3, initial_wait=1, max_wait=8)
                          ).run(["accounts"])
    assert result.status == "failed" and "503" in result.error
    assert len(sleeps) == 2 and all(0 < s <= 8 for s in sleeps)
    assert len(table_rows(store, "accounts", "remote_id")) == 12  # the four committed pages


def test_progress_between_failures_resets_the_attempt_budget(store):
    errors = {p: [TransientError("HTTP 502")] for p in range(1, 10)}  # one failure every page
    conn = FlakyConnector(ten_pages(), errors)
    [result] = SyncEngine(store, conn, sleep=lambda s: None,
                          retry=RetryPolicy(attempts=2)).run(["accounts"])
    assert result.status == "success" and result.rows_read == 30


def test_a_retry_after_longer_than_the_policy_allows_fails_without_sleeping(store):
    conn = FlakyConnector(ten_pages(), {0: [RateLimited(retry_after=86_400)]})
    sleeps: list[float] = []
    [result] = SyncEngine(store, conn, sleep=sleeps.append).run(["accounts"])
    assert result.status == "failed" and sleeps == []


def test_a_configuration_error_stops_the_connection_and_is_raised(store):
    class Misconfigured(PagedConnector):
        def read(self, entity, cursor):
            raise ConfigError("folder /nope does not exist", section="connections.crm",
                              key="path")
            yield  # pragma: no cover

    with pytest.raises(ConfigError, match="does not exist"):
        SyncEngine(store, Misconfigured("crm", {})).run()
    with store.engine.connect() as c:
        runs = c.execute(sa.select(sync_runs.c.entity, sync_runs.c.status)).all()
    assert [tuple(r) for r in runs] == [("accounts", "failed")]  # opportunities never started


def test_a_quota_stop_keeps_committed_pages_and_is_not_a_failure(store):
    pages = {**ten_pages(), "opportunities": []}
    conn = FlakyConnector(pages, {4: [QuotaExhausted("the run has used its 50% of the "
                                                     "remaining daily API requests")]})
    sleeps: list[float] = []
    first, second = SyncEngine(store, conn, sleep=sleeps.append).run()
    assert (first.status, first.rows_read) == ("stopped: api quota", 12)
    assert "50%" in first.error and sleeps == []  # never waited out
    assert second.status == "stopped: api quota" and "not started" in second.error
    with store.engine.connect() as c:
        runs = c.execute(sa.select(sync_runs.c.entity, sync_runs.c.status)).all()
        cursor = c.execute(sa.select(sync_state.c.cursor)).scalar_one()
    assert [tuple(r) for r in runs] == [("accounts", "stopped: api quota")]
    assert cursor == {"page": 4}
    assert len(table_rows(store, "accounts", "remote_id")) == 12


def test_the_sync_after_a_quota_stop_resumes_from_the_saved_cursor(store):
    conn = FlakyConnector(ten_pages(), {4: [QuotaExhausted("daily API budget spent")]})
    SyncEngine(store, conn).run(["accounts"])
    conn = FlakyConnector(ten_pages(), {})
    [result] = SyncEngine(store, conn).run(["accounts"])
    assert result.status == "success" and conn.cursors_seen == [{"page": 4}]
    assert len(table_rows(store, "accounts", "remote_id")) == 30


def test_each_run_records_the_crms_quota_as_the_connector_last_saw_it(store):
    class Metered(PagedConnector):
        def quota(self):
            return Quota(used=1200 + self.api_calls.total, limit=15000)

    conn = Metered("crm", {}, three_pages())
    SyncEngine(store, conn).run(["accounts"])
    with store.engine.connect() as c:
        run = c.execute(sa.select(sync_runs.c.quota_used, sync_runs.c.quota_limit)).one()
    assert tuple(run) == (1203, 15000)


def test_a_connector_without_a_quota_leaves_it_null(store):
    engine, _ = engine_for(store, three_pages())
    engine.run(["accounts"])
    with store.engine.connect() as c:
        run = c.execute(sa.select(sync_runs.c.quota_used, sync_runs.c.quota_limit)).one()
    assert tuple(run) == (None, None)


def test_entities_a_quota_stop_left_behind_start_the_next_run(store):
    def both():
        return {**ten_pages(), "opportunities": [Batch(records=[], cursor=None)]}

    SyncEngine(store, FlakyConnector(both(), {})).run()  # accounts, then opportunities
    stopped = FlakyConnector({"accounts": [], "opportunities": [Batch(records=[])] * 3},
                             {1: [QuotaExhausted("daily API budget spent")]})  # 1: the cursor
    first = SyncEngine(store, stopped).run()
    assert [(r.entity, r.status) for r in first] == [("accounts", "success"),
                                                     ("opportunities", "stopped: api quota")]
    second = SyncEngine(store, FlakyConnector(both(), {})).run()
    assert [r.entity for r in second] == ["opportunities", "accounts"]


def test_when_everything_succeeds_the_order_stays_the_connectors(store):
    pages = {**ten_pages(), "opportunities": []}
    for _ in range(3):
        results = SyncEngine(store, FlakyConnector(pages, {})).run()
        assert [r.entity for r in results] == ["accounts", "opportunities"]


def test_a_merge_points_every_reference_at_the_survivor(store):
    from conftest import load_records

    load_records(store, {
        "accounts": [{"remote_id": "A1", "name": "Acme"}, {"remote_id": "A2", "name": "ACME Inc"},
                     {"remote_id": "A3", "name": "Acme EU", "parent_id": "A2"}],
        "opportunities": [{"remote_id": "D1", "status": "open", "account_id": "A2"},
                          {"remote_id": "D2", "status": "won", "account_id": "A3"}],
        "activities": [{"remote_id": "T1", "type": "call", "account_id": "A2",
                        "occurred_at": "2026-01-02T10:00:00"}],
    })
    merged = {"accounts": [Batch(records=[], deleted=[Deletion("A2", merged_into="A1")])]}
    [result] = engine_for(store, merged)[0].run(["accounts"], full=True)

    assert result.rows_deleted == 1
    assert table_rows(store, "accounts", "remote_id", "parent_id", "is_deleted") == [
        ("A1", None, False), ("A2", None, True), ("A3", "A1", False)]
    assert table_rows(store, "opportunities", "remote_id", "account_id") == [
        ("D1", "A1"), ("D2", "A3")]
    assert table_rows(store, "activities", "account_id") == [("A1",)]


def test_a_merge_touches_only_its_own_connection(store):
    from conftest import load_records

    load_records(store, {"opportunities": [{"remote_id": "D1", "status": "open",
                                            "account_id": "A2"}]}, connection="other")
    merged = {"accounts": [Batch(records=[], deleted=[Deletion("A2", merged_into="A1")])]}
    engine_for(store, merged)[0].run(["accounts"], full=True)
    assert table_rows(store, "opportunities", "connection", "account_id") == [("other", "A2")]


def _to_account(raw: dict[str, Any]) -> dict[str, Any]:
    if not raw["name"]:
        raise RecordError("the CRM gave no name", entity="accounts", remote_id=raw["id"],
                          field="Name")
    return {"remote_id": raw["id"], "name": raw["name"]}


def test_batch_mapped_turns_a_record_error_into_a_reject_of_that_record():
    raws = [{"id": "A1", "name": "One"}, {"id": "A2", "name": ""}, {"id": "A3", "name": "3"}]
    batch = Batch.mapped(raws, _to_account, cursor={"page": 1}, sources=["#1", "#2", "#3"])
    assert [r["remote_id"] for r in batch.records] == ["A1", "A3"]
    assert batch.sources == ["#1", "#3"]  # still parallel to the records kept
    assert batch.rejects == [Reject("the CRM gave no name", remote_id="A2", field="Name",
                                    source="#2", payload=raws[1])]
    assert batch.cursor == {"page": 1}


def test_batch_mapped_lets_other_errors_through():
    def broken(raw: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("Name")  # a bug in the mapping is not a bad record

    with pytest.raises(KeyError):
        Batch.mapped([{"id": "A1"}], broken)


def test_a_record_error_while_mapping_rejects_the_record_and_keeps_the_batch(store):
    raws = [{"id": "A1", "name": "One"}, {"id": "A2", "name": ""}, {"id": "A3", "name": "3"}]
    pages = {"accounts": [Batch.mapped(raws, _to_account, sources=["p1 #1", "p1 #2", "p1 #3"])]}
    engine, _ = engine_for(store, pages)
    [result] = engine.run(["accounts"])
    assert (result.status, result.rows_upserted, result.rejects) == ("success", 2, 1)
    assert table_rows(store, "accounts", "remote_id") == [("A1",), ("A3",)]
    with store.engine.connect() as c:
        reject = c.execute(sa.select(sync_rejects.c.remote_id, sync_rejects.c.source,
                                     sync_rejects.c.field, sync_rejects.c.reason,
                                     sync_rejects.c.payload)).one()
        cursor = c.execute(sa.select(sync_state.c.cursor)).scalar_one()
    assert tuple(reject) == ("A2", "p1 #2", "Name", "the CRM gave no name",
                             {"id": "A2", "name": ""})
    assert cursor == {"page": 1}  # the batch committed, its cursor with it
