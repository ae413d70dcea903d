"""``crmsync scheduler``: due jobs run once, never overlap, and SIGTERM stops cleanly."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import make_config, table_rows
from crmsync.core.config import Config
from crmsync.core.schema import sync_runs
from crmsync.orchestration.jobs import Job, last_runs, record_run
from crmsync.orchestration.scheduler import Scheduler
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.locks import job_lock_name, run_lock

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
HOURLY = Job(name="hourly", cron="0 * * * *", task="sync", connections=("crm",),
             entities=("accounts",))


class Clock:
    """A settable clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def config(store: Store, tmp_path: Path) -> Config:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "accounts.csv").write_text("remote_id,name\na1,Acme\na2,Globex\n",
                                         encoding="utf-8")
    cfg = make_config(store.url, crm={"type": "files", "path": str(folder)})
    cfg.sections["schedule"] = {"hourly": HOURLY}
    return cfg


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


def make_scheduler(config: Config, registry: Registry, store: Store, clock: Clock,
                   **kwargs: object) -> Scheduler:
    return Scheduler(config, registry, store=store, clock=clock, **kwargs)


def test_nothing_runs_before_the_first_tick(config: Config, registry: Registry, store: Store,
                                            clock: Clock) -> None:
    sched = make_scheduler(config, registry, store, clock)
    clock.now = START + dt.timedelta(minutes=30)

    assert sched.tick() == []


def test_a_due_job_runs_and_its_start_is_recorded(config: Config, registry: Registry,
                                                  store: Store, clock: Clock) -> None:
    sched = make_scheduler(config, registry, store, clock)
    clock.now = dt.datetime(2026, 1, 5, 11, 0, 5, tzinfo=UTC)

    assert sched.tick() == ["hourly"]
    sched.join()

    assert table_rows(store, "accounts", "remote_id") == [("a1",), ("a2",)]
    assert last_runs(store) == {"hourly": clock.now}


def test_a_job_that_ran_waits_for_its_next_tick(config: Config, registry: Registry,
                                                store: Store, clock: Clock) -> None:
    sched = make_scheduler(config, registry, store, clock)
    clock.now = dt.datetime(2026, 1, 5, 11, 0, 5, tzinfo=UTC)
    sched.tick()
    sched.join()
    clock.now += dt.timedelta(minutes=59)

    assert sched.tick() == []


def test_a_job_missed_while_down_runs_once_at_start(config: Config, registry: Registry,
                                                    store: Store, clock: Clock) -> None:
    record_run(store, "hourly", START - dt.timedelta(days=2), "success")  # 48 ticks missed
    sched = make_scheduler(config, registry, store, clock)

    assert sched.tick() == ["hourly"]
    sched.join()
    assert sched.tick() == []


def test_a_running_job_is_never_started_again(config: Config, registry: Registry,
                                              store: Store, clock: Clock) -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow(job: Job) -> str:
        calls.append(job.name)
        release.wait(60)
        return "success"

    record_run(store, "hourly", START - dt.timedelta(hours=3), "success")
    sched = make_scheduler(config, registry, store, clock, execute=slow)
    sched.tick()
    clock.now += dt.timedelta(hours=2)  # due again while still running

    assert sched.tick() == []
    release.set()
    sched.join()
    assert calls == ["hourly"]


def test_a_job_another_scheduler_runs_is_skipped(config: Config, registry: Registry,
                                                 store: Store, clock: Clock) -> None:
    calls: list[str] = []
    record_run(store, "hourly", START - dt.timedelta(hours=3), "success")
    sched = make_scheduler(config, registry, store, clock,
                           execute=lambda job: calls.append(job.name) or "success")

    with run_lock(store, job_lock_name("hourly"), owner="other-scheduler"):
        sched.tick()
        sched.join()

    assert calls == []
    assert last_runs(store)["hourly"] == START - dt.timedelta(hours=3)
    assert sched.tick() == []  # not retried in a loop: it waits for its next tick


