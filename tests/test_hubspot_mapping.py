"""HubSpot records → schema records (crmsync_hubspot.mapping, stage_history), hand-written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from crmsync import FLAGS_KEY
from crmsync.sync.validate import validator_for
from crmsync_hubspot import mapping as m
from crmsync_hubspot.stage_history import (
    dated_history,
    fallback_history,
    history_records,
    read_histories,
)

UTC = dt.timezone.utc
PIPELINES = [{
    "id": "default", "label": "Sales", "displayOrder": 0, "archived": False,
    "createdAt": "2023-01-01T00:00:00Z", "updatedAt": "2023-01-01T00:00:00Z",
    "stages": [
        {"id": "appointmentscheduled", "label": "Appointment", "displayOrder": 0,
         "metadata": {"probability": "0.2", "isClosed": "false"}, "archived": False},
        {"id": "closedwon", "label": "Won", "displayOrder": 5,
         "metadata": {"probability": "1.0", "isClosed": "true"}, "archived": False},
        {"id": "closedlost", "label": "Lost", "displayOrder": 6,
         "metadata": {"probability": "0.0", "isClosed": "true"}, "archived": False},
    ]}]
STAGES = m.StageIndex.from_pipelines(PIPELINES)


def deal(**props: Any) -> dict[str, Any]:
    base = {"dealname": "Big deal", "pipeline": "default", "dealstage": "appointmentscheduled",
            "createdate": "2024-01-01T10:00:00.000Z",
            "hs_lastmodifieddate": "2024-02-01T10:00:00.000Z", "hs_object_id": "11"}
    return {"id": "11", "properties": {**base, **props}, "createdAt": "2024-01-01T10:00:00.000Z",
            "updatedAt": "2024-02-01T10:00:00.000Z", "archived": False}


def valid(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    _row, problems = validator_for(entity).validate(record)
    assert not problems, problems
    return record


def test_stage_strings_become_probability_closed_and_won() -> None:
    won = STAGES.get("closedwon")
    assert won is not None
    assert (won["probability"], won["is_closed"], won["is_won"]) == (1.0, True, True)
    lost = STAGES.get("closedlost")
    assert lost is not None and (lost["is_closed"], lost["is_won"]) == (True, False)


def test_pipelines_and_stages_validate() -> None:
    pipelines, stages = m.pipelines_to_records(PIPELINES)
    valid("pipelines", pipelines[0])
    for _, stage in stages:
        valid("stages", stage)
    assert pipelines[0]["is_default"] is True


def test_closed_won_string_flags_make_a_won_deal() -> None:
    record = m.deal_to_opportunity(deal(hs_is_closed_won="true", hs_is_closed="true",
                                        dealstage="closedwon"), STAGES)
    assert record["status"] == "won"


def test_closed_not_won_is_lost_with_its_reason() -> None:
    record = m.deal_to_opportunity(deal(hs_is_closed_won="false", hs_is_closed="true",
                                        dealstage="closedlost", closed_lost_reason="Price"),
                                   STAGES)
    assert (record["status"], record["lost_reason"]) == ("lost", "Price")


def test_status_falls_back_to_the_stage_when_flags_are_missing() -> None:
    assert m.deal_to_opportunity(deal(dealstage="closedwon"), STAGES)["status"] == "won"


def test_amounts_and_currency_are_parsed_from_strings() -> None:
    record = valid("opportunities", m.deal_to_opportunity(
        deal(amount="1200.50", deal_currency_code="EUR", amount_in_home_currency="1300.25"),
        STAGES))
    assert (record["amount"], record["currency"], record["amount_base"]) == \
        (1200.5, "EUR", 1300.25)


def test_closed_at_is_when_the_closed_stage_was_entered() -> None:
    record = m.deal_to_opportunity(deal(
        dealstage="closedwon", hs_is_closed_won="true", hs_is_closed="true",
        closedate="2024-03-01T00:00:00.000Z",
        hs_v2_date_entered_current_stage="2024-03-04T15:30:00.000Z"), STAGES)
    assert record["closed_at"] == dt.datetime(2024, 3, 4, 15, 30, tzinfo=UTC)
    assert record["expected_close_date"] == dt.date(2024, 3, 1)


def test_deal_account_comes_from_deduplicated_inline_associations() -> None:
    raw = deal()
    raw["associations"] = {"companies": {"results": [
        {"id": "77", "type": "deal_to_company"}, {"id": "77", "type": "deal_to_company_unlabeled"},
        {"id": "78", "type": "deal_to_company_unlabeled"}]}}
    assert m.associated_ids(raw, "companies") == ["77", "78"]
    assert m.deal_to_opportunity(raw, STAGES)["account_id"] == "77"


def test_a_non_numeric_amount_names_the_property() -> None:
    with pytest.raises(m.Unmappable) as err:
        m.deal_to_opportunity(deal(amount="lots"), STAGES)
    assert err.value.field == "amount"


def test_owner_with_teams_becomes_a_user_on_the_primary_team() -> None:
    user = valid("users", m.owner_to_user({
        "id": "42", "email": "a@example.com", "firstName": "Ada", "lastName": "Byron",
        "userId": 7, "archived": False, "createdAt": "2023-01-01T00:00:00Z",
        "updatedAt": "2023-01-02T00:00:00Z",
        "teams": [{"id": "1", "name": "East", "primary": False},
                  {"id": "2", "name": "West", "primary": True}]}))
    assert (user["name"], user["team"], user["is_active"]) == ("Ada Byron", "West", True)


def test_company_becomes_an_account() -> None:
    account = valid("accounts", m.company_to_account({"id": "5", "properties": {
        "name": "Acme", "domain": "acme.test", "numberofemployees": "250",
        "annualrevenue": "1000000", "hubspot_owner_id": "42",
        "hs_lastmodifieddate": "2024-01-01T00:00:00Z"}}))
    assert (account["employee_count"], account["owner_id"]) == (250, "42")


def test_contact_uses_lastmodifieddate() -> None:
    contact = m.contact_to_contact({"id": "9", "properties": {
        "firstname": "Bo", "lastmodifieddate": "2024-05-01T00:00:00.000Z",
        "associatedcompanyid": "5"}})
    assert contact["remote_updated_at"] == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert contact["account_id"] == "5"


def test_a_contact_that_became_an_mql_is_a_lead_converted_when_it_became_an_opportunity(
        ) -> None:
    lead = valid("leads", m.contact_to_lead({"id": "9", "properties": {
        "firstname": "Bo", "lifecyclestage": "opportunity",
        "hs_lifecyclestage_marketingqualifiedlead_date": "2024-01-10T00:00:00Z",
        "hs_lifecyclestage_opportunity_date": "2024-02-10T00:00:00Z",
        "lastmodifieddate": "2024-02-10T00:00:00Z", "associatedcompanyid": "5"}}) or {})
    assert lead["remote_created_at"] == dt.datetime(2024, 1, 10, tzinfo=UTC)
    assert lead["converted_at"] == dt.datetime(2024, 2, 10, tzinfo=UTC)
    assert lead["converted_account_id"] == "5"


def test_a_contact_that_never_was_a_lead_is_not_one() -> None:
    assert m.contact_to_lead({"id": "9", "properties": {"lifecyclestage": "subscriber"}}) is None


def test_call_direction_duration_and_disposition() -> None:
    activity = valid("activities", m.engagement_to_activity("calls", {"id": "3", "properties": {
        "hs_timestamp": "2024-01-01T09:00:00Z", "hs_call_direction": "OUTBOUND",
        "hs_call_duration": "95000", "hs_call_disposition": "f240bbac", "hs_call_status":
        "COMPLETED", "hubspot_owner_id": "42", "hs_lastmodifieddate": "2024-01-01T09:05:00Z"},
        "associations": {"contacts": {"results": [{"id": "9", "type": "call_to_contact"}]}}}))
    assert (activity["type"], activity["direction"], activity["duration_seconds"],
            activity["outcome"], activity["contact_id"]) == \
        ("call", "outbound", 95, "f240bbac", "9")


def test_sequence_emails_are_automated() -> None:
    activity = m.engagement_to_activity("emails", {"id": "4", "properties": {
        "hs_timestamp": "2024-01-01T09:00:00Z", "hs_email_direction": "EMAIL",
        "hs_sequence_id": "123"}})
    assert activity["is_automated"] is True and activity["direction"] == "outbound"


def test_a_task_without_hs_timestamp_happened_when_it_was_created_and_is_flagged() -> None:
    activity = valid("activities", m.engagement_to_activity("tasks", {
        "id": "4", "createdAt": "2024-03-01T08:00:00Z",
        "properties": {"hs_createdate": "2024-03-01T08:00:00.120Z",
                       "hs_task_subject": "Call back"}}))
    assert activity["occurred_at"] == dt.datetime(2024, 3, 1, 8, 0, 0, 120_000, tzinfo=UTC)
    assert activity["custom"] == {FLAGS_KEY: {"occurred_at": "remote_created_at"}}


def test_without_hs_createdate_the_records_created_at_stands_in() -> None:
    activity = m.engagement_to_activity("notes", {"id": "4", "createdAt": "2024-03-01T08:00:00Z",
                                                  "properties": {}})
    assert activity["occurred_at"] == dt.datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert activity["custom"] == {FLAGS_KEY: {"occurred_at": "remote_created_at"}}


def test_an_engagement_with_hs_timestamp_is_not_flagged() -> None:
    activity = m.engagement_to_activity("tasks", {"id": "4", "createdAt": "2024-03-01T08:00:00Z",
                                                  "properties": {"hs_timestamp": "1709280000000"}})
    assert "custom" not in activity


def test_an_engagement_without_any_time_names_the_property() -> None:
    with pytest.raises(m.Unmappable) as err:
        m.engagement_to_activity("notes", {"id": "4", "properties": {}})
    assert err.value.field == "hs_timestamp"


def test_merged_ids_are_split() -> None:
    assert m.merged_ids({"hs_merged_object_ids": "12;13"}) == ["12", "13"]


def test_custom_properties_land_in_custom() -> None:
    assert m.custom_values({"tier": "gold", "empty": "", "name": "x"}, ["tier", "empty"]) == \
        {"tier": "gold"}


def test_stage_history_is_ordered_with_exit_times() -> None:
    rows = history_records("11", [  # newest first, as HubSpot sends it
        {"value": "closedwon", "timestamp": "2024-03-01T00:00:00Z", "updatedByUserId": 7},
        {"value": "appointmentscheduled", "timestamp": "2024-01-01T00:00:00Z"}])
    for row in rows:
        valid("opportunity_stage_history", row)
    assert [r["stage_id"] for r in rows] == ["appointmentscheduled", "closedwon"]
    assert rows[0]["exited_at"] == rows[1]["entered_at"]
    assert rows[1]["changed_by"] == "7"


def test_stage_history_falls_back_to_date_entered_properties() -> None:
    rows = fallback_history(deal(hs_v2_date_entered_appointmentscheduled="2024-01-01T00:00:00Z",
                                 hs_v2_date_entered_closedwon="2024-02-01T00:00:00Z"), STAGES)
    assert [r["stage_id"] for r in rows] == ["appointmentscheduled", "closedwon"]


def test_history_reads_50_ids_a_call_and_follow_merges() -> None:
    calls: list[list[str]] = []

    def batch_read(ids: list[str]) -> list[dict[str, Any]]:
        calls.append(ids)
        return [{"id": "999" if i == "3" else i,
                 "properties": {"hs_merged_object_ids": "3" if i == "3" else None},
                 "propertiesWithHistory": {"dealstage": [{"value": "s", "timestamp": "1"}]}}
                for i in ids]

    out = read_histories(batch_read, [str(i) for i in range(1, 121)])
    assert [len(c) for c in calls] == [50, 50, 20]
    assert out["3"][0] == "999"


def dated(**props: Any) -> dict[str, Any]:
    return deal(createdate="2024-01-01T00:00:00.000Z", **props)


def test_contiguous_date_entered_and_exited_stays_are_the_history() -> None:
    rows = dated_history(dated(
        dealstage="closedwon",
        hs_v2_date_entered_appointmentscheduled="2024-01-01T00:00:00.000Z",
        hs_v2_date_exited_appointmentscheduled="2024-01-05T00:00:00.000Z",
        hs_v2_date_entered_closedwon="2024-01-05T00:00:00.000Z"), STAGES)
    assert rows is not None
    assert [(r["stage_id"], r["exited_at"]) for r in rows] == [
        ("appointmentscheduled", dt.datetime(2024, 1, 5, tzinfo=UTC)), ("closedwon", None)]


def test_a_revisited_stage_leaves_a_hole_so_the_full_history_is_needed() -> None:
    # appointment (1st) -> lost -> appointment (2nd): only the 2nd appointment stay is dated
    assert dated_history(dated(
        dealstage="appointmentscheduled",
        hs_v2_date_entered_closedlost="2024-01-03T00:00:00.000Z",
        hs_v2_date_exited_closedlost="2024-01-04T00:00:00.000Z",
        hs_v2_date_entered_appointmentscheduled="2024-01-04T00:00:00.000Z"), STAGES) is None


def test_a_missing_exit_date_means_the_full_history_is_needed() -> None:
    assert dated_history(dated(
        dealstage="closedwon",
        hs_v2_date_entered_appointmentscheduled="2024-01-01T00:00:00.000Z",
        hs_v2_date_entered_closedwon="2024-01-05T00:00:00.000Z"), STAGES) is None


def test_closed_at_prefers_the_date_the_current_stage_was_entered() -> None:
    record = m.deal_to_opportunity(deal(
        dealstage="closedlost", hs_is_closed="true", hs_is_closed_won="false",
        closedate="2024-03-01T00:00:00.000Z",
        hs_v2_date_entered_closedlost="2024-03-01T16:20:00.000Z"), STAGES)
    assert record["closed_at"] == dt.datetime(2024, 3, 1, 16, 20, tzinfo=UTC)


def test_a_qualified_leads_object_record_is_converted_into_its_contact() -> None:
    raw = {"id": "12", "properties": {"hs_lead_name": "Lead", "hs_pipeline_stage":
                                      "qualified-stage-id"},
           "associations": {"contacts": {"results": [{"id": "9", "type": "lead_to_contact"}]}}}
    assert valid("leads", m.lead_object_to_lead(raw))["converted_contact_id"] == "9"


def test_an_open_leads_object_record_is_not_converted() -> None:
    raw = {"id": "12", "properties": {"hs_pipeline_stage": "new-stage-id"},
           "associations": {"contacts": {"results": [{"id": "9", "type": "lead_to_contact"}]}}}
    assert m.lead_object_to_lead(raw)["converted_contact_id"] is None
