"""Streaming readers that turn a CSV or JSONL file into :class:`SourceRow` objects.

Readers hold one row at a time, never the whole file. They do not parse values: the sync
engine validates and coerces every field. They only find rows that cannot become a record
(a malformed line, a value in a column the table does not have) and say why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from crmsync import ConnectorError
from crmsync_files.file_checks import delimiter_hint, encoding_hint, header_problems, undecodable

__all__ = ["SourceRow", "ReadOptions", "read_csv_header", "read_csv_rows", "read_csv_lines",
           "read_csv_from", "is_empty", "unknown_column_problem", "BOM", "MAX_PAYLOAD_TEXT"]

BOM = b"\xef\xbb\xbf"
MAX_PAYLOAD_TEXT = 2000


class SourceRow(NamedTuple):
    """One row of a file, before incremental filtering.

    :param first_line: the physical line the row starts on (the CSV header is line 1).
    :param last_line: the physical line it ends on (later than ``first_line`` for CSV cells
        holding line breaks).
    :param values: the row keyed by schema column, empty cells and nulls as ``None``.
    :param raw: the row as read, for a reject's payload.
    :param problem: why the row cannot become a record, or ``None`` when it can.
    :param field: the column to blame for ``problem``, when one is.
    :param text: the row's line, for a complete row of one line (the line index's digest).
    """

    first_line: int
    last_line: int
    values: dict[str, Any] = {}  # noqa: RUF012 - never mutated: readers pass their own
    raw: dict[str, Any] | None = None
    problem: str | None = None
    field: str | None = None
    text: str | None = None


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def unknown_column_problem(table: str, unknown: list[str],
                            allowed: Sequence[str]) -> str:
    names = ", ".join(repr(name) for name in unknown)
    noun = "column" if len(unknown) == 1 else "columns"
    return (f"unknown {noun} {names} for table {table} "
            f"(allowed: {', '.join(allowed)})")


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file (the connector's per-file settings).

    :param encoding: the file's encoding; ``None`` for UTF-8 (a byte-order mark allowed),
        where a line that is not UTF-8 is rejected with a hint to set ``encoding``.
    :param delimiter: the CSV cell delimiter.
    :param max_row_lines: the most physical lines one CSV row may span (quoted cells holding
        line breaks); a row still open after that has an unbalanced quote.
    :param required: the columns a CSV header must have.
    """

    encoding: str | None = None
    delimiter: str = ","
    max_row_lines: int = 100
    required: tuple[str, ...] = ("remote_id",)


class _DecodedLines:
    """Iterates over a binary file's lines as text, remembering the lines that do not decode.

    Undecodable bytes become U+FFFD so the CSV parser can go on; the caller rejects the row
    that contains such a line instead of storing mangled text.
    """

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        self._stream = stream
        self._encoding = encoding
        self.line = 0
        self.bad: dict[int, int] = {}  # line -> first undecodable byte

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        data = self._stream.readline()
        if not data:
            raise StopIteration
        self.line += 1
        if self.line == 1 and data.startswith(BOM) and self._encoding == "utf-8":
            data = data[len(BOM):]
        try:
            return data.decode(self._encoding)
        except UnicodeDecodeError as exc:
            self.bad[self.line] = data[exc.start]
            return data.decode(self._encoding, errors="replace")


