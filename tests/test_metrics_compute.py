"""``crmsync metrics compute`` without options computes what the other commands read: the
catalogue by period for the organisation, by owner and by team, the snapshot metrics and the
metrics ``[[writeback]]`` maps; ``writeback plan`` without computed values says what to run."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import load_records
from crmsync.cli import cli
from crmsync.metrics import latest_values
from crmsync.orchestration.standard import standard_requests, writeback_requests
from crmsync.plugin.registry import Registry
from test_metrics import DATA
from writeback_support import Crm, connector_class, registry_with


@pytest.fixture
def crm() -> Crm:
    crm = Crm()
    crm.records["opportunities"] = {o["remote_id"]: {} for o in DATA["opportunities"]}
    return crm


@pytest.fixture
def setup(store, tmp_path, crm):
    load_records(store, DATA)
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n[metrics]\nperiod = "quarter"\n\n'
                    '[connections.crm]\ntype = "memcrm"\n\n'
                    '[[writeback]]\nmetric = "opportunity_age_days"\nconnection = "crm"\n'
                    'object = "opportunity"\ncreate_field = true\n')
    registry = registry_with(connector_class(crm))

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", str(path), *args], obj=registry)
    return store, invoke


def stored(store, **kw) -> set[str]:
    return {v.metric for v in latest_values(store, **kw)}


def test_compute_without_options_stores_org_owner_and_team_values(setup):
    store, invoke = setup
    result = invoke("metrics", "compute")
    assert result.exit_code == 0, result.output
    for dimension in (None, "owner", "team"):
        assert {"win_rate", "close_rate", "revenue"} <= stored(store, period="quarter",
                                                               dimension=dimension)
    assert "cac" in stored(store, period="quarter")                  # organisation only
    assert "cac" not in stored(store, period="quarter", dimension="owner")
    assert "skipped" not in result.output                            # no noise about that


def test_compute_without_options_stores_snapshots_and_mapped_record_metrics(setup):
    store, invoke = setup
    assert invoke("metrics", "compute").exit_code == 0
    snapshot = stored(store, period="all")
    assert {"dq_missing_amount", "sales_velocity", "opportunity_age_days"} <= snapshot
    assert "account_won_revenue" not in snapshot                     # not mapped: not computed
    ages = [v for v in latest_values(store, metric="opportunity_age_days", period="all")
            if v.subject_id is not None]
    assert len(ages) == sum(not o.get("is_deleted") for o in DATA["opportunities"])


def test_compute_json_lists_each_run(setup):
    _, invoke = setup
    result = invoke("metrics", "compute", "--json")
    data = json.loads(result.output)
    assert [(r["purpose"], r["period"], r["dimensions"], r["connection"])
            for r in data["runs"]] == [
        ("catalogue", "quarter", [None], None), ("catalogue", "quarter", ["owner"], None),
        ("catalogue", "quarter", ["team"], None), ("snapshot", "all", [None], None),
        ("snapshot", "all", ["owner"], None), ("snapshot", "all", ["team"], None),
        ("writeback", "all", [None], "crm")]
    assert data["values"] == sum(r["values"] for r in data["runs"]) > 0


def test_options_keep_the_single_computation(setup):
    store, invoke = setup
    assert invoke("metrics", "compute", "--metric", "win_rate").exit_code == 0
    assert stored(store, period="quarter") == {"win_rate"}
    assert stored(store, period="quarter", dimension="owner") == set()


def test_writeback_requests_group_mapped_metrics_per_connection_and_period():
    from crmsync.writeback.mapping import WritebackMapping

    metrics = Registry().metrics()
    mappings = [WritebackMapping(number=1, metric="opportunity_age_days", connection="a",
                                 object="opportunity"),
                WritebackMapping(number=2, metric="days_in_current_stage", connection="a",
                                 object="opportunity"),
                WritebackMapping(number=3, metric="account_won_revenue", connection="b",
                                 object="account"),
                WritebackMapping(number=4, metric="no_such_metric", connection="b",
                                 object="account")]
    got = [([m.NAME for m in r.metrics], r.period, r.dimensions, r.connection)
           for r in writeback_requests(mappings, metrics)]
    assert got == [(["opportunity_age_days", "days_in_current_stage"], "all", (None,), "a"),
                   (["account_won_revenue"], "all", (None,), "b")]
    assert [r.connection for r in writeback_requests(mappings, metrics, ["b"])] == ["b"]


def test_standard_requests_leave_record_metrics_to_the_mappings(tmp_path):
    from crmsync.core.config import Config

    requests = standard_requests(Config(store_url="sqlite://"), Registry().metrics(),
                                 period="month")
    names = {m.NAME for r in requests for m in r.metrics}
    assert "win_rate" in names and "opportunity_age_days" not in names


def test_standard_requests_take_a_rolling_window_like_compute():
    from crmsync.core.config import Config

    requests = standard_requests(Config(store_url="sqlite://"), Registry().metrics(),
                                 period="last_30d")
    catalogue = {m.NAME for r in requests if r.purpose == "catalogue" for m in r.metrics}
    snapshot = {m.NAME for r in requests if r.purpose == "snapshot" for m in r.metrics}
    assert "win_rate" in catalogue and "retention_rate" not in catalogue
    assert "dq_missing_amount" in snapshot and "win_rate" not in snapshot


def test_writeback_plan_without_computed_values_names_the_command(setup):
    _, invoke = setup
    result = invoke("writeback", "plan")
    assert result.exit_code == 0, result.output
    assert "no computed values of opportunity_age_days for crm (period all)" in result.output
    assert "run `crmsync metrics compute`" in result.output
    assert "nothing to write" not in result.output
    data = json.loads(invoke("writeback", "plan", "--json").output)
    assert data["mappings"][0]["computed"] is False


def test_writeback_plan_after_compute_has_values(setup):
    _, invoke = setup
    assert invoke("metrics", "compute").exit_code == 0
    data = json.loads(invoke("writeback", "plan", "--json").output)
    assert data["mappings"][0]["computed"] is True and data["updates"] > 0
