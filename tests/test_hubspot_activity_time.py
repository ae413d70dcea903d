"""An engagement without ``hs_timestamp`` is stored at its creation time, flagged, not lost."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from conftest import make_config
from crmsync import FLAGS_KEY, api
from crmsync.core.schema import metadata
from fakes.hs_data import Dataset


def test_a_task_without_hs_timestamp_is_stored_at_its_creation_and_flagged(
        sqlite_store, fake_hubspot_factory, registry, monkeypatch):
    fake = fake_hubspot_factory(Dataset(deals=10, contacts=10, companies=5, engagements=25))
    portal = fake.portal
    task_id = portal.ids("tasks")[0]
    created = portal.record("tasks", task_id)["hs_createdate"]
    portal.update("tasks", task_id, {"hs_timestamp": None})
    monkeypatch.setenv("HS_TOKEN", fake.access_token)
    config = make_config(sqlite_store.url, hub={"type": "hubspot", "base_url": fake.base_url,
                                                "access_token": "${HS_TOKEN}"})

    report = api.sync(config, registry, entities=("activities",), store=sqlite_store)

    assert report.status == "success" and report.details[0].rejects == 0
    a = metadata.tables["activities"]
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(sa.select(a.c.remote_id, a.c.occurred_at, a.c.custom)).all()
    flagged = [r for r in rows if (r.custom or {}).get(FLAGS_KEY)]
    assert [(r.remote_id, r.custom[FLAGS_KEY]) for r in flagged] == [
        (task_id, {"occurred_at": "remote_created_at"})]
    expected = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    assert flagged[0].occurred_at == expected.astimezone(dt.timezone.utc).replace(tzinfo=None)
    assert len(rows) == sum(len(portal.ids(t)) for t in
                            ("calls", "emails", "meetings", "tasks", "notes"))
