"""What a connector's :meth:`~crmsync.plugin.connector.Connector.read` yields: batches of
normalised records, with the records the CRM deleted and those the connector could not map
(docs/writing-a-connector.md, "Batch"). :mod:`crmsync.plugin.connector` re-exports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from crmsync.core.errors import RecordError

__all__ = ["Batch", "Deletion", "Reject", "RowRecords", "StandingRejects"]

#: A raw record as a connector receives it from its CRM (usually a mapping).
_Raw = TypeVar("_Raw")


@dataclass(frozen=True)
class Deletion:
    """A record the CRM reports as deleted (hard delete, archive or merge).

    :param merged_into: for a merge, the surviving record's remote id: the engine then also
        points every stored reference to ``remote_id`` (in any table of the connection) at
        the survivor.
    """

    remote_id: str
    deleted_at: dt.datetime | None = None
    merged_into: str | None = None


@dataclass(frozen=True)
class Reject:
    """A raw record the connector could not normalise, with the reason.

    :param remote_id: the record's id in the CRM, when known.
    :param field: the offending field (CRM or schema name), when one is to blame.
    :param source: where the record came from, e.g. ``accounts.csv line 17``.
    :param payload: the raw record; the engine removes secrets before storing it.
    """

    reason: str
    remote_id: str | None = None
    field: str | None = None
    source: str | None = None
    payload: Mapping[str, Any] | None = None


class RowRecords(Sequence[dict[str, Any]]):
    """A batch's records as rows of cells under one header, for a connector that reads rows
    (a CSV file): ``Batch(records=RowRecords(names, rows))``.

    Each row is a sequence parallel to ``names``; an empty cell (``""``) or ``None`` is a
    missing value. Indexing gives the record as a dict (empty cells as ``None``), made on
    demand: the engine validates the rows a column at a time (:meth:`columns`) and makes the
    dict of a record only to reject it, so a large load never builds one per row
    (docs/performance.md).
    """

    __slots__ = ("names", "rows")

    def __init__(self, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.names = tuple(names)
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._record(row) for row in self.rows[i]]
        return self._record(self.rows[i])

    def _record(self, row: Sequence[Any]) -> dict[str, Any]:
        return dict(zip(self.names, [None if v == "" else v for v in row], strict=True))

    def columns(self) -> list[tuple[Any, ...]]:
        """The cells a column at a time, in the order of :attr:`names`."""
        if not self.rows:
            return [() for _ in self.names]
        return list(zip(*self.rows, strict=True))


@dataclass(frozen=True)
class StandingRejects:
    """The records of one entity that earlier syncs rejected and no sync has stored since.

    :param remote_ids: their remote ids, where known.
    :param sources: where they came from, where the connector said (``accounts.csv line 4``).
    """

    remote_ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.remote_ids or self.sources)


@dataclass
class Batch:
    """One page of normalised records for one entity.

    :param records: mappings keyed by schema column names; ``remote_id`` is required.
    :param cursor: JSON-able state that is safe to persist once this batch is stored; the next
        :meth:`Connector.read` call receives it. ``None`` keeps the previous cursor.
    :param deleted: records to mark ``is_deleted``.
    :param rejects: raw records the connector could not normalise.
    :param sources: optional, parallel to ``records``: where each record came from, used in
        error messages (``accounts.csv line 17``).
    """

    records: Sequence[Mapping[str, Any]] = ()
    cursor: Any = None
    deleted: Sequence[Deletion] = ()
    rejects: Sequence[Reject] = ()
    sources: Sequence[str] | None = None

    @classmethod
    def mapped(cls, raws: Iterable[_Raw], map_record: Callable[[_Raw], Mapping[str, Any]], *,
               cursor: Any = None, deleted: Sequence[Deletion] = (),
               rejects: Sequence[Reject] = (), sources: Sequence[str] | None = None) -> Batch:
        """A batch of ``map_record(raw)`` for each raw record of a page, where a
        :class:`~crmsync.RecordError` raised for one record rejects that record only.

        The reject keeps the error's reason, field, remote id and source (else the record's
        entry in ``sources``), with the raw record as payload when it is a mapping; the other
        records stay in the batch, which commits as usual. Any other exception propagates
        (a bug, or a failure of the whole page).

        :param sources: optional, parallel to ``raws``; the batch's :attr:`sources` are those
            of the records kept.
        """
        records: list[Mapping[str, Any]] = []
        kept_sources: list[str] = []
        refused = list(rejects)
        for i, raw in enumerate(raws):
            source = sources[i] if sources is not None else None
            try:
                records.append(map_record(raw))
            except RecordError as exc:
                refused.append(Reject(exc.reason, remote_id=exc.remote_id, field=exc.field,
                                      source=exc.source or source,
                                      payload=raw if isinstance(raw, Mapping) else None))
                continue
            if source is not None:
                kept_sources.append(source)
        return cls(records=records, cursor=cursor, deleted=deleted, rejects=refused,
                   sources=kept_sources if sources is not None else None)
