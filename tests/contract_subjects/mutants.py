"""Deliberately broken variants of the reference connector: each changes one thing, the way
real connectors get it wrong, and names (``CAUGHT_BY``) the live contract test that must fail
on it (docs/testing-plugins.md, "Meta-tests")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from contract_subjects.connector import ReferenceConnector
from contract_subjects.memory_crm import Response
from crmsync import (
    Batch,
    ConnectorError,
    FieldInfo,
    FieldSpec,
    RateLimited,
    TransientError,
    WriteResult,
    WriteUpdate,
    parse_datetime,
)

__all__ = ["Mutant", "MUTANTS"]


class Mutant(ReferenceConnector):
    """A broken variant; :attr:`CAUGHT_BY` names the contract test that catches it."""

    CAUGHT_BY: ClassVar[str] = ""


class SameSecondCursorLoss(Mutant):
    """Resumes strictly after ``[updated, id]``: a change stamped in the cursor's second on
    a record with a lower id is lost for good."""

    CAUGHT_BY = "test_a_change_in_the_cursors_second_is_not_lost"

    def start_key(self, saved: list[str] | None) -> tuple[str | None, str]:
        return (saved[0], saved[1]) if saved else (None, "")


class OffsetAsCursor(Mutant):
    """Pages in creation order and stores the offset reached as the cursor: new records
    are read, updates never."""

    CAUGHT_BY = "test_updates_are_read_incrementally"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        offset = int(cursor or 0)
        size = self.settings["page_size"]
        while True:
            page = self.call("GET", f"/{entity}", entity, sort="id", start=offset, limit=size)
            if not page:
                return
            offset += len(page)
            yield Batch.mapped(page, lambda raw: self.to_record(entity, raw), cursor=offset)


class OffsetPaging(Mutant):
    """Pages by offset from the start of the read: a record updated between pages moves to
    the end and the next page skips the record that slid into its place."""

    CAUGHT_BY = "test_records_changing_between_pages_are_not_lost"

    def pages(self, entity: str, prefix: str, since: str | None, after: str
              ) -> Iterator[list[dict[str, Any]]]:
        size, start = self.settings["page_size"], 0
        while True:
            page = self.call("GET", f"{prefix}/{entity}", entity, since=since, after_id=after,
                             start=start, limit=size)
            if not page:
                return
            yield page
            start += len(page)


class SwallowedRateLimit(Mutant):
    """Treats a 429 as an empty page: the read ends early and looks complete."""

    CAUGHT_BY = "test_rate_limit_is_raised_with_retry_after_seconds"

    def fetch(self, path: str, entity: str, since: str | None, after: str, size: int
              ) -> list[dict[str, Any]]:
        try:
            return super().fetch(path, entity, since, after, size)
        except RateLimited:
            return []


class RetriesRateLimitItself(Mutant):
    """Retries a 429 at once inside ``read()`` instead of raising it for the engine."""

    CAUGHT_BY = "test_rate_limit_is_raised_with_retry_after_seconds"

    def fetch(self, path: str, entity: str, since: str | None, after: str, size: int
              ) -> list[dict[str, Any]]:
        for _ in range(3):
            try:
                return super().fetch(path, entity, since, after, size)
            except RateLimited:
                continue
        return super().fetch(path, entity, since, after, size)


class RetryAfterSecondsOnly(Mutant):
    """Reads ``Retry-After`` as seconds only; an HTTP-date gives no wait."""

    CAUGHT_BY = "test_rate_limit_is_raised_with_retry_after_date"

    def error_for(self, response: Response, method: str, path: str, entity: str | None
                  ) -> ConnectorError:
        header = response.headers.get("Retry-After", "")
        if response.status == 429:
            return RateLimited("HTTP 429", connection=self.name, entity=entity,
                               retry_after=float(header) if header.isdigit() else None)
        return super().error_for(response, method, path, entity)


class SwallowedServerError(Mutant):
    """Treats a 5xx as an empty page."""

    CAUGHT_BY = "test_server_error_is_raised_as_transient[500]"

    def fetch(self, path: str, entity: str, since: str | None, after: str, size: int
              ) -> list[dict[str, Any]]:
        try:
            return super().fetch(path, entity, since, after, size)
        except TransientError:
            return []


class EndsReadOnLaterFailure(Mutant):
    """Takes a failure after the first page for the end of the list: the read returns
    short, the engine commits it as complete and the rest is never read."""

    CAUGHT_BY = "test_rate_limits_and_server_errors_are_recovered_from"

    def pages(self, entity: str, prefix: str, since: str | None, after: str
              ) -> Iterator[list[dict[str, Any]]]:
        pages = super().pages(entity, prefix, since, after)
        first = next(pages, None)
        if first is None:
            return
        yield first
        try:
            yield from pages
        except (TransientError, RateLimited):
            return


class IgnoresSoftDeletes(Mutant):
    """Maps archived records like live ones."""

    CAUGHT_BY = "test_soft_deletes_reach_the_store"

    def to_record(self, entity: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        return super().to_record(entity, {**raw, "archived": False})


class IgnoresHardDeletes(Mutant):
    """Never reads the deleted-records feed."""

    CAUGHT_BY = "test_hard_deletes_reach_the_store"

    def deletions(self, entity: str, state: dict[str, Any]) -> Iterator[Batch]:
        return iter(())


class WrongTimeZone(Mutant):
    """Drops the timestamps' UTC offset: local wall time stored as UTC."""

    CAUGHT_BY = "test_timestamps_are_utc"

    def timestamp(self, value: str) -> Any:
        return parse_datetime(value[:19])


