"""``[targets]`` ``by`` takes a declared dimension (the built-in KPIs' ``currency``) and
``custom.<any key>`` (docs/configuration.md, ``[targets]``), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync import ConfigError
from crmsync.cli import cli
from crmsync.metrics.targets import parse_targets


def opp(rid: str, status: str, currency: str, source: str) -> dict[str, object]:
    return {"remote_id": rid, "owner_id": "U1", "status": status, "currency": currency,
            "remote_created_at": "2026-01-05T00:00:00", "closed_at": "2026-02-01T00:00:00",
            "amount": 100,
            "custom": {"Deal Source": source}}


#: win rate by currency: USD 1/2, EUR 2/3; decision rate by custom "Deal Source": every
#: deal is decided (Web 3/3, Partner 2/2).
DEALS = {"opportunities": [
    opp("O1", "won", "USD", "Web"), opp("O2", "lost", "USD", "Web"),
    opp("O3", "won", "EUR", "Partner"), opp("O4", "won", "EUR", "Partner"),
    opp("O5", "lost", "EUR", "Web")]}

TARGETS = '''
[targets]
win_rate = { value = 0.6, by = "currency" }
decision_rate = { value = 0.9, by = "custom.Deal Source" }
'''


@pytest.fixture
def config_file(store, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    load_records(store, DEALS)
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "{store.url}"\n{TARGETS}', encoding="utf-8")
    return str(cfg)


def shown(cfg: str, metric: str, *by: str) -> dict[object, tuple[object, object]]:
    """{dimension value: (target, below_target)} of ``metrics show --json`` after a compute."""
    runner = CliRunner()
    args = ["--metric", metric, "--period", "all", *by]
    computed = runner.invoke(cli, ["--config", cfg, "metrics", "compute", *args])
    assert computed.exit_code == 0, computed.output
    result = runner.invoke(cli, ["--config", cfg, "metrics", "show", *args, "--json"])
    assert result.exit_code == 0, result.output
    return {r["dimension_value"]: (r["target"], r["below_target"])
            for r in json.loads(result.output)}


def test_a_target_by_a_declared_dimension_applies_to_its_values_only(config_file):
    assert shown(config_file, "win_rate", "--by", "currency") == {
        "USD": (0.6, True), "EUR": (0.6, False)}
    assert shown(config_file, "win_rate") == {None: (None, None)}


def test_a_target_by_a_custom_field_with_any_key_applies_to_its_values(config_file):
    assert shown(config_file, "decision_rate", "--by", "custom.Deal Source") == {
        "Web": (0.9, False), "Partner": (0.9, False)}
    assert shown(config_file, "decision_rate", "--by", "currency") == {
        "USD": (None, None), "EUR": (None, None)}


@pytest.mark.parametrize("by, says", [
    ("Currency", "lower-case letters"),
    ("custom.", "custom.<field> takes a key"),
    ("custom.a\nb", "without control characters"),
    (7, "a dimension name (a string)"),
])
def test_a_target_by_that_cannot_name_a_dimension_is_an_error_naming_the_metric(by, says):
    with pytest.raises(ConfigError, match=r"\[targets\], key 'win_rate'") as err:
        parse_targets({"win_rate": {"value": 0.5, "by": by}}, file="crmsync.toml")
    assert says in str(err.value)


def test_an_invalid_target_by_stops_metrics_show_with_exit_2(tmp_path):
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text('[targets]\nwin_rate = { value = 0.5, by = "Deal Source" }\n',
                   encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "metrics", "show"])
    assert result.exit_code == 2
    assert "[targets], key 'win_rate'" in result.output
