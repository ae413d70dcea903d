"""``custom.<field>`` takes any custom-field key, on SQLite and PostgreSQL: the key is bound,
never spliced into SQL (docs/metrics.md, "Dimensions")."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import load_records
from crmsync import MetricError
from crmsync.cli import cli
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.registry import Registry

KEYS = [
    "a'); DROP TABLE x; --",
    '"',
    "$.x",
    "]",
    "a.b",
    "[0]",
    "Deal Source",
    "deal-source",
    "9f2c6a1d0b7e4c3a8d5f6e7a1b2c3d4e5f6a7b8c",  # a Pipedrive custom-field key
    "Tür \u540d",
    "back\\slash",
    "%(x)s :x ?",
    "'; SELECT 1; --",
]


def opp(rid: str, status: str, custom: dict[str, object]) -> dict[str, object]:
    return {"remote_id": rid, "owner_id": "U1", "status": status, "currency": "USD",
            "closed_at": "2026-02-01T00:00:00", "amount": 1, "custom": custom}


def table_names(store) -> set[str]:  # type: ignore[no-untyped-def]
    return set(sa.inspect(store.engine).get_table_names())


@pytest.fixture
def victim(store):  # type: ignore[no-untyped-def]
    """A table named ``x`` (what the injection-shaped key tries to drop) with one row."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE x (n INTEGER)"))
        conn.execute(sa.text("INSERT INTO x (n) VALUES (1)"))
    return store


@pytest.mark.parametrize("key", KEYS)
def test_any_custom_field_key_groups_correctly_and_runs_nothing_else(victim, key):
    store = victim
    # decoys: keys the path syntax of a badly quoted key would reach instead
    decoys = {"a": "decoy-a", "x": "decoy-x", "0": "decoy-0", "b": "decoy-b"}
    load_records(store, {"opportunities": [
        opp("O1", "won", {**decoys, key: "Web"}), opp("O2", "lost", {**decoys, key: "Web"}),
        opp("O3", "won", {**decoys, key: "Partner"}), opp("O4", "won", decoys)]})
    before = table_names(store)
    win_rate = Registry().metric("win_rate")
    result = compute(store, [win_rate], MetricsConfig(), period="all",
                     dimensions=(f"custom.{key}",))
    assert {v.dimension_value: v.value for v in result.values} == {
        "Web": 0.5, "Partner": 1.0, None: 1.0}
    assert {v.dimension for v in result.values} == {f"custom.{key}"}
    assert table_names(store) == before
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT n FROM x")).all() == [(1,)]
        assert conn.execute(sa.text("SELECT count(*) FROM opportunities")).scalar() == 4


def test_the_cli_takes_a_custom_field_key_with_spaces(store, tmp_path):
    load_records(store, {"opportunities": [
        opp("O1", "won", {"Deal Source": "Web"}), opp("O2", "lost", {"Deal Source": "Web"}),
        opp("O3", "won", {"Deal Source": "Partner"})]})
    cfg = tmp_path / "crmsync.toml"
    cfg.write_text(f'[store]\nurl = "{store.url}"\n')
    runner = CliRunner()
    computed = runner.invoke(cli, ["--config", str(cfg), "metrics", "compute", "--metric",
                                   "win_rate", "--by", "custom.Deal Source", "--period", "all"])
    assert computed.exit_code == 0, computed.output
    shown = runner.invoke(cli, ["--config", str(cfg), "metrics", "show", "--metric", "win_rate",
                                "--by", "custom.Deal Source", "--period", "all", "--json"])
    rows = json.loads(shown.output)
    assert {r["label"]: r["value"] for r in rows} == {"Web": 0.5, "Partner": 1.0}


@pytest.mark.parametrize("name", ["custom.", "custom.a\x00b", "custom.line\nbreak",
                                  "custom." + "k" * 58])
def test_a_key_the_store_cannot_hold_is_a_clear_error(sqlite_store, name):
    with pytest.raises(MetricError, match=r"custom\.<field> takes a key of 1-57 characters "
                                          r"without control characters"):
        compute(sqlite_store, [Registry().metric("win_rate")], MetricsConfig(), period="all",
                dimensions=(name,))


def test_the_cli_refuses_a_key_the_store_cannot_hold(tmp_path):
    result = CliRunner().invoke(cli, ["metrics", "compute", "--by", "custom." + "k" * 58])
    assert result.exit_code == 2
    assert "custom.<field> takes a key of 1-57 characters" in result.output
