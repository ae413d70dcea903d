"""Streaming readers that turn a CSV or JSONL file into :class:`SourceRow` objects.

Readers hold one row at a time, never the whole file. They do not parse values: the sync
engine validates and coerces every field. They only find rows that cannot become a record
(a malformed line, a value in a column the table does not have) and say why.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator, Sequence

from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from crmsync import ConnectorError

__all__ = ["SourceRow", "read_csv_rows", "read_jsonl_rows", "ROW_READERS"]

_BOM = b"\xef\xbb\xbf"
_MAX_PAYLOAD_TEXT = 2000


class SourceRow(NamedTuple):
    """One row of a file, before incremental filtering.

    :param first_line: the physical line the row starts on (the CSV header is line 1).
    :param last_line: the physical line it ends on (later than ``first_line`` for CSV cells
        holding line breaks).
    :param values: the row keyed by schema column, empty cells and nulls as ``None``.
    :param raw: the row as read, for a reject's payload.
    :param problem: why the row cannot become a record, or ``None`` when it can.
    :param field: the column to blame for ``problem``, when one is.
    """

    first_line: int
    last_line: int
    values: dict[str, Any] = {}  # noqa: RUF012 - never mutated: readers pass their own
    raw: dict[str, Any] | None = None
    problem: str | None = None
    field: str | None = None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unknown_column_problem(table: str, unknown: list[str],
                            allowed: Sequence[str]) -> str:
    names = ", ".join(repr(name) for name in unknown)
    noun = "column" if len(unknown) == 1 else "columns"
    return (f"unknown {noun} {names} for table {table} "
            f"(allowed: {', '.join(allowed)})")


def _is_utf8(path: Path, chunk: int = 1 << 20) -> bool:
    """True when the whole file is valid UTF-8 (checked in C, a megabyte at a time)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as stream:
            while data := stream.read(chunk):
                decoder.decode(data)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


class _CleanLines:
    """Stands in for :class:`_DecodedLines` when the file is valid UTF-8: no bad lines."""

    last_bad_line = 0


class _DecodedLines:
    """Iterates over a binary file's lines as text, remembering the last line not in UTF-8.

    Undecodable bytes become U+FFFD so the CSV parser can go on; the caller rejects the row
    that contains such a line instead of storing mangled text.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.line = 0
        self.last_bad_line = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        data = self._stream.readline()
        if not data:
            raise StopIteration
        self.line += 1
        if self.line == 1 and data.startswith(_BOM):
            data = data[len(_BOM):]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.last_bad_line = self.line
            return data.decode("utf-8", errors="replace")


def read_csv_rows(path: Path, table: str, allowed: Sequence[str],
                  skip_through: int = 0) -> Iterator[SourceRow]:
    """Yield the rows of a CSV file whose first row names the columns.

    :param allowed: the columns a row may have a value in, in schema order (for messages).
    :param skip_through: skip rows ending on or before this physical line (a resumed pass).
    :raises ConnectorError: when the header is not UTF-8 or names a column twice.
    """
    clean = _is_utf8(path)
    # A file that decodes cleanly is parsed by the C csv reader straight off a text stream;
    # only a file with undecodable bytes takes the line-by-line path that pins them on rows.
    with (open(path, encoding="utf-8-sig", newline="") if clean else open(path, "rb")) as stream:
        lines = _CleanLines() if clean else _DecodedLines(stream)  # type: ignore[arg-type]
        reader = csv.reader(stream if clean else lines)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            return
        except csv.Error as exc:
            raise ConnectorError(f"{path.name} line 1: header is not valid CSV: {exc}",
                                 entity=table) from exc
        if lines.last_bad_line:
            raise ConnectorError(f"{path.name} line 1: header is not valid UTF-8", entity=table)
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise ConnectorError(f"{path.name} line 1: column '{name}' appears twice",
                                     entity=table)
            seen.add(name)
        allowed_set = frozenset(allowed)
        known = [(i, name) for i, name in enumerate(header) if name in allowed_set]
        unknown = [(i, name) for i, name in enumerate(header) if name not in allowed_set]
        last = reader.line_num
        while True:
            first = last + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last = reader.line_num
                if last > skip_through:
                    yield SourceRow(first, last, problem=f"not valid CSV: {exc}")
                continue
            last = reader.line_num
            if last <= skip_through or not cells or (
                    _is_empty(cells[0]) and all(_is_empty(cell) for cell in cells)):
                continue  # committed already, or a blank line
            width = len(cells)
            bad = [name for i, name in unknown if i < width and not _is_empty(cells[i])]
            if width > len(header) or lines.last_bad_line >= first or bad:
                raw: dict[str, Any] = dict(zip(header, cells))
                if width > len(header):
                    raw["_extra_cells"] = cells[len(header):]
                    yield SourceRow(first, last, raw=raw, problem=(
                        f"{len(cells)} cells but the header has {len(header)} columns"))
                elif lines.last_bad_line >= first:
                    yield SourceRow(first, last, raw=raw, problem="not valid UTF-8")
                else:
                    yield SourceRow(first, last, raw=raw, field=bad[0],
                                    problem=_unknown_column_problem(table, bad, allowed))
                continue
            # good rows carry only their values (the raw row is kept for rejects alone)
            if width == len(header) and not unknown:  # the common case, built in C
                values = dict(zip(header, [cell or None for cell in cells]))
            else:
                values = {name: (cells[i] if i < width and cells[i] != "" else None)
                          for i, name in known}
            yield SourceRow(first, last, values=values)


def read_jsonl_rows(path: Path, table: str, allowed: Sequence[str],
                    skip_through: int = 0) -> Iterator[SourceRow]:
    """Yield the rows of a JSON Lines file: one JSON object per line, blank lines ignored.

    :param allowed: the keys a row may have a non-null value for.
    :param skip_through: skip lines up to and including this one (a resumed pass).
    """
    allowed_set = frozenset(allowed)
    with open(path, "rb") as stream:
        for number, data in enumerate(stream, start=1):
            if number <= skip_through:
                continue
            if number == 1 and data.startswith(_BOM):
                data = data[len(_BOM):]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("utf-8", errors="replace")
                yield SourceRow(number, number, raw={"text": text[:_MAX_PAYLOAD_TEXT]},
                                problem="not valid UTF-8")
                continue
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                yield SourceRow(number, number, raw={"text": text[:_MAX_PAYLOAD_TEXT]},
                                problem=f"line {number} is not valid JSON: {exc}")
                continue
            if not isinstance(row, dict):
                yield SourceRow(number, number, raw={"text": text[:_MAX_PAYLOAD_TEXT]},
                                problem=f"line {number} is not a JSON object")
                continue
            bad = [key for key, value in row.items()
                   if key not in allowed_set and not _is_empty(value)]
            if bad:
                yield SourceRow(number, number, raw=row, field=bad[0],
                                problem=_unknown_column_problem(table, bad, allowed))
                continue
            values = {key: value for key, value in row.items() if key in allowed_set}
            yield SourceRow(number, number, values=values)


#: The reader for each file extension.
ROW_READERS = {"csv": read_csv_rows, "jsonl": read_jsonl_rows}
