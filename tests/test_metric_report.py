"""What people read of stored values: names, n, partial periods, change kinds, attainment."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync.cli import cli
from crmsync.metrics.report import change_between
from crmsync.metrics.targets import attainment
from test_metrics import DATA


@pytest.mark.parametrize("value, target, direction, expected", [
    (0.3, 0.6, "higher_is_better", 0.5),
    (0.9, 0.6, "higher_is_better", 1.5),
    (30.0, 60.0, "lower_is_better", 2.0),    # twice as fast as the target
    (120.0, 60.0, "lower_is_better", 0.5),   # twice as slow: half way, never 200 %
    (0.0, 60.0, "lower_is_better", None),
    (5.0, 0.0, "higher_is_better", None),
    (None, 1.0, "higher_is_better", None),
])
def test_attainment_follows_the_direction(value, target, direction, expected):
    assert attainment(value, target, direction) == expected


def test_a_ratio_changes_in_points_and_a_count_relatively():
    assert change_between(0.45, 0.40, "ratio") == (pytest.approx(0.05), "points")
    assert change_between(110.0, 100.0, "count") == (pytest.approx(0.10), "relative")
    assert change_between(1.0, 0.0, "count") == (None, "relative")


NAMES = {"U1": "Ada Lovelace", "U2": "Grace Hopper", "U3": "Alan Turing"}


@pytest.fixture
def shown(store, tmp_path):
    data = dict(DATA)
    data["users"] = [{**u, "name": NAMES[u["remote_id"]]} for u in DATA["users"]]
    load_records(store, data)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n'
                    '[targets]\nsales_cycle_days = 20\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "metrics", "compute", "--by", "owner"]
                         ).exit_code == 0

    def show(*args: str) -> str:
        result = runner.invoke(cli, ["--config", str(path), "metrics", "show", "--by", "owner",
                                     *args], terminal_width=200)
        assert result.exit_code == 0, result.output
        return result.output
    return show


def test_show_json_names_the_rep_and_gives_n(shown):
    rows = json.loads(shown("--metric", "win_rate", "--json"))
    u1 = [r for r in rows if r["dimension_value"] == "U1"]
    assert u1 and all(r["label"] == "Ada Lovelace" for r in u1)
    assert all(r["n"] == r["denominator"] for r in rows)


def test_a_lower_is_better_attainment_reads_below_one_when_missed(shown):
    rows = json.loads(shown("--metric", "sales_cycle_days", "--json"))
    for r in rows:
        if r["value"]:
            assert r["attainment"] == pytest.approx(20 / r["value"])
            assert r["below_target"] is (r["value"] > 20)


def test_a_period_not_ended_is_marked(shown):
    rows = json.loads(shown("--metric", "win_rate", "--json"))
    today = dt.date.today().isoformat()
    for r in rows:
        assert r["partial"] is (r["period_end"] > today)


def test_the_human_table_shows_names_not_ids(shown):
    out = shown("--metric", "win_rate")
    assert "Lovelace" in out and "│ U1 " not in out and "│ U2 " not in out
    assert "pts" in out or "–" in out
