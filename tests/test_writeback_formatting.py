"""Metric values as field values: kinds per unit, rounding, hashes and comparing with what
the CRM returns."""

from __future__ import annotations

import math

import pytest

from crmsync import FieldInfo
from crmsync.writeback.formatting import (
    compatible_kinds,
    decimals_for,
    field_kind,
    format_value,
    same_value,
    value_hash,
)


@pytest.mark.parametrize("value, unit, kind, decimals, expected", [
    (1 / 3, "ratio", "percent", 2, 33.33),
    (1 / 3, "ratio", "number", 4, 0.3333),
    (12.99, "days", "number", 0, 12),
    (1234.565, "currency", "currency", 2, 1234.57),
    (7.5, "minutes", "number", 0, 8),
    (None, "count", "number", 0, None),
    (math.nan, "score", "number", 1, None),
])
def test_values_are_formatted_for_the_field(value, unit, kind, decimals, expected):
    assert format_value(value, unit, kind, decimals) == expected


def test_values_without_decimals_are_integers():
    assert isinstance(format_value(3.0, "count", "number", 0), int)


def test_a_fields_scale_caps_the_decimals():
    assert decimals_for("currency", "currency", scale=0) == 0


def test_the_mappings_decimals_win_over_the_units():
    assert decimals_for("days", "number", override=2) == 2


def test_twelve_and_twelve_point_zero_hash_alike():
    assert value_hash(12) == value_hash(12.0) != value_hash(12.5)


@pytest.mark.parametrize("crm, sent, same", [
    ("12", 12, True), ("12.0", 12, True), (12.0, 12, True), ("13", 12, False),
    ("", None, True), (None, None, True), ("x", None, False), (None, 3, False),
])
def test_the_crms_value_is_compared_with_the_one_sent(crm, sent, same):
    assert same_value(crm, sent) is same


@pytest.mark.parametrize("vendor, kind", [("double", "number"), ("Percent", "percent"),
                                          ("textarea", "string"), ("reference", "reference")])
def test_vendor_type_names_map_to_kinds(vendor, kind):
    assert field_kind(FieldInfo(name="f", type=vendor)) == kind


def test_a_ratio_fits_a_percent_or_number_field_only():
    assert compatible_kinds("ratio") == ("percent", "number")