class RereadsEveryPage(Mutant):
    """Fetches every page twice (a "has more?" probe that re-asks for the same page)."""

    CAUGHT_BY = "test_no_page_is_read_twice"

    def fetch(self, path: str, entity: str, since: str | None, after: str, size: int
              ) -> list[dict[str, Any]]:
        super().fetch(path, entity, since, after, size)
        return super().fetch(path, entity, since, after, size)


class UncountedCalls(Mutant):
    """Counts no API call: ``sync_runs`` shows a free sync and quotas are never planned."""

    CAUGHT_BY = "test_no_page_is_read_twice"

    def call(self, method: str, path: str, entity: str | None = None, **params: Any) -> Any:
        calls = self.api_calls.snapshot()
        try:
            return super().call(method, path, entity, **params)
        finally:
            self.api_calls.by_endpoint.clear()
            self.api_calls.by_endpoint.update(calls)


class AuthAsPlainError(Mutant):
    """Raises a plain ``ConnectorError`` on HTTP 401."""

    CAUGHT_BY = "test_bad_credentials_raise_auth_error"

    def auth_error(self, message: str, entity: str | None) -> ConnectorError:
        return ConnectorError(message, connection=self.name, entity=entity)


class SecretInError(Mutant):
    """Puts the request URL, token query parameter included, in its error messages."""

    CAUGHT_BY = "test_secrets_stay_out_of_errors_rejects_store_and_log"

    def error_for(self, response: Response, method: str, path: str, entity: str | None
                  ) -> ConnectorError:
        error = super().error_for(response, method, path, entity)
        error.args = (f"{error} ({method} {path}?api_token={self.settings['api_token']})",)
        return error


class CloseKeepsSession(Mutant):
    """``close()`` forgets to close the session."""

    CAUGHT_BY = "test_close_releases_the_connection"

    def close(self) -> None:
        pass


class UnusableAfterClose(Mutant):
    """``close()`` closes the session but keeps using it: the next read raises ``OSError``."""

    CAUGHT_BY = "test_close_releases_the_connection"

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


class FieldsAsDicts(Mutant):
    """``fields()`` returns the CRM's raw field dicts."""

    CAUGHT_BY = "test_fields_lists_field_info"

    def fields(self, entity: str) -> list[FieldInfo]:
        return list(self.call("GET", f"/fields/{entity}", entity))


class EnsureFieldNotIdempotent(Mutant):
    """Creates the field on every call (the CRM assigns each a new key)."""

    CAUGHT_BY = "test_ensure_field_is_idempotent"

    def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
        made = self.call("POST", f"/fields/{entity}", entity, name=spec.name, type=spec.type)
        return FieldInfo(made["key"], spec.type, label=made["name"], writable=True,
                         custom=True)


class WriteDropsResults(Mutant):
    """Yields the results of the first write call only."""

    CAUGHT_BY = "test_write_yields_one_result_per_update"

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        results = list(super().write(entity, updates))
        yield from results[:self.settings["write_batch"]]


class WriteMissingAsOk(Mutant):
    """Reports every answered record ``ok``, missing ones included."""

    CAUGHT_BY = "test_write_reports_a_deleted_record_missing"

    def results(self, answers: Sequence[Mapping[str, Any]]) -> Iterator[WriteResult]:
        for a in answers:
            yield WriteResult(a["id"], ok=True)


class WriteTruncatesNumbers(Mutant):
    """Sends numbers as integers: 10.5 lands as 10."""

    CAUGHT_BY = "test_written_values_land_in_the_crm"

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        return super().write(entity, [
            WriteUpdate(u.remote_id, {k: int(v) if isinstance(v, float) else v
                                      for k, v in u.values.items()}) for u in updates])


class ReadValuesWithMissing(Mutant):
    """Returns an empty entry for records that do not exist."""

    CAUGHT_BY = "test_read_values_returns_current_values_and_leaves_out_missing"

    def read_values(self, entity: str, remote_ids: Sequence[str], fields: Sequence[str]
                    ) -> dict[str, dict[str, Any]]:
        found = super().read_values(entity, remote_ids, fields)
        return {rid: found.get(rid, dict.fromkeys(fields)) for rid in remote_ids}


#: Every mutant, in the order of the contract's tests.
MUTANTS: tuple[type[Mutant], ...] = tuple(Mutant.__subclasses__())
