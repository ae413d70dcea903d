"""Applying a write-back plan: create fields, send changed values, record every outcome.

Order: every field the plan creates is created first; if one cannot be, nothing is written.
Then the changes of all mappings on one connection and object are merged into one update per
record and handed to ``Connector.write`` (which batches as its API allows). Each result is
recorded in ``writeback_state`` as it arrives, in small transactions, so a crash re-sends at
most the values in flight. When the connector raises for a batch (the API refused it as a
whole), the records without a result are split in halves and sent again until the bad ones
are isolated. Rate limits and transient errors are retried by :mod:`crmsync.core.retry`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmsync.core.errors import (
    AuthError,
    ConfigError,
    CrmsyncError,
    QuotaExhausted,
    RateLimited,
    TransientError,
    WritebackError,
)
from crmsync.core.redact import Redactor
from crmsync.core.reports import STOPPED_QUOTA
from crmsync.core.retry import RetryPolicy, retrying
from crmsync.plugin.connector import Connector, WriteResult, WriteUpdate
from crmsync.plugin.manager import one_line
from crmsync.store import Store
from crmsync.sync.checks import plugin_label
from crmsync.writeback.plan import Change, MappingPlan, WritebackPlan
from crmsync.writeback.state import (
    FAILED,
    MISSING,
    PARKED,
    SENT,
    Outcome,
    RetrySchedule,
    resolve,
    save_rows,
)

__all__ = ["MappingResult", "ApplyResult", "apply_plan", "ProgressCallback", "CONNECTOR_BUG"]

#: ``progress(label, done, total)``: records written so far for one connection/object.
ProgressCallback = Callable[[str, int, int], None]
#: Outcomes recorded per transaction.
COMMIT_EVERY = 500
#: Errors that stop the whole apply rather than one record.
_FATAL = (AuthError, ConfigError, QuotaExhausted)
log = logging.getLogger(__name__)


@dataclass
class MappingResult:
    """What an apply did for one mapping."""

    plan: MappingPlan
    created: bool = False
    sent: int = 0
    failed: int = 0
    parked: int = 0
    missing: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        m = self.plan.mapping
        return {"mapping": m.number, "metric": m.metric, "connection": m.connection,
                "object": m.object, "field": self.plan.field, "created": self.created,
                "sent": self.sent, "failed": self.failed, "parked": self.parked,
                "missing": self.missing, "unchanged": self.plan.unchanged,
                "skipped": dict(sorted(self.plan.skipped.items())),
                "errors": dict(sorted(self.errors.items()))}


@dataclass
class ApplyResult:
    """What an apply did; ``write_calls`` are the API calls counted while fields were
    created and values written, per connection."""

    mappings: list[MappingResult]
    write_calls: dict[str, int] = field(default_factory=dict)
    status: str = "success"
    error: str | None = None

    @property
    def sent(self) -> int:
        """Values written successfully."""
        return sum(r.sent for r in self.mappings)

    @property
    def failed(self) -> int:
        """Values that failed (to be retried, parked or missing)."""
        return sum(r.failed + r.parked + r.missing for r in self.mappings)


@dataclass
class _Slot:
    """One (record, field) of a merged update: which mapping and change it came from."""

    result: MappingResult
    change: Change


class _Recorder:
    """Turns write results into outcomes and saves them in small transactions."""

    def __init__(self, store: Store, schedule: RetrySchedule, now: dt.datetime,
                 redactor: Redactor) -> None:
        self.store = store
        self.schedule = schedule
        self.now = now
        self.redactor = redactor
        self.buffer: list[Outcome] = []
        self.done = 0

    def record(self, slots: Sequence[_Slot], result: WriteResult) -> None:
        for slot in slots:
            plan, change = slot.result.plan, slot.change
            m = plan.mapping
            base = {"connection": m.connection, "object": m.object, "field": plan.field,
                    "remote_id": change.remote_id, "metric": m.metric, "value": change.new,
                    "hash": change.hash}
            if result.ok:
                slot.result.sent += 1
                self.buffer.append(Outcome(status=SENT, **base))
                continue
            code = self.redactor.text(result.error_code or "ERROR")
            slot.result.errors[code] = slot.result.errors.get(code, 0) + 1
            attempts = change.attempts + 1
            if result.missing:
                status, when = MISSING, None
                slot.result.missing += 1
            else:
                when = self.schedule.next_attempt(attempts, self.now) if result.retryable \
                    else None
                status = FAILED if when is not None else PARKED
                if status == FAILED:
                    slot.result.failed += 1
                else:
                    slot.result.parked += 1
            self.buffer.append(Outcome(status=status, attempts=attempts, error_code=code,
                                       error=self.redactor.text(result.error or "") or None,
                                       next_attempt_at=when, **base))
        self.done += 1
        if len(self.buffer) >= COMMIT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            with self.store.engine.begin() as conn:
                save_rows(conn, self.buffer, self.now)
            self.buffer.clear()


def _bisect(connector: Connector, entity: str, updates: list[WriteUpdate]
            ) -> Iterator[WriteResult]:
    """``connector.write`` with every record accounted for: when it raises for a batch, the
    records left without a result are split in halves and sent again, until a single record
    fails on its own (then that record's result carries the error)."""
    waiting = {u.remote_id for u in updates}
    try:
        for result in connector.write(entity, updates):
            if result.remote_id in waiting:
                waiting.discard(result.remote_id)
                yield result
    except (*_FATAL, RateLimited, TransientError):
        raise
    except CrmsyncError as exc:
        yield from _split(connector, entity, [u for u in updates if u.remote_id in waiting],
                          exc)
        return
    for remote_id in [u.remote_id for u in updates if u.remote_id in waiting]:
        yield WriteResult(remote_id, ok=False, error="the connector returned no result",
                          error_code="NO_RESULT", retryable=True)


def _split(connector: Connector, entity: str, rest: list[WriteUpdate],
           exc: CrmsyncError) -> Iterator[WriteResult]:
    """The results of ``rest``, the records of a batch that raised ``exc`` before they got a
    result: a lone record fails with ``exc``; more are sent again in halves (:func:`_bisect`)."""
    if not rest:
        return
    if len(rest) == 1:
        yield WriteResult(rest[0].remote_id, ok=False, error=str(exc),
                          error_code=getattr(exc, "code", None) or type(exc).__name__)
        return
    half = len(rest) // 2
    for part in (rest[:half], rest[half:]):
        yield from _bisect(connector, entity, part)


def _create_fields(plan: WritebackPlan, connectors: Mapping[str, Connector],
                   results: dict[int, MappingResult]) -> None:
    for p in plan.fields_to_create:
        m = p.mapping
        assert p.create is not None
        try:
            info = connectors[m.connection].ensure_field(m.entity, p.create)
        except CrmsyncError as exc:
            raise WritebackError(f"cannot create the field ({exc}); nothing was written",
                                 mapping=m.describe(p.field), connection=m.connection,
                                 object=m.object, field=p.field) from exc
        results[m.number].created = True
        p.reformat(info)


def _send(store: Store, connector: Connector, entity: str, group: list[MappingResult],
          recorder: _Recorder, retry: RetryPolicy, sleep: Callable[[float], None],
          progress: ProgressCallback | None) -> None:
    slots: dict[str, list[_Slot]] = {}
    values: dict[str, dict[str, Any]] = {}
    for r in group:
        for change in r.plan.changes:
            slots.setdefault(change.remote_id, []).append(_Slot(r, change))
            values.setdefault(change.remote_id, {})[r.plan.field] = change.new
    pending = dict.fromkeys(values)  # insertion-ordered set of records without a result
    label = f"{connector.name}/{group[0].plan.mapping.object}"
    total, start = len(pending), recorder.done
    try:
        for attempt in retrying(retry, lambda: recorder.done, sleep=sleep, describe=label):
            with attempt:
                updates = [WriteUpdate(rid, values[rid]) for rid in pending]
                for result in _bisect(connector, entity, updates):
                    if result.remote_id not in pending:
                        continue
                    del pending[result.remote_id]
                    recorder.record(slots[result.remote_id], result)
                    if progress is not None:
                        progress(label, recorder.done - start, total)
                recorder.flush()
    except CrmsyncError:
        raise
    except Exception as exc:  # a bug in the connector: its records fail, other groups go on
        log.debug("%s: connector.write raised", label, exc_info=True)
        bug = WriteResult("", ok=False, error=_bug_text(connector, exc),
                          error_code=CONNECTOR_BUG, retryable=True)
        for rid in list(pending):
            recorder.record(slots[rid], dataclasses.replace(bug, remote_id=rid))
        recorder.flush()


#: The error code of records a connector's own bug left unwritten (docs/writeback.md).
CONNECTOR_BUG = "CONNECTOR_BUG"


def _bug_text(connector: Connector, exc: Exception) -> str:
    """One line naming the connection, connector type, plugin and exception."""
    plugin = plugin_label(type(connector))
    owner = f"plugin '{plugin}'" if plugin else type(connector).__module__
    return (f"{connector.name}: connector type '{connector.NAME}' ({owner}) failed while "
            f"writing: {one_line(exc)}; a bug in the plugin, not in your configuration: "
            "report it to its authors (details with -vv); retried on the next apply")


def apply_plan(store: Store, plan: WritebackPlan, connectors: Mapping[str, Connector], *,
               now: dt.datetime, schedule: RetrySchedule | None = None,
               retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
               progress: ProgressCallback | None = None,
               redactor: Redactor | None = None) -> ApplyResult:
    """Execute ``plan`` (see the module docstring).

    :param redactor: scrubs secrets from the CRM's errors before they are stored in
        ``writeback_state`` or reported (:func:`crmsync.api.redactor_for`).

    :raises WritebackError: a field could not be created (nothing was written).
    :raises AuthError, ConfigError: the connection failed as a whole; the outcomes recorded
        up to then are kept. An exhausted API quota stops the apply cleanly instead (status
        ``stopped: api quota``).
    """
    results = {p.mapping.number: MappingResult(p) for p in plan.mappings}
    before = {name: c.api_calls.total for name, c in connectors.items()}
    out = ApplyResult(mappings=list(results.values()))
    redactor = redactor or Redactor()
    recorder = _Recorder(store, schedule or RetrySchedule(), now, redactor)
    try:
        _create_fields(plan, connectors, results)
        with store.engine.begin() as conn:
            for p in plan.mappings:
                resolve(conn, p.mapping.connection, p.mapping.object, p.field, p.resolved, now)
        groups: dict[tuple[str, str], list[MappingResult]] = {}
        for r in results.values():
            if r.plan.changes:
                groups.setdefault((r.plan.mapping.connection, r.plan.mapping.entity),
                                  []).append(r)
        for (connection, entity), group in groups.items():
            _send(store, connectors[connection], entity, group, recorder, retry or RetryPolicy(),
                  sleep, progress)
    except QuotaExhausted as exc:  # a clean stop: what was sent is recorded, the rest waits
        out.status, out.error = STOPPED_QUOTA, redactor.text(str(exc))
    finally:
        recorder.flush()
        out.write_calls = {name: c.api_calls.total - before[name]
                           for name, c in connectors.items()}
    return out
