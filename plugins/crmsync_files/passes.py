"""One pass over a table's file: rows in, batches with their cursors out.

A pass reads the whole file (or the rest of it, resumed), or, when the file changed since a
complete pass that left a line index, only the lines that changed
(:mod:`crmsync_files.line_index`). Both yield the same batches: the rows not older than the
cursor's ``since`` (or rejected before), the file's rejects, and the cursor to commit with
each batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, overload

from crmsync import Batch, Reject, RowRecords, StandingRejects
from crmsync_files.chunks import Chunk
from crmsync_files.cursor import FileCursor, Resume, parse_timestamp
from crmsync_files.date_formats import DateColumns
from crmsync_files.line_index import IndexBuilder, LineIndex, Scan, id_hash
from crmsync_files.row_readers import SourceRow
from crmsync_files.seen import SeenIds

__all__ = ["Pass", "Retry", "LineSources", "first_of_its_id", "seen_ids", "known_ids",
           "present_entries"]


class Retry:
    """The rows of the file rejected by an earlier sync, read again even when older than the
    cursor (by first line, or by remote id)."""

    def __init__(self, standing: StandingRejects, file_name: str) -> None:
        prefix = f"{file_name} line "
        self.lines = {int(s[len(prefix):]) for s in standing.sources
                      if s.startswith(prefix) and s[len(prefix):].isdigit()}
        self.remote_ids = standing.remote_ids

    def wants(self, row: SourceRow) -> bool:
        """True for a row an earlier sync rejected."""
        if not (self.lines or self.remote_ids):
            return False
        if row.first_line in self.lines:
            return True
        rid = (row.raw or row.values).get("remote_id")
        return rid is not None and str(rid) in self.remote_ids


@dataclass
class Pass:
    """What one pass over ``file_name`` yields batches with.

    :param builder: collects the line index of the pass (``None``: the pass keeps none).
    """

    file_name: str
    signature: str
    since: dt.datetime | None
    max_seen: dt.datetime | None
    batch_size: int
    retry: Retry
    dates: DateColumns | None
    builder: IndexBuilder | None

    def batches(self, items: Iterator[SourceRow | Chunk],
                duplicate: Callable[[SourceRow, str], bool]) -> Iterator[Batch]:
        """The batches of ``items``, rows and blocks of rows (in file order);
        ``duplicate(row, remote_id)`` says whether an earlier row of the file has the row's
        remote id (and notes it)."""
        self._open = _Open()
        self._max_seen = self.max_seen
        self._builder = self.builder if self.builder is not None and not self.builder.over \
            else None
        for item in items:
            if isinstance(item, Chunk):
                taken = self._plain_chunk(item, duplicate)
                if taken is not None:
                    yield from self._take(item.names, *taken)
                    continue
                rows: Sequence[SourceRow] = item.source_rows()
            else:
                rows = (item,)
            for row in self._prepared(rows, duplicate):
                if self._add(row):
                    yield self._batch(row.last_line)
        final = _later(self.since, self._max_seen)
        index = self._builder.finish(final) if self._builder is not None else None
        kept = index.to_json() if index is not None else None
        open_ = self._open
        yield Batch(records=open_.made(), sources=LineSources(self.file_name, open_.lines),
                    rejects=open_.rejects,
                    cursor=FileCursor(final, read=self.signature, lines=kept).to_json())

    def _add(self, row: SourceRow) -> bool:
        """Add ``row`` to the open batch (unless the cursor skips it); true when the batch
        is full."""
        updated_at = _updated_at(row)
        builder = self._builder
        if builder is not None and row.text is not None and row.problem is None \
                and updated_at is not None:
            builder.add(row.text, row.values.get("remote_id"), updated_at)
            if builder.over:
                self._builder = None  # too many lines for an index: stop hashing them
        since = self.since
        if since is not None and updated_at is not None and updated_at < since \
                and not self.retry.wants(row):
            return False
        open_ = self._open
        if row.problem is not None:
            open_.rejects.append(_reject(row, f"{self.file_name} line {row.first_line}"))
        else:
            open_.records.append(row.values)
            open_.lines.append(row.first_line)
            if updated_at is not None and (self._max_seen is None
                                           or updated_at > self._max_seen):
                self._max_seen = updated_at
        return len(open_.records) + len(open_.rejects) >= self.batch_size

    def _batch(self, last_line: int) -> Batch:
        """The open batch, full, with the cursor that resumes after ``last_line``."""
        open_, self._open = self._open, _Open()
        cursor = FileCursor(self.since, Resume(self.signature, last_line, self._max_seen))
        return Batch(records=open_.made(), sources=LineSources(self.file_name, open_.lines),
                     rejects=open_.rejects, cursor=cursor.to_json())

    def _plain_chunk(self, chunk: Chunk, duplicate: Callable[[SourceRow, str], bool]
                     ) -> tuple[list[list[str]], list[int], list[dt.datetime | None]] | None:
        """The rows of ``chunk`` the cursor keeps, their lines and timestamps, taken a
        column at a time; ``None`` when a row needs the row-by-row path (a date format to
        convert, rejects to read again, a remote id seen before)."""
        names, rows = chunk.names, chunk.rows
        all_new = getattr(duplicate, "all_new", None)
        if self.dates is not None or self.retry.lines or self.retry.remote_ids or all_new is None \
                or "remote_id" not in names:
            return None
        at = names.index("remote_updated_at") if "remote_updated_at" in names else None
        updated: list[dt.datetime | None] = [None] * len(rows) if at is None \
            else [_updated_at_value(r[at] or None) for r in rows]
        key = names.index("remote_id")
        ids = [r[key] for r in rows]
        if not all_new(ids):
            return None
        builder = self._builder
        if builder is not None:
            builder.add_many(chunk.texts, ids, updated)
            if builder.over:
                self._builder = None
        first, since = chunk.first_line, self.since
        numbers = list(range(first, first + len(rows)))
        if since is None:
            return rows, numbers, updated
        keep = [u is None or u >= since for u in updated]
        return (list(compress(rows, keep)), list(compress(numbers, keep)),
                list(compress(updated, keep)))

    def _take(self, names: tuple[str, ...], rows: list[list[str]], numbers: list[int],
              updated: list[dt.datetime | None]) -> Iterator[Batch]:
        """Add ``rows`` to the open batch, yielding each batch they fill."""
        start, size = 0, len(rows)
        while start < size:
            open_ = self._open
            end = min(size, start + self.batch_size - len(open_.records) - len(open_.rejects))
            open_.add_cells(names, rows[start:end], numbers[start:end])
            top = max(filter(None, updated[start:end]), default=None)
            self._max_seen = _later(self._max_seen, top)
            start = end
            if len(open_.records) + len(open_.rejects) >= self.batch_size:
                yield self._batch(numbers[end - 1])

    def _prepared(self, rows: Iterable[SourceRow], duplicate: Callable[[SourceRow, str], bool]
                  ) -> Iterator[SourceRow]:
        """``rows`` with their dates in ISO 8601 (``date_format``), and a row whose remote id
        an earlier row of the file has rejected (one row per record; the first is kept)."""
        dates = self.dates
        for row in rows:
            if dates is not None and row.problem is None:
                row = dates.convert(row)
            if row.problem is None:
                row = first_of_its_id(row, duplicate, self.file_name)
            yield row


class _Open:
    """The batch being filled: records (dicts, or rows of cells under ``names``), their
    lines, and rejects."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.lines: list[int] = []
        self.rejects: list[Reject] = []
        self.names: tuple[str, ...] | None = None  # set while records hold rows of cells
        self.cells = 0  # how many of them

    def add_cells(self, names: tuple[str, ...], rows: list[list[str]], lines: list[int]
                  ) -> None:
        self.names = names
        self.cells += len(rows)
        self.records.extend(rows)
        self.lines.extend(lines)

    def made(self) -> Sequence[Mapping[str, Any]]:
        """The records for the batch: :class:`~crmsync.RowRecords` when all are cells."""
        names, records = self.names, self.records
        if names is None:
            return records
        if self.cells == len(records):
            return RowRecords(names, records)
        as_rows = RowRecords(names, records)  # a row of cells as the record it stands for
        return [as_rows[i] if type(r) is list else r for i, r in enumerate(records)]


