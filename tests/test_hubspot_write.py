"""Write-back pieces of the HubSpot connector without the network (crmsync_hubspot.write)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from crmsync import ConfigError, FieldSpec
from crmsync_hubspot import HubSpotConnector
from crmsync_hubspot.write import PROPERTY_TYPES, _field_info, property_value


def prop(**kw: Any) -> dict[str, Any]:
    return {"name": "p", "label": "P", "type": "string", "fieldType": "text",
            "hubspotDefined": True, "calculated": False, "hasUniqueValue": False,
            "modificationMetadata": {"readOnlyValue": False}, **kw}


def test_dates_are_sent_as_midnight_utc_epoch_ms() -> None:
    assert property_value(dt.date(2024, 3, 1)) == "1709251200000"


def test_aware_datetimes_are_sent_as_epoch_ms() -> None:
    moment = dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert property_value(moment) == "1709251200000"


@pytest.mark.parametrize("value,expected", [(True, "true"), (None, ""), (3.0, "3"),
                                            (0.25, "0.25"), (7, "7")])
def test_values_are_stringified_as_hubspot_expects(value: Any, expected: str) -> None:
    assert property_value(value) == expected


def test_read_only_properties_are_not_writable() -> None:
    info = _field_info(prop(modificationMetadata={"readOnlyValue": True}))
    assert not info.writable


def test_unique_value_properties_are_not_writable() -> None:
    assert not _field_info(prop(hasUniqueValue=True)).writable


def test_calculated_properties_are_flagged() -> None:
    assert _field_info(prop(type="number", fieldType="calculation_equation",
                            calculated=True)).calculated


def test_custom_is_not_hubspot_defined() -> None:
    assert _field_info(prop(hubspotDefined=False)).custom


@pytest.mark.parametrize("definition,kind", [
    ({"type": "number"}, "number"),
    ({"type": "number", "showCurrencySymbol": True}, "currency"),
    ({"type": "number", "numberDisplayHint": "percentage"}, "percent"),
    ({"type": "date", "fieldType": "date"}, "date"),
    ({"type": "datetime", "fieldType": "date"}, "datetime"),
    ({"type": "bool", "fieldType": "booleancheckbox"}, "boolean"),
    ({"type": "enumeration", "fieldType": "select"}, "enumeration"),
])
def test_property_kinds(definition: dict[str, Any], kind: str) -> None:
    assert _field_info(prop(**definition)).type == kind


def test_every_field_kind_can_be_created() -> None:
    from crmsync.plugin.connector import FIELD_TYPES
    assert set(FIELD_TYPES) <= set(PROPERTY_TYPES)


def test_users_cannot_be_written() -> None:
    conn = HubSpotConnector("hs", HubSpotConnector.validate_settings({"access_token": "x"}))
    with pytest.raises(ConfigError, match="cannot write to 'users'"):
        conn.ensure_field("users", FieldSpec(name="crmsync_x", type="number", label="x"))
