"""``crmsync status`` names the inputs KPIs lack: every table a metric declares in
``Metric.inputs`` that holds no live row, the KPIs it leaves empty, and the installed
connectors that could fill it (``Connector.INPUT_SOURCES``); at 80 columns, piped, and in
``--json``. The declarations are checked against the metrics' own SQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.sql import visitors

from conftest import load_records, make_config
from crmsync import api
from crmsync.cli import cli
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.context import MetricContext
from crmsync.plugin.registry import Registry
from crmsync.store import Store

WIDTH = 80
DEALS = {"opportunities": [{"remote_id": "o1", "name": "Deal", "status": "won",
                            "amount": 100.0, "closed_at": "2026-01-10T00:00:00Z"}]}
FEEDBACK = {"remote_id": "f1", "type": "nps", "score": 9.0,
            "responded_at": "2026-01-10T00:00:00Z"}


def config_file(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n', encoding="utf-8")
    return path


def missing(store: Store) -> dict[str, dict]:
    data = api.status(make_config(store.url))
    return {m["input"]: m for m in data["missing_inputs"]}


def test_each_empty_input_is_named_with_its_kpis_and_sources(sqlite_store: Store) -> None:
    load_records(sqlite_store, DEALS)

    got = missing(sqlite_store)

    assert {"quotas", "spend", "feedback", "opportunity_line_items", "web_traffic"} <= set(got)
    assert got["web_traffic"]["metrics"] == ["sessions", "traffic_growth", "visit_to_lead_rate"]
    assert got["quotas"]["metrics"] == ["pipeline_coverage", "quota_attainment"]
    assert got["feedback"]["metrics"] == ["ces", "csat", "nps"]
    assert got["feedback"]["sources"] == ["HubSpot feedback surveys (NPS, CSAT, CES)",
                                          "Salesforce survey responses (Feedback Management)",
                                          "feedback.csv through the files connector"]
    assert got["quotas"]["sources"][:2] == [
        "HubSpot goals (sales quota goals)",
        "Salesforce forecast quotas (ForecastingQuota, Collaborative Forecasts)"]
    assert not any("demo" in s for m in got.values() for s in m["sources"])


def test_an_input_with_a_live_row_is_not_missing_a_deleted_one_is(sqlite_store: Store) -> None:
    load_records(sqlite_store, {**DEALS, "feedback": [FEEDBACK]})
    assert "feedback" not in missing(sqlite_store)

    load_records(sqlite_store, {"feedback": [{**FEEDBACK, "is_deleted": True}]})

    assert "feedback" in missing(sqlite_store)


def test_status_prints_missing_inputs_within_80_columns_piped(sqlite_store: Store,
                                                               tmp_path: Path) -> None:
    load_records(sqlite_store, DEALS)
    path = config_file(sqlite_store, tmp_path)

    result = CliRunner().invoke(cli, ["--config", str(path), "status"],
                                env={"COLUMNS": str(WIDTH)})

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not [line for line in lines if len(line.rstrip()) > WIDTH]
    assert "…" not in result.output
    assert "missing inputs (their KPIs show no value):" in lines
    text = " ".join(line.strip() for line in lines)
    assert ("quotas: none synced — HubSpot goals (sales quota goals), Salesforce forecast "
            "quotas (ForecastingQuota, Collaborative Forecasts) or quotas.csv through the "
            "files connector empty KPIs: pipeline_coverage, quota_attainment") in text
    assert ("feedback: none synced — HubSpot feedback surveys (NPS, CSAT, CES), Salesforce "
            "survey responses (Feedback Management) or feedback.csv through the files "
            "connector") in text


def test_status_json_has_the_missing_inputs(sqlite_store: Store, tmp_path: Path) -> None:
    load_records(sqlite_store, {**DEALS, "feedback": [FEEDBACK]})
    path = config_file(sqlite_store, tmp_path)

    result = CliRunner().invoke(cli, ["--config", str(path), "status", "--json"])

    data = json.loads(result.output)
    spend = next(m for m in data["missing_inputs"] if m["input"] == "spend")
    assert spend["metrics"] == ["cac", "ltv_to_cac"]
    assert "feedback" not in {m["input"] for m in data["missing_inputs"]}


def _tables(metric) -> set[str]:
    ctx = MetricContext(dialect="sqlite")
    query = metric.query(ctx)
    return {x.name for s in (query, *ctx.shared_facts.values()) for x in visitors.iterate(s)
            if isinstance(x, sa.Table) and x.name in SYNCED_TABLES}


@pytest.fixture(scope="module")
def read_tables() -> dict[str, tuple[tuple[str, ...], set[str]]]:
    metrics = Registry().metrics()
    return {name: (m.inputs, _tables(m)) for name, m in metrics.items()}


def test_declared_inputs_are_tables_the_metric_reads(read_tables) -> None:
    wrong = {n: (declared, read) for n, (declared, read) in read_tables.items()
             if not set(declared) <= read}
    assert not wrong


def test_every_metric_reading_an_input_table_declares_it(read_tables) -> None:
    inputs = {t for declared, _ in read_tables.values() for t in declared}
    undeclared = {n: sorted((read & inputs) - set(declared))
                  for n, (declared, read) in read_tables.items() if (read & inputs) - set(declared)}
    assert inputs >= {"quotas", "spend", "feedback", "opportunity_line_items", "web_traffic"}
    assert not undeclared
