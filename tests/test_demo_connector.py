"""The ``demo`` connector, called directly: determinism, resume, integrity and realism."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import itertools
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from crmsync import Batch, ConfigError
from crmsync.core.schema import BOOK_KEEPING_COLUMNS, SYNCED_TABLES
from crmsync_demo import DemoConnector, crmsync_register_connectors
from crmsync_demo.dataset import DemoDataset

Record = Mapping[str, Any]
Records = dict[str, list[Record]]

#: The default ``as_of``: nothing may happen at or after midnight starting it.
NOW = dt.datetime(2026, 9, 30)

#: Every reference column of the schema and the entity it points at.
REFERENCES = {
    ("users", "manager_id"): "users",
    ("accounts", "owner_id"): "users",
    ("accounts", "parent_id"): "accounts",
    ("contacts", "account_id"): "accounts",
    ("contacts", "owner_id"): "users",
    ("leads", "owner_id"): "users",
    ("leads", "converted_contact_id"): "contacts",
    ("leads", "converted_account_id"): "accounts",
    ("leads", "converted_opportunity_id"): "opportunities",
    ("stages", "pipeline_id"): "pipelines",
    ("opportunities", "pipeline_id"): "pipelines",
    ("opportunities", "stage_id"): "stages",
    ("opportunities", "owner_id"): "users",
    ("opportunities", "account_id"): "accounts",
    ("opportunities", "campaign_id"): "spend",  # a campaign is a spend row (Salesforce)
    ("opportunity_stage_history", "opportunity_id"): "opportunities",
    ("opportunity_stage_history", "stage_id"): "stages",
    ("opportunity_stage_history", "changed_by"): "users",
    ("opportunity_field_history", "opportunity_id"): "opportunities",
    ("opportunity_field_history", "changed_by"): "users",
    ("opportunity_contacts", "opportunity_id"): "opportunities",
    ("opportunity_contacts", "contact_id"): "contacts",
    ("activities", "owner_id"): "users",
    ("activities", "contact_id"): "contacts",
    ("activities", "lead_id"): "leads",
    ("activities", "account_id"): "accounts",
    ("activities", "opportunity_id"): "opportunities",
    ("quotas", "owner_id"): "users",
    ("feedback", "contact_id"): "contacts",
    ("feedback", "account_id"): "accounts",
    ("feedback", "owner_id"): "users",
    ("opportunity_line_items", "opportunity_id"): "opportunities",
    ("opportunity_line_items", "product_id"): "products",
}


def make_connector(**settings: Any) -> DemoConnector:
    """A demo connector with ``settings`` over the defaults."""
    return DemoConnector("demo", DemoConnector.validate_settings(settings))


def read_all(connector: DemoConnector) -> Records:
    """Every record of every entity of ``connector``."""
    return {entity: [r for batch in connector.read(entity, None) for r in batch.records]
            for entity in connector.ENTITIES}


def by_id(records: list[Record]) -> dict[str, Record]:
    """``records`` keyed by remote id."""
    return {r["remote_id"]: r for r in records}


def digest(records: Records) -> str:
    """A fingerprint of ``records`` that changes with any value, type or order."""
    h = hashlib.sha256()
    for entity, rows in records.items():
        h.update(entity.encode())
        for row in rows:
            h.update(repr(sorted(row.items())).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def data() -> Records:
    """The default (small) dataset, read once for the module."""
    return read_all(make_connector())


@pytest.fixture(scope="module")
def history(data: Records) -> dict[str, list[Record]]:
    """Stage history rows per opportunity, in order of entry."""
    rows: dict[str, list[Record]] = collections.defaultdict(list)
    for row in data["opportunity_stage_history"]:
        rows[row["opportunity_id"]].append(row)
    for visits in rows.values():
        visits.sort(key=lambda r: r["entered_at"])
    return rows


# -- registration and settings ----------------------------------------------------------------


def test_hook_registers_the_demo_connector() -> None:
    assert crmsync_register_connectors() == [DemoConnector]
    assert DemoConnector.NAME == "demo"


def test_connector_reads_every_schema_table() -> None:
    assert set(DemoConnector.ENTITIES) == set(SYNCED_TABLES)


def test_settings_default_to_a_small_fixed_dataset() -> None:
    assert DemoConnector.validate_settings({}) == {
        "size": "small", "seed": 42, "as_of": "2026-09-30", "batch_size": 2000,
        "cut_at": None}


@pytest.mark.parametrize("raw", [{"size": "huge"}, {"as_of": "30/09/2026"}, {"seed": "7"},
                                 {"batch_size": 0}, {"cut_at": "July"},
                                 {"cut_at": "2026-07-01T00:00:00+02:00"}])
def test_invalid_settings_raise_config_errors(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        DemoConnector.validate_settings(raw)


def test_check_describes_the_dataset() -> None:
    assert make_connector(size="medium", seed=7).check().startswith(
        "demo CRM (size medium, seed 7")


# -- record format ------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", sorted(SYNCED_TABLES))
def test_records_use_schema_columns_and_leave_book_keeping_to_the_engine(
        data: Records, entity: str) -> None:
    columns = set(SYNCED_TABLES[entity].c.keys())
    required = {c.name for c in SYNCED_TABLES[entity].c if c.info.get("required")}
    assert data[entity]
    for record in data[entity]:
        assert set(record) <= columns - set(BOOK_KEEPING_COLUMNS)
        assert all(record.get(c) is not None for c in required)
        assert isinstance(record["remote_created_at"], dt.datetime)
        assert record["remote_created_at"].tzinfo is None
        assert record["remote_created_at"] <= record["remote_updated_at"] <= NOW


@pytest.mark.parametrize("entity", sorted(SYNCED_TABLES))
def test_remote_ids_are_unique_per_entity(data: Records, entity: str) -> None:
    ids = [r["remote_id"] for r in data[entity]]
    assert len(ids) == len(set(ids))


def test_choice_columns_hold_allowed_values(data: Records) -> None:
    for entity, table in SYNCED_TABLES.items():
        for column in table.c:
            choices = column.info.get("choices")
            if choices:
                used = {r.get(column.name) for r in data[entity]} - {None}
                assert used <= set(choices), (entity, column.name)


# -- determinism and resume -------------------------------------------------------------------


def test_same_settings_give_identical_records(data: Records) -> None:
    assert read_all(make_connector()) == data


def test_another_process_generates_the_same_records(data: Records) -> None:
    script = ("from crmsync_demo import DemoConnector\n"
              "import test_demo_connector as t\n"
              "print(t.digest(t.read_all(t.make_connector())))\n")
    env = {**os.environ, "PYTHONHASHSEED": "12345",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__),
                                          os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == digest(data)


def test_another_seed_gives_other_records(data: Records) -> None:
    other = make_connector(seed=7)
    deals = [r for b in other.read("opportunities", None) for r in b.records]
    assert [d["amount"] for d in deals] != [d["amount"] for d in data["opportunities"]]


def test_batches_hold_batch_size_records_and_count_them_in_the_cursor() -> None:
    batches = list(make_connector(batch_size=700).read("contacts", None))
    assert [len(b.records) for b in batches[:-1]] == [700] * (len(batches) - 1)
    emitted = 0
    for batch in batches:
        emitted += len(batch.records)
        assert batch.cursor == {"offset": emitted, "dataset": "small:42:2026-09-30"}


def test_a_cursor_from_another_dataset_starts_the_read_over() -> None:
    first = list(make_connector(batch_size=700).read("contacts", None))
    stale = {"offset": 700, "dataset": "medium:42:2026-09-30"}
    again = list(make_connector(batch_size=700).read("contacts", stale))
    assert [r for b in again for r in b.records] == [r for b in first for r in b.records]


def _records_after(batches: list[Batch], k: int) -> list[Record]:
    return [r for b in batches[k + 1:] for r in b.records]


@pytest.mark.parametrize("entity", sorted(SYNCED_TABLES))
def test_resuming_from_a_cursor_yields_exactly_the_remaining_records(entity: str) -> None:
    connector = make_connector(batch_size=37 if entity in ("stages", "users") else 733)
    batches = list(connector.read(entity, None))
    k = len(batches) // 2 - 1 if len(batches) > 1 else 0
    resumed = [r for b in connector.read(entity, batches[k].cursor) for r in b.records]
    assert resumed == _records_after(batches, k)


def test_a_cursor_at_the_end_yields_no_records() -> None:
    connector = make_connector()
    batches = list(connector.read("activities", None))
    assert not [r for b in connector.read("activities", batches[-1].cursor) for r in b.records]


# -- referential integrity --------------------------------------------------------------------


def test_reference_map_covers_every_reference_column() -> None:
    refs = {(t, c.name) for t, table in SYNCED_TABLES.items() for c in table.c
            if (c.name.endswith("_id") and c.name != "remote_id") or c.name == "changed_by"}
    assert refs == set(REFERENCES)


@pytest.mark.parametrize(("entity", "column"), sorted(REFERENCES))
def test_every_reference_resolves_to_an_emitted_record(data: Records, entity: str,
                                                       column: str) -> None:
    targets = {r["remote_id"] for r in data[REFERENCES[entity, column]]}
    values = [r[column] for r in data[entity] if r.get(column) is not None]
    assert values or column in ("manager_id", "parent_id")
    assert set(values) <= targets


def test_linked_records_belong_to_the_same_account(data: Records) -> None:
    contacts = by_id(data["contacts"])
    deals = by_id(data["opportunities"])
    for link in data["opportunity_contacts"]:
        assert contacts[link["contact_id"]]["account_id"] == \
            deals[link["opportunity_id"]]["account_id"]
    for activity in data["activities"]:
        if activity["opportunity_id"]:
            deal = deals[activity["opportunity_id"]]
            assert activity["account_id"] == deal["account_id"]
            assert contacts[activity["contact_id"]]["account_id"] == deal["account_id"]
    for lead in data["leads"]:
        if lead["converted_contact_id"]:
            assert contacts[lead["converted_contact_id"]]["account_id"] == \
                lead["converted_account_id"]
            assert deals[lead["converted_opportunity_id"]]["account_id"] == \
                lead["converted_account_id"]


def test_every_deal_has_exactly_one_primary_contact(data: Records) -> None:
    primaries = collections.Counter(link["opportunity_id"] for link in data["opportunity_contacts"]
                                    if link["is_primary"])
    assert set(primaries) == {d["remote_id"] for d in data["opportunities"]}
    assert set(primaries.values()) == {1}


# -- deals, stages and their history ----------------------------------------------------------


def test_deal_status_and_probability_follow_the_current_stage(data: Records) -> None:
    stages = by_id(data["stages"])
    for deal in data["opportunities"]:
        stage = stages[deal["stage_id"]]
        expected = "open" if not stage["is_closed"] else "won" if stage["is_won"] else "lost"
        assert deal["status"] == expected
        assert deal["probability"] == stage["probability"]
        assert deal["pipeline_id"] == stage["pipeline_id"]
        assert (deal["type"] == "New Business") == (deal["pipeline_id"] == "P1")


def test_closed_at_is_the_entry_into_the_last_closed_stage(
        data: Records, history: dict[str, list[Record]]) -> None:
    for deal in data["opportunities"]:
        last = history[deal["remote_id"]][-1]
        if deal["status"] == "open":
            assert deal["closed_at"] is None
        else:
            assert deal["closed_at"] == last["entered_at"]
            assert deal["expected_close_date"] == deal["closed_at"].date()


def test_stage_history_is_contiguous_and_ends_in_the_current_stage(
        data: Records, history: dict[str, list[Record]]) -> None:
    for deal in data["opportunities"]:
        visits = history[deal["remote_id"]]
        assert visits[0]["entered_at"] == deal["remote_created_at"]
        for visit, following in itertools.pairwise(visits):
            assert visit["exited_at"] == following["entered_at"] > visit["entered_at"]
        assert visits[-1]["exited_at"] is None
        assert visits[-1]["stage_id"] == deal["stage_id"]
        assert visits[-1]["entered_at"] < NOW


def test_deals_move_forward_except_when_reopened(data: Records,
                                                 history: dict[str, list[Record]]) -> None:
    stages = by_id(data["stages"])
    reopened = 0
    for visits in history.values():
        orders = [stages[v["stage_id"]]["display_order"] for v in visits]
        closed_before_end = [stages[v["stage_id"]]["is_closed"] for v in visits[:-1]]
        if any(closed_before_end):
            reopened += 1
        else:
            assert orders == sorted(orders)
    assert reopened > 0


def test_some_open_deals_have_slipped(data: Records) -> None:
    open_deals = [d for d in data["opportunities"] if d["status"] == "open"]
    assert any(d["custom"]["push_count"] > 0 for d in open_deals)
    assert any(d["expected_close_date"] < NOW.date() for d in open_deals)


def test_win_rate_of_closed_deals_is_plausible(data: Records) -> None:
    closed = [d for d in data["opportunities"] if d["status"] != "open"]
    won = sum(d["status"] == "won" for d in closed)
    assert 0.2 <= won / len(closed) <= 0.4


def test_recent_deals_are_mostly_open_and_old_ones_closed(data: Records) -> None:
    def open_share(deals: list[Record]) -> float:
        return sum(1 for d in deals if d["status"] == "open") / len(deals)

    deals = data["opportunities"]
    recent = [d for d in deals if d["remote_created_at"] > NOW - dt.timedelta(days=30)]
    old = [d for d in deals if d["remote_created_at"] < NOW - dt.timedelta(days=365)]
    assert open_share(recent) > 0.5
    assert open_share(old) < 0.1


def test_enterprise_deals_are_bigger_and_slower_than_smb(data: Records) -> None:
    segment = {a["remote_id"]: a["segment"] for a in data["accounts"]}

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    def won(seg: str) -> list[Record]:
        return [d for d in data["opportunities"] if d["status"] == "won"
                and d["currency"] == "USD" and segment[d["account_id"]] == seg]

    def days(deals: list[Record]) -> list[float]:
        return [(d["closed_at"] - d["remote_created_at"]).days for d in deals]

    assert median([d["amount"] for d in won("Enterprise")]) > \
        5 * median([d["amount"] for d in won("SMB")])
    assert median(days(won("Enterprise"))) > 2.5 * median(days(won("SMB")))


# -- leads and activities -----------------------------------------------------------------------


def test_about_a_third_of_leads_convert_after_creation(data: Records) -> None:
    leads = data["leads"]
    converted = [lead for lead in leads if lead["status"] == "Converted"]
    assert 0.25 <= len(converted) / len(leads) <= 0.35
    for lead in leads:
        assert (lead["converted_at"] is not None) == (lead["status"] == "Converted")
        if lead["converted_at"]:
            assert lead["remote_created_at"] < lead["converted_at"] < NOW


def test_converted_lead_deals_start_at_conversion_with_the_lead_source(data: Records) -> None:
    deals = by_id(data["opportunities"])
    for lead in data["leads"]:
        if lead["converted_opportunity_id"]:
            deal = deals[lead["converted_opportunity_id"]]
            assert deal["remote_created_at"] == lead["converted_at"]
            assert deal["lead_source"] == lead["lead_source"]


def test_activities_never_happen_at_or_after_as_of(data: Records) -> None:
    assert max(a["occurred_at"] for a in data["activities"]) < NOW


def test_as_of_moves_the_whole_dataset() -> None:
    connector = make_connector(as_of="2025-03-31")
    latest = max(a["occurred_at"] for b in connector.read("activities", None)
                 for a in b.records)
    assert dt.datetime(2025, 3, 1) < latest < dt.datetime(2025, 3, 31)


def test_lead_first_touch_follows_lead_creation_within_hours(data: Records) -> None:
    leads = by_id(data["leads"])
    first: dict[str, dt.datetime] = {}
    for activity in data["activities"]:
        lead = activity["lead_id"]
        if lead and (lead not in first or activity["occurred_at"] < first[lead]):
            first[lead] = activity["occurred_at"]
    delays = sorted(first[k] - leads[k]["remote_created_at"] for k in first)
    assert delays[0] > dt.timedelta(0)
    assert delays[len(delays) // 2] < dt.timedelta(hours=12)
    assert len(first) < len(leads)  # some leads are never touched


def test_lead_activities_stop_at_conversion(data: Records) -> None:
    leads = by_id(data["leads"])
    for activity in data["activities"]:
        converted_at = activity["lead_id"] and leads[activity["lead_id"]]["converted_at"]
        if converted_at:
            assert activity["occurred_at"] < converted_at


def test_deal_activities_fall_within_the_deal_life(data: Records) -> None:
    deals = by_id(data["opportunities"])
    for activity in data["activities"]:
        if activity["opportunity_id"]:
            deal = deals[activity["opportunity_id"]]
            assert deal["remote_created_at"] < activity["occurred_at"]
            assert activity["occurred_at"] < (deal["closed_at"] or NOW)


def test_activities_mostly_fall_on_weekdays(data: Records) -> None:
    weekend = sum(a["occurred_at"].weekday() >= 5 for a in data["activities"])
    assert weekend / len(data["activities"]) < 0.05


# -- money ---------------------------------------------------------------------------------------


def test_currency_rates_cover_every_deal_currency_at_close_and_today(data: Records) -> None:
    rates: dict[str, list[Record]] = collections.defaultdict(list)
    for rate in data["currency_rates"]:
        assert rate["base_currency"] == "USD"
        rates[rate["currency"]].append(rate)

    def covered(currency: str, day: dt.date) -> bool:
        return any(r["valid_from"] <= day < r["valid_to"] for r in rates[currency])

    currencies = {d["currency"] for d in data["opportunities"]}
    assert currencies >= {"USD", "EUR", "GBP"}
    for deal in data["opportunities"]:
        if deal["currency"] != "USD":
            day = deal["closed_at"].date() if deal["closed_at"] else NOW.date()
            assert covered(deal["currency"], day), deal["remote_id"]


def test_quotas_cover_every_rep_for_eight_quarters(data: Records) -> None:
    reps = {u["remote_id"] for u in data["users"] if u["role"] == "rep"}
    quotas = data["quotas"]
    assert {q["owner_id"] for q in quotas} == reps
    assert len({q["period_start"] for q in quotas}) == 8
    assert all(q["period_start"] < q["period_end"] and q["amount"] > 0 for q in quotas)


def test_some_reps_have_left(data: Records) -> None:
    assert 1 <= sum(not u["is_active"] for u in data["users"]) <= 2


def test_feedback_scores_fit_their_survey_scale(data: Records) -> None:
    scales = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    for response in data["feedback"]:
        low, high = scales[response["type"]]
        assert low <= response["score"] <= high
        assert response["responded_at"] < NOW


# -- sizes --------------------------------------------------------------------------------------


def test_small_dataset_has_the_documented_orders_of_magnitude(data: Records) -> None:
    counts = {entity: len(rows) for entity, rows in data.items()}
    assert 20 <= counts["users"] <= 40
    assert counts["accounts"] == 300
    assert 1_000 <= counts["leads"] <= 2_500
    assert counts["opportunities"] == 2_000
    assert 12_000 <= counts["activities"] <= 35_000


def _estimated_activities(dataset: DemoDataset, every: int) -> float:
    """Activities of a dataset, extrapolated from every ``every``-th lead and deal."""
    leads = range(0, dataset.leads.count, every)
    deals = range(0, dataset.deals.count, every)
    sampled = (sum(dataset.activities.lead_count(dataset.leads.plan(i)) for i in leads)
               + sum(dataset.activities.deal_count(dataset.deals.plan(i)) for i in deals))
    return sampled * every


@pytest.mark.parametrize(("size", "deals", "activities"), [
    ("medium", 20_000, 150_000),
    ("large", 100_000, 1_000_000),
])
def test_bigger_sizes_scale_deals_and_activities(size: str, deals: int,
                                                 activities: int) -> None:
    dataset = DemoDataset(size, 42, dt.date(2026, 9, 30))
    assert (dataset.fixed_count("opportunities") or 0) >= deals
    assert _estimated_activities(dataset, every=97) >= activities * 1.05


def test_fixed_counts_match_the_streams(data: Records) -> None:
    dataset = make_connector().dataset
    for entity, rows in data.items():
        expected = dataset.fixed_count(entity)
        assert expected in (None, len(rows)), entity


def test_won_deals_carry_recurring_line_items_of_their_product_line(data: Records) -> None:
    products = by_id(data["products"])
    deals = by_id(data["opportunities"])
    lines = data["opportunity_line_items"]
    recurring = [li for li in lines if li["billing_frequency"] != "one_time"
                 and deals[li["opportunity_id"]]["status"] == "won"]

    assert {li["billing_frequency"] for li in recurring} >= {"monthly", "annually"}
    assert {li["term_months"] for li in recurring} >= {12, 24}
    assert all(products[li["product_id"]]["family"] ==
               deals[li["opportunity_id"]]["custom"]["product_line"] or
               products[li["product_id"]]["family"] == "Services" for li in lines)
    assert {deals[li["opportunity_id"]]["type"] for li in recurring} == \
        {"New Business", "Renewal", "Expansion"}
