"""The connector contract suite: behaviour every connector must have.

Subclass :class:`ConnectorContract` in a test module and provide a ``connector`` fixture that
returns a ready connector instance (pointed at a fake server, cassette or fixture data)::

    from crmsync.testing import ConnectorContract

    class TestMyConnector(ConnectorContract):
        @pytest.fixture
        def connector(self):
            return MyConnector("test", MyConnector.validate_settings({...}))

It checks registration metadata, that every batch validates against the schema, that
incremental reads resume from a cursor without losing or inventing records, and that a sync
through the real engine stores every record exactly once.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync.core.schema import ENTITIES, SYNCED_TABLES
from crmsync.plugin.connector import Batch, Connector
from crmsync.store import Store
from crmsync.sync import SyncEngine
from crmsync.sync.validate import validator_for

__all__ = ["ConnectorContract"]


def _all_records(connector: Connector, entity: str, cursor: Any = None) -> list[Batch]:
    return list(connector.read(entity, cursor))


class ConnectorContract:
    """Inherit and provide the ``connector`` fixture; the tests below then run."""

    @pytest.fixture
    def connector(self) -> Connector:  # pragma: no cover - provided by the subclass
        raise NotImplementedError("provide a `connector` fixture")

    def test_declares_name_entities_and_settings(self, connector: Connector) -> None:
        assert connector.NAME, "NAME must be set"
        assert connector.ENTITIES, "ENTITIES must list what the connector reads"
        assert set(connector.ENTITIES) <= set(ENTITIES), "ENTITIES must be schema tables"
        for key, spec in connector.SETTINGS.items():
            assert spec.help, f"setting {key!r} needs help text"

    def test_check_returns_a_description(self, connector: Connector) -> None:
        assert isinstance(connector.check(), str)

    def test_every_record_validates(self, connector: Connector) -> None:
        for entity in connector.ENTITIES:
            validate = validator_for(entity)
            for batch in connector.read(entity, None):
                for record in batch.records:
                    _row, problems = validate(record)
                    assert not problems, f"{entity} {record.get('remote_id')}: {problems}"

    def test_cursors_are_json(self, connector: Connector) -> None:
        for entity in connector.ENTITIES:
            for batch in connector.read(entity, None):
                json.dumps(batch.cursor)

    def test_reading_from_the_last_cursor_returns_nothing_new(self, connector: Connector
                                                              ) -> None:
        for entity in connector.ENTITIES:
            batches = _all_records(connector, entity)
            cursor = next((b.cursor for b in reversed(batches) if b.cursor is not None), None)
            if cursor is None:
                continue
            first = {r["remote_id"] for b in batches for r in b.records}
            again = {r["remote_id"] for b in _all_records(connector, entity, cursor)
                     for r in b.records}
            assert again <= first, f"{entity}: re-read from the final cursor invented records"

    def test_resuming_after_the_first_batch_loses_nothing(self, connector: Connector) -> None:
        for entity in connector.ENTITIES:
            batches = _all_records(connector, entity)
            if len(batches) < 2 or batches[0].cursor is None:
                continue
            everything = {r["remote_id"] for b in batches for r in b.records}
            seen = {r["remote_id"] for r in batches[0].records}
            seen |= {r["remote_id"] for b in _all_records(connector, entity, batches[0].cursor)
                     for r in b.records}
            assert seen == everything, f"{entity}: resuming lost {everything - seen}"

    def test_sync_stores_every_record_once(self, connector: Connector, tmp_path: Any) -> None:
        expected = {entity: len({r["remote_id"] for b in connector.read(entity, None)
                                 for r in b.records}) for entity in connector.ENTITIES}
        store = Store(f"sqlite:///{tmp_path / 'contract.db'}")
        try:
            results = SyncEngine(store, connector).run()
            with store.engine.connect() as conn:
                for r in results:
                    assert r.status == "success", f"{r.entity}: {r.error}"
                    assert r.rejects == 0, f"{r.entity}: {r.rejects} records rejected"
                    table = SYNCED_TABLES[r.entity]
                    stored = conn.execute(
                        sa.select(sa.func.count()).select_from(table)
                        .where(table.c.connection == connector.name)).scalar_one()
                    assert stored == expected[r.entity], r.entity
        finally:
            store.dispose()
