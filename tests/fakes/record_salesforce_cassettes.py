"""Re-record the Salesforce cassettes against a fake org: ``python
tests/fakes/record_salesforce_cassettes.py [pytest args]``.

Starts :class:`~fakes.salesforce_org.FakeSalesforceOrg` with the data the cassette tests need
(more than 200 leads; opportunities with stage history and field changes, field history
tracking on; products, forecast quotas and campaigns; survey responses; territories) and runs
``tests/test_salesforce_cassettes.py --record-cassettes`` against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from fakes.salesforce_org import FakeSalesforceOrg  # noqa: E402
from fakes.sf_data import Dataset  # noqa: E402

#: The recorded org.
DATASET = Dataset(opportunities=40, leads=250, field_history=True, field_changes=True,
                  products=6, forecast_quarters=2, campaigns=12, surveys=30, territories=True)


def main(args: list[str]) -> int:
    """Record; pytest's exit code."""
    with FakeSalesforceOrg.start(dataset=DATASET) as fake:
        env = {**os.environ, "SF_INSTANCE_URL": fake.instance_url,
               "SF_SESSION_ID": fake.session_id, "SF_CA_BUNDLE": fake.ca_bundle or ""}
        return subprocess.call([sys.executable, "-m", "pytest", "-q", "-n", "0",
                                str(TESTS / "test_salesforce_cassettes.py"),
                                "--record-cassettes", *args], env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
