"""Re-record HubSpot cassettes against a fake portal: ``python
tests/fakes/record_hubspot_cassettes.py [pytest args, e.g. -k full_sync]``.

Starts :class:`~fakes.hubspot_portal.FakeHubSpotPortal` with the data the cassette tests need
(deals in every pipeline with property histories holding changes, companies, contacts, all
five engagement types, the custom ``deal_region`` property, goal targets, feedback submissions
and marketing campaigns) and runs
``tests/test_hubspot_connector.py --record-cassettes`` against it. Tests named
``test_scripted_*`` replay hand-written cassettes and are never re-recorded: deselect them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))

from fakes.hs_data import Dataset  # noqa: E402
from fakes.hubspot_portal import FakeHubSpotPortal  # noqa: E402

#: The recorded portal.
DATASET = Dataset(deals=10, contacts=40, companies=10, engagements=30, owners=6,
                  field_changes=True, goal_targets=24, feedback_submissions=12, campaigns=4)


def main(args: list[str]) -> int:
    """Record; pytest's exit code."""
    with FakeHubSpotPortal.start(DATASET) as fake:
        env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": fake.access_token,
               "HUBSPOT_BASE_URL": fake.base_url}
        return subprocess.call([sys.executable, "-m", "pytest", "-q", "-n", "0",
                                str(TESTS / "test_hubspot_connector.py"),
                                "--record-cassettes", *args], env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
