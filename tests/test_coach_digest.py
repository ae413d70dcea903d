"""The coaching digest through the webhook notifier (a real HTTP server on loopback): one
message per coach run or ``task = "coach"`` schedule job, each finding named once under
new / still open / resolved, nothing sent when there is nothing to say."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import load_records
from crmsync import api
from crmsync.core.errors import ConfigError
from crmsync.orchestration.jobs import Job
from crmsync.orchestration.scheduler import run_job
from crmsync.plugin.registry import Registry
from test_coach import AS_OF, HOSTILE, STAGES, USERS, value_rows, write_config, write_values
from test_webhook import hook_url, server  # noqa: F401  (the loopback receiver fixture)

NOTIFY = '[notify]\nwebhook_url = "${COACH_HOOK}"\non = ["coaching"]\n'


@pytest.fixture
def notified(sqlite_store, tmp_path, server, monkeypatch):  # noqa: F811
    """A hand-built store, its config posting the coaching digest to ``server``."""
    monkeypatch.setenv("COACH_HOOK", hook_url(server))
    load_records(sqlite_store, {"users": USERS, "stages": STAGES})
    write_values(sqlite_store, value_rows(), "r1", dt.datetime(2026, 12, 1))
    config = api.load_config(write_config(tmp_path, sqlite_store, NOTIFY))
    return sqlite_store, config, server


def coach(store, config, **kw):
    return api.coach(config, Registry(), as_of=AS_OF, store=store, notify=True, **kw)


def bodies(srv):
    return [body for _, _, body in srv.received]


def test_one_message_lists_each_new_finding_once(notified):
    store, config, srv = notified
    coach(store, config)
    (body,) = bodies(srv)
    text = body["text"]
    assert body["kind"] == "coach" and body["events"] == ["coaching"]
    assert body["summary"]["coaching"] == {"opened": 6, "reopened": 0, "still_open": 0,
                                           "resolved": 0}
    assert "6 new, 0 reopened, 0 still open, 0 resolved" in text
    assert text.count(f"• {HOSTILE} (East) — Call opening") == 1
    assert "Call connect rate 20.0% (team median 40.0%, n 50)" in text


def test_next_run_reports_still_open_and_resolved(notified):
    store, config, srv = notified
    coach(store, config)
    write_values(store, value_rows({("call_connect_rate", "U1"): 0.4}), "r2",
                 dt.datetime(2026, 12, 7))
    coach(store, config)
    second = bodies(srv)[1]["text"]
    assert "0 new, 0 reopened, 5 still open, 1 resolved" in second
    resolved = second.split("Resolved:")[1]
    assert f"• {HOSTILE} (East) — Call opening: Many calls, few connects" in resolved
    assert "Call opening" not in second.split("Still open:")[1].split("Resolved:")[0]


def test_nothing_to_report_sends_nothing(notified):
    store, config, srv = notified
    coach(store, config, rep="U2")   # just inside every rule
    assert bodies(srv) == []


def test_without_notify_nothing_is_sent(notified):
    store, config, srv = notified
    api.coach(config, Registry(), as_of=AS_OF, store=store)
    assert bodies(srv) == []


def test_a_coach_schedule_job_sends_one_digest(notified):
    store, config, srv = notified
    job = Job(name="weekly_coaching", cron="0 8 * * MON", task="coach", period="quarter")
    assert run_job(config, Registry(), job, store=store) == "success"
    (body,) = bodies(srv)
    assert body["kind"] == "coach"


def test_a_coach_job_takes_no_metrics(sqlite_store, tmp_path):
    path = write_config(tmp_path, sqlite_store, '[schedule.weekly]\ncron = "0 8 * * MON"\n'
                        'task = "coach"\nmetrics = ["win_rate"]\n')
    with pytest.raises(ConfigError, match="only a period"):
        api.load_config(path)
