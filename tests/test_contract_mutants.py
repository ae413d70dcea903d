"""Meta-tests: each live contract test fails on a connector broken the way it names
(docs/testing-plugins.md, "Meta-tests").

Every mutant in ``contract_subjects.mutants`` runs through pytest itself (in-process, on a
generated test module subclassing the contract exactly as a plugin's test does), selecting
the one contract test named for its breakage: that test must fail with an
``AssertionError``. ``test_live_contract.py`` runs the whole suite on the reference
connector, where every test passes.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from contract_subjects.connector import ReferenceConnector
from contract_subjects.mutants import MUTANTS, Mutant
from crmsync.testing import LiveConnectorContract


class Reports:
    """A pytest plugin keeping the test reports of a run."""

    def __init__(self) -> None:
        self.reports: list[pytest.TestReport] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.append(report)


def run_contract_test(folder: Path, subject: type[ReferenceConnector], test: str
                      ) -> list[pytest.TestReport]:
    """Run contract test ``test`` on connector class ``subject`` in-process; its reports."""
    module = folder / f"test_subject_{subject.__name__.lower()}.py"
    module.write_text(
        "from contract_subjects import ContractOnMemoryCrm\n"
        f"from {subject.__module__} import {subject.__name__}\n\n\n"
        "class TestSubject(ContractOnMemoryCrm):\n"
        f"    CONNECTOR = {subject.__name__}\n")
    reports = Reports()
    code = pytest.main([f"{module}::TestSubject::{test}", "-q", "-p", "no:cacheprovider",
                        "-p", "no:xdist", "-o", "addopts=", "--import-mode=importlib",
                        "--rootdir", str(folder)], plugins=[reports])
    assert code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), code
    return reports.reports


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_the_named_contract_test_fails_on_the_mutant(tmp_path: Path, mutant: type[Mutant]
                                                     ) -> None:
    """The contract test named for the mutant's breakage fails on it, by an assertion."""
    reports = run_contract_test(tmp_path, mutant, mutant.CAUGHT_BY)
    calls = [r for r in reports if r.when == "call"]
    assert len(calls) == 1, f"{mutant.CAUGHT_BY} did not run: {reports}"
    assert calls[0].failed, f"{mutant.CAUGHT_BY} passed on {mutant.__name__}"
    crash = getattr(calls[0].longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(calls[0].longrepr)
    assert message.startswith("AssertionError"), (
        f"{mutant.CAUGHT_BY} failed on {mutant.__name__} by crashing, not by asserting: "
        f"{message}")


def test_the_runner_reports_a_pass_on_the_reference(tmp_path: Path) -> None:
    """The in-process runner above can see a pass (so a failure it reports is real)."""
    reports = run_contract_test(tmp_path, ReferenceConnector, "test_timestamps_are_utc")
    assert [r.outcome for r in reports if r.when == "call"] == ["passed"]


def test_every_contract_test_is_proven_to_fail_on_some_mutant() -> None:
    """Each test of the suite is named by at least one mutant, so none is untested."""
    tests = {name for name, _ in inspect.getmembers(LiveConnectorContract, inspect.isfunction)
             if name.startswith("test_")}
    caught = {m.CAUGHT_BY.split("[")[0] for m in MUTANTS}
    assert tests - caught == set()
    assert caught <= tests
