"""Planning write-back: what each ``[[writeback]]`` mapping would create, send and skip.

A plan reads the store (metric values, records, ``writeback_state``) and asks each connector
for its fields; it writes nothing. Everything that would make a mapping fail is found here:
an unknown or non-record-level metric, a missing field without ``create_field``, a calculated,
read-only or type-incompatible field, a connector that cannot write.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crmsync.plugin.connector import Connector, FieldInfo, FieldSpec
from crmsync.plugin.metric import Metric
from crmsync.store import Store
from crmsync.writeback.formatting import (
    decimals_for,
    field_kind,
    format_value,
    is_empty,
    kind_for_unit,
    same_value,
    value_hash,
)
from crmsync.writeback.mapping import WritebackMapping
from crmsync.writeback.state import FAILED, MISSING, PARKED, SENT, StateRow, load_state
from crmsync.writeback.validate import (
    check_field,
    check_metric,
    is_per_rep,
    mapping_error,
    mapping_period,
    supports,
)
from crmsync.writeback.values import Subject, custom_value, load_values

__all__ = ["Change", "MappingPlan", "WritebackPlan", "make_plan", "SKIP_REASONS",
           "is_per_rep", "mapping_period"]

#: Why a record's value is not sent (the plan counts them).
SKIP_REASONS = {
    "policy": "the overwrite policy keeps the CRM's value",
    "null": "no value, and nulls = \"skip\"",
    "deleted": "the record is deleted in the store",
    "missing": "the record does not exist in the CRM (found on an earlier apply)",
    "retry_later": "an earlier attempt failed; retried from its next attempt time",
    "parked": "failed too often or not retryable; retried when the value changes",
    "ambiguous": "two connections share the record id in the metric run",
}
SAMPLE = 10


@dataclass
class Change:
    """One value to send: ``old`` is the CRM's current value when known, else the value
    crmsync last sent."""

    remote_id: str
    raw: float | None
    new: Any
    hash: str
    old: Any = None
    attempts: int = 0

    @property
    def retry(self) -> bool:
        """True when this value failed before."""
        return self.attempts > 0


@dataclass
class MappingPlan:
    """The plan of one mapping."""

    mapping: WritebackMapping
    field: str
    unit: str
    kind: str
    decimals: int
    create: FieldSpec | None = None
    changes: list[Change] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    skipped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    #: Records whose failed value went back to the one last sent: nothing to send, the
    #: failure is settled.
    resolved: list[str] = dataclasses.field(default_factory=list)
    #: False when the store holds no computed value of the metric for this mapping's records
    #: (``crmsync metrics compute`` has not run since they were synced).
    computed: bool = True

    @property
    def retries(self) -> int:
        """Changes that retry an earlier failure."""
        return sum(1 for c in self.changes if c.retry)

    def reformat(self, info: FieldInfo) -> None:
        """Format the changes again for the field the connector actually created, and write
        to it by the name the CRM gave it (a CRM that assigns keys, such as Pipedrive's
        40-hex ones, keeps the requested name as the field's label)."""
        self.field = info.name
        self.kind = field_kind(info)
        self.decimals = decimals_for(self.unit, self.kind, self.mapping.decimals, info.scale)
        for c in self.changes:
            c.new = format_value(c.raw, self.unit, self.kind, self.decimals)
            c.hash = value_hash(c.new)

    def as_dict(self, sample: int = SAMPLE) -> dict[str, Any]:
        """JSON-able summary (``crmsync writeback plan --json``)."""
        m = self.mapping
        return {
            "mapping": m.number, "metric": m.metric, "connection": m.connection,
            "object": m.object, "field": self.field, "type": self.kind,
            "overwrite": m.overwrite, "nulls": m.nulls,
            "create_field": ({"name": self.create.name, "type": self.create.type,
                              "label": self.create.label} if self.create else None),
            "computed": self.computed,
            "update": len(self.changes), "retries": self.retries, "unchanged": self.unchanged,
            "skipped": dict(sorted(self.skipped.items())),
            "sample": [{"record": c.remote_id, "old": c.old, "new": c.new}
                       for c in self.changes[:sample]],
        }


@dataclass
class WritebackPlan:
    """Every mapping's plan; :func:`crmsync.api.writeback_apply` executes it."""

    mappings: list[MappingPlan]
    created_at: dt.datetime

    @property
    def fields_to_create(self) -> list[MappingPlan]:
        """Mappings whose field will be created."""
        return [p for p in self.mappings if p.create is not None]

    @property
    def updates(self) -> int:
        """Values to send, all mappings together."""
        return sum(len(p.changes) for p in self.mappings)

    @property
    def empty(self) -> bool:
        """Nothing to create, send or settle."""
        return not (self.updates or self.fields_to_create or
                    any(p.resolved for p in self.mappings))

    def as_dict(self, sample: int = SAMPLE) -> dict[str, Any]:
        """JSON-able summary."""
        return {"created_at": self.created_at.isoformat(), "updates": self.updates,
                "fields_to_create": len(self.fields_to_create),
                "mappings": [p.as_dict(sample) for p in self.mappings]}


# -- planning --------------------------------------------------------------------------------

def _new_plan(m: WritebackMapping, metric: Metric, name: str,
              info: FieldInfo | None) -> MappingPlan:
    """An empty plan, formatting for the field ``info`` describes, or, when the field does not
    exist yet (``info`` is ``None``), for the field it will create."""
    unit = metric.unit
    kind = field_kind(info) if info is not None else kind_for_unit(unit)
    decimals = decimals_for(unit, kind, m.decimals, info.scale if info else None)
    plan = MappingPlan(mapping=m, field=name, unit=unit, kind=kind, decimals=decimals)
    if info is None:
        plan.create = FieldSpec(name=name, type=kind, label=metric.title or metric.NAME,
                                description=f"crmsync: {metric.description}".strip(),
                                scale=decimals)
    return plan


def _gone(s: Subject, row: StateRow | None) -> str | None:
    """Why a record gets no value whatever it is: deleted in the store, or found missing in
    the CRM and not changed since (a record that changed exists again)."""
    if s.deleted:
        return "deleted"
    if row is not None and row.status == MISSING and not (
            s.updated_at is not None and s.updated_at > row.updated_at):
        return "missing"
    return None


def _attempts(plan: MappingPlan, row: StateRow | None, digest: str,
              now: dt.datetime) -> int | None:
    """Earlier failed attempts to send this value (0 for a new value); ``None`` when it is not
    sent now (parked, or a failure whose next attempt is still to come), counted as skipped."""
    if row is None or row.pending_hash != digest:
        return 0
    if row.status == PARKED:
        plan.skipped["parked"] += 1
        return None
    if row.status == FAILED:
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            plan.skipped["retry_later"] += 1
            return None
        return row.attempts
    return 0


def _change(plan: MappingPlan, s: Subject, row: StateRow | None,
            now: dt.datetime) -> Change | None:
    """The value to send for record ``s`` before the overwrite policy looks at it, or ``None``
    when there is nothing to send (counted as skipped, unchanged or resolved)."""
    gone = _gone(s, row)
    if gone is not None:
        plan.skipped[gone] += 1
        return None
    new = format_value(s.value, plan.unit, plan.kind, plan.decimals)
    if new is None and plan.mapping.nulls == "skip":
        plan.skipped["null"] += 1
        return None
    digest = value_hash(new)
    if row is not None and row.sent_hash == digest:
        plan.unchanged += 1
        if row.status != SENT:
            plan.resolved.append(s.remote_id)
        return None
    attempts = _attempts(plan, row, digest, now)
    if attempts is None:
        return None
    return Change(s.remote_id, s.value, new, digest,
                  old=row.sent_value if row is not None and row.sent_hash else None,
                  attempts=attempts)


_Undecided = list[tuple[Change, StateRow | None]]


def _route(plan: MappingPlan, change: Change, s: Subject, row: StateRow | None,
           info: FieldInfo | None, needs_crm: bool, undecided: _Undecided) -> None:
    """Send ``change``, decide it by the CRM's value synced in ``custom``, or leave it for
    the CRM's value to be read (``undecided``)."""
    if info is None:  # a field crmsync creates is empty everywhere
        plan.changes.append(change)
        return
    m = plan.mapping
    # "always" needs the CRM's value only to skip clearing a field that is empty anyway
    decides = m.overwrite != "always" or (change.new is None and row is None)
    found, current = custom_value(s.custom, plan.field) if needs_crm else (False, None)
    if found:
        change.old = current
    if not decides:
        plan.changes.append(change)
    elif found:
        _decide(plan, change, row, current)
    else:
        undecided.append((change, row))


def _decide_by_crm(plan: MappingPlan, connector: Connector, undecided: _Undecided) -> None:
    """Decide the ``undecided`` changes by the current values read from the CRM."""
    current = _read_current(connector, plan.mapping, plan.field,
                            [c.remote_id for c, _ in undecided])
    for change, row in undecided:
        if change.remote_id not in current:  # not in the CRM any more
            plan.skipped["missing"] += 1
            continue
        change.old = current[change.remote_id]
        _decide(plan, change, row, change.old)


def _by_label(listed: Iterable[FieldInfo], name: str) -> FieldInfo | None:
    """The one field labelled ``name`` (any case) where the CRM keys fields itself; ``None``
    when no field, or several, carry that label."""
    found = [f for f in listed if f.label is not None and f.label.lower() == name.lower()]
    return found[0] if len(found) == 1 else None


def _plan_mapping(conn: sa.Connection, m: WritebackMapping, metric: Metric, name: str,
                  info: FieldInfo | None, connector: Connector,
                  now: dt.datetime) -> MappingPlan:
    plan = _new_plan(m, metric, name, info)
    needs_crm = info is not None and (m.overwrite != "always" or m.nulls == "clear")
    state = load_state(conn, m.connection, m.object, name)
    subjects = load_values(conn, m, with_custom=needs_crm, per_rep=is_per_rep(m, metric),
                           today=now.date())
    plan.computed = bool(subjects)
    counts = collections.Counter(s.remote_id for s in subjects)
    ambiguous: set[str] = set()
    # records whose current CRM value decides, with what crmsync last sent
    undecided: _Undecided = []
    for s in subjects:
        if counts[s.remote_id] > 1:
            if s.remote_id not in ambiguous:  # count the record once, not once per value
                plan.skipped["ambiguous"] += 1
                ambiguous.add(s.remote_id)
            continue
        row = state.get(s.remote_id)
        change = _change(plan, s, row, now)
        if change is not None:
            _route(plan, change, s, row, info, needs_crm, undecided)
    if undecided:
        _decide_by_crm(plan, connector, undecided)
    return plan


def _decide(plan: MappingPlan, change: Change, row: StateRow | None, current: Any) -> None:
    """Apply the overwrite policy and ``nulls`` given the CRM's current value."""
    m = plan.mapping
    if change.new is None and is_empty(current):
        plan.unchanged += 1
        return
    if m.overwrite == "never":
        ok = is_empty(current) and (row is None or row.sent_hash is None)
    elif m.overwrite == "if_empty":
        ok = is_empty(current) or (row is not None and row.sent_hash is not None
                                   and same_value(current, row.sent_value))
    else:
        ok = True
    if ok:
        plan.changes.append(change)
    else:
        plan.skipped["policy"] += 1


def _read_current(connector: Connector, m: WritebackMapping, name: str,
                  remote_ids: Sequence[str]) -> dict[str, Any]:
    try:
        values = connector.read_values(m.entity, list(remote_ids), [name])
    except NotImplementedError:
        raise mapping_error(m, name, f"overwrite = {m.overwrite!r} needs the CRM's current "
                                     "values, but the synced records do not carry the field "
                                     f"in `custom` and connector type '{connector.NAME}' "
                                     "cannot read field values; sync the connection "
                                     "first") from None
    return {rid: custom_value(v, name)[1] for rid, v in values.items()}


def make_plan(store: Store, mappings: Sequence[WritebackMapping],
              connectors: Mapping[str, Connector], metrics: Mapping[str, Metric], *,
              now: dt.datetime) -> WritebackPlan:
    """Plan every mapping; raises on the first mapping that cannot be written.

    :param connectors: an open connector per connection the mappings name.
    :param now: naive UTC "now" (decides which failed records are due for a retry).
    """
    fields: dict[tuple[str, str], dict[str, FieldInfo]] = {}
    resolved: list[tuple[WritebackMapping, Metric, str, FieldInfo | None]] = []
    targets: dict[tuple[str, str, str], int] = {}
    for m in mappings:
        metric = check_metric(m, metrics)
        connector = connectors[m.connection]
        name = m.field or connector.default_field_name(m.metric)
        if not supports(connector, "write"):
            raise mapping_error(m, name, f"connector type '{connector.NAME}' cannot write back")
        key = (m.connection, m.entity)
        if key not in fields:
            try:
                listed = connector.fields(m.entity)
            except NotImplementedError:
                raise mapping_error(m, name, f"connector type '{connector.NAME}' cannot "
                                             "list fields") from None
            fields[key] = {f.name.lower(): f for f in listed}
        info = fields[key].get(name.lower()) or _by_label(fields[key].values(), name)
        if info is not None:
            name = info.name  # the CRM's spelling
        check_field(m, name, info, metric.unit)
        target = (m.connection, m.object, name.lower())
        if target in targets:
            raise mapping_error(m, name, "the field is already written by [writeback "
                                         f"#{targets[target]}]")
        targets[target] = m.number
        resolved.append((m, metric, name, info))
    with store.engine.connect() as conn:
        plans = [_plan_mapping(conn, m, metric, name, info, connectors[m.connection], now)
                 for m, metric, name, info in resolved]
    return WritebackPlan(mappings=plans, created_at=now)
