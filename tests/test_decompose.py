"""Why revenue changed: the Shapley split into volume, mix, win rate and deal size is exact
(docs/trends.md, "Why did it change")."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync import api
from crmsync.cli import cli
from crmsync.core.config import Config, MetricsConfig
from crmsync.core.errors import MetricError
from crmsync.metrics.decompose import Cell, decompose, round_to_cents, shapley


def total(result: dict) -> float:
    return round(sum(result["components"].values()), 2)


def test_more_deals_at_the_same_rate_and_size_is_all_volume():
    out = decompose({"": Cell(10, 5, 500)}, {"": Cell(20, 10, 1000)})
    assert out["components"] == {"volume": 500.0, "mix": 0.0, "win_rate": 0.0,
                                 "deal_size": 0.0}


def test_win_rate_and_deal_size_share_their_interaction_equally():
    # N 10; win rate 0.2 → 0.4; size 100 → 150: R 200 → 600
    out = decompose({"": Cell(10, 2, 200)}, {"": Cell(10, 4, 600)})
    assert out["components"]["win_rate"] == 250.0  # ½(0.2·100·10 + 0.2·150·10)
    assert out["components"]["deal_size"] == 150.0  # ½(0.2·50·10 + 0.4·50·10)
    assert out["change"] == 400.0


def test_shapley_values_add_up_exactly():
    before = [Fraction(3), Fraction(1, 3), Fraction(2, 7), Fraction(1001, 10)]
    after = [Fraction(5), Fraction(1, 5), Fraction(3, 7), Fraction(999, 10)]
    import math
    assert sum(shapley(before, after)) == math.prod(after) - math.prod(before)


def test_a_shift_between_segments_is_mix():
    # same deals closed, same rates and sizes per team: only the split moved
    before = {"East": Cell(8, 4, 4000), "West": Cell(2, 1, 100)}
    after = {"East": Cell(2, 1, 1000), "West": Cell(8, 4, 400)}
    out = decompose(before, after)
    assert out["components"]["mix"] == out["change"] == -2700.0
    assert out["components"]["volume"] == out["components"]["win_rate"] == 0.0


def test_a_segment_without_deals_in_one_period_is_exact():
    before = {"East": Cell(4, 2, 4000.10), "West": Cell(2, 1, 500.05)}
    after = {"East": Cell(3, 1, 2500.55)}  # West closed nothing
    out = decompose(before, after)
    assert out["change"] == pytest.approx(2500.55 - 4500.15)
    assert total(out) == out["change"]
    west = next(s for s in out["segments"] if s["segment"] == "West")
    assert round(sum(west["components"].values()), 2) == west["change"] == -500.05
    assert west["components"]["win_rate"] == west["components"]["deal_size"] == 0.0


def test_a_zero_win_rate_is_exact():
    before = {"East": Cell(5, 0, 0), "West": Cell(5, 2, 333.33)}
    after = {"East": Cell(4, 2, 1234.56), "West": Cell(6, 0, 0)}
    out = decompose(before, after)
    assert total(out) == out["change"] == round(1234.56 - 333.33, 2)
    east = next(s for s in out["segments"] if s["segment"] == "East")
    assert east["components"]["deal_size"] == 0.0  # no size before: it takes the new one


def test_a_first_period_without_any_deal_is_all_volume():
    out = decompose({}, {"East": Cell(4, 2, 800), "West": Cell(1, 1, 200)})
    assert out["components"] == {"volume": 1000.0, "mix": 0.0, "win_rate": 0.0,
                                 "deal_size": 0.0}


def test_revenue_without_won_deals_is_an_error():
    with pytest.raises(MetricError, match="revenue without won deals"):
        decompose({"": Cell(3, 0, 10)}, {"": Cell(3, 1, 10)})


def test_rounding_keeps_the_sum_to_the_cent():
    thirds = {k: Fraction(1, 3) for k in ("a", "b", "c")}
    assert sum(round_to_cents(thirds, Fraction(1)).values()) == pytest.approx(1.0)
    assert sorted(round_to_cents(thirds, Fraction(1)).values()) == [0.33, 0.33, 0.34]


# -- through the store --------------------------------------------------------------------


def deal(rid: str, owner: str, status: str, closed: str, amount: float) -> dict:
    return {"remote_id": rid, "owner_id": owner, "status": status,
            "closed_at": f"{closed}T10:00:00", "amount": amount, "currency": "USD",
            "remote_created_at": "2025-12-01", "account_id": "A1" if owner == "U1" else "A2"}


#: Q1: East (Ada) 4 closed, 2 won (1000.10 + 3000.00); West (Grace) 2 closed, 1 won (500.05).
#: Q2: East 3 closed, 1 won (2500.55); West 2 closed, none won (a zero win rate).
#: Q3: West closes nothing (a segment with no deals).
DEALS = [
    deal("O1", "U1", "won", "2026-01-15", 1000.10), deal("O2", "U1", "won", "2026-02-15", 3000),
    deal("O3", "U1", "lost", "2026-02-20", 50), deal("O4", "U1", "lost", "2026-03-01", 70),
    deal("O5", "U2", "won", "2026-01-20", 500.05), deal("O6", "U2", "lost", "2026-03-03", 10),
    deal("O7", "U1", "won", "2026-04-15", 2500.55), deal("O8", "U1", "lost", "2026-05-01", 1),
    deal("O9", "U1", "lost", "2026-05-02", 1), deal("O10", "U2", "lost", "2026-05-03", 1),
    deal("O11", "U2", "lost", "2026-06-03", 1), deal("O12", "U1", "won", "2026-07-03", 777.77),
]


@pytest.fixture
def deals_store(store):
    load_records(store, {
        "users": [{"remote_id": "U1", "name": "Ada Lovelace", "team": "East"},
                  {"remote_id": "U2", "name": "Grace Hopper", "team": "West"}],
        "accounts": [{"remote_id": "A1", "segment": "SMB"},
                     {"remote_id": "A2", "segment": "Enterprise"}],
        "opportunities": DEALS})
    return store


def config(store) -> Config:
    return Config(store_url=store.url, metrics=MetricsConfig(period="quarter"))


@pytest.mark.parametrize("start, end, change", [
    ("2026-Q1", "2026-Q2", 2500.55 - 4500.15),
    ("2026-Q2", "2026-Q3", 777.77 - 2500.55),
    ("2026-01-01", "2026-07-15", 777.77 - 4500.15),
])
@pytest.mark.parametrize("by", [None, "team", "segment", "owner"])
def test_components_sum_to_the_change_to_the_cent(deals_store, registry, by, start, end,
                                                  change):
    out = api.why_changed(config(deals_store), registry, start=start, end=end, by=by,
                          store=deals_store)
    assert out["change"] == round(change, 2)
    assert total(out) == out["change"]
    for s in out["segments"]:
        assert round(sum(s["components"].values()), 2) == s["change"]
    if by is None:
        assert out["components"]["mix"] == 0.0


def test_segments_are_named_and_missing_breakdowns_are_computed(deals_store, registry):
    out = api.why_changed(config(deals_store), registry, start="2026-Q1", end="2026-Q2",
                          by="owner", store=deals_store)
    assert [s["label"] for s in out["segments"]] == ["Ada Lovelace", "Grace Hopper"]
    assert out["closed"] == [6.0, 5.0]
    grace = out["segments"][1]
    assert grace["won"] == [1.0, 0.0] and grace["after"] == 0.0


def test_an_unknown_period_is_an_error_naming_the_stored_range(deals_store, registry):
    with pytest.raises(MetricError, match=r"no quarter '2019-Q1'.*2026-Q1 … 2026-Q3"):
        api.why_changed(config(deals_store), registry, start="2019-Q1", end="2026-Q2",
                        store=deals_store)


def test_only_revenue_decomposes(deals_store, registry):
    with pytest.raises(MetricError, match="cannot be decomposed"):
        api.why_changed(config(deals_store), registry, metric="win_rate", start="2026-Q1",
                        end="2026-Q2", store=deals_store)


def test_the_command_prints_components_by_name_within_80_columns(deals_store, tmp_path):
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{deals_store.url}"\n')
    runner = CliRunner()
    args = ["--config", str(path), "metrics", "why", "--from", "2026-Q1", "--to", "2026-Q2",
            "--by", "team"]
    result = runner.invoke(cli, args, terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "change -1,999.60 USD (deals closed: n 6 → 5)" in result.output
    assert "West" in result.output and "win rate" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    data = json.loads(runner.invoke(cli, [*args, "--json"]).output)
    assert data["method"] == "shapley" and round(sum(data["components"].values()), 2) == \
        data["change"]
