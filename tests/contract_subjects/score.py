"""The contract suites' mutation score: run each suite in full on the reference connector and
on every broken variant, and print which variants each catches (docs/testing-plugins.md,
"Meta-tests").

Run from the repository root: ``python tests/contract_subjects/score.py``. Prints one line per
variant (the live contract tests that fail on it, and whether the static
``ConnectorContract`` fails any), the scores of both suites and the wall time of the live
suite on the reference connector.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # run as a script: make `contract_subjects` importable
    sys.path.insert(0, str(TESTS))

from contract_subjects.connector import ReferenceConnector  # noqa: E402
from contract_subjects.mutants import MUTANTS  # noqa: E402

MODULE = '''
import pytest
from contract_subjects import ContractOnMemoryCrm, MemoryCrm, make_connector
from crmsync.testing import ConnectorContract
from {module} import {name}


class TestLive(ContractOnMemoryCrm):
    CONNECTOR = {name}


class TestStatic(ConnectorContract):
    @pytest.fixture
    def connector(self):
        crm = MemoryCrm()
        for _ in range(5):
            crm.create("accounts")
            crm.create("opportunities")
            crm.advance(1)
        return make_connector({name}, crm)
'''


class Failures:
    """A pytest plugin collecting the failed tests of a run, by class."""

    def __init__(self) -> None:
        self.failed: dict[str, list[str]] = {"TestLive": [], "TestStatic": []}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            _, cls, test = report.nodeid.split("::")
            self.failed[cls].append(test)


def failures(folder: Path, subject: type[ReferenceConnector]) -> tuple[dict[str, list[str]],
                                                                        float]:
    """The tests of both suites that fail on ``subject``, and the run's wall time."""
    module = folder / f"test_score_{subject.__name__.lower()}.py"
    module.write_text(MODULE.format(module=subject.__module__, name=subject.__name__))
    plugin = Failures()
    started = time.perf_counter()
    pytest.main([str(module), "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:terminal",
                 "-o", "addopts=", "--import-mode=importlib", "--rootdir", str(folder)],
                plugins=[plugin])
    return plugin.failed, time.perf_counter() - started


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference, seconds = failures(folder, ReferenceConnector)
        rows, live, static = [], 0, 0
        for mutant in MUTANTS:
            failed, _ = failures(folder, mutant)
            live += bool(failed["TestLive"])
            static += bool(failed["TestStatic"])
            rows.append(f"{mutant.__name__:26} static {'caught' if failed['TestStatic'] else '-':6}"
                        f"  live: {', '.join(failed['TestLive']) or '-'}")
    print("\n".join(rows))
    print(f"reference connector fails: {reference['TestLive'] + reference['TestStatic'] or 'none'}")
    print(f"live contract (LiveConnectorContract) caught {live}/{len(MUTANTS)}")
    print(f"static contract (ConnectorContract)   caught {static}/{len(MUTANTS)}")
    print(f"both suites on the reference connector (pytest in-process): {seconds:.1f} s")
    return 0 if live == len(MUTANTS) and not any(reference.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
