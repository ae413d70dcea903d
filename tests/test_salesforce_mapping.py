"""Salesforce records → schema records, on hand-written records shaped like the REST API's."""

from __future__ import annotations

import datetime as dt

import pytest

from crmsync import FLAGS_KEY
from crmsync.sync.validate import validator_for
from crmsync_salesforce import mapping
from crmsync_salesforce.mapping import MappingContext
from crmsync_salesforce.pipelines import Pipelines

UTC = dt.timezone.utc


def _sf(obj: str, rid: str, **fields: object) -> dict:
    return {"attributes": {"type": obj, "url": f"/services/data/v61.0/sobjects/{obj}/{rid}"},
            "Id": rid, "CreatedDate": "2024-01-02T03:04:05.000+0000",
            "SystemModstamp": "2024-02-03T04:05:06.000+0000", "IsDeleted": False, **fields}


def _valid(entity: str, record: dict) -> dict:
    _row, problems = validator_for(entity).validate(record)
    assert not problems, problems
    return record


def test_datetimes_without_a_colon_in_the_offset_are_parsed_as_utc() -> None:
    record = mapping.account(_sf("Account", "001A"), MappingContext())

    assert record["remote_updated_at"] == dt.datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_user_role_name_is_the_team() -> None:
    raw = _sf("User", "005A", Name="Ann Rep", UserRoleId="00EA",
              UserRole={"attributes": {"type": "UserRole"}, "Name": "West Sales"})

    assert _valid("users", mapping.user(raw, MappingContext()))["team"] == "West Sales"


def test_user_without_a_role_has_no_team() -> None:
    raw = _sf("User", "005A", Name="Ann Rep", UserRoleId=None, UserRole=None)

    assert mapping.user(raw, MappingContext())["team"] is None


def test_manager_id_is_kept_as_a_reference() -> None:
    raw = _sf("User", "005A", ManagerId="005B")

    assert mapping.user(raw, MappingContext())["manager_id"] == "005B"


def test_account_domain_comes_from_the_website() -> None:
    raw = _sf("Account", "001A", Website="https://www.acme.example/about")

    assert _valid("accounts", mapping.account(raw, MappingContext()))["domain"] == "acme.example"


def test_custom_fields_land_in_custom() -> None:
    raw = _sf("Account", "001A", Tier__c="Gold")
    ctx = MappingContext(custom_fields=("Tier__c",))

    assert mapping.account(raw, ctx)["custom"] == {"Tier__c": "Gold"}


def test_field_map_sets_a_schema_column_and_custom_keeps_the_field() -> None:
    raw = _sf("Account", "001A", Segment__c="Enterprise")
    ctx = MappingContext(custom_fields=("Segment__c",), field_map={"Segment__c": "segment"})

    record = _valid("accounts", mapping.account(raw, ctx))

    assert (record["segment"], record["custom"]) == ("Enterprise", {"Segment__c": "Enterprise"})


def test_field_map_can_rename_a_custom_field_in_custom() -> None:
    raw = _sf("Opportunity", "006A", Product_Line__c="Cloud", IsClosed=False, IsWon=False)
    ctx = MappingContext(custom_fields=("Product_Line__c",),
                         field_map={"Product_Line__c": "custom.product_line"})

    assert mapping.opportunity(raw, ctx)["custom"] == {"Product_Line__c": "Cloud",
                                                       "product_line": "Cloud"}


def test_deleted_rows_are_marked_deleted_at_their_modstamp() -> None:
    record = mapping.contact(_sf("Contact", "003A", IsDeleted=True), MappingContext())

    assert (record["is_deleted"], record["deleted_at"]) == (
        True, dt.datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC))


@pytest.mark.parametrize(("closed", "won", "status"), [
    (False, False, "open"), (True, True, "won"), (True, False, "lost")])
def test_opportunity_status_comes_from_is_closed_and_is_won(closed: bool, won: bool,
                                                            status: str) -> None:
    raw = _sf("Opportunity", "006A", IsClosed=closed, IsWon=won, StageName="X")

    assert mapping.opportunity(raw, MappingContext())["status"] == status


def test_closed_at_is_the_last_stage_change_not_the_close_date() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=True, IsWon=True, CloseDate="2024-12-31",
              LastStageChangeDate="2024-03-01T10:00:00.000+0000")

    record = _valid("opportunities", mapping.opportunity(raw, MappingContext()))

    assert (record["closed_at"], record["expected_close_date"]) == (
        dt.datetime(2024, 3, 1, 10, tzinfo=UTC), "2024-12-31")


