"""As-of runs and snapshots (docs/as-of.md): what ``--as-of DATE`` means, the weekly backfill
instants, values stored apart from ``metric_values``, the CLI, the dashboard trend from
snapshots, and ``[metrics] closed_deal_owner`` on an owner change mid-period (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from as_of_support import world
from conftest import load_records
from crmsync.cli import cli
from crmsync.core.config import Config, MetricsConfig, load_config
from crmsync.core.errors import ConfigError, MetricError
from crmsync.core.schema import metric_values
from crmsync.dashboard.data import DashboardData
from crmsync.dashboard.filters import Filters
from crmsync.dashboard.sales import trends
from crmsync.metrics import compute
from crmsync.metrics.snapshots import backfill_instants, end_of_day, parse_as_of, snapshot_series
from crmsync.orchestration.snapshots import compute_as_of, record_snapshots
from crmsync.plugin.registry import Registry
from crmsync.store import Store


def test_a_date_means_the_end_of_that_day_in_the_time_zone() -> None:
    assert end_of_day(dt.date(2026, 3, 31), "Europe/Paris") == dt.datetime(
        2026, 3, 31, 21, 59, 59, 999999)
    assert parse_as_of("2026-03-31", "UTC") == dt.datetime(2026, 3, 31, 23, 59, 59, 999999)


def test_a_date_and_time_is_utc_unless_it_has_an_offset() -> None:
    assert parse_as_of("2026-03-31T12:00", "Europe/Paris") == dt.datetime(2026, 3, 31, 12)
    assert parse_as_of("2026-03-31T12:00+02:00", "UTC") == dt.datetime(2026, 3, 31, 10)


def test_a_bad_as_of_is_an_error_naming_it() -> None:
    with pytest.raises(MetricError, match="'31/03/2026' is not a date"):
        parse_as_of("31/03/2026", "UTC")


def test_the_backfill_takes_the_ends_of_the_last_whole_weeks() -> None:
    wednesday = dt.datetime(2026, 3, 11, 9)
    assert [i.date() for i in backfill_instants("3w", wednesday, "UTC")] == [
        dt.date(2026, 2, 22), dt.date(2026, 3, 1), dt.date(2026, 3, 8)]
    sunday = dt.datetime(2026, 3, 8, 9)  # its week is not over
    assert backfill_instants("1w", sunday, "UTC")[0].date() == dt.date(2026, 3, 1)
    with pytest.raises(MetricError, match="12 weeks"):
        backfill_instants("12 weeks", wednesday, "UTC")


@pytest.fixture
def loaded(store: Store) -> Store:
    load_records(store, world(None))
    return store


def _config(store: Store, **options: Any) -> Config:
    return Config(store_url=store.url, metrics=MetricsConfig(period="quarter", options=options))


def test_as_of_values_go_to_snapshots_and_leave_the_current_values(
        loaded: Store, registry: Registry) -> None:
    at = dt.datetime(2026, 3, 31, 23, 59, 59)
    config = _config(loaded)
    now = compute(loaded, [registry.metric("pipeline_value")], config.metrics)
    result = compute_as_of(config, registry, at, ["pipeline_value"], store=loaded)
    with loaded.engine.connect() as conn:
        current = conn.execute(sa.select(sa.func.count()).select_from(metric_values)
                               .where(metric_values.c.run_id == now.run_id)).scalar()
        runs = conn.execute(sa.select(sa.func.count(sa.distinct(metric_values.c.run_id)))
                            ).scalar()
    assert current == len(now.values) and runs == 1
    assert result.values and {v.metric for v in result.values} == {"pipeline_value"}
    assert {round(v.value or 0) for v in result.values} != {round(v.value or 0)
                                                            for v in now.values}


def test_snapshots_backfill_a_weekly_series_as_it_stood(loaded: Store,
                                                         registry: Registry) -> None:
    config = _config(loaded)
    out = record_snapshots(config, registry, backfill="3w", metrics=["pipeline_value"],
                           store=loaded, now=dt.datetime(2026, 3, 11))
    assert [a.date() for a, _ in out.instants] == [
        dt.date(2026, 2, 22), dt.date(2026, 3, 1), dt.date(2026, 3, 8)]
    series = snapshot_series(loaded, "pipeline_value", period="quarter")
    q1 = {a.date(): v.value for a, v in series if v.period_start == dt.date(2026, 1, 1)}
    for a, _ in out.instants:  # each equals a computation as of that instant
        alone = compute(loaded, [registry.metric("pipeline_value")], config.metrics,
                        as_of=a, rebuilt=True)
        assert q1[a.date()] == next(v.value for v in alone.values
                                    if v.period_start == dt.date(2026, 1, 1))
    assert len(set(q1.values())) > 1  # the pipeline moved from week to week


def test_the_trend_page_draws_the_snapshots(loaded: Store, registry: Registry) -> None:
    config = _config(loaded)
    record_snapshots(config, registry, backfill="3w", metrics=["pipeline_value"],
                     store=loaded, now=dt.datetime(2026, 3, 11))
    data = DashboardData(config, registry, as_of=dt.date(2026, 3, 11), store=loaded)
    page = trends(data, Filters(period="quarter", metric="pipeline_value"))
    org = next(s for s in page["figure"]["data"] if s["name"] == "organisation")
    assert org["x"] == ["2026-02-22", "2026-03-01", "2026-03-08"]


# -- owner at close --------------------------------------------------------------------------

def change(rid: str, opp: str, at: str, old: str, new: str, field: str = "owner_id"
           ) -> dict[str, Any]:
    return {"remote_id": rid, "opportunity_id": opp, "field": field, "changed_at": at,
            "old_value": old, "new_value": new, "source": "crm"}


OWNERS = {
    "users": [{"remote_id": "U1", "team": "East"}, {"remote_id": "U2", "team": "West"}],
    "opportunities": [
        # won by U1, handed to U2 after the close (an account manager takes over)
        {"remote_id": "W1", "status": "won", "owner_id": "U2", "amount": 100.0,
         "currency": "USD", "remote_created_at": "2026-01-02T00:00:00",
         "closed_at": "2026-02-10T00:00:00"},
        # moved from U1 to U2 mid-quarter, then won by U2
        {"remote_id": "W2", "status": "won", "owner_id": "U2", "amount": 300.0,
         "currency": "USD", "remote_created_at": "2026-01-02T00:00:00",
         "closed_at": "2026-03-01T00:00:00"},
        # lost by U2, handed back to U1 afterwards
        {"remote_id": "L1", "status": "lost", "owner_id": "U1", "amount": 50.0,
         "currency": "USD", "remote_created_at": "2026-01-02T00:00:00",
         "closed_at": "2026-02-20T00:00:00"},
    ],
    "opportunity_field_history": [
        change("h1", "W1", "2026-02-15T00:00:00", "U1", "U2"),
        change("h2", "W2", "2026-02-01T00:00:00", "U1", "U2"),
        change("h3", "L1", "2026-03-05T00:00:00", "U2", "U1"),
    ],
}


def _by_owner(store: Store, registry: Registry, metric: str, owner: str
              ) -> dict[str, float | None]:
    out = {}
    for mode in ("current", "at_close"):
        result = compute(store, [registry.metric(metric)],
                         MetricsConfig(options={"closed_deal_owner": mode}), period="quarter",
                         dimensions=("owner",), as_of=dt.datetime(2026, 4, 1))
        out[mode] = next((v.value for v in result.values if v.dimension_value == owner
                          and v.subject_id is None), None)
    return out


def test_revenue_goes_to_the_owner_at_close_when_asked(store: Store,
                                                        registry: Registry) -> None:
    load_records(store, OWNERS)
    assert _by_owner(store, registry, "revenue", "U1") == {"current": None, "at_close": 100.0}
    assert _by_owner(store, registry, "revenue", "U2") == {"current": 400.0, "at_close": 300.0}


def test_win_rate_follows_the_owner_at_close(store: Store, registry: Registry) -> None:
    load_records(store, OWNERS)
    # current: U1 has L1 (lost) → 0; at close: U1 won W1 → 1/1; U2 won W2, lost L1 → 1/2
    assert _by_owner(store, registry, "win_rate", "U1") == {"current": 0.0, "at_close": 1.0}
    assert _by_owner(store, registry, "win_rate", "U2") == {"current": 1.0, "at_close": 0.5}


def test_closed_deal_owner_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "crmsync.toml"
    path.write_text('[metrics]\nclosed_deal_owner = "at_start"\n')
    with pytest.raises(ConfigError, match="current, at_close"):
        load_config(path)
    path.write_text('[metrics]\nclosed_deal_owner = "at_close"\n')
    assert load_config(path).metrics.options["closed_deal_owner"] == "at_close"


# -- CLI -------------------------------------------------------------------------------------

@pytest.fixture
def cli_config(sqlite_store: Store, tmp_path: Path) -> Path:
    load_records(sqlite_store, world(None))
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{sqlite_store.url}"\n[metrics]\nperiod = "quarter"\n')
    return path


def test_cli_computes_and_shows_values_as_of_a_date(cli_config: Path) -> None:
    runner = CliRunner()
    base = ["--config", str(cli_config), "metrics"]
    done = runner.invoke(cli, [*base, "compute", "--as-of", "2026-03-31", "--metric",
                               "pipeline_value", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["as_of"] == "2026-03-31T23:59:59.999999"
    shown = runner.invoke(cli, [*base, "show", "--as-of", "2026-03-31", "--json"])
    assert shown.exit_code == 0, shown.output
    assert {r["metric"] for r in json.loads(shown.output)} == {"pipeline_value"}
    now = runner.invoke(cli, [*base, "show", "--metric", "pipeline_value"])
    assert "no values yet" in now.output  # the current values were not written
    other = runner.invoke(cli, [*base, "show", "--as-of", "2026-03-30"])
    assert "no values as of 2026-03-30" in other.output


def test_cli_records_a_backfill_of_snapshots(cli_config: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "metrics", "snapshot",
                                      "--backfill", "2w", "--json"])
    assert result.exit_code == 0, result.output
    snaps = json.loads(result.output)["snapshots"]
    assert len(snaps) == 2 and all(s["values"] > 0 for s in snaps)


def test_cli_names_a_bad_date(cli_config: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(cli_config), "metrics", "compute",
                                      "--as-of", "yesterday"])
    assert result.exit_code != 0
    assert "--as-of 'yesterday' is not a date" in result.output


def test_a_snapshot_job_records_the_headline_kpis(loaded: Store, registry: Registry) -> None:
    from crmsync.orchestration.jobs import Job
    from crmsync.orchestration.scheduler import run_job

    job = Job(name="weekly", cron="0 6 * * 1", task="snapshot", metrics=("pipeline_value",))
    assert run_job(_config(loaded), registry, job, store=loaded) == "success"
    assert snapshot_series(loaded, "pipeline_value", period="quarter")
