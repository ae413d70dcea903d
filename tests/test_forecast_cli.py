"""``crmsync forecast`` (docs/cli.md): names not ids, n next to values, 80 columns piped,
CRM names shown literally, --json, --accuracy marking a period not over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import load_records
from crmsync.cli import cli
from crmsync.store import Store
from test_forecast import ROLLUP

WIDTH = 80


@pytest.fixture
def config_file(sqlite_store: Store, tmp_path: Path) -> Path:
    load_records(sqlite_store, ROLLUP)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{sqlite_store.url}"\n', encoding="utf-8")
    return path


def invoke(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_file), "forecast", *args],
                              env={"COLUMNS": str(WIDTH)})


def assert_fits(text: str) -> None:
    long = [line for line in text.splitlines() if len(line.rstrip()) > WIDTH]
    assert not long, long
    assert "…" not in text


def test_reps_are_named_with_counts_next_to_amounts(config_file: Path) -> None:
    result = invoke(config_file, "--by", "owner", "--as-of", "2026-04-30")
    assert result.exit_code == 0, result.output
    assert "Forecast 2026-Q2 (2026-04-01 – 2026-06-30)" in result.stdout
    ann = next(line for line in result.stdout.splitlines()
               if line.startswith("Ann") and "n1" in line)
    assert ann.split()[1:5] == ["1,000", "n1", "700", "n2"]  # closed, commit
    assert "U1" not in result.stdout


def test_the_output_fits_80_columns_and_shows_crm_names_literally(config_file: Path) -> None:
    for by in ("owner", "team"):
        result = invoke(config_file, "--by", by, "--as-of", "2026-04-30")
        assert result.exit_code == 0, result.output
        assert_fits(result.stdout)
    shown = invoke(config_file, "--by", "owner", "--as-of", "2026-04-30").stdout
    assert "<script>x</script>" in shown


def test_json_carries_the_rollup_with_names(config_file: Path) -> None:
    result = invoke(config_file, "--by", "team", "--as-of", "2026-04-30", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    east = next(g for g in data["groups"] if g["name"] == "East")
    assert (east["quota"], east["kinds"]["commit"]) == (3500.0, 1700.0)


def test_accuracy_of_a_period_not_over_says_so(config_file: Path) -> None:
    result = invoke(config_file, "--accuracy", "--as-of", "2099-01-15")
    assert result.exit_code == 0, result.output
    assert "NOT ENDED" in result.stdout
    assert_fits(result.stdout)


def test_accuracy_json_per_rep(config_file: Path) -> None:
    result = invoke(config_file, "--accuracy", "--by", "owner", "--as-of", "2026-04-30",
                    "--json")
    data = json.loads(result.stdout)
    ann = next(g for g in data["groups"] if g["name"] == "Ann")
    assert ann["actual"] == {"n": 1, "amount": 1000.0}


def test_an_unknown_period_is_a_usage_error(config_file: Path) -> None:
    result = invoke(config_file, "--period", "week")
    assert result.exit_code == 2


def test_a_quota_with_no_rate_says_so_instead_of_a_dash(config_file: Path) -> None:
    # ROLLUP has a EUR quota for the rep "<script>x</script>" and no EUR rate
    result = invoke(config_file, "--by", "owner", "--as-of", "2026-04-30")
    assert result.exit_code == 0, result.output
    assert_fits(result.stdout)
    rep = next(line for line in result.stdout.splitlines()
               if line.startswith("<script>x</script>") and "no rate" in line)
    assert rep.split()[1:3] == ["no", "rate"]
    assert "no rate: a quota in a currency with no rate to USD" in " ".join(
        result.stdout.split())
    assert "no rate" not in invoke(config_file, "--by", "owner", "--as-of", "2025-04-30").stdout
