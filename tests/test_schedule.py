"""``[schedule]`` parsing and due times (crmsync.orchestration.jobs), with fixed clocks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from crmsync.api import load_config
from crmsync.core.errors import ConfigError
from crmsync.orchestration.jobs import (
    SCHEDULE,
    Job,
    covers,
    is_due,
    last_runs,
    next_due,
    next_run,
    record_run,
)
from crmsync.store import Store

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_jobs_are_read_from_schedule_tables(tmp_path: Path) -> None:
    path = write(tmp_path, """
[schedule.nightly]
cron = "0 2 * * *"
task = "sync"
connections = ["crm"]
entities = ["opportunities"]

[schedule.kpis]
cron = "30 6 * * 1-5"
task = "compute"
metrics = ["win_rate"]
period = "month"
timezone = "Europe/Paris"
""")

    jobs = SCHEDULE.get(load_config(path))

    assert jobs["nightly"] == Job(name="nightly", cron="0 2 * * *", task="sync",
                                  connections=("crm",), entities=("opportunities",))
    assert jobs["kpis"].timezone == "Europe/Paris"
    assert jobs["kpis"].metrics == ("win_rate",)


def test_a_job_runs_everything_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, '[schedule.all]\ncron = "@hourly"\n')

    assert SCHEDULE.get(load_config(path))["all"].task == "run"


@pytest.mark.parametrize(("body", "where"), [
    ('[schedule.x]\ncron = "61 * * * *"\n', "[schedule.x], key 'cron'"),
    ('[schedule.x]\ntask = "sync"\n', "[schedule.x], key 'cron'"),
    ('[schedule.x]\ncron = "* * * * *"\ntask = "dance"\n', "[schedule.x], key 'task'"),
    ('[schedule.x]\ncron = "* * * * *"\ntimezone = "Mars/Base"\n', "[schedule.x], key 'timezone'"),
    ('[schedule.x]\ncron = "* * * * *"\nconnections = "crm"\n', "[schedule.x], key 'connections'"),
    ('[schedule.x]\ncron = "* * * * *"\ntask = "compute"\nperiod = "fortnight"\n',
     "[schedule.x], key 'period'"),
    ('[schedule.x]\ncron = "* * * * *"\nwhen = 1\n', "[schedule.x], key 'when'"),
    ('[schedule]\nx = 1\n', "[schedule.x]"),
    ('[schedule.x]\ncron = "* * * * *"\nconnections = ["crm"]\n',
     "[schedule.x], key 'connections'"),
    ('[schedule.x]\ncron = "* * * * *"\ntask = "compute"\nentities = ["a"]\n',
     "[schedule.x], key 'entities'"),
    ('[schedule.x]\ncron = "* * * * *"\ntask = "sync"\nperiod = "month"\n',
     "[schedule.x], key 'period'"),
    ('[schedule.x]\ncron = "* * * * *"\ntask = "writeback"\nentities = ["a"]\n',
     "[schedule.x], key 'entities'"),
])
def test_a_bad_job_is_an_error_naming_file_section_and_key(tmp_path: Path, body: str,
                                                           where: str) -> None:
    path = write(tmp_path, body)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}, {where}")


def test_next_run_follows_the_cron_in_the_jobs_time_zone() -> None:
    job = Job(name="j", cron="0 9 * * *", timezone="America/New_York")

    # 09:00 in New York in January is 14:00 UTC.
    assert next_run(job, at("2026-01-05T12:00:00")) == at("2026-01-05T14:00:00")


def test_a_never_run_job_is_due_at_its_first_tick_after_the_scheduler_started() -> None:
    job = Job(name="j", cron="0 * * * *")
    since = at("2026-01-05T10:15:00")

    assert not is_due(job, None, since, at("2026-01-05T10:59:59"))
    assert is_due(job, None, since, at("2026-01-05T11:00:00"))


def test_many_missed_ticks_make_one_run() -> None:
    job = Job(name="j", cron="*/5 * * * *")
    last = at("2026-01-05T02:00:00")
    now = at("2026-01-05T09:03:00")  # 84 ticks missed while down

    assert is_due(job, last, now, now)
    # Once it ran (recorded with the time it started), it waits for the next tick.
    assert not is_due(job, now, now, now + dt.timedelta(seconds=90))
    assert next_due(job, now, now) == at("2026-01-05T09:05:00")


def test_covers_matches_the_jobs_connections_and_entities() -> None:
    job = Job(name="j", cron="@daily", task="sync", connections=("crm",),
              entities=("accounts",))

    assert covers(job, "crm", "accounts")
    assert not covers(job, "crm", "opportunities")
    assert not covers(job, "other", "accounts")
    assert not covers(Job(name="k", cron="@daily", task="compute"), "crm", "accounts")


def test_last_runs_are_kept_in_the_store(store: Store) -> None:
    started = at("2026-01-05T02:00:00")

    record_run(store, "nightly", started, "success")
    record_run(store, "nightly", started + dt.timedelta(days=1), "failed")

    assert last_runs(store) == {"nightly": started + dt.timedelta(days=1)}
