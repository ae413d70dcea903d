"""Run locks across real processes, on SQLite and PostgreSQL (crmsync.store.locks)."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import make_config, table_rows
from crmsync import Batch, Connector, api
from crmsync.cli import cli
from crmsync.cli.state import EXIT_LOCKED
from crmsync.core.reports import LOCKED
from crmsync.core.schema import run_locks
from crmsync.store import Store
from crmsync.store.locks import (
    LockLost,
    RunLocked,
    advisory_key,
    job_lock_name,
    run_lock,
    sync_lock_name,
)
from crmsync.sync import SyncEngine

HOLDER = textwrap.dedent("""
    import sys, time
    from crmsync.store.locks import run_lock
    from crmsync.store import Store
    url, name, ttl, hold = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    store = Store(url)
    with run_lock(store, name, ttl=ttl, owner=sys.argv[5] or None):
        print("held", flush=True)
        time.sleep(hold)
    print("released", flush=True)
""")


class Holder:
    """A child process holding a run lock."""

    def __init__(self, url: str, name: str, *, ttl: float = 60, hold: float = 600,
                 owner: str = "holder-proc") -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, url, name, str(ttl),
                                      str(hold), owner], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "held", f"holder did not take the lock: {line!r}"

    def kill(self) -> None:
        """Crash the holder: no release, no cleanup."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def finish(self) -> str:
        """Wait for the holder to release and exit; its last line."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read().strip()
        self.proc.wait(timeout=60)
        return out


@pytest.fixture
def holder(store: Store) -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for h in started:
        if h.proc.poll() is None:
            h.kill()


def test_advisory_key_is_stable_and_signed_64_bit() -> None:
    key = advisory_key("public", "sync:crm:deals")

    assert key == advisory_key("public", "sync:crm:deals")
    assert -2**63 <= key < 2**63
    assert key != advisory_key("other_schema", "sync:crm:deals")


def test_a_held_lock_is_refused_naming_its_holder(store: Store, holder: list[Holder]) -> None:
    holder.append(Holder(store.url, "sync:crm:deals"))

    with pytest.raises(RunLocked) as caught, run_lock(store, "sync:crm:deals"):
        pass

    assert "sync:crm:deals" in str(caught.value)
    assert "holder-proc" in caught.value.holder


def test_other_names_are_not_blocked(store: Store, holder: list[Holder]) -> None:
    holder.append(Holder(store.url, "sync:crm:deals"))

    with run_lock(store, "sync:crm:contacts") as info:
        assert info.name == "sync:crm:contacts"


def test_a_waiting_taker_gets_the_lock_once_the_holder_releases(
        store: Store, holder: list[Holder]) -> None:
    h = Holder(store.url, "sync:crm:deals", hold=1.0)
    holder.append(h)

    with run_lock(store, "sync:crm:deals", wait=60) as info:
        assert info.owner != "holder-proc"
    assert h.finish() == "released"


def test_a_crashed_holders_lock_is_taken_over(store: Store, holder: list[Holder]) -> None:
    h = Holder(store.url, "sync:crm:deals", ttl=1.0)
    holder.append(h)
    h.kill()

    # PostgreSQL frees it when the dead session ends; SQLite once the heartbeat-less row expires.
    with run_lock(store, "sync:crm:deals", wait=60) as info:
        assert info.name == "sync:crm:deals"


def test_a_dead_local_holders_lock_is_taken_over_before_it_expires(
        sqlite_store: Store, holder: list[Holder]) -> None:
    h = Holder(sqlite_store.url, "sync:crm:deals", ttl=3600, owner="")  # host:pid:random
    holder.append(h)
    h.kill()

    with run_lock(sqlite_store, "sync:crm:deals", wait=0) as info:
        assert info.name == "sync:crm:deals"


def test_an_in_memory_store_needs_no_lock_rows() -> None:
    memory = Store("sqlite://")
    try:
        with run_lock(memory, "sync:crm:deals") as info:
            assert info.name == "sync:crm:deals"
            with memory.engine.connect() as conn:
                assert conn.exec_driver_sql("select count(*) from run_locks").scalar() == 0
    finally:
        memory.dispose()


def test_a_released_lock_can_be_taken_again(store: Store) -> None:
    with run_lock(store, "job:nightly"):
        pass

    with run_lock(store, "job:nightly") as info:
        assert info.name == "job:nightly"


def test_the_heartbeat_keeps_a_long_run_locked_past_its_ttl(sqlite_store: Store,
                                                          holder: list[Holder]) -> None:
    # A 2 s TTL (a heartbeat every 0.67 s) leaves room for a starved CI worker; waiting three
    # TTLs proves the heartbeat: without it the lock would have expired and been taken.
    holder.append(Holder(sqlite_store.url, "sync:crm:deals", ttl=2.0))

    with pytest.raises(RunLocked), run_lock(sqlite_store, "sync:crm:deals", wait=6.0):
        pass


# -- wired into sync ------------------------------------------------------------------------------


@pytest.fixture
def files_config(store: Store, tmp_path: Path) -> object:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "accounts.csv").write_text("remote_id,name\na1,Acme\n", encoding="utf-8")
    (folder / "opportunities.csv").write_text("remote_id,name,amount,status\nd1,Big,10,open\n",
                                              encoding="utf-8")
    return make_config(store.url, crm={"type": "files", "path": str(folder)})


def test_sync_reports_a_locked_entity_and_syncs_the_others(store: Store, files_config: object,
                                                           registry: object,
                                                           holder: list[Holder]) -> None:
    holder.append(Holder(store.url, sync_lock_name("crm", "opportunities")))

    report = api.sync(files_config, registry, ["crm"], entities=["accounts", "opportunities"],
                      store=store)

    by_entity = {d.entity: d.status for d in report.details}
    assert by_entity == {"accounts": "success", "opportunities": LOCKED}
    assert report.status == LOCKED
    assert "holder-proc" in report.error


def test_cli_sync_of_a_locked_target_exits_4_naming_target_and_holder(
        store: Store, tmp_path: Path, holder: list[Holder]) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "opportunities.csv").write_text("remote_id,name\nd1,Big\n", encoding="utf-8")
    toml = tmp_path / "crmsync.toml"
    toml.write_text(f'[store]\nurl = "{store.url}"\n[connections.crm]\ntype = "files"\n'
                    f'path = "{folder}"\n', encoding="utf-8")
    holder.append(Holder(store.url, sync_lock_name("crm", "opportunities")))

    result = CliRunner().invoke(cli, ["--config", str(toml), "sync", "crm", "--entity",
                                      "opportunities", "--wait", "0.5"])

    assert result.exit_code == EXIT_LOCKED, result.output
    assert "sync:crm:opportunities is locked by holder-proc" in result.output


def test_sync_waits_for_a_lock_released_within_wait(store: Store, files_config: object,
                                                    registry: object,
                                                    holder: list[Holder]) -> None:
    holder.append(Holder(store.url, sync_lock_name("crm", "opportunities"), hold=1.0))

    report = api.sync(files_config, registry, ["crm"], entities=["opportunities"], store=store,
                      wait=60)

    assert report.status == "success"


def test_no_lock_row_is_left_behind_after_a_sync(sqlite_store: Store, tmp_path: Path,
                                                 registry: object) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "opportunities.csv").write_text("remote_id,name\nd1,Big\n", encoding="utf-8")
    config = make_config(sqlite_store.url, crm={"type": "files", "path": str(folder)})

    api.sync(config, registry, ["crm"], entities=["opportunities"], store=sqlite_store)

    assert table_rows(sqlite_store, "run_locks") == []





# -- a lock lost mid-run --------------------------------------------------------------------------


def steal(store: Store, name: str, thief: str = "thief-proc") -> None:
    """What a stalled holder suffers: its row expired and another holder took it (from
    another thread, as another process would)."""

    def take() -> None:
        with store.engine.begin() as conn:
            conn.execute(sa.delete(run_locks).where(run_locks.c.name == name))
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
            conn.execute(sa.insert(run_locks).values(name=name, owner=thief, acquired_at=now,
                                                     heartbeat_at=now,
                                                     expires_at=now + dt.timedelta(hours=1)))

    thief_thread = threading.Thread(target=take)
    thief_thread.start()
    thief_thread.join()


class StolenMidRun(Connector):
    """Two pages of accounts; between them the run's lock is lost to another holder and the
    heartbeat has time to notice."""

    NAME = "stolen"
    ENTITIES = ("accounts",)

    def __init__(self, name: str, settings: dict[str, object], store: Store, lock: str,
                 ttl: float) -> None:
        super().__init__(name, settings)
        self.store, self.lock, self.ttl = store, lock, ttl

    def read(self, entity: str, cursor: object) -> Iterator[Batch]:
        yield Batch(records=[{"remote_id": "a1", "name": "Before"}], cursor={"page": 1})
        steal(self.store, self.lock)
        time.sleep(self.ttl)  # several heartbeats
        yield Batch(records=[{"remote_id": "a2", "name": "After"}], cursor={"page": 2})


def test_the_heartbeat_notices_a_lost_lock(sqlite_store: Store,
                                           caplog: pytest.LogCaptureFixture) -> None:
    name = sync_lock_name("crm", "accounts")

    with caplog.at_level(logging.ERROR, logger="crmsync.store.locks"), \
            run_lock(sqlite_store, name, ttl=0.3):
        steal(sqlite_store, name)
        time.sleep(0.5)

    assert any("lost" in r.getMessage() for r in caplog.records)
    assert table_rows(sqlite_store, "run_locks", "owner") == [("thief-proc",)], \
        "releasing a lost lock must not delete the new holder's row"


def test_a_run_whose_lock_is_lost_stops_writing_and_reports_it(sqlite_store: Store) -> None:
    name = sync_lock_name("crm", "accounts")
    ttl = 0.6
    connector = StolenMidRun("crm", {}, sqlite_store, name, ttl)
    engine = SyncEngine(sqlite_store, connector,
                        lock=lambda entity: run_lock(sqlite_store, name, ttl=ttl))

    with pytest.raises(LockLost) as caught:
        engine.run(["accounts"])

    assert table_rows(sqlite_store, "accounts", "remote_id") == [("a1",)], \
        "a page read after the lock was lost was committed"
    assert table_rows(sqlite_store, "sync_state", "cursor") == [({"page": 1},)]
    assert "thief-proc" in str(caught.value)
    assert table_rows(sqlite_store, "run_locks", "owner") == [("thief-proc",)]


def test_a_lost_lock_is_caught_at_commit_even_before_the_heartbeat_notices(
        sqlite_store: Store) -> None:
    name = job_lock_name("nightly")

    with run_lock(sqlite_store, name, ttl=3600):  # the heartbeat would not beat for 20 min
        steal(sqlite_store, name)
        with pytest.raises(LockLost), sqlite_store.engine.begin() as conn:
            conn.execute(sa.insert(run_locks).values(
                name="unrelated", owner="me", acquired_at=dt.datetime(2026, 1, 1),
                heartbeat_at=dt.datetime(2026, 1, 1), expires_at=dt.datetime(2026, 1, 1)))

    assert table_rows(sqlite_store, "run_locks", "name") == [(name,)], \
        "the refused transaction was committed"


def test_other_threads_commit_while_a_lock_is_lost(sqlite_store: Store) -> None:
    name = job_lock_name("nightly")
    outcome: list[object] = []

    def other_work() -> None:
        try:
            with sqlite_store.engine.begin() as conn:
                conn.execute(sa.delete(run_locks).where(run_locks.c.name == "nothing"))
            outcome.append("committed")
        except Exception as exc:  # reported to the test thread
            outcome.append(exc)

    with run_lock(sqlite_store, name, ttl=3600):
        steal(sqlite_store, name)
        worker = threading.Thread(target=other_work)
        worker.start()
        worker.join()

    assert outcome == ["committed"]
