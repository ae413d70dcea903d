"""Targets: parsing, matching, direction, and `metrics show` flags."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync import ConfigError
from crmsync.api import load_config
from crmsync.cli import cli
from crmsync.metrics.targets import Target, is_below, parse_targets, target_for
from test_metrics import DATA


def test_a_plain_number_is_a_target_for_every_period_and_dimension():
    [t] = parse_targets({"win_rate": 0.3})
    assert t == Target("win_rate", 0.3)
    assert target_for([t], "win_rate", "week", "owner") == t


def test_a_target_by_dimension_applies_only_to_that_dimension():
    per_rep = Target("calls", 10, period="week", by="owner")
    assert target_for([per_rep], "calls", "week", "owner") == per_rep
    assert target_for([per_rep], "calls", "week", None) is None
    assert target_for([per_rep], "calls", "month", "owner") is None


def test_the_most_specific_target_wins():
    plain, weekly = Target("calls", 50), Target("calls", 10, period="week", by="owner")
    assert target_for([weekly, plain], "calls", "week", "owner") == weekly
    assert target_for([weekly, plain], "calls", "month", "owner") == plain


@pytest.mark.parametrize("value, direction, below", [
    (0.2, "higher_is_better", True), (0.4, "higher_is_better", False),
    (50, "lower_is_better", True), (30, "lower_is_better", False), (None, "higher_is_better", None),
])
def test_below_target_follows_the_direction(value, direction, below):
    target = 0.3 if direction == "higher_is_better" else 45
    assert is_below(value, Target("m", target), direction) is below


def test_a_target_may_override_the_metric_direction():
    assert is_below(10, Target("m", 5, direction="lower_is_better"), "higher_is_better")


@pytest.mark.parametrize("spec, message", [
    ("true", "expected a number or a table"),
    ('{ value = "ten" }', "needs a numeric value"),
    ('{ value = 1, per = "week" }', "unknown key 'per'"),
    ('{ value = 1, by = "Colour" }', "by must be a built-in dimension"),
    ('{ value = 1, period = "fortnight" }', "period must be one of"),
])
def test_bad_targets_name_the_key(tmp_path, spec, message):
    path = tmp_path / "crmsync.toml"
    path.write_text(f"[targets]\ncalls = {spec}\n")
    with pytest.raises(ConfigError, match=rf"\[targets\], key 'calls': {message}"):
        load_config(path)


@pytest.fixture
def configured(store, tmp_path):
    load_records(store, DATA)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n'
                    '[targets]\nwin_rate = 0.6\n'
                    'sales_cycle_days = { value = 20, by = "team" }\n')
    runner = CliRunner()
    for by in ([], ["--by", "team"]):
        assert runner.invoke(cli, ["--config", str(path), "metrics", "compute", *by]
                             ).exit_code == 0
    return path


def test_show_json_carries_target_and_below_target(configured):
    result = CliRunner().invoke(cli, ["--config", str(configured), "metrics", "show",
                                      "--metric", "win_rate", "--json"])
    rows = json.loads(result.output)
    assert [(r["period_start"], r["value"], r["target"], r["below_target"]) for r in rows] == [
        ("2026-01-01", 0.75, 0.6, False), ("2026-04-01", 0.5, 0.6, True)]


def test_below_target_lists_only_the_misses(configured):
    result = CliRunner().invoke(cli, ["--config", str(configured), "metrics", "show",
                                      "--by", "team", "--below-target", "--json"])
    rows = json.loads(result.output)
    # Teams, by hand from DATA: win_rate (plain target 0.6) East Q1 0.75, East Q2 1.0,
    # West Q2 1/3 → West misses; sales_cycle_days (target 20 d for teams, lower is better)
    # East Q1 median 10.4 d, East Q2 14 d, West Q2 40 d → West misses.
    assert sorted((r["metric"], r["dimension_value"], r["period_start"]) for r in rows) == [
        ("sales_cycle_days", "West", "2026-04-01"), ("win_rate", "West", "2026-04-01")]
    assert all(r["below_target"] for r in rows)


def test_show_prints_target_and_attainment(configured):
    result = CliRunner().invoke(cli, ["--config", str(configured), "metrics", "show",
                                      "--metric", "win_rate"])
    assert result.exit_code == 0
    assert "60.0%" in result.output and "83%" in result.output and "▼" in result.output


def test_a_target_for_one_rep_beats_the_general_one():
    general = Target("win_rate", 0.3, by="owner")
    for_u3 = Target("win_rate", 0.2, by="owner", dimension_value="U3")
    assert target_for([general, for_u3], "win_rate", "quarter", "owner", "U3") == for_u3
    assert target_for([general, for_u3], "win_rate", "quarter", "owner", "U1") == general


def test_targets_csv_synced_by_the_files_connector_sets_per_rep_targets(store, tmp_path):
    folder = tmp_path / "targets"
    folder.mkdir()
    (folder / "targets.csv").write_text(
        "remote_id,metric,value,period,dimension,dimension_value\n"
        "T1,win_rate,0.4,quarter,owner,U3\n"
        "T2,win_rate,0.2,quarter,owner,\n")
    load_records(store, DATA)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n'
                    f'[connections.plan]\ntype = "files"\npath = "{folder}"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "sync", "plan"]).exit_code == 0
    assert runner.invoke(cli, ["--config", str(path), "metrics", "compute", "--metric",
                               "win_rate", "--by", "owner"]).exit_code == 0
    rows = json.loads(runner.invoke(cli, ["--config", str(path), "metrics", "show", "--by",
                                          "owner", "--json"]).output)
    got = {(r["dimension_value"], r["period_start"]): (r["value"], r["target"], r["below_target"])
           for r in rows}
    # by hand: U3 won 1 of 3 in Q2 (target 0.4 for U3 alone); U1 won 1 of 2 in Q1, 1 of 1 in Q2
    assert got[("U3", "2026-04-01")] == (pytest.approx(1 / 3), 0.4, True)
    assert got[("U1", "2026-01-01")] == (0.5, 0.2, False)
