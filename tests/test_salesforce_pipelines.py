"""Record types and sales processes → pipelines and stages (crmsync_salesforce.pipelines),
against the fake org with ``Dataset(record_types=True)``: processes "Enterprise Sales" (every
stage) and "Renewals" (five stages); record types New Business (the default) and Upsell
(Enterprise Sales), Renewal (Renewals); every tenth opportunity has no record type."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync_salesforce import SalesforceConnector
from crmsync_salesforce.pipelines import DEFAULT_PIPELINE_ID
from fakes.salesforce_org import FakeSalesforceOrg
from fakes.sf_data import PREFIXES, Dataset, make_id

Factory = Callable[..., SalesforceConnector]


@pytest.fixture
def org() -> Iterator[FakeSalesforceOrg]:
    with FakeSalesforceOrg.start(dataset=Dataset(opportunities=60, record_types=True)) as fake:
        yield fake


@pytest.fixture
def make(org: FakeSalesforceOrg) -> Factory:
    def make(**settings: Any) -> SalesforceConnector:
        return SalesforceConnector("sf", SalesforceConnector.validate_settings(
            {"instance_url": org.instance_url, "session_id": org.session_id,
             "ca_bundle": org.ca_bundle, **settings}))
    return make


def _records(connector: SalesforceConnector, entity: str, cursor: Any = None
             ) -> list[dict[str, Any]]:
    return [r for b in connector.read(entity, cursor) for r in b.records]


def _ids(org: FakeSalesforceOrg, obj: str) -> list[str]:
    return [make_id(PREFIXES[obj], i) for i in range(org.org.tables[obj].spec.count)]


def _processes(org: FakeSalesforceOrg) -> dict[str, str]:
    """Sales process name → Id."""
    return {org.org.get("BusinessProcess", rid)["Name"]: rid
            for rid in _ids(org, "BusinessProcess")}


def test_each_sales_process_is_a_pipeline_beside_the_default_one(make, org) -> None:
    pipelines = {p["remote_id"]: p for p in _records(make(), "pipelines")}
    processes = _processes(org)

    assert set(pipelines) == {DEFAULT_PIPELINE_ID, *processes.values()}
    assert pipelines[processes["Enterprise Sales"]]["label"] == "Enterprise Sales"
    # New Business, the default record type, is an Enterprise Sales one
    assert [p for p, r in pipelines.items() if r["is_default"]] == [processes["Enterprise Sales"]]


def test_a_process_has_the_stages_it_allows_and_the_default_pipeline_has_all(make, org) -> None:
    stages = _records(make(), "stages")
    processes = _processes(org)
    by_pipeline: dict[str, set[str]] = {}
    for s in stages:
        by_pipeline.setdefault(s["pipeline_id"], set()).add(s["label"])

    assert len(by_pipeline[DEFAULT_PIPELINE_ID]) == 10
    assert by_pipeline[processes["Enterprise Sales"]] == by_pipeline[DEFAULT_PIPELINE_ID]
    assert by_pipeline[processes["Renewals"]] == {
        "Qualification", "Proposal/Price Quote", "Negotiation/Review", "Closed Won",
        "Closed Lost"}
    renewal_won = next(s for s in stages if s["pipeline_id"] == processes["Renewals"]
                       and s["label"] == "Closed Won")
    default_won = next(s for s in stages if s["pipeline_id"] == DEFAULT_PIPELINE_ID
                       and s["label"] == "Closed Won")
    assert renewal_won["remote_id"] == f"{processes['Renewals']}:{default_won['remote_id']}"
    assert (renewal_won["is_won"], renewal_won["probability"]) == (True, 1.0)


def test_deals_and_their_history_take_the_pipeline_of_their_record_type(make, org) -> None:
    connector = make()
    stages = {s["remote_id"]: s["pipeline_id"] for s in _records(connector, "stages")}
    deals = _records(connector, "opportunities")
    entries = _records(connector, "opportunity_stage_history")
    record_type = {d: org.org.get("Opportunity", d)["RecordTypeId"] for d in
                   (x["remote_id"] for x in deals)}
    pipeline_of_deal = {d["remote_id"]: d["pipeline_id"] for d in deals}

    assert {p for p in pipeline_of_deal.values()} == set(stages.values())
    assert all((pipeline_of_deal[d] == DEFAULT_PIPELINE_ID) == (record_type[d] is None)
               for d in pipeline_of_deal)
    assert all(stages[d["stage_id"]] == d["pipeline_id"] for d in deals)
    assert entries and all(stages[e["stage_id"]] == pipeline_of_deal[e["opportunity_id"]]
                           for e in entries)


def test_the_lookups_with_record_types_are_still_one_composite_call(make, org) -> None:
    connector = make(objects=["pipelines", "stages"])
    org.reset_calls()
    _records(connector, "pipelines")
    _records(connector, "stages")

    assert connector.api_calls.by_endpoint["POST /composite"] == 2  # describes, lookups
    assert connector.api_calls.total == 2
    asked = " ".join(r.query.get("q", "") + r.path for r in org.subrequests)
    assert "FROM RecordType" in asked and "FROM BusinessProcess" in asked
    assert "describe/layouts" in asked


def test_without_record_types_there_is_one_pipeline_and_no_record_type_lookups(
        fake_sf_org: FakeSalesforceOrg) -> None:
    connector = SalesforceConnector("sf", SalesforceConnector.validate_settings(
        {"instance_url": fake_sf_org.instance_url, "session_id": fake_sf_org.session_id,
         "ca_bundle": fake_sf_org.ca_bundle}))
    fake_sf_org.reset_calls()

    pipelines = _records(connector, "pipelines")
    stages = _records(connector, "stages")

    assert [(p["remote_id"], p["is_default"]) for p in pipelines] == [(DEFAULT_PIPELINE_ID, True)]
    assert {s["pipeline_id"] for s in stages} == {DEFAULT_PIPELINE_ID}
    assert all(":" not in s["remote_id"] for s in stages)
    asked = " ".join(r.query.get("q", "") + r.path for r in fake_sf_org.subrequests)
    assert "RecordType" not in asked and "layouts" not in asked


def test_a_process_no_record_type_uses_any_more_is_deleted_with_its_stages(make, org) -> None:
    processes = _processes(org)
    first = list(make().read("pipelines", None))
    stage_batches = list(make().read("stages", None))
    renewal = next(rid for rid in _ids(org, "RecordType")
                   if org.org.get("RecordType", rid)["Name"] == "Renewal")
    org.org.update("RecordType", renewal, BusinessProcessId=processes["Enterprise Sales"])

    (again,) = make().read("pipelines", first[-1].cursor)
    (stages_again,) = make().read("stages", stage_batches[-1].cursor)

    assert [d.remote_id for d in again.deleted] == [processes["Renewals"]]
    gone = {d.remote_id for d in stages_again.deleted}
    assert len(gone) == 5 and all(g.startswith(processes["Renewals"] + ":") for g in gone)


def test_unreadable_layouts_give_every_process_every_stage_with_a_warning(
        make, org, caplog: pytest.LogCaptureFixture) -> None:
    org.org.faults.add(lambda r: r.path.endswith("/describe/layouts"), status=403,
                       error="INSUFFICIENT_ACCESS", times=None)
    with caplog.at_level(logging.WARNING):
        stages = _records(make(), "stages")

    assert len(stages) == 10 * 3
    assert "describe layouts" in caplog.text and "INSUFFICIENT_ACCESS" in caplog.text


def test_synced_deals_join_stages_of_their_own_pipeline(make, org, sqlite_store: Store
                                                        ) -> None:
    """What the stage metrics rely on: a deal's stage (and each entry's) is in its pipeline."""
    results = SyncEngine(sqlite_store, make()).run()
    assert all(r.status == "success" for r in results), results

    with sqlite_store.engine.connect() as conn:
        mismatched = conn.execute(sa.text(
            "SELECT count(*) FROM opportunities o JOIN stages s ON s.connection = o.connection "
            "AND s.remote_id = o.stage_id WHERE s.pipeline_id != o.pipeline_id")).scalar()
        unjoined = conn.execute(sa.text(
            "SELECT count(*) FROM opportunity_stage_history h JOIN opportunities o ON "
            "o.remote_id = h.opportunity_id LEFT JOIN stages s ON s.remote_id = h.stage_id "
            "AND s.pipeline_id = o.pipeline_id WHERE s.id IS NULL")).scalar()
        pipelines = conn.execute(sa.text(
            "SELECT count(DISTINCT pipeline_id) FROM opportunities")).scalar()
    assert (mismatched, unjoined, pipelines) == (0, 0, 3)