class _Feed:
    """Hands physical lines to :func:`csv.reader`, numbering them, so that a broken row can be
    rejected and reading resume at the line after its first one.

    Holds the lines of the current row only (at most ``limit``): a row that would span more
    ends the reader's input (:attr:`overflow`) instead of swallowing the rest of the file.
    """

    def __init__(self, source: Iterator[str], limit: int, delimiter: str) -> None:
        self._source = source
        self._limit = limit
        self._delimiter = delimiter
        self._pending: list[str] = []  # pushed back, last first
        self.kept: list[str] = []  # the current row's lines (the caller clears it per row)
        self.line = 0  # the last line handed out
        self.overflow = False

    def _lines(self) -> Iterator[str]:
        pending, kept, source = self._pending, self.kept, self._source
        while True:
            if pending:
                text = pending.pop()
            else:
                more = next(source, None)
                if more is None:
                    return
                text = more
            if len(kept) >= self._limit:
                self.overflow = True
                pending.append(text)
                return
            kept.append(text)
            self.line += 1
            yield text

    def reader(self) -> Any:
        """A fresh CSV reader over the lines not yet handed out."""
        self.overflow = False
        return csv.reader(self._lines(), delimiter=self._delimiter, strict=True)

    def resume_after(self, first: int) -> None:
        """Hand out again every line of the current row after its first one (``first``)."""
        self._pending.extend(reversed(self.kept[1:]))
        self.line = first
        self.kept.clear()