def test_closed_at_falls_back_to_the_history_derived_time() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=True, IsWon=False)
    when = dt.datetime(2024, 3, 2, tzinfo=UTC)

    assert mapping.opportunity(raw, MappingContext(closed_at={"006A": when}))["closed_at"] == when


def test_open_deals_have_no_closed_at() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=False, IsWon=False,
              LastStageChangeDate="2024-03-01T10:00:00.000+0000")

    assert mapping.opportunity(raw, MappingContext())["closed_at"] is None


def test_probability_percent_becomes_a_fraction() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=False, Probability=40)

    assert mapping.opportunity(raw, MappingContext())["probability"] == 0.4


def test_stage_name_resolves_to_the_stage_id() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=False, StageName="Prospecting")
    ctx = MappingContext(pipelines=Pipelines(stage_ids={"Prospecting": "01JA"}))

    assert mapping.opportunity(raw, ctx)["stage_id"] == "01JA"


def test_single_currency_orgs_leave_currency_empty() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=False, Amount=100.0)

    record = mapping.opportunity(raw, MappingContext(multi_currency=False))

    assert (record["currency"], record["amount_base"]) == (None, None)


def test_amount_base_uses_the_rate_valid_on_the_close_date_for_closed_deals() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=True, IsWon=True, Amount=200.0,
              CurrencyIsoCode="EUR", CloseDate="2024-05-01")
    asked = []

    def to_base(currency: str | None, on: dt.date | None) -> float:
        asked.append((currency, on))
        return 0.8

    record = mapping.opportunity(raw, MappingContext(multi_currency=True, to_base=to_base))

    assert (record["amount_base"], record["currency"], asked) == (
        250.0, "EUR", [("EUR", dt.date(2024, 5, 1))])


def test_open_deals_convert_at_todays_rate() -> None:
    raw = _sf("Opportunity", "006A", IsClosed=False, Amount=100.0, CurrencyIsoCode="EUR",
              CloseDate="2030-01-01")
    asked = []
    mapping.opportunity(raw, MappingContext(multi_currency=True,
                                            to_base=lambda c, d: asked.append(d) or 1.0))

    assert asked == [None]


def test_lead_conversion_fields() -> None:
    raw = _sf("Lead", "00QA", IsConverted=True, ConvertedDate="2024-04-05",
              ConvertedContactId="003A", ConvertedAccountId="001A",
              ConvertedOpportunityId="006A", Status="Closed - Converted")

    record = _valid("leads", mapping.lead(raw, MappingContext()))

    assert (record["converted_at"], record["converted_contact_id"],
            record["converted_opportunity_id"]) == ("2024-04-05T00:00:00Z", "003A", "006A")


def test_unconverted_lead_has_no_converted_at() -> None:
    raw = _sf("Lead", "00QA", IsConverted=False, ConvertedDate=None)

    assert mapping.lead(raw, MappingContext())["converted_at"] is None


@pytest.mark.parametrize(("subtype", "kind"), [("Call", "call"), ("Email", "email"),
                                               ("Task", "task"), (None, "task")])
def test_task_subtype_gives_the_activity_type(subtype: str | None, kind: str) -> None:
    raw = _sf("Task", "00TA", TaskSubtype=subtype)

    assert _valid("activities", mapping.task(raw, MappingContext()))["type"] == kind


def test_a_completed_task_happened_at_completed_date_time_not_activity_date() -> None:
    raw = _sf("Task", "00TA", TaskSubtype="Call", ActivityDate="2024-01-10",
              CompletedDateTime="2024-01-09T15:30:00.000+0000")

    assert mapping.task(raw, MappingContext())["occurred_at"] == dt.datetime(
        2024, 1, 9, 15, 30, tzinfo=UTC)


def test_an_open_task_happened_when_created() -> None:
    raw = _sf("Task", "00TA", TaskSubtype="Task", CompletedDateTime=None)

    assert mapping.task(raw, MappingContext())["occurred_at"] == dt.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_an_open_task_is_flagged_as_timed_by_its_creation_and_keeps_its_custom_fields() -> None:
    raw = _sf("Task", "00TA", TaskSubtype="Task", CompletedDateTime=None, Region__c="EMEA")

    record = _valid("activities", mapping.task(raw, MappingContext(custom_fields=("Region__c",))))

    assert record["custom"] == {"Region__c": "EMEA",
                                FLAGS_KEY: {"occurred_at": "remote_created_at"}}


def test_a_completed_task_is_not_flagged() -> None:
    raw = _sf("Task", "00TA", CompletedDateTime="2024-01-09T15:30:00.000+0000")

    assert "custom" not in mapping.task(raw, MappingContext())