def seen_ids(file_name: str) -> SeenIds:
    """The duplicate check of a pass over ``file_name`` that reads every row."""
    return SeenIds(file_name)


def known_ids(index: LineIndex, scan: Scan, rows: Sequence[SourceRow]
              ) -> Callable[[SourceRow, str], bool]:
    """The duplicate check of a pass that parses only ``rows``, the changed lines of
    ``scan``: a row's id is seen when an earlier changed row has it, or an earlier line the
    pass skipped (known to ``index``, with the id it had)."""
    wanted = {id_hash(row.values.get("remote_id")) for row in rows if row.problem is None}
    wanted.discard(0)
    parsed = {number for number, _ in scan.changed}
    first_known: dict[int, int] = {}  # id hash -> the first skipped line holding it
    # the skipped lines holding a wanted id: rare (an edited row's old line is gone)
    mask = bytes(map(wanted.__contains__, index.ids))
    targets = dict(zip(compress(index.digests, mask), compress(index.ids, mask), strict=True))
    if not scan.present.isdisjoint(targets) or any(scan.digests[n - 2] in targets
                                                   for n in parsed):
        for offset, digest in enumerate(scan.digests):
            h = targets.get(digest)
            if h is not None and h not in first_known and offset + 2 not in parsed:
                first_known[h] = offset + 2
    seen: set[int] = set()

    def duplicate(row: SourceRow, rid: str) -> bool:
        h = id_hash(rid)
        if h in seen or first_known.get(h, row.first_line) < row.first_line:
            return True
        seen.add(h)
        return False

    return duplicate


