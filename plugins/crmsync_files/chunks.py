"""A CSV file read a block of lines at a time: the fast path of a large load.

Most rows of an export sit on one line, with the header's width. :func:`read_csv_chunks`
reads the file in blocks of whole lines (:data:`CHUNK_BYTES`), parses each block with one
:func:`csv.reader` call (in C) and, when every line of it is one such row, yields the block
as a :class:`Chunk`: its cells and lines, with no object made per row
(:meth:`crmsync_files.passes.Pass.batches` takes it a column at a time). Anything else is read
by the row-by-row reader of :mod:`crmsync_files.row_readers`, so rows and rejects are the
same either way:

* a block whose lines are rows but not all of the header's width, or with a blank row:
  its rows one by one (:func:`~crmsync_files.row_readers.read_csv_lines`);
* a block that does not parse line for line (a quoted cell holding a line break, an
  unbalanced quote, a cell over the size limit): the rest of the file, row by row;
* a file with a column the table lacks or bytes its encoding cannot decode, and a pass
  resumed mid-file: the whole file, row by row (:func:`~crmsync_files.row_readers.read_csv_rows`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import NamedTuple

from crmsync import RowRecords
from crmsync_files.file_checks import undecodable
from crmsync_files.row_readers import (
    ReadOptions,
    SourceRow,
    read_csv_from,
    read_csv_header,
    read_csv_lines,
    read_csv_rows,
)

__all__ = ["CHUNK_BYTES", "Chunk", "read_csv_chunks"]

#: About how many bytes of lines one block holds (whole lines: a block may hold more).
CHUNK_BYTES = 1 << 18


class Chunk(NamedTuple):
    """Consecutive lines of a CSV file, each one row of the header's width.

    :param names: the header.
    :param first_line: the physical line of the first row (the header is line 1).
    :param rows: the rows' cells (empty cells as ``""``).
    :param texts: the rows' lines, with their line breaks (the line index's digests).
    """

    names: tuple[str, ...]
    first_line: int
    rows: list[list[str]]
    texts: list[str]

    def source_rows(self) -> list[SourceRow]:
        """The rows as the row-by-row reader gives them."""
        records, first = RowRecords(self.names, self.rows), self.first_line
        return [SourceRow(first + i, first + i, records[i], text=text)
                for i, text in enumerate(self.texts)]


def _line_for_line(lines: list[str], delimiter: str) -> list[list[str]] | None:
    """The rows of ``lines`` when each line is one row; ``None`` when it is not."""
    try:
        rows = list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error:
        return None
    return rows if len(rows) == len(lines) else None


def _plain(rows: Sequence[list[str]], width: int) -> bool:
    """True when every row has ``width`` cells and a first cell that is not blank (a row
    whose first cell is blank may be blank throughout: the row-by-row reader skips those)."""
    return all(len(r) == width for r in rows) and all(r[0].strip() for r in rows)


def read_csv_chunks(path: Path, table: str, allowed: Sequence[str], skip_through: int = 0,
                    options: ReadOptions = ReadOptions()  # noqa: B008 - frozen
                    ) -> Iterator[SourceRow | Chunk]:
    """The rows of a CSV file as :func:`~crmsync_files.row_readers.read_csv_rows` yields
    them, runs of plain ones as :class:`Chunk` blocks.

    :raises ConnectorError: for a whole-file problem (:mod:`crmsync_files.file_checks`).
    """
    header, problems = read_csv_header(path, table, allowed, options)
    if problems or skip_through or set(header) - set(allowed) \
            or undecodable(path, options.encoding or "utf-8") is not None:
        yield from read_csv_rows(path, table, allowed, skip_through, options)
        return
    if not header:
        return
    names, width = tuple(header), len(header)
    with open(path, encoding=options.encoding or "utf-8-sig", newline="") as stream:
        header_line = stream.readline()
        line = 2
        while lines := stream.readlines(CHUNK_BYTES):
            rows = _line_for_line(lines, options.delimiter)
            if rows is not None and _plain(rows, width):
                yield Chunk(names, line, rows, lines)
                line += len(lines)
                continue
            found = None if rows is None else read_csv_lines(
                header, header_line, table, allowed, options, lines, line)
            if found is None:  # rows across lines: the rest of the file row by row
                yield from read_csv_from(header, header_line, table, allowed, options,
                                         chain(lines, stream), line)
                return
            yield from found
            line += len(lines)