def _swallows_rows(lines: list[str], width: int, delimiter: str) -> bool:
    """True when a line a multi-line cell continues over is a complete row of the file by
    itself: the sign of a quote opened by mistake (``docs/connectors/files.md``)."""
    if width < 3:
        return False
    for text in lines[1:]:
        try:
            cells = next(csv.reader([text], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if len(cells) == width and cells[0].strip():
            return True
    return False


def _unclosed(first: int, limit: int, overflow: bool) -> str:
    """The reason for a quoted cell that does not close."""
    if overflow:
        return (f"unbalanced quote: the quoted cell opened on line {first} is still open "
                f"after {limit} lines (max_row_lines)")
    return f"unbalanced quote: the quoted cell opened on line {first} never closes"


def read_csv_header(path: Path, table: str, allowed: Sequence[str],
                    options: ReadOptions) -> tuple[list[str], list[str]]:
    """The header of a CSV file and its whole-file problems (empty when there are none);
    an empty file has no header and no problems."""
    encoding = options.encoding or "utf-8-sig"
    with open(path, encoding=encoding, errors="replace", newline="") as stream:
        first_line = stream.readline()
    if not first_line:
        return [], []
    if options.encoding is None and first_line.startswith("\ufeff"):
        first_line = first_line[1:]
    try:
        cells = next(csv.reader([first_line], delimiter=options.delimiter, strict=True))
    except csv.Error as exc:
        return [], [f"line 1: the header is not valid CSV: {exc}"]
    header = [name.strip() for name in cells]
    problems = []
    if "\ufffd" in first_line:
        problems.append(f"line 1: the header is not valid {options.encoding or 'UTF-8'}")
    hint = (delimiter_hint(first_line, options.delimiter, allowed)
            if not set(header) & set(options.required) else None)
    if hint:
        return header, [*problems, hint]
    return header, [*problems,
                    *header_problems(header, table, allowed, options.required)]


def read_csv_rows(path: Path, table: str, allowed: Sequence[str], skip_through: int = 0,
                  options: ReadOptions = ReadOptions()) -> Iterator[SourceRow]:
    """Yield the rows of a CSV file whose first row names the columns.

    A row that is not valid CSV (an unbalanced quote, a cell over the size limit, a quoted
    cell still open after ``options.max_row_lines`` lines or swallowing complete rows) is
    rejected at its first line, and reading resumes at the next line.

    :param allowed: the columns a row may have a value in, in schema order (for messages).
    :param skip_through: skip rows ending on or before this physical line (a resumed pass).
    :raises ConnectorError: for a whole-file problem (:mod:`crmsync_files.file_checks`).
    """
    header, problems = read_csv_header(path, table, allowed, options)
    if problems:
        raise ConnectorError(f"{path.name}: {'; '.join(problems)}", entity=table)
    if not header:
        return
    encoding = options.encoding or "utf-8"
    # A file that decodes cleanly is read straight off a text stream; only a file with
    # undecodable bytes takes the line-by-line path that pins them on rows.
    if undecodable(path, encoding) is None:
        with open(path, encoding=options.encoding or "utf-8-sig", newline="") as text:
            yield from _CsvRows(header, table, allowed, options, text, None).rows(skip_through)
    else:
        with open(path, "rb") as binary:
            decoded = _DecodedLines(binary, encoding)
            yield from _CsvRows(header, table, allowed, options, decoded,
                                decoded).rows(skip_through)


def read_csv_from(header: list[str], header_line: str, table: str, allowed: Sequence[str],
                  options: ReadOptions, lines: Iterator[str], first_line: int
                  ) -> Iterator[SourceRow]:
    """The rows of ``lines``, the rest of a CSV file from line ``first_line``."""
    return _CsvRows(header, table, allowed, options, chain([header_line], lines),
                    None).rows(0, first_line)


def read_csv_lines(header: list[str], header_line: str, table: str, allowed: Sequence[str],
                   options: ReadOptions, lines: list[str], first_line: int
                   ) -> list[SourceRow] | None:
    """The rows of ``lines``, consecutive lines of a CSV file of ``header`` (each with its
    line break) starting at line ``first_line``; ``None`` unless they make complete rows,
    none of them broken (a quote left open at the end, an unbalanced quote)."""
    rows = _CsvRows(header, table, allowed, options, iter([header_line, *lines]), None)
    found = list(rows.rows(0, first_line))
    return None if rows.broke else found


class _CsvRows:
    """One pass over the rows of a CSV file after its header (see :func:`read_csv_rows`).

    :param lines: the file's lines, positioned at its start (the header is read again).
    :param decoded: the same lines when they come from :class:`_DecodedLines`, for the lines
        that do not decode.
    """

    def __init__(self, header: list[str], table: str, allowed: Sequence[str],
                 options: ReadOptions, lines: Iterator[str],
                 decoded: _DecodedLines | None) -> None:
        self.header, self.table, self.allowed, self.options = header, table, allowed, options
        self.decoded = decoded
        self.feed = _Feed(lines, options.max_row_lines, options.delimiter)
        allowed_set = frozenset(allowed)
        self.known = [(i, name) for i, name in enumerate(header) if name in allowed_set]
        self.unknown = [(i, name) for i, name in enumerate(header) if name not in allowed_set]
        self.width_ok = len(header)
        self.suspect = 0  # the line of the last broken row, until a complete row follows it
        self.broke = False  # whether any row was broken

    @property
    def fast(self) -> bool:
        """Whether a row of the header's width is good as it is: every column known, no
        undecodable byte in the file, no broken row just before."""
        return not self.unknown and self.decoded is None and not self.suspect

    def rows(self, skip_through: int, first_line: int = 2) -> Iterator[SourceRow]:
        """Every row ending after line ``skip_through``, good or rejected; the line after the
        header is numbered ``first_line``."""
        feed = self.feed
        reader = feed.reader()
        next(reader)  # the header, checked by read_csv_header
        feed.line = first_line - 1
        kept = feed.kept
        while True:
            kept.clear()  # the previous row's lines
            first = feed.line + 1
            read = self._next(reader, first)
            if read is None:
                return
            cells, broken = read
            if broken is not None:
                self.broke = True
                if first > skip_through:
                    yield self._broken(first, broken)
                self.suspect = first
                feed.resume_after(first)
                reader = feed.reader()
                continue
            last = feed.line
            if last <= skip_through or _is_blank(cells):
                continue  # committed already, or a blank line
            row = self._row(first, last, cells)
            if row is not None:
                yield row

    def _next(self, reader: Iterator[list[str]], first: int
              ) -> tuple[list[str], str | None] | None:
        """The next row's cells and why it is broken (``None`` if it is not); ``None`` at the
        end of the file."""
        feed, limit = self.feed, self.options.max_row_lines
        try:
            cells = next(reader)
        except StopIteration:
            if not feed.overflow:
                return None
            return [], _unclosed(first, limit, overflow=True)
        except csv.Error as exc:
            if feed.overflow or "unexpected end of data" in str(exc):
                return [], _unclosed(first, limit, feed.overflow)
            if "field limit" in str(exc):
                return [], (f"a cell is longer than {csv.field_size_limit()} characters, "
                            f"the most a CSV cell may hold")
            return [], f"not valid CSV: {exc}"
        if feed.line > first and _swallows_rows(feed.kept, self.width_ok,
                                                self.options.delimiter):
            return cells, (f"unbalanced quote: the quoted cell opened on line {first} runs "
                           f"over lines {first + 1}–{feed.line}, which hold complete rows")
        return cells, None

    def _broken(self, first: int, broken: str) -> SourceRow:
        """The reject of a row that is not valid CSV: its first line only."""
        last = self.feed.line
        span = f"line {first}" if last <= first else f"lines {first}–{last}"
        return SourceRow(first, first, problem=(
            f"{broken} ({span} read as one row; line {first} rejected, reading "
            f"resumed at line {first + 1})"))

    def _row(self, first: int, last: int, cells: list[str]) -> SourceRow | None:
        """The row of valid CSV ``cells``: its values, or why it is rejected."""
        width, width_ok = len(cells), self.width_ok
        if width == width_ok and self.fast:  # the common case: a complete row, nothing odd
            return SourceRow(first, last, values=dict(zip(self.header,
                                                          [cell or None for cell in cells],
                                                          strict=True)),
                             text=self.feed.kept[0] if first == last else None)
        if self.suspect:
            if width != width_ok:
                # maybe text of the quoted cell that broke: only a complete row is trusted
                return SourceRow(first, last, raw={"_cells": cells}, problem=(
                    f"line {first} follows the unbalanced quote of line {self.suspect} and is "
                    f"not a complete row ({width} cells, the header has {width_ok})"))
            self.suspect = 0
        bad = [name for i, name in self.unknown if i < width and not is_empty(cells[i])]
        bad_byte = self._bad_byte(first, last)
        if width > width_ok or bad_byte is not None or bad:
            return self._rejected(first, last, cells, bad_byte, bad)
        return SourceRow(first, last, values=self._values(cells))

    def _values(self, cells: list[str]) -> dict[str, Any]:
        """A good row's values: only those (the raw row is kept for rejects alone)."""
        width = len(cells)
        if width == self.width_ok and not self.unknown:  # the common case, built in C
            return dict(zip(self.header, [cell or None for cell in cells], strict=False))
        return {name: (cells[i] if i < width and cells[i] != "" else None)
                for i, name in self.known}

    def _bad_byte(self, first: int, last: int) -> int | None:
        """The first undecodable byte on the row's lines, if any."""
        decoded = self.decoded
        if decoded is None or not decoded.bad:
            return None
        return next((b for n, b in decoded.bad.items() if first <= n <= last), None)

    def _rejected(self, first: int, last: int, cells: list[str], bad_byte: int | None,
                  bad: list[str]) -> SourceRow:
        """The reject of a row with too many cells, an undecodable byte or a value in a
        column the table does not have (in that order)."""
        raw: dict[str, Any] = dict(zip(self.header, cells, strict=False))
        if len(cells) > self.width_ok:
            raw["_extra_cells"] = cells[self.width_ok:]
            return SourceRow(first, last, raw=raw, problem=(
                f"{len(cells)} cells but the header has {self.width_ok} columns"))
        if bad_byte is not None:
            encoding = self.options.encoding
            return SourceRow(first, last, raw=raw, problem=(
                encoding_hint(bad_byte) if encoding is None
                else f"byte 0x{bad_byte:02x} is not {encoding}"))
        return SourceRow(first, last, raw=raw, field=bad[0],
                         problem=unknown_column_problem(self.table, bad, self.allowed))


def _is_blank(cells: list[str]) -> bool:
    """True for a row without cells or whose cells are all empty."""
    return not cells or (is_empty(cells[0]) and all(is_empty(cell) for cell in cells))
