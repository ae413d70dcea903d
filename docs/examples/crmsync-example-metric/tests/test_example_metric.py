"""Tests of the example metric, computed over a real (SQLite) store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crmsync import Batch, Connector, Deletion
from crmsync.testing import compute_metric
from crmsync_example_metric import OpenPipelineCount


class Deals(Connector):
    """A throw-away connector that yields the opportunities a test needs."""

    NAME = "deals"
    ENTITIES = ("users", "opportunities")

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        if entity == "users":
            yield Batch(records=[{"remote_id": "u1", "team": "East"},
                                 {"remote_id": "u2", "team": "West"}])
            return
        yield Batch(records=[
            {"remote_id": "o1", "status": "open", "owner_id": "u1",
             "remote_created_at": "2024-01-15T10:00:00Z"},
            {"remote_id": "o2", "status": "open", "owner_id": "u2",
             "remote_created_at": "2024-02-03T10:00:00Z"},
            {"remote_id": "o3", "status": "won", "owner_id": "u1",
             "remote_created_at": "2024-02-04T10:00:00Z"},
            {"remote_id": "o4", "status": "open", "owner_id": "u1",
             "remote_created_at": "2024-02-05T10:00:00Z"},
        ], deleted=[Deletion("o4")])


@pytest.fixture
def store(crmsync_store, crmsync_sync):
    """A store holding the opportunities of :class:`Deals`."""
    crmsync_sync(Deals("crm", {}))
    return crmsync_store


def values(store, **kw):
    return [(v.period_start and v.period_start.isoformat(), v.dimension_value, v.value)
            for v in compute_metric(store, OpenPipelineCount(), **kw)]


def test_counts_open_live_deals_over_all_time(store) -> None:
    assert values(store, period="all") == [(None, None, 2.0)]


def test_attributes_deals_to_the_month_they_were_created(store) -> None:
    assert values(store, period="month") == [("2024-01-01", None, 1.0),
                                             ("2024-02-01", None, 1.0)]


def test_breaks_down_by_the_owners_team(store) -> None:
    assert values(store, period="all", dimension="team") == [(None, "East", 1.0),
                                                                 (None, "West", 1.0)]
