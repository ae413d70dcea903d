"""Business hours for response times: the Python reference and both databases agree."""

from __future__ import annotations

import pytest

from conftest import load_records
from crmsync import ConfigError
from crmsync.api import load_config
from crmsync.core.config import MetricsConfig
from crmsync.metrics import compute
from crmsync.store.business_hours import business_minutes, parse_hours
from crmsync_kpis.leads import LeadResponseMinutes

WEEKDAYS = "1,2,3,4,5"


@pytest.mark.parametrize("start, end, minutes", [
    ("2026-03-02 10:00:00", "2026-03-02 11:30:00", 90),        # Monday, inside the day
    ("2026-03-02 16:00:00", "2026-03-03 10:00:00", 60 + 60),   # overnight: 16–17, 9–10
    ("2026-03-06 16:30:00", "2026-03-09 09:15:00", 30 + 15),   # Friday evening to Monday
    ("2026-03-07 10:00:00", "2026-03-08 18:00:00", 0),         # a weekend
    ("2026-03-02 07:00:00", "2026-03-02 08:00:00", 0),         # before opening
    ("2026-03-02 12:00:00", "2026-03-02 11:00:00", 0),         # end before start
])
def test_business_minutes_count_only_working_time(start, end, minutes):
    assert business_minutes(start, end, "UTC", 540, 1020, WEEKDAYS) == minutes


def test_business_minutes_use_the_local_working_day():
    # 07:30 UTC is 08:30 in Paris (winter): the office opens at 09:00 local = 08:00 UTC
    assert business_minutes("2026-01-05 07:30:00", "2026-01-05 08:30:00", "Europe/Paris",
                            540, 1020, WEEKDAYS) == 30


def test_hours_are_parsed_and_checked():
    assert parse_hours("09:00-17:30") == (540, 1050)
    with pytest.raises(ValueError):
        parse_hours("17:00-09:00")


@pytest.mark.parametrize("line, message", [
    ('business_hours = "9 to 5"', "expected HH:MM-HH:MM"),
    ("business_days = [0, 8]", "ISO weekdays"),
])
def test_bad_business_hours_settings_name_the_key(tmp_path, line, message):
    path = tmp_path / "crmsync.toml"
    path.write_text(f"[metrics]\n{line}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


LEADS = {
    "leads": [
        {"remote_id": "L1", "remote_created_at": "2026-03-06T16:30:00"},   # Friday 16:30
        {"remote_id": "L2", "remote_created_at": "2026-03-02T10:00:00"},   # Monday 10:00
        {"remote_id": "L3", "remote_created_at": "2026-03-03T10:00:00"},   # Tuesday 10:00
    ],
    "activities": [
        {"remote_id": "A1", "lead_id": "L1", "type": "call", "direction": "outbound",
         "occurred_at": "2026-03-09T09:15:00"},                              # Monday 09:15
        {"remote_id": "A2", "lead_id": "L2", "type": "email", "direction": "outbound",
         "occurred_at": "2026-03-02T10:20:00"},
        {"remote_id": "A3", "lead_id": "L3", "type": "call", "direction": "outbound",
         "occurred_at": "2026-03-03T11:00:00"},
    ],
}


@pytest.mark.parametrize("options, median", [
    ({}, 60.0),                                          # wall clock: 3885, 20, 60 minutes
    ({"business_hours": "09:00-17:00"}, 45.0),           # business: 30+15, 20, 60 minutes
])
def test_lead_response_minutes_in_business_hours_on_both_databases(store, options, median):
    load_records(store, LEADS)
    result = compute(store, [LeadResponseMinutes()], MetricsConfig(options=options),
                     period="all")
    assert [v.value for v in result.values] == [pytest.approx(median)]
