"""The Celery beat schedule and job canvases built from ``[schedule]`` (no broker needed)."""

from __future__ import annotations

import pickle

import pytest
from celery.canvas import Signature, chord, group

from conftest import make_config
from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.orchestration.distributed.app import beat_schedule, create_app, cron_fields
from crmsync.orchestration.distributed.tasks import job_signature
from crmsync.orchestration.jobs import SCHEDULE, Job
from crmsync.plugin.registry import Registry


@pytest.fixture
def config(tmp_path) -> Config:
    cfg = make_config("sqlite://", crm={"type": "files", "path": str(tmp_path)},
                      other={"type": "files", "path": str(tmp_path)})
    cfg.sections["schedule"] = {
        "nightly": Job(name="nightly", cron="0 2 * * 1-5", timezone="Europe/Paris"),
        "accounts": Job(name="accounts", cron="@hourly", task="sync", connections=("crm",),
                        entities=("accounts", "users")),
        "kpis": Job(name="kpis", cron="*/15 * * * *", task="compute", metrics=("win_rate",),
                    period="month"),
    }
    return cfg


def test_beat_has_one_entry_per_job_sending_the_job_task(config: Config) -> None:
    schedule = beat_schedule(config)

    assert sorted(schedule) == ["crmsync:accounts", "crmsync:kpis", "crmsync:nightly"]
    assert schedule["crmsync:nightly"]["task"] == "crmsync.job"
    assert schedule["crmsync:nightly"]["args"] == ("nightly",)
    assert schedule["crmsync:nightly"]["options"] == {"queue": "crmsync"}


def test_beat_entries_follow_the_cron_fields(config: Config) -> None:
    entry = beat_schedule(config)["crmsync:nightly"]["schedule"]

    assert entry.hour == {2}
    assert entry.minute == {0}
    assert entry.day_of_week == {1, 2, 3, 4, 5}


def test_beat_reads_time_in_the_jobs_zone(config: Config) -> None:
    entry = beat_schedule(config)["crmsync:nightly"]["schedule"]

    assert str(entry.nowfun().tzinfo) == "Europe/Paris"


def test_the_beat_schedule_pickles(config: Config) -> None:
    # beat keeps its schedule in a shelve file: every entry must survive pickling.
    entry = pickle.loads(pickle.dumps(beat_schedule(config)["crmsync:nightly"]["schedule"]))

    assert str(entry.nowfun().tzinfo) == "Europe/Paris"


def test_cron_aliases_become_five_fields() -> None:
    assert cron_fields("@hourly") == ["0", "*", "*", "*", "*"]
    assert cron_fields("@daily") == ["0", "0", "*", "*", "*"]


def test_the_app_acks_late_and_requeues_tasks_of_a_lost_worker(config: Config) -> None:
    app = create_app(config, Registry())

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert "crmsync:nightly" in app.conf.beat_schedule


def test_a_sync_job_fans_out_per_connection_and_entity(config: Config,
                                                       registry: Registry) -> None:
    create_app(config, registry)

    canvas = job_signature(config, registry, "accounts")

    assert isinstance(canvas, group)
    assert [tuple(s.args) for s in canvas.tasks] == [("crm", "accounts"), ("crm", "users")]


def test_a_run_job_syncs_everything_then_runs_compute_and_write_back(
        config: Config, registry: Registry) -> None:
    create_app(config, registry)

    canvas = job_signature(config, registry, "nightly")

    # Celery turns "a group, then a task" into a chord: the body runs once every sync ended.
    assert isinstance(canvas, chord)
    assert {s.args[0] for s in canvas.tasks} == {"crm", "other"}
    assert canvas.body.task == "crmsync.run"
    assert canvas.body.immutable  # the sync results are not its arguments


def test_a_compute_job_is_one_compute_task(config: Config, registry: Registry) -> None:
    create_app(config, registry)

    canvas = job_signature(config, registry, "kpis")

    assert isinstance(canvas, Signature)
    assert (canvas.task, tuple(canvas.args)) == ("crmsync.compute", (["win_rate"], "month"))


def test_a_writeback_job_is_one_writeback_task(config: Config, registry: Registry) -> None:
    SCHEDULE.get(config)["wb"] = Job(name="wb", cron="@daily", task="writeback",
                                connections=("crm",))
    create_app(config, registry)

    canvas = job_signature(config, registry, "wb")

    assert (canvas.task, tuple(canvas.args)) == ("crmsync.writeback", (["crm"],))


def test_an_unknown_job_is_a_config_error(config: Config, registry: Registry) -> None:
    with pytest.raises(ConfigError, match="no job named 'nope'"):
        job_signature(config, registry, "nope")
