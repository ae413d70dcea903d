"""Coaching findings written as text onto reps' User records in the fake Salesforce org
(tests/fakes/salesforce_org.py): the real connector syncs the users, a rule fires on stored
per-rep values, ``crmsync.api.coach_writeback`` creates the field and writes each rep's open
findings, clears reps without any, and a connector that cannot write is a config error."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crmsync import ConfigError, api
from crmsync.cli import cli
from crmsync.core.config import Config, ConnectionConfig
from crmsync.core.schema import SYNCED_TABLES
from crmsync.metrics.coaching_rules import COACH, CoachConfig
from crmsync.orchestration.coaching_writeback import MAX_TEXT, coaching_text
from crmsync.plugin.registry import Registry
from test_coach import Q3, write_values

FIELD = "Crmsync_Coaching__c"
#: Fires for a rep with at least 50 calls.
BUSY = {"id": "busy_phones", "title": "Many calls", "area": "Time management",
        "when": ["calls >= 50"], "min_n": 0}


@pytest.fixture
def synced(fake_sf_org, sqlite_store, monkeypatch):
    """The fake org's users synced into a store, the first rep with 80 calls (the rule
    fires), the others with 10; one coach run stored its findings."""
    monkeypatch.setenv("COACH_SF_SESSION", fake_sf_org.session_id)
    config = Config(store_url=sqlite_store.url, connections={"sf": ConnectionConfig(
        name="sf", type="salesforce", raw={
            "type": "salesforce", "instance_url": fake_sf_org.instance_url,
            "session_id": "${COACH_SF_SESSION}", "ca_bundle": fake_sf_org.ca_bundle})})
    COACH.set(config, CoachConfig(builtin=False, rules=(BUSY,)))
    registry = Registry()
    report = api.sync(config, registry, entities=["users"], store=sqlite_store)
    assert report.ok, report.error
    users = SYNCED_TABLES["users"]
    with sqlite_store.engine.begin() as conn:
        reps = list(conn.execute(sa.select(users.c.remote_id).order_by(users.c.remote_id))
                    .scalars())
        conn.execute(users.update().values(team="East"))
    write_values(sqlite_store, [("calls", None, rep, 80.0 if i == 0 else 10.0, None)
                                for i, rep in enumerate(reps)], "r1", dt.datetime(2026, 12, 1))
    result = api.coach(config, registry, as_of=dt.date(2026, 12, 1), period="quarter",
                       store=sqlite_store)
    assert [f["rep_id"] for f in result["findings"]] == [reps[0]]
    assert result["period_start"] == Q3[0].isoformat()
    return config, registry, sqlite_store, reps


def test_open_findings_are_written_onto_the_reps_user_record(synced, fake_sf_org):
    config, registry, store, reps = synced
    report = api.coach_writeback(config, registry, "sf", store=store)
    assert (report["field"], report["written"], report["failed"]) == (FIELD, 1, [])
    user = fake_sf_org.org.get("User", reps[0])
    assert user[FIELD] == "high · Time management: Many calls"  # 80 calls: gap 0.6


def test_reps_without_open_findings_are_cleared(synced, fake_sf_org):
    config, registry, store, reps = synced
    report = api.coach_writeback(config, registry, "sf", store=store)
    assert report["cleared"] == len(reps) - 1
    assert fake_sf_org.org.get("User", reps[1]).get(FIELD) is None


def test_a_second_run_sends_only_the_reps_whose_text_changed(synced, fake_sf_org):
    config, registry, store, reps = synced
    api.coach_writeback(config, registry, "sf", store=store)
    fake_sf_org.org.update("User", reps[0], **{FIELD: "edited in the CRM"})

    again = api.coach_writeback(config, registry, "sf", store=store)
    assert (again["written"], again["cleared"], again["unchanged"]) == (0, 0, len(reps))
    # not sent again: the CRM keeps what it holds
    assert fake_sf_org.org.get("User", reps[0])[FIELD] == "edited in the CRM"

    with store.engine.begin() as conn:  # the rep's finding is resolved: its text changes
        conn.execute(sa.text("UPDATE coaching_findings SET status = 'resolved'"))
    third = api.coach_writeback(config, registry, "sf", store=store)
    assert (third["written"], third["cleared"], third["unchanged"]) == (0, 1, len(reps) - 1)
    assert fake_sf_org.org.get("User", reps[0]).get(FIELD) is None


def test_a_connector_that_cannot_write_is_a_config_error(sqlite_store, tmp_path):
    config = Config(store_url=sqlite_store.url, connections={"files": ConnectionConfig(
        name="files", type="files", raw={"type": "files", "path": str(tmp_path)})})
    with pytest.raises(ConfigError, match="connection 'files' cannot take coaching text"):
        api.coach_writeback(config, Registry(), "files", store=sqlite_store)


def test_text_lists_the_most_severe_first_and_is_cut_to_the_field():
    findings = [{"rule_id": r, "severity": s, "area": "Area", "title": "t" * 100}
                for r, s in (("a", "low"), ("b", "high"), ("c", "medium"))]
    text = coaching_text(findings)
    assert text is not None and len(text) == MAX_TEXT and text.startswith("high · Area")
    assert coaching_text([]) is None


def test_command_writes_back_after_evaluating(synced, fake_sf_org, tmp_path):
    _, _, store, reps = synced
    path = tmp_path / "crmsync.toml"
    path.write_text(f"""[store]
url = "{store.url}"
[metrics]
period = "quarter"
[connections.sf]
type = "salesforce"
instance_url = "{fake_sf_org.instance_url}"
session_id = "${{COACH_SF_SESSION}}"
ca_bundle = "{fake_sf_org.ca_bundle}"
[coach]
builtin = false
[[coach.rules]]
id = "busy_phones"
title = "Many calls"
area = "Time management"
when = ["calls >= 50"]
min_n = 0
""", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "coach", "--as-of", "2026-12-01",
                                      "--write-back", "sf"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert (f"write-back to sf ({FIELD}): coaching text on 1 reps, cleared on "
            f"{len(reps) - 1}, 0 unchanged, 0 failed") in " ".join(result.stdout.split())
    unknown = CliRunner().invoke(cli, ["--config", str(path), "coach", "--write-back", "sff"])
    assert unknown.exit_code == 2 and "did you mean 'sf'" in unknown.stderr
