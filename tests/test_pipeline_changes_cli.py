"""``crmsync pipeline changes`` on the hand-built history (tests/pipeline_changes_data.py):
the report within 80 columns with names not ids, ``--json``, ``--deals``, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync.cli.main import cli
from crmsync.store import Store
from pipeline_changes_data import HAND

XSS = "<script>alert(1)</script>"


@pytest.fixture
def config_file(sqlite_store: Store, tmp_path: Path) -> Path:
    data = {**HAND, "opportunities": [dict(o) for o in HAND["opportunities"]]}
    data["opportunities"][8]["name"] = "[bold]" + XSS  # P9: CRM text is not markup
    load_records(sqlite_store, data)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{sqlite_store.url}"\n', encoding="utf-8")
    return path


def run(path: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--config", str(path), "pipeline", "changes",
                                    "--from", "2026-07-01", "--to", "2026-07-31", *args],
                              env={"COLUMNS": "80"})


def test_the_report_fits_80_columns_and_adds_up(config_file: Path) -> None:
    result = run(config_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "fiscal quarter 2026-07-01 – 2026-09-30" in out
    assert "start: open pipeline" in out and "10,900.00" in out
    assert "= end: open pipeline" in out and "6,700.00" in out
    assert "− won" in out and "-5,400.00" in out
    assert "moved in" not in out  # only with --by


def test_json_gives_every_category_with_cents(config_file: Path) -> None:
    result = run(config_file, "--json", "--by", "team")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [g["name"] for g in data["groups"]] == ["East", "West"]
    end = {line["category"]: line for line in data["total"]}["end"]
    assert (end["deals"], end["cents"], end["amount"]) == (5, 670000, 6700.0)


def test_deals_are_listed_by_name_with_their_owners(config_file: Path) -> None:
    result = run(config_file, "--deals", "--by", "owner")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Pushed thrice · Ann East · 2,000.00 · pushed 3× (+92 d)" in out
    assert "[bold]" + XSS in out
    assert "Changed hands · Ann East · 800.00" in out  # moved out of Ann's pipeline
    assert "owner Bob West" in out
    assert " U1 " not in out and "P2" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_bad_window_is_one_line_naming_it(config_file: Path) -> None:
    result = run(config_file, "--window", "soon")
    assert result.exit_code != 0
    assert "window 'soon'" in result.output
    assert "Traceback" not in result.output
