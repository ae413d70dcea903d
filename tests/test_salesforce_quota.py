"""The run's API budget: quota_run_percent of what remains, never past quota_total_percent."""

from __future__ import annotations

import pytest

from crmsync.core.errors import QuotaExhausted
from crmsync_salesforce.quota import QuotaBudget, parse_limit_info


def _spend(budget: QuotaBudget, n: int) -> None:
    for _ in range(n):
        budget.before_call(connection="sf", entity="accounts")


def test_limit_info_header_is_parsed() -> None:
    assert parse_limit_info("api-usage=893/15000") == (893, 15000)


def test_per_app_usage_in_the_header_is_ignored() -> None:
    assert parse_limit_info("api-usage=25/5000; per-app-api-usage=17/250(appName=x)") == \
        (25, 5000)


def test_a_missing_header_gives_nothing() -> None:
    assert parse_limit_info(None) is None


def test_a_run_may_use_its_share_of_the_remaining_requests() -> None:
    budget = QuotaBudget(run_percent=50, total_percent=100)
    budget.start(used=800, limit=1000)
    _spend(budget, 100)

    with pytest.raises(QuotaExhausted, match="stopped: api quota"):
        _spend(budget, 1)


def test_the_org_is_never_pushed_past_the_total_share() -> None:
    budget = QuotaBudget(run_percent=100, total_percent=90)
    budget.start(used=880, limit=1000)
    _spend(budget, 20)

    with pytest.raises(QuotaExhausted, match="quota_total_percent"):
        _spend(budget, 1)


def test_usage_reported_by_salesforce_replaces_the_estimate() -> None:
    budget = QuotaBudget(run_percent=100, total_percent=90)
    budget.start(used=0, limit=1000)
    budget.observe(used=900, limit=1000)  # other integrations used the org meanwhile

    with pytest.raises(QuotaExhausted):
        _spend(budget, 1)


def test_calls_before_the_limits_are_known_are_allowed() -> None:
    budget = QuotaBudget()
    _spend(budget, 3)

    assert budget.spent == 3


def test_quota_reports_the_org_usage() -> None:
    budget = QuotaBudget()
    budget.start(used=100, limit=1000)

    quota = budget.quota()

    assert quota is not None and (quota.used, quota.remaining) == (100, 900)


def test_requests_sent_before_the_first_answer_stay_counted() -> None:
    budget = QuotaBudget(run_percent=50)
    _spend(budget, 1)  # the run's first request; its answer says 81 of 100 are used
    budget.start(used=81, limit=100)

    assert (budget.remaining_at_start, budget.allowance, budget.spent) == (20, 10, 1)
    _spend(budget, 9)
    with pytest.raises(QuotaExhausted, match="quota_run_percent"):
        _spend(budget, 1)