def test_an_event_without_its_own_time_happened_when_created_flagged() -> None:
    raw = _sf("Event", "00UA", ActivityDateTime=None, ActivityDate=None)

    record = _valid("activities", mapping.event(raw, MappingContext()))

    assert record["occurred_at"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert record["custom"] == {FLAGS_KEY: {"occurred_at": "remote_created_at"}}


def test_call_fields_map_to_direction_outcome_and_duration() -> None:
    raw = _sf("Task", "00TA", TaskSubtype="Call", CallType="Outbound",
              CallDisposition="Left voicemail", CallDurationInSeconds=95)

    record = mapping.task(raw, MappingContext())

    assert (record["direction"], record["outcome"], record["duration_seconds"]) == (
        "outbound", "Left voicemail", 95)


def test_who_id_resolves_to_lead_or_contact_by_key_prefix() -> None:
    lead = mapping.task(_sf("Task", "00TA", WhoId="00Q000000000001AAA"), MappingContext())
    contact = mapping.task(_sf("Task", "00TB", WhoId="003000000000001AAA"), MappingContext())

    assert (lead["lead_id"], lead["contact_id"], contact["contact_id"]) == (
        "00Q000000000001AAA", None, "003000000000001AAA")


def test_what_id_resolves_to_opportunity_or_account_by_key_prefix() -> None:
    on_deal = mapping.task(_sf("Task", "00TA", WhatId="006000000000001AAA"), MappingContext())
    on_account = mapping.task(_sf("Task", "00TB", WhatId="001000000000001AAA"),
                              MappingContext())

    assert (on_deal["opportunity_id"], on_account["account_id"]) == (
        "006000000000001AAA", "001000000000001AAA")


def test_events_are_meetings_at_activity_date_time_with_duration_in_seconds() -> None:
    raw = _sf("Event", "00UA", ActivityDateTime="2024-06-01T09:00:00.000+0000",
              DurationInMinutes=30)

    record = _valid("activities", mapping.event(raw, MappingContext()))

    assert (record["type"], record["occurred_at"], record["duration_seconds"]) == (
        "meeting", dt.datetime(2024, 6, 1, 9, tzinfo=UTC), 1800)


def test_opportunity_stage_maps_to_a_stage_of_the_default_pipeline() -> None:
    raw = _sf("OpportunityStage", "01JA", ApiName="Closed Won", MasterLabel="Closed Won",
              SortOrder=7, DefaultProbability=100, IsClosed=True, IsWon=True,
              ForecastCategoryName="Closed")

    record = _valid("stages", mapping.stage(raw, MappingContext()))

    assert (record["pipeline_id"], record["probability"], record["is_won"]) == (
        "default", 1.0, True)


def test_dated_conversion_rate_is_inverted_into_rate_to_base() -> None:
    raw = _sf("DatedConversionRate", "04wA", IsoCode="EUR", ConversionRate=0.8,
              StartDate="2024-01-01", NextStartDate="2024-04-01")

    record = _valid("currency_rates", mapping.dated_rate(
        raw, MappingContext(corporate_currency="USD")))

    assert (record["rate_to_base"], record["base_currency"], record["valid_to"]) == (
        1.25, "USD", "2024-04-01")


def test_a_zero_conversion_rate_is_unmappable_naming_the_field() -> None:
    raw = _sf("CurrencyType", "01LA", IsoCode="EUR", ConversionRate=0)

    with pytest.raises(mapping.Unmappable) as info:
        mapping.currency_type(raw, MappingContext())

    assert info.value.field == "ConversionRate"


def test_opportunity_contact_role() -> None:
    raw = _sf("OpportunityContactRole", "00KA", OpportunityId="006A", ContactId="003A",
              Role="Decision Maker", IsPrimary=True)

    record = _valid("opportunity_contacts", mapping.opportunity_contact(raw, MappingContext()))

    assert (record["role"], record["is_primary"]) == ("Decision Maker", True)


def test_all_day_events_happen_at_midnight_utc_of_their_date() -> None:
    raw = _sf("Event", "00UA", IsAllDayEvent=True, ActivityDateTime=None,
              ActivityDate="2024-06-03")

    assert mapping.event(raw, MappingContext())["occurred_at"] == dt.datetime(
        2024, 6, 3, tzinfo=UTC)


def test_list_emails_are_automated_emails() -> None:
    record = mapping.task(_sf("Task", "00TA", TaskSubtype="ListEmail"), MappingContext())

    assert (record["type"], record["is_automated"]) == ("email", True)
