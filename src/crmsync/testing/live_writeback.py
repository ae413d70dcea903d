"""Contract tests on the write-back methods: ``fields``, ``ensure_field``, ``write`` and
``read_values`` against the world (docs/testing-plugins.md, "Write-back")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from crmsync.core.errors import ConnectorError
from crmsync.plugin.connector import Connector, FieldInfo, FieldSpec, WriteResult, WriteUpdate
from crmsync.testing.live_base import LiveContractBase
from crmsync.testing.world import World

__all__ = ["WritebackContract"]

#: The number field the write-back tests create and write.
CHECK_FIELD = "contract_check"


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class WritebackContract(LiveContractBase):
    """Write-back reports one exact result per record and the values land."""

    @pytest.fixture
    def writeback_entity(self, connector: Connector, entities: tuple[str, ...]) -> str:
        """The entity the write-back tests write to: the first whose fields the connector
        lists (else the first it does not refuse to list); the tests skip when the connector
        does not write back."""
        if type(connector).write is Connector.write:
            pytest.skip("the connector does not write back")
        listed: list[str] = []
        for entity in entities:
            try:
                if connector.fields(entity):
                    return entity
            except (NotImplementedError, ConnectorError):
                continue
            listed.append(entity)
        if not listed:
            pytest.skip("the connector lists the fields of none of the entities the world "
                        "changes")
        return listed[0]

    def _field(self, connector: Connector, entity: str) -> FieldInfo:
        spec = FieldSpec(connector.default_field_name(CHECK_FIELD), "number",
                         "crmsync contract check", scale=2)
        return connector.ensure_field(entity, spec)

    def _write(self, connector: Connector, entity: str, field: str,
               ids: Sequence[str]) -> dict[str, WriteResult]:
        updates = [WriteUpdate(rid, {field: 10.5 + n}) for n, rid in enumerate(ids)]
        results = list(connector.write(entity, updates))
        got = sorted(r.remote_id for r in results)
        assert got == sorted(ids), (f"{entity}: write() of {len(ids)} updates yielded results "
                                    f"for {got}; expected exactly one per update: {sorted(ids)}")
        return {r.remote_id: r for r in results}

    def _gone(self, world: World, entity: str) -> str:
        """A record that existed and was deleted for good (archived where the world cannot
        hard-delete)."""
        rid = world.create(entity)
        try:
            world.delete(entity, rid, hard=True)
        except NotImplementedError:
            world.delete(entity, rid)
        return rid

    def test_fields_lists_field_info(self, connector: Connector, writeback_entity: str
                                     ) -> None:
        """``fields()`` returns ``FieldInfo`` objects with names and types."""
        fields = connector.fields(writeback_entity)
        assert fields, f"{writeback_entity}: fields() listed no field"
        bad = [f for f in fields if not isinstance(f, FieldInfo) or not f.name or not f.type]
        assert not bad, f"{writeback_entity}: fields() listed {bad[:3]}: expected FieldInfo"

    def test_ensure_field_is_idempotent(self, connector: Connector, writeback_entity: str
                                        ) -> None:
        """A second ``ensure_field()`` of the same spec returns the same field and creates no
        second one."""
        first = self._field(connector, writeback_entity)
        second = self._field(connector, writeback_entity)
        assert second.name == first.name, (
            f"{writeback_entity}: ensure_field() made {first.name!r}, then {second.name!r}")
        same = [f.name for f in connector.fields(writeback_entity)
                if f.name == first.name or (f.label is not None and f.label == first.label)]
        assert same == [first.name], f"{writeback_entity}: fields() lists {same}"

    def test_write_yields_one_result_per_update(self, world: World, connector: Connector,
                                                writeback_entity: str) -> None:
        """``write()`` of five updates yields five results, one per record, all ``ok``."""
        field = self._field(connector, writeback_entity).name
        ids = [world.create(writeback_entity) for _ in range(5)]
        results = self._write(connector, writeback_entity, field, ids)
        failed = {rid: r.error for rid, r in results.items() if not r.ok or r.missing}
        assert not failed, f"{writeback_entity}: writes to existing records failed: {failed}"

    def test_write_reports_a_deleted_record_missing(self, world: World, connector: Connector,
                                                    writeback_entity: str) -> None:
        """Writing to a record deleted in the CRM yields ``ok=False, missing=True`` for it
        and ``ok`` for the others."""
        field = self._field(connector, writeback_entity).name
        ids = [world.create(writeback_entity), self._gone(world, writeback_entity),
               world.create(writeback_entity)]
        results = self._write(connector, writeback_entity, field, ids)
        gone = results[ids[1]]
        assert gone.missing and not gone.ok, (
            f"{writeback_entity}: a write to deleted record {ids[1]!r} reported {gone}; "
            f"expected ok=False, missing=True")
        assert results[ids[0]].ok and results[ids[2]].ok, (
            f"{writeback_entity}: writes next to a missing record failed: {results}")

    def test_written_values_land_in_the_crm(self, world: World, connector: Connector,
                                            writeback_entity: str) -> None:
        """The values ``write()`` reports ``ok`` are the CRM's values afterwards."""
        field = self._field(connector, writeback_entity).name
        ids = [world.create(writeback_entity) for _ in range(3)]
        self._write(connector, writeback_entity, field, ids)
        landed = {rid: world.value(writeback_entity, rid, field) for rid in ids}
        wrong = {rid: v for n, (rid, v) in enumerate(landed.items())
                 if _number(v) != 10.5 + n}
        assert not wrong, f"{writeback_entity}: the CRM holds {wrong} after write()"

    def test_read_values_returns_current_values_and_leaves_out_missing(
            self, world: World, connector: Connector, writeback_entity: str) -> None:
        """``read_values()`` returns the CRM's current values and leaves out records that do
        not exist."""
        field = self._field(connector, writeback_entity).name
        ids = [world.create(writeback_entity) for _ in range(2)]
        self._write(connector, writeback_entity, field, ids)
        gone = self._gone(world, writeback_entity)
        values = connector.read_values(writeback_entity, [*ids, gone], [field])
        assert gone not in values, (f"{writeback_entity}: read_values() returned deleted "
                                    f"record {gone!r}: {values[gone]}")
        got = {rid: _number(values.get(rid, {}).get(field)) for rid in ids}
        assert got == {ids[0]: 10.5, ids[1]: 11.5}, (
            f"{writeback_entity}: read_values() returned {values}")
