"""Write-back planning: validation (nothing written) and what a plan counts, on SQLite and
PostgreSQL, against an in-memory connector registered in a fixture."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crmsync import ConfigError, WritebackError, api
from crmsync.core.schema import writeback_state
from writeback_support import (
    NOW,
    Crm,
    config_with,
    connector_class,
    put_records,
    put_values,
    registry_with,
)

OPP = {"metric": "days_in_current_stage", "object": "opportunity"}


@pytest.fixture
def crm() -> Crm:
    return Crm()


@pytest.fixture
def registry(crm):
    return registry_with(connector_class(crm))


@pytest.fixture
def opps(store):
    put_records(store, "opportunities", ["O1", "O2", "O3"])
    put_values(store, "days_in_current_stage", {"O1": 3.7, "O2": 10.2, "O3": None})
    return store


def plan(store, registry, *mappings):
    return api.writeback_plan(config_with(store, *mappings), registry, store=store, now=NOW)


def test_a_missing_field_with_create_field_is_planned_with_its_type(opps, registry):
    p = plan(opps, registry, dict(OPP, create_field=True), {
        "metric": "account_win_rate", "object": "account", "create_field": True})

    assert [(m.create.name, m.create.type) for m in p.fields_to_create] == [
        ("crmsync_days_in_current_stage", "number"), ("crmsync_account_win_rate", "percent")]


def test_plan_counts_updates_and_samples_old_to_new(opps, registry, crm):
    crm.add_field("opportunities", "crmsync_days_in_current_stage")
    [m] = plan(opps, registry, OPP).mappings

    assert (len(m.changes), m.unchanged, dict(m.skipped)) == (2, 0, {"null": 1})
    assert [(s["record"], s["old"], s["new"]) for s in m.as_dict()["sample"]] == [
        ("O1", None, 3), ("O2", None, 10)]


def test_plan_writes_nothing(opps, registry, crm):
    plan(opps, registry, dict(OPP, create_field=True))

    assert (crm.write_calls, crm.fields) == (0, {})
    with opps.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(writeback_state)
                            ).scalar_one() == 0


def test_an_unknown_metric_is_an_error_naming_the_mapping(opps, registry):
    with pytest.raises(ConfigError, match=r"\[writeback #1\], key 'metric': unknown metric"):
        plan(opps, registry, {"metric": "days_in_stag", "object": "opportunity"})


def test_an_aggregate_metric_is_refused(opps, registry):
    with pytest.raises(ConfigError, match="'win_rate' is not a record-level metric"):
        plan(opps, registry, {"metric": "win_rate", "object": "opportunity"})


def test_a_metric_of_another_object_is_refused(opps, registry):
    with pytest.raises(ConfigError, match="one value per account, not per opportunity"):
        plan(opps, registry, {"metric": "account_win_rate", "object": "opportunity"})


def test_a_missing_field_without_create_field_is_an_error(opps, registry):
    with pytest.raises(WritebackError, match=r"\[writeback #1\] days_in_current_stage → "
                                             r"crm/opportunity\.crmsync_days_in_current_stage: "
                                             r"the field does not exist"):
        plan(opps, registry, OPP)


@pytest.mark.parametrize("info, message", [
    ({"calculated": True}, "calculated"),
    ({"writable": False}, "read-only"),
    ({"type": "date"}, "cannot hold a days value"),
])
def test_a_field_that_cannot_take_the_value_is_refused(opps, registry, crm, info, message):
    crm.add_field("opportunities", "crmsync_days_in_current_stage", **info)

    with pytest.raises(WritebackError, match=message):
        plan(opps, registry, OPP)


def test_a_ratio_may_go_to_a_number_field(opps, registry, crm):
    put_records(opps, "accounts", ["A1"])
    put_values(opps, "account_win_rate", {"A1": 0.256})
    crm.add_field("accounts", "crmsync_account_win_rate", "double")

    [m] = plan(opps, registry, {"metric": "account_win_rate", "object": "account"}).mappings
    assert [c.new for c in m.changes] == [0.256]


def test_a_connector_that_cannot_write_is_refused(store):
    from crmsync.core.config import Config, ConnectionConfig
    from crmsync.plugin.registry import Registry
    from crmsync.writeback.mapping import parse_writeback

    config = Config(store_url=store.url, connections={"f": ConnectionConfig(
        name="f", type="files", raw={"type": "files", "path": "."})})
    config.sections["writeback"] = parse_writeback([dict(OPP, connection="f")], file=None,
                                       connections=config.connections)
    with pytest.raises(WritebackError, match="connector type 'files' cannot write back"):
        api.writeback_plan(config, Registry(), store=store, now=NOW)


def test_the_crms_spelling_of_a_field_name_is_used(opps, registry, crm):
    crm.add_field("opportunities", "Crmsync_Days_In_Current_Stage")

    [m] = plan(opps, registry, OPP).mappings
    assert m.field == "Crmsync_Days_In_Current_Stage"


def test_two_mappings_to_one_field_are_refused(opps, registry, crm):
    crm.add_field("opportunities", "crmsync_days_in_current_stage")
    with pytest.raises(WritebackError, match=r"already written by \[writeback #1\]"):
        plan(opps, registry, OPP, {"metric": "opportunity_age_days", "object": "opportunity",
                                   "field": "crmsync_days_in_current_stage"})


def test_values_of_deleted_records_are_skipped(store, registry, crm):
    crm.add_field("opportunities", "crmsync_days_in_current_stage")
    put_records(store, "opportunities", ["O1", "O2"], deleted=["O2"])
    put_values(store, "days_in_current_stage", {"O1": 1.0, "O2": 2.0})

    [m] = plan(store, registry, OPP).mappings
    assert ([c.remote_id for c in m.changes], dict(m.skipped)) == (["O1"], {"deleted": 1})


def test_values_of_another_connections_records_are_left_out(store, registry, crm):
    crm.add_field("opportunities", "crmsync_days_in_current_stage")
    put_records(store, "opportunities", ["O1"])
    put_records(store, "opportunities", ["X9"], connection="other")
    put_values(store, "days_in_current_stage", {"O1": 1.0, "X9": 2.0})

    [m] = plan(store, registry, OPP).mappings
    assert [c.remote_id for c in m.changes] == ["O1"]


def test_the_newest_run_covering_the_connection_is_used(store, registry, crm):
    crm.add_field("opportunities", "crmsync_days_in_current_stage")
    put_records(store, "opportunities", ["O1"])
    put_records(store, "opportunities", ["X9"], connection="other")
    put_values(store, "days_in_current_stage", {"O1": 1.0})
    put_values(store, "days_in_current_stage", {"O1": 5.0})
    put_values(store, "days_in_current_stage", {"X9": 2.0})  # the other connection's run

    [m] = plan(store, registry, OPP).mappings
    assert [(c.remote_id, c.new) for c in m.changes] == [("O1", 5)]
