"""The API budget of one run: ``quota_run_percent`` and ``quota_total_percent``.

Salesforce counts every REST, Bulk and SOAP request against the org's 24-hour allowance
(``DailyApiRequests`` in ``/limits``; ``Sforce-Limit-Info: api-usage=USED/MAX`` on every REST
response). A sync must leave room for the org's other integrations, so a run may use at most
``quota_run_percent`` % of the requests remaining when it starts, and never pushes the org's
usage past ``quota_total_percent`` % of its maximum. The budget is checked before every HTTP
request; when it is spent :class:`crmsync.QuotaExhausted` stops the run cleanly (every committed
page is kept; the next run resumes from the cursors).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from crmsync import Quota, QuotaExhausted

__all__ = ["QuotaBudget", "parse_limit_info"]

_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """``(used, max)`` from a ``Sforce-Limit-Info`` header, or ``None``.

    The header may also carry ``per-app-api-usage=…(appName=…)``, which is ignored.
    """
    if not header:
        return None
    match = _API_USAGE.search(header)
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass
class QuotaBudget:
    """How many requests this run may still send.

    :param run_percent: share of the requests remaining at the start a run may use.
    :param total_percent: the org's usage never goes past this share of its maximum.
    """

    run_percent: float = 50.0
    total_percent: float = 90.0
    used: int | None = None
    limit: int | None = None
    allowance: int | None = None
    spent: int = 0
    remaining_at_start: int = 0

    @property
    def started(self) -> bool:
        """True once the org's limits are known."""
        return self.allowance is not None

    def start(self, used: int, limit: int) -> None:
        """Set the run's allowance from the org's usage as the run starts: the first answer's
        ``Sforce-Limit-Info``, which already counts the requests this run sent before it
        (they stay spent, and are added back to what remained at the start)."""
        self.used, self.limit = used, limit
        self.remaining_at_start = max(limit - used + self.spent, 0)
        self.allowance = math.floor(self.remaining_at_start * self.run_percent / 100)

    def observe(self, used: int, limit: int) -> None:
        """Take the org's usage from a ``Sforce-Limit-Info`` header."""
        self.used, self.limit = used, limit

    def before_call(self, *, connection: str, entity: str | None) -> None:
        """Account for one more request, or raise :class:`QuotaExhausted` when none is left."""
        if self.allowance is not None and self.spent >= self.allowance:
            raise QuotaExhausted(
                f"this run used its API budget ({self.spent} requests = quota_run_percent "
                f"{self.run_percent:g}% of the {self.remaining_at_start} remaining at the start); "
                "stopped: api quota, the next run resumes", connection=connection, entity=entity)
        if self.used is not None and self.limit:
            cap = math.floor(self.limit * self.total_percent / 100)
            if self.used + 1 > cap:
                raise QuotaExhausted(
                    f"the org has used {self.used} of {self.limit} daily API requests; "
                    f"quota_total_percent {self.total_percent:g}% allows {cap}; "
                    "stopped: api quota, the next run resumes",
                    connection=connection, entity=entity)
            self.used += 1  # until the next header says otherwise
        self.spent += 1

    def quota(self) -> Quota | None:
        """The org's usage as last seen."""
        if self.used is None or self.limit is None:
            return None
        return Quota(used=self.used, limit=self.limit)
