"""One pass over a table's file: rows in, batches with their cursors out.

A pass reads the whole file (or the rest of it, resumed), or, when the file changed since a
complete pass that left a line index, only the lines that changed
(:mod:`crmsync_files.line_index`). Both yield the same batches: the rows not older than the
cursor's ``since`` (or rejected before), the file's rejects, and the cursor to commit with
each batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, overload

from crmsync import Batch, Reject, StandingRejects
from crmsync_files.cursor import FileCursor, Resume, parse_timestamp
from crmsync_files.date_formats import DateColumns
from crmsync_files.line_index import IndexBuilder, LineIndex, Scan, id_hash
from crmsync_files.row_readers import SourceRow

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

    def batches(self, rows: Iterator[SourceRow],
                duplicate: Callable[[SourceRow, str], bool]) -> Iterator[Batch]:
        """The batches of ``rows`` (in file order); ``duplicate(row, remote_id)`` says
        whether an earlier row of the file has the row's remote id (and notes it)."""
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        rejects: list[Reject] = []
        since, max_seen, retry = self.since, self.max_seen, self.retry
        file_name = self.file_name
        builder = self.builder if self.builder is not None and not self.builder.over else None
        for row in self._prepared(rows, duplicate):
            updated_at = _updated_at(row)
            if builder is not None and row.text is not None and row.problem is None \
                    and updated_at is not None:
                builder.add(row.text, row.values.get("remote_id"), updated_at)
                if builder.over:
                    builder = None  # too many lines for an index: stop hashing them
            if since is not None and updated_at is not None and updated_at < since \
                    and not retry.wants(row):
                continue
            if row.problem is not None:
                rejects.append(_reject(row, f"{file_name} line {row.first_line}"))
            else:
                records.append(row.values)
                lines.append(row.first_line)
                if updated_at is not None and (max_seen is None or updated_at > max_seen):
                    max_seen = updated_at
            if len(records) + len(rejects) >= self.batch_size:
                cursor = FileCursor(since, Resume(self.signature, row.last_line, max_seen))
                yield Batch(records=records, sources=LineSources(file_name, lines),
                            rejects=rejects, cursor=cursor.to_json())
                records, lines, rejects = [], [], []
        final = _later(since, max_seen)
        index = builder.finish(final) if builder is not None else None
        kept = index.to_json() if index is not None else None
        yield Batch(records=records, sources=LineSources(file_name, lines), rejects=rejects,
                    cursor=FileCursor(final, read=self.signature, lines=kept).to_json())

    def _prepared(self, rows: Iterator[SourceRow], duplicate: Callable[[SourceRow, str], bool]
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


def seen_ids() -> Callable[[SourceRow, str], bool]:
    """The duplicate check of a pass that reads every row: the hashes of the ids read."""
    seen: set[int] = set()

    def duplicate(row: SourceRow, rid: str) -> bool:
        key = hash(rid)
        if key in seen:
            return True
        seen.add(key)
        return False

    return duplicate


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
    value = (row.raw or row.values).get("remote_updated_at")
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

