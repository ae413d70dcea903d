"""Benchmark: API calls to read Salesforce survey responses (``feedback``) and territory
assignments (``accounts.territory``), per 1,000 records, against the API's minimum, on the fake
org (tests/fakes/sf_surveys.py).

* **Survey responses**: a full read of ``feedback`` and an incremental one after 1 % of the
  answers changed, counting the connector's calls (``connector.api_calls``). The minimum is
  the fewer of ``ceil(answers / 2000)`` queryAll pages of ``SurveyQuestionResponse`` and a
  Bulk API job (below) — every answer is read: which are scores is known from their
  question — plus ``ceil(subjects / 2000)`` pages of
  ``SurveySubject`` read whole, plus the describe; an incremental read also needs getDeleted.
* **Territories**: the calls a read of ``accounts`` makes with Enterprise Territory Management
  on, less those without it; the minimum is one query for the active model plus
  ``ceil(rows / 2000)`` pages of its territories and the fewer of ``ceil(rows / 2000)`` pages
  and a Bulk API job (create, the fake's two status reads, ``ceil(rows / 100,000)`` result
  pages) for the assignments. Then an incremental read after 1 % of the assignments moved:
  the accounts read again by Id (150 a query).

Usage::

    python bench/surveys_territories_calls.py            # 10,000 responses, 10,000 accounts
    python bench/surveys_territories_calls.py --scale 0.1
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent / "tests"))  # the fakes live with the tests

from crmsync_salesforce import SalesforceConnector  # noqa: E402
from fakes.salesforce_org import FakeSalesforceOrg  # noqa: E402
from fakes.sf_data import Dataset, make_id  # noqa: E402

PAGE = 2000
#: A Bulk API query job at the least: create, two status reads (the fake answers InProgress
#: once), one result page per 100,000 rows.
BULK_CALLS = 3
BULK_PAGE = 100_000


def pages_or_bulk(rows: int) -> int:
    """The fewest calls that read ``rows`` rows of one query: REST pages or a Bulk job."""
    return min(max(1, math.ceil(rows / PAGE)), BULK_CALLS + math.ceil(rows / BULK_PAGE))


def _connector(fake: FakeSalesforceOrg) -> SalesforceConnector:
    return SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake.instance_url, "session_id": fake.session_id,
         "ca_bundle": fake.ca_bundle, "survey_types": {"Effort Check": "ces"}}))


def _read(fake: FakeSalesforceOrg, entity: str, cursor: Any) -> tuple[int, int, Any]:
    """(records, calls, last cursor) of one read of ``entity``."""
    connector = _connector(fake)
    rows, last = 0, cursor
    for batch in connector.read(entity, cursor):
        rows += len(batch.records)
        last = batch.cursor
    calls = connector.api_calls.total
    connector.close()
    return rows, calls, last


def _line(what: str, kind: str, rows: int, calls: int, minimum: int) -> None:
    per_1k = calls * 1000 / rows if rows else float("nan")
    print(f"{what:<22} {kind:<11} {rows:>7} records {calls:>5} calls ({per_1k:5.2f} per 1k)"
          f"  minimum {minimum:>4}")


def surveys(responses: int) -> None:
    with FakeSalesforceOrg.start(dataset=Dataset(opportunities=200, contacts=500, leads=200,
                                                 activities=5, surveys=responses)) as fake:
        answers = fake.org.tables["SurveyQuestionResponse"].spec.count
        subjects = fake.org.tables["SurveySubject"].spec.count
        rows, calls, cursor = _read(fake, "feedback", None)
        _line("feedback (answers)", "full", rows, calls,
              pages_or_bulk(answers) + math.ceil(subjects / PAGE) + 1)
        for j in range(0, answers, 100):
            fake.org.update("SurveyQuestionResponse", make_id("0Kh", j))
        rows, calls, _ = _read(fake, "feedback", cursor)
        _line("feedback (answers)", "incremental", rows, calls, 1 + 1 + 1)


def territories(accounts: int) -> None:
    counts = {}
    for on in (False, True):
        with FakeSalesforceOrg.start(dataset=Dataset(
                opportunities=accounts * 5, activities=5, contacts=5, leads=5,
                territories=on)) as fake:
            rows, calls, cursor = _read(fake, "accounts", None)
            counts[on] = calls
            if not on:
                continue
            assoc = fake.org.tables["ObjectTerritory2Association"].spec.count
            terr = fake.org.tables["Territory2"].spec.count
            minimum = 1 + math.ceil(terr / PAGE) + pages_or_bulk(assoc)
            _line("accounts.territory", "full", rows, counts[True] - counts[False], minimum)
            table = fake.org.tables["ObjectTerritory2Association"]
            moved = 0
            for k in range(0, assoc, 100):
                rec = table.record(k)
                fake.org.update("ObjectTerritory2Association", rec["Id"],
                                Territory2Id=make_id("0MI", (k + 1) % 4))
                moved += 1
            _, calls, _ = _read(fake, "accounts", cursor)
            _line("accounts.territory", "incremental", moved, calls,
                  minimum + 2 + math.ceil(moved / 150))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    surveys(int(10_000 * args.scale))
    territories(int(10_000 * args.scale))


if __name__ == "__main__":
    main()
