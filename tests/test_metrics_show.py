"""``crmsync metrics show``: an unknown metric fails with a suggestion, ``--explain`` prints
definitions; the demo's KPI table marks periods not ended and gives n; units print right."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from conftest import load_records
from crmsync.cli import cli
from crmsync.cli.render import kpi_table
from crmsync.core.formatting import format_value
from crmsync.metrics.engine import MetricValue
from crmsync.plugin.registry import Registry
from test_metrics import DATA

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def show(sqlite_store, tmp_path):
    load_records(sqlite_store, DATA)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{sqlite_store.url}"\n[metrics]\nperiod = "quarter"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "metrics", "compute", "--metric",
                               "close_rate", "--metric", "revenue_growth"]).exit_code == 0

    def invoke(*args: str):
        return runner.invoke(cli, ["--config", str(path), "metrics", "show", *args],
                             terminal_width=200)
    return invoke


def test_an_unknown_metric_fails_with_a_suggestion(show):
    result = show("--metric", "close_rat")
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        "error: unknown metric 'close_rat' — did you mean 'close_rate'? (crmsync metrics list)")
    assert "no values yet" not in result.output


def test_a_known_metric_without_values_still_says_to_compute(show):
    result = show("--metric", "win_rate")
    assert result.exit_code == 0 and "run `crmsync metrics compute`" in result.output


def test_explain_prints_each_shown_metrics_definition_and_docs(show):
    result = show("--metric", "close_rate", "--explain")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "close_rate: Close rate (won ÷ created) (ratio, higher is better, version 2)" in out
    assert "Deals created in the period that are now won" in out
    assert "definition: docs/metrics/deals.md#close_rate" in out


def test_the_legend_points_to_explain(show):
    assert "definitions: --explain" in show("--metric", "close_rate").output


def test_n_is_empty_when_the_denominator_is_not_a_count(show):
    rows = json.loads(show("--metric", "revenue_growth", "--json").output)
    assert rows and all(r["n"] is None for r in rows)
    assert any(r["denominator"] is not None for r in rows)
    rows = json.loads(show("--metric", "close_rate", "--json").output)
    assert all(r["n"] == r["denominator"] for r in rows)


def test_every_builtin_metric_points_to_its_docs_section():
    for metric in Registry().metrics().values():
        page, anchor = metric.docs.split("#")
        assert anchor == metric.NAME and (ROOT / page).is_file(), metric.NAME


@pytest.mark.parametrize("value, unit, text", [
    (3.0, "multiple", "3.0×"), (0.082, "ratio", "8.2%"), (None, "multiple", "–")])
def test_units_print_as_people_read_them(value, unit, text):
    assert format_value(value, unit) == text


def value(metric, start, end, v, n):
    return MetricValue(metric=metric, period="quarter", period_start=start, period_end=end,
                       dimension=None, dimension_value=None, value=v, numerator=None,
                       denominator=n)


def test_the_kpi_table_marks_a_period_not_ended_and_gives_n():
    q2, q3, q4 = dt.date(2026, 4, 1), dt.date(2026, 7, 1), dt.date(2026, 10, 1)
    registry = Registry()
    values = [value("win_rate", q2, q3, 0.4, 20), value("win_rate", q3, q4, 0.5, 12),
              value("revenue_growth", q3, q4, 0.1, 90000.0)]
    defs = {n: registry.metric(n) for n in ("win_rate", "revenue_growth")}
    table = kpi_table("KPIs", values, {n: m.unit for n, m in defs.items()},
                      {n: m.title for n, m in defs.items()}, until=dt.date(2026, 9, 30),
                      definitions=defs)
    console = Console(record=True, width=200)
    console.print(table)
    out = console.export_text()
    assert "2026-Q2 " in out and "2026-Q2 *" not in out and "2026-Q3 *" in out
    win = next(line for line in out.splitlines() if "Win rate" in line)
    growth = next(line for line in out.splitlines() if "Revenue growth" in line)
    assert win.rstrip("│ ").endswith("12")                  # n of the latest period
    assert "90,000" not in growth                              # an amount is not an n


def test_the_demo_shows_names_n_partial_periods_and_multiples():
    result = CliRunner().invoke(cli, ["demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2026-Q3 *" in out and "* period not ended" in out      # as of 2026-09-30
    header = next(line for line in out.splitlines() if "2026-Q3 *" in line)
    assert header.rstrip(" ┃").endswith("n")
    assert "Close rate (won ÷ created)" in out and "Decision rate" in out
    coverage = [line for line in out.splitlines() if "Pipeline coverage" in line]
    assert coverage and all("%" not in line for line in coverage)
    assert any("×" in line for line in coverage)
    assert "By team, 2026-Q3 (not ended: as of 2026-09-30)" in out