def test_every_start_and_finish_is_logged(config: Config, registry: Registry, store: Store,
                                          clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crmsync.orchestration.scheduler")
    record_run(store, "hourly", START - dt.timedelta(hours=3), "success")
    sched = make_scheduler(config, registry, store, clock)

    sched.tick()
    sched.join()

    records = [r for r in caplog.records if r.name == "crmsync.orchestration.scheduler"]
    assert records[0].getMessage() == "job hourly started (task sync)"
    assert records[1].getMessage().startswith("job hourly finished: success in ")
    # structured fields for --log-format json
    assert (records[1].job, records[1].task, records[1].status) == ("hourly", "sync", "success")


def test_a_failing_job_is_logged_and_recorded_as_failed(config: Config, registry: Registry,
                                                        store: Store, clock: Clock,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    config.sections["schedule"] = {"bad": Job(name="bad", cron="0 * * * *", task="sync",
                                  connections=("nope",))}
    caplog.set_level(logging.INFO, logger="crmsync.orchestration.scheduler")
    record_run(store, "bad", START - dt.timedelta(hours=3), "success")
    sched = make_scheduler(config, registry, store, clock)

    sched.tick()
    sched.join()

    assert "job bad failed: [connections]: no connection named 'nope'" in caplog.text
    assert "job bad finished: failed" in caplog.text
    assert last_runs(store)["bad"] == START


# -- the real process and SIGTERM -------------------------------------------------------------


def test_sigterm_finishes_the_batch_in_flight_commits_and_exits_0(sqlite_store: Store,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    rows = 40_000
    with open(folder / "accounts.csv", "w", encoding="utf-8") as f:
        f.write("remote_id,name\n")
        f.writelines(f"a{i},Account {i}\n" for i in range(rows))
    toml = tmp_path / "crmsync.toml"
    toml.write_text(f"""
[store]
url = "{sqlite_store.url}"
[connections.big]
type = "files"
path = "{folder}"
batch_size = 50
[schedule.catchup]
cron = "*/5 * * * *"
task = "sync"
entities = ["accounts"]
""", encoding="utf-8")
    before = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    record_run(sqlite_store, "catchup", before, "success")  # missed: due at once
    proc = subprocess.Popen(
        [sys.executable, "-c", "from crmsync.cli import main; main()", "--config", str(toml),
         "-v", "scheduler", "--poll", "0.5"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _rows_read(sqlite_store) == 0:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read() if proc.stderr else ""

    assert code == 0, err
    with sqlite_store.engine.connect() as conn:
        run = conn.execute(sa.select(sync_runs)).mappings().one()
    assert run["status"] == "interrupted"
    assert 0 < run["rows_read"] < rows
    assert len(table_rows(sqlite_store, "accounts", "remote_id")) == run["rows_read"]
    assert last_runs(sqlite_store)["catchup"] == before  # not recorded: it runs again
    assert "job catchup started (task sync)" in err
    assert "scheduler stopped" in err


def _rows_read(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.coalesce(sa.func.sum(sync_runs.c.rows_read), 0))
                            ).scalar_one()


@pytest.mark.parametrize("task", ["run", "compute"])
def test_run_and_compute_jobs_finish(config: Config, registry: Registry, store: Store,
                                     clock: Clock, caplog: pytest.LogCaptureFixture,
                                     task: str) -> None:
    caplog.set_level(logging.INFO, logger="crmsync.orchestration.scheduler")
    config.sections["schedule"] = {"nightly": Job(name="nightly", cron="0 2 * * *", task=task)}
    record_run(store, "nightly", START - dt.timedelta(days=1), "success")
    sched = make_scheduler(config, registry, store, clock)

    sched.tick()
    sched.join()

    assert "job nightly finished: success" in caplog.text
    assert last_runs(store)["nightly"] == START


def test_a_run_job_syncs_every_entity(config: Config, registry: Registry, store: Store,
                                      clock: Clock) -> None:
    config.sections["schedule"] = {"nightly": Job(name="nightly", cron="0 2 * * *")}
    record_run(store, "nightly", START - dt.timedelta(days=1), "success")
    sched = make_scheduler(config, registry, store, clock)

    sched.tick()
    sched.join()

    assert table_rows(store, "accounts", "remote_id") == [("a1",), ("a2",)]


def test_the_scheduler_without_jobs_is_a_config_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from crmsync.cli import cli

    toml = tmp_path / "crmsync.toml"
    toml.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n', encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(toml), "scheduler"])

    assert result.exit_code == 2
    assert "[schedule]: no jobs to run" in result.output
