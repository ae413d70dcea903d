"""Rep scorecards (``crmsync scorecard``, ``crmsync.api.scorecard``): team medians,
direction-aware percentiles with ties, attainment, a rep alone, the period chosen, JSON, 80
columns with a hostile name, unknown names and the demo store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import load_records
from crmsync import api
from crmsync.cli import cli
from crmsync.core.config import Config
from crmsync.core.schema import metric_values
from crmsync.metrics.scorecard import choose_period, percentile_in_team, team_median

Q3 = (dt.date(2026, 7, 1), dt.date(2026, 10, 1))
Q2 = (dt.date(2026, 4, 1), dt.date(2026, 7, 1))
Q4 = (dt.date(2026, 10, 1), dt.date(2027, 1, 1))
AFTER_Q3 = dt.date(2026, 12, 1)
HOSTILE = "[bold]x[/]"

USERS = [
    {"remote_id": "U1", "name": HOSTILE, "team": "East"},
    {"remote_id": "U2", "name": "Grace Hopper", "team": "East"},
    {"remote_id": "U3", "name": "Alan Turing", "team": "East"},
    {"remote_id": "U4", "name": "Ada Lovelace", "team": "West"},   # alone in West
    {"remote_id": "U5", "name": "Edsger Dijkstra", "team": "East"},  # no value at all
]

#: (metric, period, rep, value, n) of the hand-built store.
VALUES = [
    # win_rate (higher is better): East 0.5, 0.25, 0.25 → median 0.25, a tie; West alone
    ("win_rate", Q3, "U1", 0.5, 10), ("win_rate", Q3, "U2", 0.25, 8),
    ("win_rate", Q3, "U3", 0.25, 4), ("win_rate", Q3, "U4", 0.4, 5),
    ("win_rate", Q3, "U5", None, None),
    # sales_cycle_days (lower is better): 40, 20, 30 → median 30
    ("sales_cycle_days", Q3, "U1", 40.0, 5), ("sales_cycle_days", Q3, "U2", 20.0, 2),
    ("sales_cycle_days", Q3, "U3", 30.0, 1),
    ("calls", Q3, "U1", 12.0, None), ("calls", Q3, "U2", 12.0, None),
    # an older quarter, and a later one with forward-looking values only
    ("win_rate", Q2, "U1", 0.1, 10), ("sales_cycle_days", Q2, "U1", 90.0, 3),
    ("calls", Q2, "U1", 1.0, None),
    ("pipeline_value", Q4, "U1", 1000.0, 2),
]


def write_values(store, rows=VALUES) -> None:
    """Store ``rows`` as one computation by owner (what ``metrics compute`` would)."""
    now = dt.datetime(2026, 12, 1)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(metric_values), [
            {"run_id": "r1", "metric": m, "period": "quarter", "period_start": p[0],
             "period_end": p[1], "dimension": "owner", "dimension_value": rep,
             "value": v, "numerator": None, "denominator": n, "computed_at": now}
            for m, p, rep, v, n in rows])


@pytest.fixture
def hand_built(store, tmp_path):
    """A store with five reps in two teams and per-rep values; its crmsync.toml."""
    load_records(store, {"users": USERS})
    write_values(store)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n'
                    "[targets]\nwin_rate = 0.25\nsales_cycle_days = 30\n", encoding="utf-8")
    return store, path


def card(result, rep):
    (found,) = [c for c in result["reps"] if c["rep_id"] == rep]
    return {m["metric"]: m for f in found["families"] for m in f["metrics"]}


# -- the rules -------------------------------------------------------------------------------


def test_median_and_percentile_rules():
    assert team_median([0.5, 0.25, 0.25]) == 0.25
    assert team_median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert team_median([]) is None
    # better than both teammates; a tie counts half; alone: no percentile
    assert percentile_in_team(0.5, [0.25, 0.25], "higher_is_better") == 100.0
    assert percentile_in_team(0.25, [0.5, 0.25], "higher_is_better") == 25.0
    assert percentile_in_team(1.0, [1.0, 1.0], "higher_is_better") == 50.0
    assert percentile_in_team(1.0, [], "higher_is_better") is None
    # lower is better: the lowest value is the best, 100
    assert percentile_in_team(20.0, [40.0, 30.0], "lower_is_better") == 100.0
    assert percentile_in_team(40.0, [20.0, 30.0], "lower_is_better") == 0.0


def test_the_period_is_the_latest_with_most_metrics():
    counts = {Q2: 3, Q3: 3, Q4: 1}
    assert choose_period(counts, AFTER_Q3) == Q3
    assert choose_period(counts, dt.date(2026, 5, 1)) == Q2
    assert choose_period(counts, dt.date(2025, 1, 1)) is None


# -- the API over a hand-built store -------------------------------------------------------


def test_exact_medians_percentiles_and_attainment(hand_built):
    _, path = hand_built
    result = api.scorecard(api.load_config(str(path)), _registry(), as_of=AFTER_Q3)
    assert (result["period_start"], result["period_end"]) == ("2026-07-01", "2026-10-01")
    assert result["partial"] is False and result["computed"] is True
    u1, u2, u3 = card(result, "U1"), card(result, "U2"), card(result, "U3")
    assert u1["win_rate"] == {**u1["win_rate"], "value": 0.5, "n": 10, "team_median": 0.25,
                              "team_reps": 3, "percentile": 100.0, "target": 0.25,
                              "attainment": 2.0}
    assert u2["win_rate"]["percentile"] == u3["win_rate"]["percentile"] == 25.0  # a tie
    # lower is better: 20 days is the team's best, 40 its worst; attainment is target ÷ value
    assert u2["sales_cycle_days"]["percentile"] == 100.0
    assert u1["sales_cycle_days"]["percentile"] == 0.0
    assert u3["sales_cycle_days"]["percentile"] == 50.0
    assert u1["sales_cycle_days"]["team_median"] == 30.0
    assert u2["sales_cycle_days"]["attainment"] == pytest.approx(1.5)
    assert u1["sales_cycle_days"]["attainment"] == pytest.approx(0.75)
    assert u1["calls"]["percentile"] == 50.0  # 12 against 12
    # U3 has no calls: left out of the calls median, no line on their card
    assert "calls" not in u3 and u1["calls"]["team_reps"] == 2


def test_a_rep_alone_and_a_rep_without_values(hand_built):
    _, path = hand_built
    result = api.scorecard(api.load_config(str(path)), _registry(), as_of=AFTER_Q3)
    u4 = card(result, "U4")
    assert u4["win_rate"]["team_median"] == 0.4
    assert u4["win_rate"]["team_reps"] == 1
    assert u4["win_rate"]["percentile"] is None
    assert "U5" not in {c["rep_id"] for c in result["reps"]}
    # the headings of the families, in order
    (c1,) = [c for c in result["reps"] if c["rep_id"] == "U1"]
    assert [f["family"] for f in c1["families"]] == ["outcomes", "activity"]


def test_a_period_not_ended_is_marked_and_filters_keep_team_medians(hand_built):
    _, path = hand_built
    result = api.scorecard(api.load_config(str(path)), _registry(), rep="U2",
                           as_of=dt.date(2026, 8, 15))
    assert result["partial"] is True
    assert [c["rep_id"] for c in result["reps"]] == ["U2"]
    assert card(result, "U2")["win_rate"]["team_median"] == 0.25
    west = api.scorecard(api.load_config(str(path)), _registry(), team="West",
                         as_of=AFTER_Q3)
    assert [c["rep_id"] for c in west["reps"]] == ["U4"]


# -- the command ---------------------------------------------------------------------------


def run(path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(path), "scorecard", *args],
                              env={"COLUMNS": "80"})


def test_json_shape(hand_built):
    _, path = hand_built
    result = run(path, "--as-of", "2026-12-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"period", "period_start", "period_end", "partial", "as_of",
                         "computed", "reps"}
    rep = data["reps"][0]
    assert set(rep) == {"rep_id", "rep", "team", "families"}
    assert set(rep["families"][0]) == {"family", "metrics"}
    assert set(rep["families"][0]["metrics"][0]) == {
        "metric", "title", "unit", "direction", "value", "n", "team_median", "team_reps",
        "percentile", "target", "attainment", "below_target"}


def test_piped_output_fits_80_columns_and_shows_names_literally(hand_built):
    _, path = hand_built
    result = run(path, "--as-of", "2026-12-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), lines
    assert f"{HOSTILE} (U1) · team East" in result.stdout
    assert "Scorecards by quarter: 2026-Q3" in result.stdout
    assert "\x1b[" not in result.stdout
    partial = run(path, "--as-of", "2026-08-15")
    assert "2026-Q3 * (not ended on 2026-08-15)" in partial.stdout


def test_a_rep_by_name_and_unknown_names_exit_2_with_a_suggestion(hand_built):
    _, path = hand_built
    ok = run(path, "--rep", "Grace Hopper", "--as-of", "2026-12-01")
    assert ok.exit_code == 0 and "Grace Hopper (U2)" in ok.stdout
    assert "Alan Turing" not in ok.stdout
    bad = run(path, "--rep", "Grace Hoper")
    assert bad.exit_code == 2
    assert "did you mean 'Grace Hopper'" in bad.stderr
    team = run(path, "--team", "Eats")
    assert team.exit_code == 2 and "did you mean 'East'" in team.stderr


def test_no_values_yet_names_the_command_and_fails(sqlite_store, tmp_path):
    load_records(sqlite_store, {"users": USERS})
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{sqlite_store.url}"\n', encoding="utf-8")
    result = run(path)
    assert result.exit_code == 1
    assert "crmsync metrics compute" in result.stderr


# -- the demo ------------------------------------------------------------------------------


def test_the_demo_store_has_a_scorecard_for_every_rep(tmp_path):
    registry = _registry()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = api.demo(registry, store_url=url)
    config = Config(store_url=url)
    result = api.scorecard(config, registry, period=demo.period, as_of=demo.as_of.date())
    store = api.open_store(config)
    try:
        with store.engine.connect() as conn:
            reps = {r for r, in conn.execute(sa.text(
                "select remote_id from users where role in ('rep', 'sdr') and is_active"))}
    finally:
        store.dispose()
    shown = {c["rep_id"] for c in result["reps"]}
    assert reps and reps <= shown
    assert result["partial"] is True  # the demo's "today" is the last day of its quarter
    for c in result["reps"]:
        assert c["families"] and c["team"]
        for f in c["families"]:
            assert f["family"] in ("outcomes", "pipeline", "activity", "lead handling",
                                   "customers")


def _registry():
    from crmsync.plugin.manager import get_plugin_manager
    from crmsync.plugin.registry import Registry

    return Registry(get_plugin_manager())


def test_a_known_rep_without_values_says_so(hand_built):
    _, path = hand_built
    result = run(path, "--rep", "Edsger Dijkstra", "--as-of", "2026-12-01")
    assert result.exit_code == 1
    assert "for Edsger Dijkstra" in result.stderr
    assert "crmsync metrics compute" in result.stderr
    as_json = run(path, "--rep", "U5", "--as-of", "2026-12-01", "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["computed"] is True and data["reps"] == []
