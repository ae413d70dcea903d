"""below_target and anomaly notifications through the webhook notifier and a real HTTP
receiver on loopback: only the run just computed, only the latest ended period, each alert
sent once until it changes, one line each naming the metric, period, rep, value, target and
n; one message per scheduled job in digest mode (docs/trends.md, "Notifications")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import load_records
from crmsync import api
from crmsync.core.internal_tables import notifications_sent
from crmsync.orchestration.jobs import Job
from crmsync.orchestration.scheduler import run_job
from crmsync.plugin.registry import Registry
from crmsync_webhook.settings import NOTIFY
from test_coach_digest import notified  # noqa: F401  (a store with coaching findings)
from test_webhook import hook_url, server  # noqa: F401  (the loopback receiver fixture)


def quarter_start(today: dt.date, back: int) -> dt.date:
    """The first day of the quarter ``back`` quarters before today's."""
    index = today.year * 4 + (today.month - 1) // 3 - back
    return dt.date(index // 4, index % 4 * 3 + 1, 1)


TODAY = dt.date.today()
#: Won revenue by quarters back: steady, then a spike in the last ended quarter.
AMOUNTS = {6: 1000, 5: 1100, 4: 900, 3: 1000, 2: 1000, 1: 5000}
LAST = quarter_start(TODAY, 1)
LAST_LABEL = f"{LAST.year}-Q{(LAST.month - 1) // 3 + 1}"


def deal(rid: str, back: int, amount: float) -> dict[str, Any]:
    closed = quarter_start(TODAY, back) + dt.timedelta(days=20)
    return {"remote_id": rid, "owner_id": "U1", "status": "won",
            "closed_at": f"{closed}T10:00:00", "amount": amount, "currency": "USD",
            "remote_created_at": "2020-01-01", "account_id": "A1"}


DATA = {"users": [{"remote_id": "U1", "name": "Ada Lovelace", "team": "East"}],
        "accounts": [{"remote_id": "A1", "segment": "SMB"}],
        "opportunities": [deal(f"O{b}", b, a) for b, a in AMOUNTS.items()]}


def write_config(tmp_path: Any, store: Any, *, on: str, digest: bool = False,
                 currency: str = "USD") -> Any:
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n'
                    f'base_currency = "{currency}"\n'
                    "[targets]\nrevenue = 6000\n[trends]\nmin_n = 1\n"
                    f'[notify]\nwebhook_url = "${{TREND_HOOK}}"\non = {on}\n'
                    f"digest = {'true' if digest else 'false'}\n")
    return api.load_config(path)


