"""The live contract suite passes the reference connector over the in-memory CRM (the
meta-tests in test_contract_mutants.py show each of its tests can fail)."""

from __future__ import annotations

from contract_subjects import ContractOnMemoryCrm


class TestReferenceConnector(ContractOnMemoryCrm):
    """Every live contract test, on the reference connector."""
