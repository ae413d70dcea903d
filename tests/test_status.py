"""``crmsync status``: last run per connection and entity, with its duration and the next
scheduled time, and the ``[schedule]`` jobs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_config
from crmsync import api
from crmsync.cli import cli
from crmsync.core.config import Config
from crmsync.orchestration.jobs import Job, record_run
from crmsync.plugin.registry import Registry
from crmsync.store import Store

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 5, 10, 15, tzinfo=UTC)


@pytest.fixture
def synced(store: Store, tmp_path: Path, registry: Registry) -> Config:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "accounts.csv").write_text("remote_id,name\na1,Acme\na2,\n", encoding="utf-8")
    (folder / "users.csv").write_text("remote_id,name\nu1,Ann\n", encoding="utf-8")
    config = make_config(store.url, crm={"type": "files", "path": str(folder)})
    api.sync(config, registry, ["crm"], entities=["accounts", "users"], store=store)
    config.sections["schedule"] = {
        "accounts-hourly": Job(name="accounts-hourly", cron="0 * * * *", task="sync",
                               entities=("accounts",)),
        "nightly": Job(name="nightly", cron="0 2 * * *"),
    }
    return config


def run_of(data: dict, entity: str) -> dict:
    return next(r for r in data["runs"] if r["entity"] == entity)


def test_each_run_has_its_duration_counts_and_status(synced: Config) -> None:
    run = run_of(api.status(synced, now=NOW), "accounts")

    assert run["status"] == "success"
    assert run["duration_s"] >= 0
    assert (run["rows_read"], run["rows_upserted"], run["api_calls"]) == (2, 2, 0)
    assert run["error"] is None
    assert run["quota_left"] is None  # the files connector has no API quota


def test_quota_left_is_the_limit_minus_what_the_run_saw_used(synced: Config,
                                                             store: Store) -> None:
    import sqlalchemy as sa

    from crmsync.core.schema import sync_runs

    with store.engine.begin() as conn:
        conn.execute(sa.update(sync_runs).where(sync_runs.c.entity == "accounts")
                     .values(quota_used=14_250, quota_limit=15_000))
    assert run_of(api.status(synced, now=NOW), "accounts")["quota_left"] == 750


def test_the_next_scheduled_time_is_the_earliest_job_covering_the_entity(
        synced: Config) -> None:
    data = api.status(synced, now=NOW)

    assert run_of(data, "accounts")["next_scheduled"] == "2026-01-05T11:00:00+00:00"
    assert run_of(data, "users")["next_scheduled"] == "2026-01-06T02:00:00+00:00"


def test_jobs_show_their_last_and_next_run(synced: Config, store: Store) -> None:
    record_run(store, "nightly", NOW - dt.timedelta(days=3), "success")  # missed since

    jobs = {j["name"]: j for j in api.status(synced, now=NOW)["jobs"]}

    assert jobs["nightly"]["last_run"] == "2026-01-02T10:15:00+00:00"
    assert jobs["nightly"]["next_run"] == "2026-01-03T02:00:00+00:00"  # due now
    assert jobs["accounts-hourly"]["last_run"] is None
    assert jobs["accounts-hourly"]["task"] == "sync"


def test_an_unscheduled_entity_has_no_next_time(synced: Config) -> None:
    synced.sections["schedule"] = {}

    assert run_of(api.status(synced, now=NOW), "accounts")["next_scheduled"] is None


def test_status_json_lists_runs_and_jobs(synced: Config, tmp_path: Path,
                                         store: Store) -> None:
    toml = tmp_path / "crmsync.toml"
    toml.write_text(f'[store]\nurl = "{store.url}"\n[schedule.nightly]\ncron = "0 2 * * *"\n',
                    encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(toml), "status", "--json"])

    data = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert {r["entity"] for r in data["runs"]} == {"accounts", "users"}
    assert [j["name"] for j in data["jobs"]] == ["nightly"]
    assert all(r["next_scheduled"] for r in data["runs"])


def test_status_table_shows_scheduled_jobs(synced: Config, tmp_path: Path,
                                           store: Store) -> None:
    toml = tmp_path / "crmsync.toml"
    toml.write_text(f'[store]\nurl = "{store.url}"\n[schedule.nightly]\ncron = "0 2 * * *"\n',
                    encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(toml), "status"])

    assert result.exit_code == 0, result.output
    assert "scheduled jobs" in result.output
    assert "nightly" in result.output