def present_entries(index: LineIndex, scan: Scan) -> tuple[list[int], list[int]]:
    """The entries of ``index`` for the lines ``scan`` skips."""
    mask = bytes(map(scan.present.__contains__, index.digests))
    return list(compress(index.digests, mask)), list(compress(index.ids, mask))


def first_of_its_id(row: SourceRow, duplicate: Callable[[SourceRow, str], bool],
                    file_name: str) -> SourceRow:
    """``row``, or its reject when an earlier row of the pass has its remote id."""
    rid = row.values.get("remote_id")
    if rid is None or rid == "":
        return row
    if duplicate(row, str(rid)):
        return row._replace(raw=row.values, field="remote_id", problem=(
            f"remote_id {rid!r} appears again: an earlier line of {file_name} "
            f"has it already (one row per record; the first is kept)"), text=None)
    return row


def _updated_at(row: SourceRow) -> dt.datetime | None:
    """The row's ``remote_updated_at`` as naive UTC, if it has one that parses."""
    return _updated_at_value((row.raw or row.values).get("remote_updated_at"))


def _updated_at_value(value: Any) -> dt.datetime | None:
    """``value`` (a ``remote_updated_at``) as naive UTC, if it parses."""
    if type(value) is str and value[-1:] == "Z" and value[10:11] == "T":
        try:  # what exports write, ``2024-09-08T12:40:48Z``: UTC already
            parsed = dt.datetime.fromisoformat(value[:-1])
            if parsed.tzinfo is None:
                return parsed
        except ValueError:
            pass
    try:  # the common forms in C (``Z`` too, from Python 3.11); the tolerant parser for the rest
        updated_at = dt.datetime.fromisoformat(value) if type(value) is str else None
    except ValueError:
        return parse_timestamp(value)
    if updated_at is not None and updated_at.tzinfo is not None:
        return updated_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return updated_at


class LineSources(Sequence[str]):
    """``Batch.sources`` for one file, made on demand: the engine reads them only for the
    records it rejects, so good rows never pay for a string."""

    def __init__(self, file_name: str, lines: list[int]) -> None:
        self.file_name = file_name
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [f"{self.file_name} line {n}" for n in self.lines[i]]
        return f"{self.file_name} line {self.lines[i]}"


def _reject(row: SourceRow, source: str) -> Reject:
    """The reject for a row a reader could not turn into a record."""
    remote_id = (row.raw or {}).get("remote_id")
    return Reject(reason=row.problem or "invalid row", field=row.field, source=source,
                  remote_id=str(remote_id) if remote_id not in (None, "") else None,
                  payload=row.raw)


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    """The later of two optional timestamps."""
    if a is None or b is None:
        return a or b
    return max(a, b)

