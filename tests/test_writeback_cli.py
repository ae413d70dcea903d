"""``crmsync writeback plan|apply``, ``crmsync run`` and the write-back part of ``crmsync
status``, against an in-memory connector registered in a fixture."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from crmsync.cli import cli
from crmsync.store import Store
from writeback_support import (
    Crm,
    connector_class,
    put_records,
    put_values,
    registry_with,
)

FIELD = "crmsync_days_in_current_stage"


@pytest.fixture
def crm() -> Crm:
    crm = Crm()
    crm.records["opportunities"] = {"O1": {}, "O2": {}}
    return crm


@pytest.fixture
def setup(tmp_path, crm):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    put_records(store, "opportunities", ["O1", "O2"])
    put_values(store, "days_in_current_stage", {"O1": 3.5, "O2": 8.0})
    store.dispose()
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n\n'
                    '[connections.crm]\ntype = "memcrm"\n\n'
                    '[[writeback]]\nmetric = "days_in_current_stage"\nconnection = "crm"\n'
                    'object = "opportunity"\ncreate_field = true\n')
    return path, registry_with(connector_class(crm))


def invoke(setup, *args, input=None):
    path, registry = setup
    return CliRunner().invoke(cli, ["--config", str(path), *args], obj=registry, input=input)


def test_plan_json_lists_the_field_to_create_and_the_changes(setup, crm):
    result = invoke(setup, "writeback", "plan", "--json")

    data = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert (data["fields_to_create"], data["updates"], data["mappings"][0]["create_field"]) == (
        1, 2, {"name": FIELD, "type": "number", "label": "Days in current stage"})
    assert crm.writes == []


def test_plan_prints_a_sample_of_changes(setup):
    result = invoke(setup, "writeback", "plan")

    assert "write-back plan" in result.output and "empty → 3" in result.output


def test_apply_asks_and_a_no_writes_nothing(setup, crm):
    result = invoke(setup, "writeback", "apply", input="n\n")

    assert (result.exit_code, crm.writes, crm.fields) == (0, [], {})
    assert "cancelled: nothing written" in result.output


def test_apply_yes_writes_and_reports_per_mapping(setup, crm):
    result = invoke(setup, "writeback", "apply", "--yes", "--json")

    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert (report["kind"], report["details"][0]["sent"]) == ("writeback", 2)
    assert crm.records["opportunities"] == {"O1": {FIELD: 3}, "O2": {FIELD: 8}}


def test_apply_exits_1_when_values_fail(setup, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)

    result = invoke(setup, "writeback", "apply", "--yes")
    assert result.exit_code == 1
    assert "UNABLE_TO_LOCK_ROW" in result.output


def test_a_bad_mapping_is_a_one_line_error(setup, crm, tmp_path):
    path, _ = setup
    path.write_text(path.read_text().replace("create_field = true", "create_field = false"))

    result = invoke(setup, "writeback", "plan")
    assert result.exit_code == 1
    assert result.output.startswith("error: [writeback #1] days_in_current_stage → "
                                    "crm/opportunity.crmsync_days_in_current_stage: the field "
                                    "does not exist")


def test_status_shows_the_write_back_section(setup, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    invoke(setup, "writeback", "apply", "--yes")

    result = invoke(setup, "status")
    assert result.exit_code == 0, result.output
    assert "write-back (last apply" in result.output and "write-back failures" in result.output


def test_status_json_has_the_failures_with_their_error_codes(setup, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    invoke(setup, "writeback", "apply", "--yes")

    data = json.loads(invoke(setup, "status", "--json").output)["writeback"]
    assert [(f["remote_id"], f["status"], f["error_code"]) for f in data["failures"]] == [
        ("O2", "failed", "UNABLE_TO_LOCK_ROW")]


def test_run_dry_run_stops_at_the_plan(setup, crm):
    result = invoke(setup, "run", "--dry-run", "--json")

    data = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert data["writeback"] is None and data["plan"]["fields_to_create"] == 1
    assert crm.writes == []


def test_run_syncs_computes_and_writes_back(setup, crm):
    result = invoke(setup, "run", "--yes", "--json")

    data = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert (data["sync"]["status"], data["writeback"]["status"]) == ("success", "success")
    assert data["computed"] > 0


def test_without_mappings_plan_says_so(setup):
    path, _ = setup
    path.write_text(path.read_text().split("[[writeback]]")[0])

    result = invoke(setup, "writeback", "plan")
    assert (result.exit_code, result.output.strip()) == (
        0, "no [[writeback]] mappings configured (see docs/writeback.md)")


def test_run_computes_the_mapped_metric_for_the_synced_records(tmp_path, crm):
    from crmsync import api
    from crmsync.api import load_config

    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "run.db"}"\n\n'
                    '[connections.crm]\ntype = "memcrm"\n\n'
                    '[[writeback]]\nmetric = "opportunity_age_days"\nconnection = "crm"\n'
                    'object = "opportunity"\ncreate_field = true\n')
    result = api.run(load_config(path), registry_with(connector_class(crm)))

    assert (result.sync.ok, result.writeback.details[0]["sent"]) == (True, 2)
    assert crm.value("opportunities", "O1", "crmsync_opportunity_age_days") >= 300


def test_run_skips_write_back_for_a_connection_whose_sync_failed(tmp_path, crm):
    from crmsync import api
    from crmsync.api import load_config

    crm.broken = True
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "run.db"}"\n\n'
                    '[connections.crm]\ntype = "memcrm"\n\n'
                    '[[writeback]]\nmetric = "opportunity_age_days"\nconnection = "crm"\n'
                    'object = "opportunity"\ncreate_field = true\n')
    result = api.run(load_config(path), registry_with(connector_class(crm)))

    assert (result.skipped_connections, result.writeback, crm.writes) == (["crm"], None, [])


def test_run_says_how_many_records_it_read_and_how_many_changed(setup, crm):
    first = invoke(setup, "run", "--yes")
    again = invoke(setup, "run", "--yes")

    assert first.exit_code == 0 and again.exit_code == 0, (first.output, again.output)
    read = re.search(r"synced ([\d,]+) records, ([\d,]+) new or changed \(success\)",
                     first.output)
    assert read and read[1] == read[2] and read[1] != "0", first.output
    # the same records again, as they are stored: read, not written
    assert f"synced {read[1]} records, 0 new or changed (success)" in again.output, again.output
