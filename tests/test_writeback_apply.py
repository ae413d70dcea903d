"""Write-back apply: only changed values are sent, policies, failures, retries, splitting of
refused batches, and what ``writeback_state`` records — on SQLite and PostgreSQL, against an
in-memory connector registered in a fixture."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crmsync import RateLimited, WritebackError, api
from crmsync.core.schema import writeback_state
from writeback_support import (
    NOW,
    Crm,
    config_with,
    connector_class,
    put_records,
    put_rep_values,
    put_values,
    registry_with,
)

OPP = {"metric": "days_in_current_stage", "object": "opportunity"}
FIELD = "crmsync_days_in_current_stage"


@pytest.fixture
def crm() -> Crm:
    crm = Crm()
    crm.records["opportunities"] = {rid: {} for rid in ("O1", "O2", "O3", "O4", "O5")}
    return crm


@pytest.fixture
def registry(crm):
    return registry_with(connector_class(crm))


@pytest.fixture
def opps(store):
    put_records(store, "opportunities", ["O1", "O2", "O3", "O4", "O5"])
    put_values(store, "days_in_current_stage", {"O1": 1.2, "O2": 2.5, "O3": 3.9, "O4": 4.0,
                                                "O5": 5.0})
    return store


def apply(store, registry, *mappings, now=NOW, **kw):
    return api.writeback_apply(config_with(store, *mappings), registry, store=store, now=now,
                               sleep=lambda s: None, **kw)


def state(store, *columns):
    cols = [writeback_state.c[c] for c in ("remote_id", *columns)]
    with store.engine.connect() as conn:
        return {r[0]: tuple(r[1:]) if len(r) > 2 else r[1]
                for r in conn.execute(sa.select(*cols))}


def test_apply_creates_the_field_then_sends_every_value(opps, registry, crm):
    report = apply(opps, registry, dict(OPP, create_field=True))

    assert crm.fields["opportunities"][FIELD].type == "number"
    assert {rid: r[FIELD] for rid, r in crm.records["opportunities"].items()} == {
        "O1": 1, "O2": 2, "O3": 3, "O4": 4, "O5": 5}
    assert (report.status, report.details[0]["created"], report.details[0]["sent"]) == (
        "success", True, 5)


def test_a_field_the_crm_keys_itself_is_written_and_found_again_by_its_label(opps, registry,
                                                                            crm):
    crm.assigns_keys = True
    report = apply(opps, registry, dict(OPP, create_field=True))

    (key, info), = crm.fields["opportunities"].items()
    assert (len(key), info.label) == (40, FIELD)
    assert {rid: r[key] for rid, r in crm.records["opportunities"].items()} == {
        "O1": 1, "O2": 2, "O3": 3, "O4": 4, "O5": 5}
    assert (report.status, report.details[0]["sent"]) == ("success", 5)
    calls = crm.write_calls

    again = apply(opps, registry, dict(OPP, create_field=True))
    assert (len(crm.fields["opportunities"]), crm.write_calls) == (1, calls)
    assert (again.status, again.details[0]["created"], again.details[0]["sent"]) == (
        "success", False, 0)


def test_a_bug_in_the_connectors_write_fails_its_records_and_the_rest_is_written(
        store, registry, crm):
    put_records(store, "opportunities", ["O1", "O2"])
    put_records(store, "accounts", ["A1"])
    put_values(store, "days_in_current_stage", {"O1": 1.0, "O2": 2.0})
    put_values(store, "account_win_rate", {"A1": 0.5})
    crm.records["accounts"] = {"A1": {}}
    crm.add_field("opportunities", FIELD)
    crm.add_field("accounts", "crmsync_account_win_rate")
    crm.buggy = {"opportunities"}
    report = apply(store, registry, OPP, {"metric": "account_win_rate", "object": "account"})

    bugged, fine = report.details
    assert (bugged["failed"], bugged["errors"], fine["sent"]) == (2, {"CONNECTOR_BUG": 2}, 1)
    assert crm.records["accounts"]["A1"]["crmsync_account_win_rate"] == 0.5
    assert report.status != "success"
    rows = {rid: v for rid, v in state(store, "status", "error_code", "error").items()
            if rid.startswith("O")}
    assert {rid: v[:2] for rid, v in rows.items()} == {
        "O1": ("failed", "CONNECTOR_BUG"), "O2": ("failed", "CONNECTOR_BUG")}
    assert "connector type 'memcrm'" in rows["O1"][2] and "KeyError" in rows["O1"][2]
    crm.buggy = set()  # the plugin is fixed: the next apply sends them
    again = apply(store, registry, OPP)
    assert (again.status, again.details[0]["sent"]) == ("success", 2)


def test_a_second_apply_with_nothing_new_makes_no_write_calls(opps, registry, crm):
    apply(opps, registry, dict(OPP, create_field=True))
    calls = crm.write_calls

    report = apply(opps, registry, OPP)
    assert crm.write_calls == calls
    assert (report.details[0]["sent"], report.details[0]["unchanged"],
            report.details[0]["write_calls"]) == (0, 5, 0)


def test_one_changed_value_sends_one_record(opps, registry, crm):
    apply(opps, registry, dict(OPP, create_field=True))
    crm.writes.clear()
    put_values(opps, "days_in_current_stage", {"O1": 1.2, "O2": 2.5, "O3": 7.1, "O4": 4.0,
                                               "O5": 5.0})

    apply(opps, registry, OPP)
    assert [[(u.remote_id, dict(u.values)) for u in b] for b in crm.writes] == [
        [("O3", {FIELD: 7})]]


def test_a_value_that_rounds_to_the_one_sent_is_not_sent_again(opps, registry, crm):
    apply(opps, registry, dict(OPP, create_field=True))
    crm.writes.clear()
    put_values(opps, "days_in_current_stage", {"O1": 1.9, "O2": 2.5, "O3": 3.9, "O4": 4.0,
                                               "O5": 5.0})

    apply(opps, registry, OPP)
    assert crm.writes == []


def test_values_are_formatted_for_the_field(store, registry, crm):
    crm.records["accounts"] = {"A1": {}}
    crm.add_field("accounts", "crmsync_account_win_rate", "percent")
    crm.add_field("accounts", "crmsync_account_won_revenue", "currency")
    put_records(store, "accounts", ["A1"])
    put_values(store, "account_win_rate", {"A1": 1 / 3})
    put_values(store, "account_won_revenue", {"A1": 1234.5678})

    apply(store, registry, {"metric": "account_win_rate", "object": "account"},
          {"metric": "account_won_revenue", "object": "account"})
    assert crm.records["accounts"]["A1"] == {"crmsync_account_win_rate": 33.33,
                                             "crmsync_account_won_revenue": 1234.57}


def test_mappings_on_one_object_share_one_update_per_record(store, registry, crm):
    crm.records["accounts"] = {"A1": {}}
    crm.add_field("accounts", "crmsync_account_win_rate", "percent")
    crm.add_field("accounts", "crmsync_account_won_revenue", "currency")
    put_records(store, "accounts", ["A1"])
    put_values(store, "account_win_rate", {"A1": 0.5})
    put_values(store, "account_won_revenue", {"A1": 10.0})

    apply(store, registry, {"metric": "account_win_rate", "object": "account"},
          {"metric": "account_won_revenue", "object": "account"})
    assert crm.sent == ["A1"]


def test_if_empty_never_overwrites_a_value_a_person_entered(store, registry, crm):
    crm.add_field("opportunities", "Days_Open__c")
    crm.records["opportunities"]["O1"]["Days_Open__c"] = 99
    put_records(store, "opportunities", ["O1", "O2"],
                custom={"O1": {"Days_Open__c": 99}, "O2": {"Days_Open__c": None}})
    put_values(store, "days_in_current_stage", {"O1": 3.0, "O2": 4.0})

    report = apply(store, registry, dict(OPP, field="Days_Open__c", owned=False,
                                         overwrite="if_empty"))
    assert (crm.value("opportunities", "O1", "Days_Open__c"),
            crm.value("opportunities", "O2", "Days_Open__c")) == (99, 4)
    assert report.details[0]["skipped"] == {"policy": 1}


def test_if_empty_replaces_the_value_it_sent_itself(store, registry, crm):
    crm.add_field("opportunities", "Days_Open__c")
    put_records(store, "opportunities", ["O1"], custom={"O1": {"Days_Open__c": None}})
    put_values(store, "days_in_current_stage", {"O1": 3.0})
    mapping = dict(OPP, field="Days_Open__c", owned=False, overwrite="if_empty")
    apply(store, registry, mapping)
    put_records(store, "opportunities", ["O1"], custom={"O1": {"Days_Open__c": "3"}})  # synced
    put_values(store, "days_in_current_stage", {"O1": 8.0})

    apply(store, registry, mapping)
    assert crm.value("opportunities", "O1", "Days_Open__c") == 8


def test_if_empty_asks_the_connector_when_the_store_lacks_the_field(store, registry, crm):
    crm.add_field("opportunities", "Days_Open__c")
    crm.records["opportunities"]["O1"]["Days_Open__c"] = 42
    put_records(store, "opportunities", ["O1", "O2"])  # no custom fields synced
    put_values(store, "days_in_current_stage", {"O1": 3.0, "O2": 4.0})

    apply(store, registry, dict(OPP, field="Days_Open__c", owned=False))  # if_empty default
    assert (crm.reads, crm.value("opportunities", "O1", "Days_Open__c"),
            crm.value("opportunities", "O2", "Days_Open__c")) == ([["O1", "O2"]], 42, 4)


def test_if_empty_without_a_way_to_read_values_is_an_error(store, registry, crm):
    crm.can_read_values = False
    crm.add_field("opportunities", "Days_Open__c")
    put_records(store, "opportunities", ["O1"])
    put_values(store, "days_in_current_stage", {"O1": 3.0})

    with pytest.raises(WritebackError, match="needs the CRM's current values"):
        apply(store, registry, dict(OPP, field="Days_Open__c", owned=False))
    assert crm.writes == []


def test_never_writes_a_field_once(store, registry, crm):
    crm.add_field("opportunities", FIELD)
    put_records(store, "opportunities", ["O1"], custom={"O1": {FIELD: None}})
    put_values(store, "days_in_current_stage", {"O1": 3.0})
    apply(store, registry, dict(OPP, overwrite="never"))
    put_values(store, "days_in_current_stage", {"O1": 8.0})

    report = apply(store, registry, dict(OPP, overwrite="never"))
    assert (crm.value("opportunities", "O1", FIELD), report.details[0]["skipped"]) == (
        3, {"policy": 1})


def test_nulls_skip_never_clears_a_field(opps, registry, crm):
    apply(opps, registry, dict(OPP, create_field=True))
    put_values(opps, "days_in_current_stage", {"O1": None, "O2": 2.5, "O3": 3.9, "O4": 4.0,
                                               "O5": 5.0})

    report = apply(opps, registry, OPP)
    assert (crm.value("opportunities", "O1", FIELD), report.details[0]["skipped"]) == (
        1, {"null": 1})


def test_nulls_clear_clears_a_value_it_sent(opps, registry, crm):
    apply(opps, registry, dict(OPP, create_field=True))
    put_values(opps, "days_in_current_stage", {"O1": None, "O2": 2.5, "O3": 3.9, "O4": 4.0,
                                               "O5": 5.0})

    apply(opps, registry, dict(OPP, nulls="clear"))
    assert (crm.value("opportunities", "O1", FIELD), state(opps, "status", "sent_value")["O1"]
            ) == (None, ("sent", None))


def test_a_failed_record_is_recorded_with_the_vendor_error_code(opps, registry, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)

    report = apply(opps, registry, dict(OPP, create_field=True))
    assert state(opps, "status", "error_code", "attempts", "pending_value")["O2"] == (
        "failed", "UNABLE_TO_LOCK_ROW", 1, 2)
    assert (report.status, report.details[0]["errors"]) == ("failed",
                                                            {"UNABLE_TO_LOCK_ROW": 1})


def test_only_failed_records_are_retried_on_the_next_apply(opps, registry, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    apply(opps, registry, dict(OPP, create_field=True))
    del crm.fail["O2"]
    crm.writes.clear()

    apply(opps, registry, OPP)
    assert (crm.sent, state(opps, "status")["O2"]) == (["O2"], "sent")


def test_a_record_failing_again_waits_for_its_backoff(opps, registry, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    apply(opps, registry, dict(OPP, create_field=True))
    apply(opps, registry, OPP)  # second failure: next attempt in 15 minutes
    crm.writes.clear()

    early = apply(opps, registry, OPP, now=NOW + dt.timedelta(minutes=10))
    assert (crm.sent, early.details[0]["skipped"]) == ([], {"retry_later": 1})
    apply(opps, registry, OPP, now=NOW + dt.timedelta(minutes=16))
    assert crm.sent == ["O2"]


def test_a_record_is_parked_after_the_last_attempt(opps, registry, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    when = NOW
    for _ in range(5):
        apply(opps, registry, dict(OPP, create_field=True), now=when)
        when += dt.timedelta(days=1)
    crm.writes.clear()

    report = apply(opps, registry, OPP, now=when)
    assert (state(opps, "status", "attempts")["O2"], crm.writes) == (("parked", 5), [])
    assert report.details[0]["skipped"] == {"parked": 1}


def test_a_non_retryable_failure_is_parked_until_the_value_changes(opps, registry, crm):
    crm.fail["O2"] = ("FIELD_CUSTOM_VALIDATION_EXCEPTION", False)
    apply(opps, registry, dict(OPP, create_field=True))
    crm.writes.clear()
    apply(opps, registry, OPP)
    assert crm.writes == []

    put_values(opps, "days_in_current_stage", {"O1": 1.2, "O2": 6.0, "O3": 3.9, "O4": 4.0,
                                               "O5": 5.0})
    apply(opps, registry, OPP)
    assert crm.sent == ["O2"]


def test_a_refused_batch_is_split_to_isolate_the_bad_record(opps, registry, crm):
    crm.batch_size = 4
    crm.poison.add("O3")

    apply(opps, registry, dict(OPP, create_field=True))
    assert {rid: r.get(FIELD) for rid, r in crm.records["opportunities"].items()} == {
        "O1": 1, "O2": 2, "O3": None, "O4": 4, "O5": 5}
    assert state(opps, "status")["O3"] == "parked"


def test_a_permission_error_on_field_creation_writes_nothing(opps, registry, crm):
    crm.deny_create = True

    with pytest.raises(WritebackError, match=r"\[writeback #1\].*cannot create the field "
                                             r"\(.*INSUFFICIENT_ACCESS.*nothing was written"):
        apply(opps, registry, dict(OPP, create_field=True))
    assert (crm.writes, state(opps, "status")) == ([], {})


def test_a_record_missing_in_the_crm_is_reported_and_not_retried(opps, registry, crm):
    del crm.records["opportunities"]["O4"]

    first = apply(opps, registry, dict(OPP, create_field=True))
    crm.writes.clear()
    second = apply(opps, registry, OPP)
    assert (first.details[0]["missing"], first.status) == (1, "success")
    assert (crm.writes, second.details[0]["skipped"]) == ([], {"missing": 1})


def test_a_rate_limit_is_waited_out_and_the_rest_sent(opps, registry, crm, monkeypatch):
    cls = registry.connector("memcrm")
    original, raised = cls.write, []

    def write(self, entity, updates):
        if not raised:
            raised.append(True)
            raise RateLimited("slow down", retry_after=0)
        yield from original(self, entity, updates)

    monkeypatch.setattr(cls, "write", write)
    report = apply(opps, registry, dict(OPP, create_field=True))
    assert (raised, report.details[0]["sent"]) == ([True], 5)


def test_status_shows_pending_failures_and_the_last_apply(opps, registry, crm):
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    config = config_with(opps, dict(OPP, create_field=True))
    api.writeback_apply(config, registry, store=opps, now=NOW)

    data = api.status(config)["writeback"]
    assert [(f["field"], f["sent"], f["pending"]) for f in data["fields"]] == [(FIELD, 4, 1)]
    assert [(f["remote_id"], f["error_code"]) for f in data["failures"]] == [
        ("O2", "UNABLE_TO_LOCK_ROW")]
    assert data["last_apply"] == NOW.isoformat()


def test_values_follow_the_kind_of_field_the_connector_created(store, registry, crm,
                                                               monkeypatch):
    crm.records["accounts"] = {"A1": {}}
    put_records(store, "accounts", ["A1"])
    put_values(store, "account_win_rate", {"A1": 0.25})
    cls = registry.connector("memcrm")
    original = cls.ensure_field

    def as_number(self, entity, spec):  # a CRM without percent fields
        return original(self, entity, type(spec)(spec.name, "number", spec.label))

    monkeypatch.setattr(cls, "ensure_field", as_number)
    apply(store, registry, {"metric": "account_win_rate", "object": "account",
                            "create_field": True})
    assert crm.records["accounts"]["A1"] == {"crmsync_account_win_rate": 0.25}


def test_nulls_clear_empties_a_value_a_person_left_when_nothing_was_sent(store, registry, crm):
    crm.add_field("opportunities", FIELD)
    crm.records["opportunities"]["O1"][FIELD] = 7
    put_records(store, "opportunities", ["O1", "O2"],
                custom={"O1": {FIELD: 7}, "O2": {FIELD: None}})
    put_values(store, "days_in_current_stage", {"O1": None, "O2": None})

    report = apply(store, registry, dict(OPP, nulls="clear"))
    assert (crm.sent, crm.value("opportunities", "O1", FIELD)) == (["O1"], None)
    assert report.details[0]["unchanged"] == 1


def test_a_failed_value_that_returns_to_the_sent_one_is_settled(opps, registry, crm):
    apply(opps, registry, dict(OPP, create_field=True))
    crm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    put_values(opps, "days_in_current_stage", {"O1": 1.2, "O2": 9.0, "O3": 3.9, "O4": 4.0,
                                               "O5": 5.0})
    apply(opps, registry, OPP)
    assert state(opps, "status")["O2"] == "failed"
    put_values(opps, "days_in_current_stage", {"O1": 1.2, "O2": 2.5, "O3": 3.9, "O4": 4.0,
                                               "O5": 5.0})
    crm.writes.clear()

    apply(opps, registry, OPP)
    assert (crm.writes, state(opps, "status", "pending_value")["O2"]) == ([], ("sent", None))


def test_an_exhausted_quota_stops_cleanly_keeping_what_was_sent(opps, registry, crm,
                                                                monkeypatch):
    from crmsync import QuotaExhausted

    cls = registry.connector("memcrm")
    original = cls.write

    def write(self, entity, updates):
        for n, result in enumerate(original(self, entity, updates)):
            if n == 2:
                raise QuotaExhausted("daily API requests used up")
            yield result

    monkeypatch.setattr(cls, "write", write)
    report = apply(opps, registry, dict(OPP, create_field=True))
    assert (report.status, report.details[0]["sent"]) == ("stopped: api quota", 2)
    assert sorted(state(opps, "status").values()) == ["sent", "sent"]


def test_values_shared_by_two_connections_are_skipped_as_ambiguous(store, registry, crm):
    crm.add_field("opportunities", FIELD)
    put_records(store, "opportunities", ["O1"])
    put_records(store, "opportunities", ["O1"], connection="other")
    put_values(store, "days_in_current_stage", {"O1": 1.0})
    from crmsync.core.schema import metric_values
    with store.engine.begin() as conn:  # a run over both connections: O1 twice
        row = conn.execute(sa.select(metric_values)).mappings().one()
        conn.execute(sa.insert(metric_values),
                     [{k: v for k, v in row.items() if k != "id"} | {"value": 2.0}])

    report = apply(store, registry, OPP)
    assert (crm.writes, report.details[0]["skipped"]) == ([], {"ambiguous": 1})


def test_the_after_run_hook_gets_the_write_back_report(opps, crm):
    from crmsync import hookimpl
    from crmsync.plugin.manager import get_plugin_manager
    from crmsync.plugin.registry import Registry

    seen = []

    class Plugin:
        @hookimpl
        def crmsync_register_connectors(self):
            return [connector_class(crm)]

        @hookimpl
        def crmsync_after_run(self, report):
            seen.append((report.kind, report.status, report.details[0]["sent"]))

    pm = get_plugin_manager()
    pm.register(Plugin(), name="memcrm-hook-test")
    apply(opps, Registry(pm), dict(OPP, create_field=True))
    assert seen == [("writeback", "success", 5)]


def test_a_mapping_being_applied_elsewhere_is_locked(opps, registry, crm):
    from crmsync.store.locks import RunLocked, run_lock, writeback_lock_name

    name = writeback_lock_name(f"crm:opportunity:{OPP['metric']}")
    with run_lock(opps, name), pytest.raises(RunLocked):
        apply(opps, registry, dict(OPP, create_field=True))
    assert crm.writes == []


def test_a_per_rep_metric_goes_to_the_reps_user_records(store, registry, crm):
    crm.records["users"] = {"U1": {}, "U2": {}}
    put_records(store, "users", ["U1", "U2"])
    put_rep_values(store, "win_rate", "month", {
        dt.date(2026, 5, 1): {"U1": 0.1, "U2": 0.2},
        dt.date(2026, 6, 1): {"U1": 0.5, "U2": 0.25},  # the current month (NOW: June 1st)
        dt.date(2026, 7, 1): {"U1": 0.9}})  # a period not started yet

    apply(store, registry, {"metric": "win_rate", "object": "user", "period": "month",
                            "create_field": True})
    assert crm.records["users"] == {"U1": {"crmsync_win_rate": 50.0},
                                    "U2": {"crmsync_win_rate": 25.0}}


def test_a_record_level_metric_takes_no_other_period(opps, registry):
    from crmsync import ConfigError

    with pytest.raises(ConfigError, match="key 'period': a record-level metric has only"):
        apply(opps, registry, dict(OPP, period="month", create_field=True))
