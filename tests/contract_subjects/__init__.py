"""Subjects of the contract meta-tests (docs/testing-plugins.md, "Meta-tests"): an in-memory
CRM implementing ``World``, a reference connector that passes the live contract suite, and
deliberately broken variants of it, each of which one named contract test must fail.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from contract_subjects.connector import ReferenceConnector
from contract_subjects.memory_crm import TOKEN, MemoryCrm
from crmsync.testing import LiveConnectorContract

__all__ = ["MemoryCrm", "ReferenceConnector", "ContractOnMemoryCrm", "make_connector"]


def make_connector(cls: type[ReferenceConnector], crm: MemoryCrm) -> ReferenceConnector:
    """``cls`` pointed at ``crm`` with pages of 2 records."""
    return cls("memory", cls.validate_settings({"api_token": TOKEN, "page_size": 2}), crm=crm)


class ContractOnMemoryCrm(LiveConnectorContract):
    """The live contract suite on :attr:`CONNECTOR` over a fresh :class:`MemoryCrm`."""

    CONNECTOR: ClassVar[type[ReferenceConnector]] = ReferenceConnector

    @pytest.fixture
    def world(self) -> MemoryCrm:
        return MemoryCrm()

    @pytest.fixture
    def connector(self, world: MemoryCrm) -> ReferenceConnector:
        return make_connector(self.CONNECTOR, world)
