"""The sync engine (docs/concepts.md, "Cursors and the one-transaction-per-batch guarantee").

Per connection and entity: read batches from the connector, validate every record, and commit
the rows, the deletes, the rejects, the cursor and the run counters in ONE transaction per
batch. A crash loses the batch in flight only; the next run resumes from the last cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmsync.core.errors import AuthError, ConfigError, ConnectorError, CrmsyncError, QuotaExhausted
from crmsync.core.redact import Redactor
from crmsync.core.reports import LOCKED, STOPPED_QUOTA, EntityResult
from crmsync.core.retry import RetryPolicy, retrying
from crmsync.core.schema import SYNCED_TABLES, sync_runs, sync_state
from crmsync.plugin.connector import Batch, Connector, StandingRejects
from crmsync.store import Store, mark_deleted, upsert_prepared
from crmsync.store.bulk import FirstLoad, first_load
from crmsync.store.locks import RunLocked
from crmsync.sync.batch import PendingBatch, deletions_of, replace_rejects, save_cursor, source_of
from crmsync.sync.checks import checked_read
from crmsync.sync.collector import fewer_collections
from crmsync.sync.limits import storable
from crmsync.sync.merges import repoint_references
from crmsync.sync.observed import FieldObserver, observer_for
from crmsync.sync.pipeline import WriteBehind
from crmsync.sync.refusals import describe_refusal, is_data_error, refused_rows
from crmsync.sync.reject_log import RejectLog, describe_reject, too_many_rejects
from crmsync.sync.standing_rejects import load_standing, resolve
from crmsync.sync.validate import RecordValidator, validator_for

__all__ = ["SyncEngine", "sync_entity", "describe_reject", "ProgressCallback"]

log = logging.getLogger(__name__)

#: How the error of an entity a connection's configuration or authentication error kept from
#: syncing begins.
NOT_STARTED = "not started: the connection's"

#: ``progress(connection, entity, rows_read_so_far)``, after every committed batch.
ProgressCallback = Callable[[str, str, int], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class SyncEngine:
    """Syncs one connector's entities into a store.

    :param store: the open store.
    :param connector: the connection's connector instance.
    :param redactor: scrubs the connection's secrets from errors and reject payloads.
    :param progress: called after each committed batch (on PostgreSQL from the thread that
        commits, :mod:`crmsync.sync.pipeline`).
    :param retry: how rate limits and transient errors are retried (:mod:`crmsync.core.retry`).
    :param sleep: how to wait between attempts (tests pass a recorder).
    :param lock: ``lock(entity)`` returns a context manager held while the entity syncs
        (:func:`crmsync.store.locks.run_lock`); raising
        :class:`crmsync.store.locks.RunLocked` reports the entity as ``locked`` and the next
        entity still syncs.
    :param max_reject_ratio: an entity whose rejected share of the records read passes this
        ends ``failed`` (its good records are stored all the same); ``None`` never fails a
        sync for its rejects.
    """

    def __init__(self, store: Store, connector: Connector, *, redactor: Redactor | None = None,
                 progress: ProgressCallback | None = None, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 lock: Callable[[str], AbstractContextManager[Any]] | None = None,
                 max_reject_ratio: float | None = None) -> None:
        self.store = store
        self.connector = connector
        self.redactor = redactor or Redactor()
        self.progress = progress
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.lock = lock
        #: The entity results of the current (or last) :meth:`run`, complete even when it
        #: raised a connection's configuration or authentication error.
        self.results: list[EntityResult] = []
        self._started: EntityResult | None = None
        self.max_reject_ratio = max_reject_ratio
        self._standing = StandingRejects()
        self._reject_log = RejectLog(log, "")
        self._records_seen = 0
        self._run_started = dt.datetime.min
        self._observer: FieldObserver | None = None
        self._load: FirstLoad | None = None
        # batches written behind the reads: PostgreSQL only (crmsync.sync.pipeline)
        self._threaded = store.dialect == "postgresql"

    def run(self, entities: Sequence[str] | None = None, *, full: bool = False
            ) -> list[EntityResult]:
        """Sync ``entities`` (default: every entity the connector reads).

        Entities that have waited longest since their last successful sync go first (never
        synced first of all; ties keep the given order). When everything succeeds that is the
        given order, run after run; when an API quota stopped the last run part-way, the
        entities it never reached start the next one, so a small daily allowance still moves
        every entity forward instead of spending itself on the same first ones each day.

        A connector error on one entity is recorded and the next entity still syncs. A
        configuration or authentication error concerns the whole connection: it is recorded,
        the entities it kept from syncing are reported as ``failed`` ("not started") in
        :attr:`results`, and it is re-raised, as is a bug (any non-crmsync exception).
        """
        wanted = list(entities) if entities else list(self.connector.ENTITIES)
        unknown = [e for e in wanted if e not in self.connector.ENTITIES]
        if unknown:
            raise ConnectorError(
                f"connector type '{self.connector.NAME}' does not read {', '.join(unknown)} "
                f"(it reads: {', '.join(self.connector.ENTITIES)})", connection=self.connector.name)
        wanted = self._longest_waiting_first(wanted)
        results: list[EntityResult] = []
        self.results = results
        for n, entity in enumerate(wanted):
            if results and results[-1].status == STOPPED_QUOTA:
                # The budget is the connection's: the next entities would stop at once. They
                # are reported, not run; the next sync starts them from their saved cursors.
                results.append(EntityResult(
                    connection=self.connector.name, entity=entity, status=STOPPED_QUOTA,
                    error="not started: the API quota budget was spent by "
                          f"{results[-1].entity}"))
                continue
            self._started = None
            try:
                results.append(self._locked_sync(entity, full))
            except (ConfigError, AuthError) as exc:
                if self._started is not None and self._started.entity == entity:
                    results.append(self._started)
                kind = "authentication" if isinstance(exc, AuthError) else "configuration"
                # Reported, not run (as after a quota stop); the message is on ``entity``.
                results.extend(EntityResult(
                    connection=self.connector.name, entity=later, status="failed",
                    error=f"{NOT_STARTED} {kind} failed on {entity}")
                    for later in wanted[n + 1:])
                raise
        return results

    def _longest_waiting_first(self, entities: list[str]) -> list[str]:
        with self.store.engine.connect() as conn:
            last = dict(conn.execute(
                sa.select(sync_runs.c.entity, sa.func.max(sync_runs.c.started_at))
                .where(sync_runs.c.connection == self.connector.name,
                       sync_runs.c.status == "success", sync_runs.c.entity.in_(entities))
                .group_by(sync_runs.c.entity)).all())
        never = dt.datetime.min
        return sorted(entities, key=lambda e: last.get(e) or never)  # stable: ties keep order

    def _locked_sync(self, entity: str, full: bool) -> EntityResult:
        try:
            with self.lock(entity) if self.lock is not None else nullcontext():
                return self.sync_entity(entity, full=full)
        except RunLocked as exc:
            log.warning("%s", exc)
            return EntityResult(connection=self.connector.name, entity=entity, status=LOCKED,
                                error=str(exc))

    # -- one entity ---------------------------------------------------------------------------

    def sync_entity(self, entity: str, *, full: bool = False) -> EntityResult:
        """Sync one entity; returns its result (status ``success`` or ``failed``)."""
        connection = self.connector.name
        result = self._started = EntityResult(connection=connection, entity=entity)
        engine = self.store.engine
        calls_before = self.connector.api_calls.total
        with engine.begin() as conn:
            self._abandon_stale_runs(conn, connection, entity)
            result.run_id = conn.execute(
                sa.insert(sync_runs).values(connection=connection, entity=entity,
                                            full_refresh=full, started_at=_now(),
                                            status="running")
                .returning(sync_runs.c.id)).scalar_one()
            cursor = None if full else conn.execute(
                sa.select(sync_state.c.cursor).where(sync_state.c.connection == connection,
                                                    sync_state.c.entity == entity)
            ).scalar_one_or_none()
        state = {"cursor": cursor}
        self._run_started = _now()
        self._standing = load_standing(self.store.engine, connection, entity)
        self._reject_log = RejectLog(log, f"{connection}/{entity}")
        self._records_seen = 0
        try:  # into an empty table, secondary indexes are built after (crmsync.store.bulk)
            # inside the try: a connector raising here still closes its run row as failed
            self.connector.retry_rejects(entity, self._standing)
            with first_load(engine, SYNCED_TABLES[entity]) as self._load:
                self._observer = observer_for(
                    entity, self.connector.history_fields() if entity == "opportunities"
                    else (), validator_for(entity, self.store.dialect).columns,
                    self.store.dialect, self._load.empty)
                self._read_all(entity, state, result, calls_before)
        except QuotaExhausted as exc:
            # Not a failure: the budget stops the run cleanly; committed batches and their
            # cursor are kept and the next run resumes from them.
            result.status = STOPPED_QUOTA
            result.error = self.redactor.text(str(exc))
            result.api_calls = self.connector.api_calls.total - calls_before
            self._finish(result)
            log.warning("%s/%s stopped on the API quota after %d rows: %s", connection, entity,
                        result.rows_read, result.error)
            return result
        except BaseException as exc:
            result.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            result.error = self.redactor.text(f"{type(exc).__name__}: {exc}"
                                              if not isinstance(exc, CrmsyncError) else str(exc))
            result.api_calls = self.connector.api_calls.total - calls_before
            self._finish(result)
            if isinstance(exc, (ConfigError, AuthError)):
                raise  # about the whole connection: the other entities would fail the same way
            if isinstance(exc, CrmsyncError):
                log.error("%s/%s failed: %s", connection, entity, result.error)
                return result
            raise
        finally:
            self._reject_log.close()
        result.status = "success"
        result.api_calls = self.connector.api_calls.total - calls_before
        too_many = too_many_rejects(result.connection, result.entity, result.rejects,
                                    self._records_seen, self.max_reject_ratio)
        if too_many:
            result.status, result.error = "failed", too_many
            log.error("%s/%s failed: %s", connection, entity, too_many)
        self._finish(result)
        return result

    def _read_all(self, entity: str, state: dict[str, Any], result: EntityResult,
                  calls_before: int) -> None:
        """Read and commit every batch, retried from the last committed cursor."""
        for attempt in retrying(self.retry, lambda: result.batches, sleep=self.sleep,
                                describe=f"{self.connector.name}/{entity}"):
            # a retry reads again from the last committed cursor
            with attempt, fewer_collections(), WriteBehind(self._threaded) as writes:
                for batch in checked_read(self.connector, entity, state["cursor"]):
                    writes.submit(self._prepare_batch(entity, batch, result, calls_before,
                                                      state))

    def _prepare_batch(self, entity: str, batch: Batch, result: EntityResult,
                       calls_before: int, state: dict[str, Any]) -> Callable[[], None]:
        """Validate ``batch``; returns what commits it and moves the cursor on, to run once
        the batch before it has committed (:mod:`crmsync.sync.pipeline`)."""
        table = SYNCED_TABLES[entity]
        validator = validator_for(entity, self.store.dialect)
        now = _now()
        self._records_seen += len(batch.records) + len(batch.rejects)
        pending = self._validated(entity, batch, result, validator, now)
        for r in batch.rejects:
            pending.reject(r.remote_id, r.source, [(r.field, r.reason)], r.payload)
        merges = [(d.remote_id, d.merged_into) for d in batch.deleted if d.merged_into]
        write = (entity, table, validator.columns, pending.rows, pending.rejects,
                 deletions_of(batch), merges, pending.stored_sources, batch, result,
                 calls_before, now)

        def commit() -> None:
            if pending.rows and self._load is not None:
                self._load.start()  # into an empty table: indexes off (crmsync.store.bulk)
            try:
                self._write_batch(*write, pending.rejected)
            except Exception as exc:
                if not pending.rows or not is_data_error(exc, self.store.engine):
                    raise
                # One value the database refuses must not block the table run after run:
                # find the refused rows, reject them, and commit the rest as one batch again.
                if not self._reject_refused(table, batch, validator.columns, pending):
                    raise
                self._write_batch(*write, pending.rejected)
            if batch.cursor is not None:
                state["cursor"] = batch.cursor
            if self.progress is not None:
                self.progress(self.connector.name, entity, result.rows_read)

        return commit

    def _validated(self, entity: str, batch: Batch, result: EntityResult,
                   validator: RecordValidator, now: dt.datetime) -> PendingBatch:
        """Validate ``batch``'s records into rows (the last version of a record in a page
        wins) and the invalid ones into reject rows."""
        connection = self.connector.name
        template = validator.template(connection=connection, synced_at=now)
        key = validator.remote_id_index
        # Sources are kept only when a standing reject may be resolved by its source.
        pending = PendingBatch(result.run_id, connection, entity, self.store.dialect,
                               self.redactor, now,
                               sources=batch.sources if self._standing.sources else None)
        records = batch.records  # by index: a record of RowRecords is made only to reject it
        for i, (row, problems) in enumerate(validator.validate_many(records, template)):
            if row is None:
                record = records[i]
                pending.reject(record.get("remote_id"), source_of(batch, i),
                               [(p.field, p.reason) for p in problems], record)
            else:
                pending.add(row[key], row, i)
        return pending

    def _reject_refused(self, table: sa.Table, batch: Batch, columns: Sequence[str],
                        pending: PendingBatch) -> bool:
        """Turn the rows the database refuses into rejects; false when it refuses none of
        them on their own (the failure was elsewhere)."""
        refused = refused_rows(self.store.engine, table, columns, list(pending.rows.items()))
        for rid, error in refused:
            i = pending.origins[rid]
            field, reason = describe_refusal(error, columns, pending.drop(rid))
            pending.reject(rid, source_of(batch, i), [(field, reason)], batch.records[i])
        return bool(refused)

    def _write_batch(self, entity: str, table: sa.Table, columns: Sequence[str],
                     rows: dict[str, list[Any]], rejects: list[dict[str, Any]],
                     deletions: list[tuple[str, dt.datetime | None]],
                     merges: list[tuple[str, str]], stored_sources: list[str], batch: Batch,
                     result: EntityResult,
                     calls_before: int, now: dt.datetime, rejected_records: int) -> None:
        """Commit one batch's rows, deletes, rejects, cursor and run counters in ONE
        transaction; ``result`` counts them once it committed."""
        connection = self.connector.name
        with self.store.engine.begin() as conn:
            if self._observer is not None:  # before the upsert: it compares the stored rows
                self._observer.observe(conn, connection, rows, now)
            upserted = upsert_prepared(conn, table, columns, list(rows.values()), typed=True,
                                       append=self._load is not None and self._load.dropped)
            deleted = mark_deleted(conn, table, connection, deletions, now)
            if merges:
                repointed = repoint_references(conn, entity, connection, merges, now)
                log.info("%s/%s: %d merged records; %d references now name their survivors",
                         connection, entity, len(merges), repointed)
            if self._standing:
                self._standing = resolve(conn, connection, entity, self._standing,
                                         remote_ids=rows, sources=stored_sources, now=now)
            if rejects:
                replace_rejects(conn, connection, entity, rejects, self._run_started)
            if batch.cursor is not None:
                save_cursor(conn, connection, entity, batch.cursor, result.run_id, now)
            counts = {"rows_read": result.rows_read + len(batch.records),
                      "rows_upserted": result.rows_upserted + upserted,
                      "rows_deleted": result.rows_deleted + deleted,
                      "rejects": result.rejects + rejected_records,
                      "batches": result.batches + 1,
                      "api_calls": self.connector.api_calls.total - calls_before}
            conn.execute(
                sa.update(sync_runs).where(sync_runs.c.id == result.run_id).values(
                    **counts, api_calls_by_endpoint=self.connector.api_calls.snapshot() or None))
        for name, value in counts.items():
            setattr(result, name, value)
        self._reject_log.add(rejects)

    @staticmethod
    def _abandon_stale_runs(conn: Connection, connection: str, entity: str) -> None:
        conn.execute(
            sa.update(sync_runs)
            .where(sync_runs.c.connection == connection, sync_runs.c.entity == entity,
                   sync_runs.c.status == "running")
            .values(status="abandoned", ended_at=_now(),
                    error="the process ended before the run finished (killed or crashed); "
                          "committed batches were kept"))

    def _finish(self, result: EntityResult) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                sa.update(sync_runs).where(sync_runs.c.id == result.run_id).values(
                    status=result.status, ended_at=_now(),
                    error=storable(result.error, self.store.dialect),
                    api_calls=result.api_calls,
                    api_calls_by_endpoint=self.connector.api_calls.snapshot() or None,
                    **self._quota()))

    def _quota(self) -> dict[str, int | None]:
        """The connector's view of the CRM's API quota, for ``sync_runs`` (cached by the
        connector from response headers: asking costs no API call)."""
        try:
            quota = self.connector.quota()
        except CrmsyncError as exc:  # an unknown quota must never fail a finished run
            log.debug("%s: quota unknown: %s", self.connector.name, exc)
            quota = None
        if quota is None:
            return {"quota_used": None, "quota_limit": None}
        return {"quota_used": quota.used, "quota_limit": quota.limit}


def sync_entity(store: Store, connector: Connector, entity: str, *, full: bool = False,
                redactor: Redactor | None = None) -> EntityResult:
    """Sync one entity of one connection (a convenience over :class:`SyncEngine`)."""
    return SyncEngine(store, connector, redactor=redactor).sync_entity(entity, full=full)

