"""``crmsync coach``: 80 columns piped, names (never markup) shown literally, JSON, a rep by
name, unknown names, no values yet, and findings for named reps of the demo store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync import api
from crmsync.cli import cli
from crmsync.core.config import Config
from crmsync.plugin.registry import Registry
from test_coach import HOSTILE, STAGES, USERS, value_rows, write_config, write_values


@pytest.fixture
def coach_config(sqlite_store, tmp_path) -> Path:
    load_records(sqlite_store, {"users": USERS, "stages": STAGES})
    write_values(sqlite_store, value_rows(), "r1", dt.datetime(2026, 12, 1))
    return write_config(tmp_path, sqlite_store)


def coach(path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(path), "coach", "--as-of", "2026-12-01",
                                    *args], env={"COLUMNS": "80"})


def test_piped_output_fits_80_columns_and_shows_names_literally(coach_config):
    result = coach(coach_config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), lines
    assert "…" not in result.stdout and "\x1b[" not in result.stdout
    assert f"{HOSTILE} (U1) · team East" in result.stdout
    assert "Coaching findings by quarter: 2026-Q3 (as of 2026-12-01)" in result.stdout
    assert "medium · Call opening: Many calls, few connects (new)" in result.stdout
    assert "Call connect rate" in result.stdout  # the KPI's title, not its id


def test_second_run_shows_findings_still_open(coach_config):
    coach(coach_config)
    again = coach(coach_config)
    assert "0 new, 0 reopened, 6 still open, 0 resolved" in again.stdout


def test_json_lists_findings_with_evidence(coach_config):
    result = coach(coach_config, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changes"]["opened"] == 6
    f = data["findings"][0]
    assert {"rule_id", "rep", "rep_id", "team", "severity", "area", "evidence", "status",
            "opened_at", "period_start"} <= set(f)
    assert {"kpi", "value", "n", "team_median", "target", "threshold"} <= set(f["evidence"][0])


def test_a_rep_by_name_and_unknown_names_exit_2(coach_config):
    ok = coach(coach_config, "--rep", "Grace Hopper")
    assert ok.exit_code == 0 and "No open findings." in ok.stdout
    assert "1 reps evaluated" in ok.stdout
    bad = coach(coach_config, "--rep", "Grace Hoper")
    assert bad.exit_code == 2 and "did you mean 'Grace Hopper'" in bad.stderr


def test_all_lists_resolved_findings(coach_config, sqlite_store):
    coach(coach_config)
    write_values(sqlite_store, value_rows({("call_connect_rate", "U1"): 0.4}), "r2",
                 dt.datetime(2026, 12, 7))
    coach(coach_config)
    result = coach(coach_config, "--all")
    assert f"{HOSTILE} (U1) · team East · resolved" in result.stdout
    assert "Call opening: Many calls, few connects (resolved on" in result.stdout


def test_no_values_yet_names_the_command_and_fails(sqlite_store, tmp_path):
    path = write_config(tmp_path, sqlite_store)
    result = coach(path)
    assert result.exit_code == 1 and "crmsync metrics compute" in result.stderr


def test_demo_store_has_findings_for_named_reps(tmp_path):
    registry = Registry()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = api.demo(registry, store_url=url)
    config = Config(store_url=url)
    result = api.coach(config, registry, period=demo.period, as_of=demo.as_of.date())
    assert result["computed"] and result["findings"]
    for f in result["findings"]:
        assert f["rep"] != f["rep_id"] and f["team"]
        assert all(e["n"] >= e["min_n"] for e in f["evidence"])