@pytest.fixture
def alerting(store, tmp_path, server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TREND_HOOK", hook_url(server))
    load_records(store, DATA)
    config = write_config(tmp_path, store, on='["below_target", "anomaly"]')
    return store, config, server


def compute(store: Any, config: Any, *dims: str | None) -> None:
    api.compute_metrics(config, Registry(), ["revenue"], period="quarter",
                        dimensions=dims or (None,), store=store)


def texts(srv: Any) -> list[str]:
    return [body["text"] for _, _, body in srv.received]


def test_alerts_cover_the_latest_ended_period_and_name_everything(alerting):
    store, config, srv = alerting
    compute(store, config, None, "owner")
    (body,) = [b for _, _, b in srv.received]
    assert body["events"] == ["below_target", "anomaly"]
    lines = body["text"].splitlines()
    assert "2 value(s) below target:" in lines
    assert (f"• Revenue (won), {LAST_LABEL}, whole organisation: 5,000 USD vs target "
            "6,000 USD (n 1)") in lines
    assert (f"• Revenue (won), {LAST_LABEL}, Ada Lovelace (owner): 5,000 USD vs target "
            "6,000 USD (n 1)") in lines
    assert (f"• Revenue (won), {LAST_LABEL}, Ada Lovelace (owner): 5,000 USD outside "
            "650–1,350 USD, trailing median 1,000 USD (n 1)") in lines
    assert {a["currency"] for a in body["alerts"]} == {"USD"}
    # older quarters are below target too, but not the run's news
    assert all(LAST_LABEL in line for line in lines if line.startswith("•"))
    assert body["summary"]["alerts"] == {"below_target": 2, "anomaly": 2}


def test_amounts_are_said_in_the_base_currency(store, tmp_path, server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TREND_HOOK", hook_url(server))
    load_records(store, {**DATA, "opportunities": [{**deal(f"O{b}", b, a), "currency": "EUR"}
                                                   for b, a in AMOUNTS.items()]})
    config = write_config(tmp_path, store, on='["below_target"]', currency="EUR")
    compute(store, config)
    (body,) = [b for _, _, b in server.received]
    assert (f"• Revenue (won), {LAST_LABEL}, whole organisation: 5,000 EUR vs target "
            "6,000 EUR (n 1)") in body["text"].splitlines()
    assert [a["currency"] for a in body["alerts"]] == ["EUR"]


def test_alert_lines_without_a_currency_say_the_amount_alone():
    from crmsync_webhook.alerts import alert_lines

    alert = {"kind": "below_target", "metric": "revenue", "title": "Revenue (won)",
             "unit": "currency", "period_label": "2026-Q2", "value": 1234.4, "target": 2000,
             "n": 3}
    assert alert_lines([alert])[1] == ("• Revenue (won), 2026-Q2, whole organisation: 1,234 "
                                       "vs target 2,000 (n 3)")
    assert alert_lines([{**alert, "currency": "GBP"}])[1] == (
        "• Revenue (won), 2026-Q2, whole organisation: 1,234 GBP vs target 2,000 GBP (n 3)")


def test_an_alert_is_not_sent_again_until_it_changes(alerting):
    store, config, srv = alerting
    compute(store, config)
    compute(store, config)
    assert len(srv.received) == 1
    load_records(store, {"opportunities": [deal("O1b", 1, 250)]})  # the quarter changed
    compute(store, config)
    assert len(srv.received) == 2
    assert f"{LAST_LABEL}, whole organisation: 5,250 USD vs target 6,000 USD (n 2)" \
        in texts(srv)[1]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(notifications_sent.c.kind, notifications_sent.c.value)
                            .order_by(notifications_sent.c.kind)).all()
    assert [tuple(r) for r in rows] == [("anomaly", 5250.0), ("below_target", 5250.0)]


def test_a_failed_post_is_sent_again_next_run(alerting):
    store, config, srv = alerting
    srv.status = 500
    compute(store, config)
    srv.status = 200
    compute(store, config)
    assert len(srv.received) == 2 and texts(srv)[0] == texts(srv)[1]


def test_only_the_chosen_kinds_are_sent(alerting, tmp_path):
    store, _, srv = alerting
    config = write_config(tmp_path, store, on='["anomaly"]')
    compute(store, config)
    (text,) = texts(srv)
    assert "below target" not in text and "outside 650–1,350" in text


def job(task: str = "compute") -> Job:
    return Job(name="nightly", cron="0 2 * * *", task=task, metrics=("revenue",),
               period="quarter")


def test_digest_mode_sends_one_message_per_job(alerting, tmp_path):
    store, _, srv = alerting
    config = write_config(tmp_path, store, on='["success", "below_target", "anomaly"]',
                          digest=True)
    assert run_job(config, Registry(), job(), store=store) == "success"
    (body,) = [b for _, _, b in srv.received]
    assert body["kind"] == "job" and body["job"] == "nightly"
    assert body["events"] == ["success", "below_target", "anomaly"]
    lines = body["text"].splitlines()
    assert lines[0] == ":white_check_mark: crmsync job nightly: success"
    assert lines[1] == "metrics computation: success"
    assert (f"• Revenue (won), {LAST_LABEL}, whole organisation: 5,000 USD vs target "
            "6,000 USD (n 1)") in lines


def test_without_digest_a_job_sends_one_message_per_run(alerting, tmp_path):
    store, _, srv = alerting
    config = write_config(tmp_path, store, on='["success", "below_target"]')
    run_job(config, Registry(), job(), store=store)
    assert [b["kind"] for _, _, b in srv.received] == ["metrics"]
    assert srv.received[0][2]["job"] == "nightly"


def test_commands_run_by_hand_still_notify_in_digest_mode(alerting, tmp_path):
    store, _, srv = alerting
    config = write_config(tmp_path, store, on='["below_target"]', digest=True)
    compute(store, config)
    assert [b["kind"] for _, _, b in srv.received] == ["metrics"]


def test_digest_mode_says_a_coach_job_once(notified):  # noqa: F811
    store, config, srv = notified
    NOTIFY.set(config, dataclasses.replace(NOTIFY.get(config), digest=True))
    coaching = Job(name="weekly", cron="0 8 * * MON", task="coach", period="quarter")
    assert run_job(config, Registry(), coaching, store=store) == "success"
    (body,) = [b for _, _, b in srv.received]
    assert body["kind"] == "job" and body["events"] == ["coaching"]
    assert body["text"].splitlines()[1] == "coaching digest: success"
    assert "Coaching digest, quarter" in body["text"]


def test_digest_must_be_true_or_false(tmp_path, monkeypatch):
    from crmsync.core.errors import ConfigError

    monkeypatch.setenv("TREND_HOOK", "https://hooks.example.com/T0/B0")
    path = tmp_path / "crmsync.toml"
    path.write_text('[notify]\nwebhook_url = "${TREND_HOOK}"\ndigest = "yes"\n')
    with pytest.raises(ConfigError, match=r"\[notify\], key 'digest': expected true or false"):
        NOTIFY.get(api.load_config(path))
