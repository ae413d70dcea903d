"""The ``files`` connector: a folder of CSV or JSON Lines files, one per schema table.

Files are named ``<table>.csv`` or ``<table>.jsonl`` and their columns are the schema's
(``docs/schema.md``) minus the ones the engine owns (``id``, ``connection``, ``synced_at``).
Any subset of tables may be present. Reads are incremental by ``remote_updated_at`` and resume
mid-file after a crash; see :mod:`crmsync_files.cursor`.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from crmsync import (
    BOOK_KEEPING_COLUMNS,
    HISTORY_FIELDS,
    SYNCED_TABLES,
    Batch,
    ConfigError,
    Connector,
    ConnectorError,
    Setting,
    StandingRejects,
)
from crmsync_files import line_index
from crmsync_files.chunks import read_csv_chunks
from crmsync_files.cursor import FileCursor, file_signature
from crmsync_files.date_formats import DateColumns
from crmsync_files.file_checks import encoding_hint, undecodable
from crmsync_files.history_values import normalised_history
from crmsync_files.jsonl_rows import read_jsonl_rows
from crmsync_files.line_index import IndexBuilder, LineIndex, Scan, index_key, scan_file
from crmsync_files.passes import Pass, Retry, known_ids, present_entries, seen_ids
from crmsync_files.row_readers import (
    ReadOptions,
    SourceRow,
    read_csv_header,
    read_csv_lines,
)

__all__ = ["FilesConnector", "ALLOWED_COLUMNS"]

#: The columns a file may hold for each table, in schema order.
ALLOWED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns if c.name not in BOOK_KEEPING_COLUMNS)
    for name, table in SYNCED_TABLES.items()
}
_FORMATS = ("csv", "jsonl")
#: The columns a CSV header must have, per table.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns
                if c.name == "remote_id" or c.info.get("required"))
    for name, table in SYNCED_TABLES.items()
}
#: The reader for each file extension.
ROW_READERS = {"csv": read_csv_chunks, "jsonl": read_jsonl_rows}
_PER_FILE = ("encoding", "delimiter", "date_format")


class FilesConnector(Connector):
    """Reads the unified schema from a folder of ``<table>.csv`` / ``<table>.jsonl`` files.

    Values are passed on as read (strings from CSV, JSON values from JSONL) for the engine to
    validate; empty CSV cells and JSON nulls become ``None``. Every record's source is given
    as ``"<file> line <n>"``.
    """

    NAME = "files"
    ENTITIES = tuple(SYNCED_TABLES)
    INPUT_SOURCES: ClassVar[Mapping[str, str]] = {
        t: f"{t}.csv through the files connector" for t in SYNCED_TABLES}
    SETTINGS: ClassVar[Mapping[str, Setting]] = {
        "path": Setting(str, "the folder holding one <table>.csv or <table>.jsonl per table "
                             "(relative to the config file)", path=True),
        "batch_size": Setting(int, "records per batch (each batch is one transaction)",
                              default=2000),
        "format": Setting(str, "which files to read: 'csv', 'jsonl', or 'auto' for either "
                               "(both for one table is an error)",
                          default="auto", choices=("auto", *_FORMATS)),
        "encoding": Setting((str, dict), "the files' text encoding (e.g. 'cp1252'), or a table "
                                         "of encodings by table name; default UTF-8",
                            default="utf-8"),
        "delimiter": Setting((str, dict), "the CSV cell delimiter (one character, e.g. ';'), "
                                          "or a table of delimiters by table name",
                             default=","),
        "date_format": Setting((str, dict), "a strptime format for dates and timestamps that "
                                            "are not ISO 8601 (e.g. '%m/%d/%Y'), or a table of "
                                            "formats by table name", default=""),
        "max_row_lines": Setting(int, "the most lines one CSV row may span (quoted cells "
                                      "holding line breaks); a quote still open after that "
                                      "is unbalanced", default=100),
        "history_fields": Setting(list, "the tracked opportunity fields the "
                                        "opportunity_field_history file has every change "
                                        "of; default: all of them when the file is there",
                                  default=None),
    }

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.folder = Path(self.settings["path"]).expanduser()
        self.batch_size: int = self.settings["batch_size"]
        if self.batch_size < 1:
            raise ConfigError(f"must be at least 1, got {self.batch_size}",
                              section=self._section, key="batch_size")
        if self.settings["max_row_lines"] < 1:
            raise ConfigError(f"must be at least 1, got {self.settings['max_row_lines']}",
                              section=self._section, key="max_row_lines")
        for key in _PER_FILE:
            value = self.settings[key]
            for table, one in (value.items() if isinstance(value, dict) else [(None, value)]):
                self._check_per_file(key, table, one)
        unknown = set(self.settings["history_fields"] or ()) - set(HISTORY_FIELDS)
        if unknown:
            raise ConfigError(f"not tracked fields: {', '.join(sorted(map(str, unknown)))} "
                              f"(tracked: {', '.join(HISTORY_FIELDS)})",
                              section=self._section, key="history_fields")
        self._standing: dict[str, StandingRejects] = {}

    def _check_per_file(self, key: str, table: str | None, value: Any) -> None:
        """:raises ConfigError: for a bad per-file setting value."""
        section = self._section if table is None else f"{self._section}.{key}"
        where = key if table is None else table
        if table is not None and table not in self.ENTITIES:
            raise ConfigError(f"no such table (tables: {', '.join(self.ENTITIES)})",
                              section=section, key=where)
        if not isinstance(value, str):
            raise ConfigError(f"expected str, got {type(value).__name__} {value!r}",
                              section=section, key=where)
        if key == "encoding":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ConfigError(f"unknown encoding {value!r} (e.g. 'utf-8', 'cp1252', "
                                  f"'latin-1')", section=section, key=where) from None
        elif key == "delimiter" and len(value) != 1:
            raise ConfigError(f"expected one character, got {value!r}", section=section,
                              key=where)
        elif key == "date_format" and value and "%" not in value:
            raise ConfigError(f"expected a strptime format such as '%m/%d/%Y', got {value!r}",
                              section=section, key=where)

    def _per_file(self, key: str, table: str) -> Any:
        """A per-file setting's value for ``table``'s file."""
        value = self.settings[key]
        if isinstance(value, dict):
            return value.get(table, self.SETTINGS[key].default)
        return value

    def options(self, table: str) -> ReadOptions:
        """How to read ``table``'s file."""
        encoding = codecs.lookup(self._per_file("encoding", table)).name
        return ReadOptions(encoding=None if encoding == "utf-8" else encoding,
                           delimiter=self._per_file("delimiter", table),
                           max_row_lines=self.settings["max_row_lines"],
                           required=REQUIRED_COLUMNS[table])

    @property
    def _section(self) -> str:
        return f"connections.{self.name}"

    # -- files ------------------------------------------------------------------------------

    def _check_folder(self) -> None:
        """:raises ConfigError: when :attr:`folder` is missing or not a folder."""
        if not self.folder.exists():
            raise ConfigError(f"folder {self.folder} does not exist",
                              section=self._section, key="path")
        if not self.folder.is_dir():
            raise ConfigError(f"{self.folder} is not a folder", section=self._section, key="path")

    def table_file(self, table: str) -> Path | None:
        """The file holding ``table``, or ``None`` when the folder has none.

        :raises ConfigError: when the folder is missing, or when ``format = "auto"`` and both a
            ``.csv`` and a ``.jsonl`` file exist for the table.
        """
        self._check_folder()
        formats = _FORMATS if self.settings["format"] == "auto" else (self.settings["format"],)
        found = [path for path in (self.folder / f"{table}.{ext}" for ext in formats)
                 if path.is_file()]
        if len(found) > 1:
            raise ConfigError(f"both {found[0]} and {found[1]} exist for table {table}; "
                              f"remove one or set format", section=self._section, key="path")
        return found[0] if found else None

    def file_problems(self, table: str, path: Path) -> list[str]:
        """The whole-file problems of ``table``'s file: a CSV header's (a typo, a missing
        required column, another delimiter) and, without an ``encoding`` setting, bytes
        that are not UTF-8."""
        options = self.options(table)
        problems = []
        if path.suffix == ".csv":
            problems = read_csv_header(path, table, ALLOWED_COLUMNS[table], options)[1]
        bad = undecodable(path, options.encoding or "utf-8")
        if bad is not None:
            line, byte = bad
            problems.append(f"line {line}: {encoding_hint(byte)}" if options.encoding is None
                            else f"line {line}: byte 0x{byte:02x} is not {options.encoding}")
        return [f"{path.name}: {problem}" for problem in problems]

    def check(self) -> str:
        """Describe the folder: the table files found, and files that match no table.

        :raises ConnectorError: naming every whole-file problem (:meth:`file_problems`).
        """
        found = [(table, path) for table in self.ENTITIES if (path := self.table_file(table))]
        problems = [p for table, path in found for p in self.file_problems(table, path)]
        if problems:
            raise ConnectorError("; ".join(problems))
        files = [path for _, path in found]
        known = {path.name for path in files}
        ignored = sorted(p.name for p in self.folder.iterdir()
                         if p.suffix.lstrip(".") in _FORMATS and p.name not in known)
        noun = "table" if len(files) == 1 else "tables"
        summary = f"folder {self.folder}: {len(files)} {noun}"
        if files:
            summary += f" ({', '.join(path.name for path in files)})"
        if ignored:
            summary += f"; ignored (no such table or format): {', '.join(ignored)}"
        return summary

    def history_fields(self) -> frozenset[str]:
        """The ``history_fields`` setting, else every tracked field when the folder has an
        ``opportunity_field_history`` file, else none (the engine observes the rest)."""
        if self.settings["history_fields"] is not None:
            return frozenset(self.settings["history_fields"])
        has_file = self.folder.is_dir() and self.table_file("opportunity_field_history")
        return frozenset(HISTORY_FIELDS) if has_file else frozenset()

    # -- reading ----------------------------------------------------------------------------

    def retry_rejects(self, entity: str, standing: StandingRejects) -> None:
        """Remember the rows of ``entity`` rejected earlier: the next :meth:`read` reads them
        again (by line, or by ``remote_id``) even when they are older than its cursor."""
        self._standing[entity] = standing

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Yield the rows of ``entity``'s file changed since ``cursor``, in file order.

        The folder is checked before the first batch is asked for. A table without a file
        yields one empty batch that keeps ``since``.

        :raises ConfigError: see :meth:`table_file`.
        """
        if entity not in self.ENTITIES:
            raise ConnectorError(f"no such table (tables: {', '.join(self.ENTITIES)})",
                                 connection=self.name, entity=entity)
        path = self.table_file(entity)
        state = FileCursor.from_json(cursor)
        if path is None:
            return iter([Batch(cursor=FileCursor(state.since).to_json())])
        batches = self._read_file(entity, path, state)
        if entity == "opportunity_field_history":
            return normalised_history(batches)
        return batches

    def _read_file(self, entity: str, path: Path, state: FileCursor) -> Iterator[Batch]:
        """One pass over ``path``, resumed from ``state.resume`` if the file is unchanged;
        of its changed lines only when the last complete pass left a line index."""
        signature = file_signature(path)
        standing = self._standing.get(entity, StandingRejects())
        if state.read == signature and not standing:
            # read completely by the last sync and unchanged since: nothing new to read, and
            # the stored cursor (its line index: megabytes) is kept, not written again
            yield Batch()
            return
        resume = state.resume if state.resume and state.resume.signature == signature else None
        options = self.options(entity)
        date_format = self._per_file("date_format", entity)
        key = self._index_key(entity, path, options, date_format)
        one = Pass(path.name, signature, state.since, resume.max_seen if resume else None,
                   self.batch_size, Retry(standing, path.name),
                   DateColumns(entity, date_format) if date_format else None,
                   IndexBuilder(key, limit=line_index.MAX_INDEX_ROWS) if key is not None
                   else None)
        index = LineIndex.from_json(state.lines) if state.lines and not resume else None
        if index is not None and index.key == key and one.builder is not None:
            changed = self._changed_rows(entity, path, index, one.retry, options)
            if changed is not None:
                scan, rows = changed
                one.builder.extend(*present_entries(index, scan))
                yield from one.batches(iter(rows), known_ids(index, scan, rows))
                return
        seen = seen_ids(path.name)
        try:
            yield from one.batches(ROW_READERS[path.suffix.lstrip(".")](
                path, entity, ALLOWED_COLUMNS[entity], resume.line if resume else 0, options),
                seen)
        finally:
            seen.close()  # its database on disk, for a file past SPILL_AT ids

    def _index_key(self, entity: str, path: Path, options: ReadOptions,
                   date_format: str) -> str | None:
        """What a line index of ``path`` is valid for; ``None`` for a file that keeps none (a
        JSON Lines file, one not in UTF-8, one with far more lines than an index holds)."""
        if path.suffix != ".csv" or options.encoding is not None \
                or line_index.estimated_lines(path) > line_index.MAX_INDEX_ROWS:
            return None
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
            header_line = stream.readline()
        return index_key(header_line, entity, ALLOWED_COLUMNS[entity], options, date_format)

    def _changed_rows(self, entity: str, path: Path, index: LineIndex, retry: Retry,
                      options: ReadOptions) -> tuple[Scan, list[SourceRow]] | None:
        """The rows of the lines of ``path`` not in ``index`` (and of those rejected before),
        or ``None`` when the file must be read whole (``crmsync_files.line_index``)."""
        allowed = ALLOWED_COLUMNS[entity]
        header, problems = read_csv_header(path, entity, allowed, options)
        if problems:
            raise ConnectorError(f"{path.name}: {'; '.join(problems)}", entity=entity)
        scan = scan_file(path, index, retry.lines, retry.remote_ids, options.delimiter)
        if scan is None:
            return None
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
            header_line = stream.readline()
        rows: list[SourceRow] = []
        for first, run in _runs(scan.changed):
            try:
                lines = [line.decode("utf-8") for line in run]
            except UnicodeDecodeError:
                return None
            found = read_csv_lines(header, header_line, entity, allowed, options, lines, first)
            if found is None:
                return None
            rows.extend(found)
        return scan, rows


def _runs(changed: list[tuple[int, bytes]]) -> Iterator[tuple[int, list[bytes]]]:
    """Consecutive lines grouped: ``(first line number, lines)``."""
    first, run = 0, list[bytes]()
    for number, line in changed:
        if run and number != first + len(run):
            yield first, run
            run = []
        if not run:
            first = number
        run.append(line)
    if run:
        yield first, run
