"""The demo's web traffic (plugins/crmsync_demo/web_traffic.py): consistent with the leads the
demo creates, seasonal, growing, at every size, and cut like every other entity."""

from __future__ import annotations

import collections
import datetime as dt
import statistics

import pytest

from crmsync_demo.dataset import DemoDataset

AS_OF = dt.date(2026, 9, 30)


@pytest.fixture(scope="module")
def small() -> DemoDataset:
    return DemoDataset("small", 42, AS_OF)


@pytest.fixture(scope="module")
def rows(small: DemoDataset) -> list[dict]:
    return list(small.records("web_traffic"))


def test_rows_cover_the_reporting_days_once_per_channel(small: DemoDataset, rows) -> None:
    assert len({r["remote_id"] for r in rows}) == len(rows)
    assert all(r["remote_id"] == f"{r['date'].isoformat()}:{r['channel']}" for r in rows)
    days = {r["date"] for r in rows}
    assert min(days) == small.timeline.reporting_start
    assert max(days) == AS_OF - dt.timedelta(days=1)
    assert all(r["sessions"] >= 0 and r["new_contacts"] >= 0 for r in rows)


def test_new_contacts_agree_with_the_web_leads_the_demo_creates(small: DemoDataset,
                                                               rows) -> None:
    start = small.timeline.reporting_start
    leads = collections.Counter(
        lead["lead_source"] for lead in small.records("leads")
        if start <= lead["remote_created_at"].date() < AS_OF)
    web = sum(r["new_contacts"] for r in rows if r["channel"] != "paid_social")
    paid_social = sum(r["new_contacts"] for r in rows if r["channel"] == "paid_social")
    assert abs(web - leads["Web"]) <= 0.1 * leads["Web"]
    assert abs(paid_social - leads["Paid Social"]) <= 0.35 * leads["Paid Social"]


def _sessions_per_day(rows, keep) -> float:
    days = collections.Counter()
    for r in rows:
        if keep(r["date"]):
            days[r["date"]] += r["sessions"]
    return statistics.mean(days.values())


def test_weekends_and_december_are_quieter_and_traffic_grows(rows) -> None:
    assert _sessions_per_day(rows, lambda d: d.weekday() >= 5) < \
        0.7 * _sessions_per_day(rows, lambda d: d.weekday() < 5)
    assert _sessions_per_day(rows, lambda d: (d.year, d.month) == (2025, 12)) < \
        0.9 * _sessions_per_day(rows, lambda d: (d.year, d.month) == (2025, 11))
    assert _sessions_per_day(rows, lambda d: d.year == 2026) > \
        1.15 * _sessions_per_day(rows, lambda d: d < dt.date(2025, 7, 1))


def test_bigger_sizes_have_proportionally_more_traffic(small: DemoDataset) -> None:
    day = AS_OF - dt.timedelta(days=3)
    large = DemoDataset("large", 42, AS_OF)
    ratio = (sum(r["sessions"] for r in large.web_traffic.for_day(day))
             / sum(r["sessions"] for r in small.web_traffic.for_day(day)))
    assert 40 < ratio < 80  # 60 times the leads


def test_a_cut_dataset_holds_the_days_finished_by_the_cut() -> None:
    cut = DemoDataset("small", 42, AS_OF, cut_at=dt.datetime(2026, 6, 15, 12, 0))
    days = {r["date"] for r in cut.records("web_traffic")}
    assert max(days) == dt.date(2026, 6, 14)


def test_resuming_from_an_offset_yields_the_remaining_rows(small: DemoDataset, rows) -> None:
    assert list(small.records("web_traffic", 1000)) == rows[1000:]
