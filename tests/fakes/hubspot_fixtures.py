"""Pytest fixtures for the fake HubSpot portal (made available by ``tests/conftest.py``).

``fake_hubspot`` is a running portal with a small default dataset; ``fake_hubspot_factory``
starts portals with other datasets (``fake_hubspot_factory(Dataset(deals=12_000, tied=11_000))``).
Every portal started is stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fakes.hs_data import Dataset
from fakes.hubspot_portal import FakeHubSpotPortal

__all__ = ["fake_hubspot", "fake_hubspot_factory"]


@pytest.fixture
def fake_hubspot_factory() -> Iterator[Callable[..., FakeHubSpotPortal]]:
    """Start fake portals: ``factory(dataset=None, **kwargs)``; all stopped at teardown."""
    started: list[FakeHubSpotPortal] = []

    def start(dataset: Dataset | None = None, **kwargs: Any) -> FakeHubSpotPortal:
        fake = FakeHubSpotPortal.start(dataset or Dataset(), **kwargs)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def fake_hubspot(fake_hubspot_factory: Callable[..., FakeHubSpotPortal]) -> FakeHubSpotPortal:
    """A running fake portal (120 deals, 200 contacts, 50 companies, 300 engagements)."""
    return fake_hubspot_factory()
