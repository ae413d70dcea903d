"""Baselines, the anomaly rule and targets relative to a baseline (docs/trends.md)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync import api
from crmsync.cli import cli
from crmsync.core.errors import ConfigError
from crmsync.metrics.baselines import TRENDS, AnomalyRule, baselines, judge, last_year_start
from crmsync.metrics.engine import MetricValue
from crmsync.metrics.targets import Target, parse_targets, resolve

RULE = AnomalyRule()


def test_a_value_outside_median_plus_k_scaled_mads_is_an_anomaly():
    window = [10.0, 12.0, 14.0, 100.0]  # median 13, MAD 2 → scale 2.9652, band ± 10.378
    inside, outside = judge(23.0, window, RULE), judge(24.0, window, RULE)
    assert inside.trailing == 13.0
    assert inside.scale == pytest.approx(2 * 1.4826)
    assert (inside.low, inside.high) == pytest.approx((13 - 3.5 * 2.9652, 13 + 3.5 * 2.9652))
    assert inside.anomaly is False and outside.anomaly is True


def test_a_zero_mad_falls_back_to_the_mean_absolute_deviation():
    window = [10.0, 10.0, 10.0, 14.0]  # MAD 0; mean AD 1 → scale 1.2533, band ± 4.387
    assert judge(14.0, window, RULE).anomaly is False
    assert judge(15.0, window, RULE).anomaly is True
    assert judge(14.0, window, RULE).scale == pytest.approx(1.2533)


def test_the_scale_is_at_least_a_share_of_the_median():
    window = [100.0, 100.0, 100.0, 100.0]  # no spread: 10 % of the median, band ± 35
    assert judge(134.0, window, RULE).anomaly is False
    assert judge(136.0, window, RULE).anomaly is True
    assert judge(136.0, window, AnomalyRule(min_spread=0.2)).anomaly is False


@pytest.mark.parametrize("value, window, n, reason", [
    (5.0, [0.0, 0.0, 0.0, 0.0], None, "flat"),
    (5.0, [1.0, 2.0], None, "history"),
    (5.0, [], None, "history"),
    (0.9, [0.1, 0.2, 0.3], 3.0, "n"),
    (None, [0.1, 0.2, 0.3], None, "no value"),
])
def test_a_value_is_not_judged_without_enough_to_judge_it(value, window, n, reason):
    verdict = judge(value, window, RULE, n)
    assert verdict.anomaly is None and verdict.reason == reason


def mv(start: dt.date, value: float | None, *, period: str = "quarter", n: float = 10.0,
       metric: str = "win_rate", who: str | None = None) -> MetricValue:
    from crmsync.core.periods import period_end

    return MetricValue(metric, period, start, period_end(period, start),
                       "owner" if who else None, who, value, None, n)


def test_baselines_take_last_year_and_the_median_of_the_four_periods_before():
    starts = [dt.date(2025, m, 1) for m in (1, 4, 7, 10)] + [dt.date(2026, 1, 1)]
    values = [mv(s, v) for s, v in zip(starts, [0.2, 0.3, 0.25, 0.35, 0.3], strict=True)]
    base = baselines(values)[(("win_rate", "quarter", None, None, None), starts[-1])]
    assert base.last_year == 0.2
    assert base.trailing == pytest.approx(0.275)
    assert base.history == 4


def test_a_missing_period_is_missing_not_zero():
    values = [mv(dt.date(2025, 4, 1), 0.3), mv(dt.date(2025, 10, 1), 0.5),
              mv(dt.date(2026, 1, 1), 0.4)]
    base = baselines(values)[(("win_rate", "quarter", None, None, None), dt.date(2026, 1, 1))]
    assert base.history == 2 and base.trailing == pytest.approx(0.4)
    assert base.last_year is None and base.reason == "history"


def test_each_rep_has_their_own_baseline():
    starts = [dt.date(2025, m, 1) for m in (1, 4, 7, 10)] + [dt.date(2026, 1, 1)]
    values = [mv(s, 0.2, who="U1") for s in starts] + [mv(s, 0.6, who="U2") for s in starts]
    out = baselines(values)
    assert out[(("win_rate", "quarter", "owner", "U1", None), starts[-1])].trailing == 0.2
    assert out[(("win_rate", "quarter", "owner", "U2", None), starts[-1])].trailing == 0.6


def test_a_period_not_ended_is_not_judged():
    starts = [dt.date(2025, m, 1) for m in (1, 4, 7, 10)] + [dt.date(2026, 1, 1)]
    values = [mv(s, v) for s, v in zip(starts, [0.2, 0.2, 0.2, 0.2, 0.9], strict=True)]
    key = (("win_rate", "quarter", None, None, None), starts[-1])
    assert baselines(values)[key].anomaly is True
    partial = baselines(values, today=dt.date(2026, 2, 1))[key]
    assert partial.anomaly is None and partial.reason == "partial"


@pytest.mark.parametrize("period, start, expected", [
    ("quarter", dt.date(2026, 4, 1), dt.date(2025, 4, 1)),
    ("month", dt.date(2026, 2, 1), dt.date(2025, 2, 1)),
    ("year", dt.date(2026, 1, 1), dt.date(2025, 1, 1)),
    ("week", dt.date(2026, 3, 2), dt.date(2025, 3, 3)),  # 52 weeks: a Monday again
    ("last_90d", dt.date(2026, 3, 2), None),
])
def test_last_year_is_the_same_period_a_year_before(period, start, expected):
    assert last_year_start(period, start) == expected


def test_trends_settings_are_read_and_checked(tmp_path):
    path = tmp_path / "crmsync.toml"
    path.write_text("[trends]\nk = 3\nmin_history = 4\nmin_n = 10\nmin_spread = 0\n")
    assert TRENDS.get(api.load_config(path)) == AnomalyRule(3.0, 4, 10.0, 0.0)
    path.write_text("[trends]\nmin_history = 5\n")
    with pytest.raises(ConfigError, match=r"\[trends\], key 'min_history'"):
        TRENDS.get(api.load_config(path))


# -- relative targets ---------------------------------------------------------------------


def test_a_relative_target_is_parsed():
    (plain, table) = parse_targets({
        "revenue": "baseline:last_year * 1.05",
        "win_rate": {"value": "baseline:trailing_4*1.1", "by": "owner"}})
    assert (plain.baseline, plain.factor, plain.value) == ("last_year", 1.05, None)
    assert (table.baseline, table.factor, table.by) == ("trailing_4", 1.1, "owner")


@pytest.mark.parametrize("spec", ['"baseline:median * 2"', '"last_year * 1.1"',
                                  '"baseline:trailing_4 * -1"', '"baseline:trailing_4 * x"'])
def test_a_bad_relative_target_is_an_error_naming_the_key(tmp_path, spec):
    path = tmp_path / "crmsync.toml"
    path.write_text(f"[targets]\nrevenue = {spec}\n")
    with pytest.raises(ConfigError, match=r"\[targets\], key 'revenue': .*baseline"):
        api.load_config(path)


def test_a_relative_target_resolves_from_the_value_s_baseline():
    t = Target("revenue", None, baseline="trailing_4", factor=1.1)
    assert resolve(t, {"trailing_4": 1000.0, "last_year": 5.0}) == pytest.approx(1100.0)
    assert resolve(t, {"trailing_4": None}) is None
    assert resolve(Target("revenue", 7.0), {}) == 7.0


# -- through the store --------------------------------------------------------------------

#: One won deal a quarter: 2025-Q1 … 2026-Q1 steady, 2026-Q2 a spike.
AMOUNTS = {"2025-02-10": 1000, "2025-05-10": 1100, "2025-08-10": 900, "2025-11-10": 1000,
           "2026-02-10": 1000, "2026-05-10": 5000}


def quarterly_deals() -> dict[str, list[dict]]:
    deals = [{"remote_id": f"O{i}", "owner_id": "U1", "status": "won",
              "closed_at": f"{day}T10:00:00", "amount": amount, "currency": "USD",
              "remote_created_at": "2025-01-01", "account_id": "A1"}
             for i, (day, amount) in enumerate(AMOUNTS.items())]
    return {"users": [{"remote_id": "U1", "name": "Ada Lovelace", "team": "East"}],
            "accounts": [{"remote_id": "A1", "segment": "SMB"}], "opportunities": deals}


@pytest.fixture
def trended(store, tmp_path):
    load_records(store, quarterly_deals())
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n'
                    '[targets]\nrevenue = "baseline:last_year * 1.05"\n'
                    "[trends]\nmin_n = 1\n")  # one deal a quarter
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(path), "metrics", "compute", "--metric",
                                 "revenue", "--by", "owner"])
    assert result.exit_code == 0, result.output
    return path


def run(path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(path), *args], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_spike_is_flagged_with_its_baselines(trended):
    rows = json.loads(run(trended, "metrics", "trends", "--metric", "revenue", "--last", "10",
                          "--json"))
    by_start = {r["period_start"]: r for r in rows if r["dimension"] is None}
    spike, steady = by_start["2026-04-01"], by_start["2026-01-01"]
    assert spike["anomaly"] is True
    assert spike["baseline_trailing"] == 1000.0 and spike["baseline_last_year"] == 1100.0
    assert steady["anomaly"] is False
    assert by_start["2025-04-01"]["anomaly"] is None  # one period of history
    assert by_start["2025-04-01"]["anomaly_reason"] == "history"


def test_anomalies_lists_only_the_flagged_values_by_name(trended):
    out = run(trended, "metrics", "trends", "--metric", "revenue", "--by", "owner",
              "--anomalies", "--last", "10")
    assert "Ada Lovelace  2026-Q2" in out and "2026-Q1" not in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_a_relative_target_is_resolved_per_period_and_drives_attainment(trended):
    rows = json.loads(run(trended, "metrics", "show", "--metric", "revenue", "--json"))
    by_start = {r["period_start"]: r for r in rows}
    assert by_start["2026-04-01"]["target"] == pytest.approx(1100 * 1.05)
    assert by_start["2026-04-01"]["attainment"] == pytest.approx(5000 / 1155)
    assert by_start["2026-01-01"]["target"] == pytest.approx(1050.0)
    assert by_start["2026-01-01"]["below_target"] is True
    assert by_start["2025-01-01"]["target"] is None  # no year before: no target
    assert by_start["2025-01-01"]["below_target"] is None


def test_a_population_below_min_n_is_not_judged(trended):
    trended.write_text(trended.read_text().replace("min_n = 1", "min_n = 2"))
    rows = json.loads(run(trended, "metrics", "trends", "--metric", "revenue", "--json"))
    assert rows and all(r["anomaly"] is None and r["anomaly_reason"] == "n" for r in rows)


def test_show_marks_an_anomaly(trended):
    out = run(trended, "metrics", "show", "--metric", "revenue")
    assert "5,000 USD !" in out and "! anomaly" in out


def test_the_scorecard_shows_the_resolved_relative_target(trended):
    config = api.load_config(trended)
    from crmsync.plugin.registry import Registry

    card = api.scorecard(config, Registry(), period="quarter", as_of=dt.date(2026, 6, 15))
    assert card["period_start"] == "2026-04-01"
    (line,) = [m for f in card["reps"][0]["families"] for m in f["metrics"]]
    assert line["metric"] == "revenue" and line["target"] == pytest.approx(1155.0)
    assert line["attainment"] == pytest.approx(5000 / 1155)


def test_metrics_compute_ends_with_the_latest_anomalies(trended):
    from crmsync.plugin.registry import Registry

    out = run(trended, "metrics", "compute")
    rows = api.metric_trends(api.load_config(trended), Registry(), anomalies=True)
    latest = max(r["period_start"] for r in rows)
    label = f"{latest[:4]}-Q{(int(latest[5:7]) - 1) // 3 + 1}"
    flat = " ".join(out.split())
    assert f"anomalies in {label} (outside the trailing-4 band): " in flat
    assert all(r["title"] in flat for r in rows if r["period_start"] == latest)
    assert "crmsync metrics trends --anomalies" in flat
    assert all(len(line) <= 80 for line in out.splitlines())
