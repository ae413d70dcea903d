"""The ``files`` connector: a folder of CSV or JSON Lines files, one per schema table.

Files are named ``<table>.csv`` or ``<table>.jsonl`` and their columns are the schema's
(``docs/schema.md``) minus the ones the engine owns (``id``, ``connection``, ``synced_at``).
Any subset of tables may be present. Reads are incremental by ``remote_updated_at`` and resume
mid-file after a crash; see :mod:`crmsync_files.cursor`.
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, overload

from crmsync import (
    BOOK_KEEPING_COLUMNS,
    HISTORY_FIELDS,
    SYNCED_TABLES,
    Batch,
    ConfigError,
    Connector,
    ConnectorError,
    Reject,
    Setting,
    StandingRejects,
)
from crmsync_files.cursor import FileCursor, Resume, file_signature, parse_timestamp
from crmsync_files.date_formats import DateColumns
from crmsync_files.file_checks import encoding_hint, undecodable
from crmsync_files.history_values import normalised_history
from crmsync_files.jsonl_rows import read_jsonl_rows
from crmsync_files.row_readers import ReadOptions, SourceRow, read_csv_header, read_csv_rows

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
ROW_READERS = {"csv": read_csv_rows, "jsonl": read_jsonl_rows}
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
        """One pass over ``path``, resumed from ``state.resume`` if the file is unchanged."""
        signature = file_signature(path)
        if state.read == signature and not self._standing.get(entity):
            # read completely by the last sync and unchanged since: nothing new to read
            yield Batch(cursor=state.to_json())
            return
        resume = state.resume if state.resume and state.resume.signature == signature else None
        since = state.since
        max_seen = resume.max_seen if resume else None
        rows = ROW_READERS[path.suffix.lstrip(".")](
            path, entity, ALLOWED_COLUMNS[entity], resume.line if resume else 0,
            self.options(entity))

        records: list[dict[str, Any]] = []
        lines: list[int] = []
        rejects: list[Reject] = []
        file_name = path.name
        retry = _Retry(self._standing.get(entity, StandingRejects()), file_name)
        date_format = self._per_file("date_format", entity)
        dates = DateColumns(entity, date_format) if date_format else None
        for row in _prepared(rows, dates, file_name):
            updated_at = _updated_at(row)
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
                cursor = FileCursor(since, Resume(signature, row.last_line, max_seen))
                yield Batch(records=records, sources=LineSources(file_name, lines),
                            rejects=rejects, cursor=cursor.to_json())
                records, lines, rejects = [], [], []
        yield Batch(records=records, sources=LineSources(file_name, lines), rejects=rejects,
                    cursor=FileCursor(_later(since, max_seen), read=signature).to_json())


def _prepared(rows: Iterator[SourceRow], dates: DateColumns | None, file_name: str
              ) -> Iterator[SourceRow]:
    """``rows`` with their dates in ISO 8601 (``date_format``), and a row whose remote id an
    earlier row of the file has rejected (one row per record; the first is kept)."""
    seen_ids: set[int] = set()  # hashes of the remote ids read in this pass
    for row in rows:
        if dates is not None and row.problem is None:
            row = dates.convert(row)
        if row.problem is None:
            row = _first_of_its_id(row, seen_ids, file_name)
        yield row


def _first_of_its_id(row: SourceRow, seen_ids: set[int], file_name: str) -> SourceRow:
    """``row``, or its reject when an earlier row of the pass has its remote id."""
    rid = row.values.get("remote_id")
    if rid is None or rid == "":
        return row
    key = hash(str(rid))
    if key in seen_ids:
        return row._replace(raw=row.values, field="remote_id", problem=(
            f"remote_id {rid!r} appears again: an earlier line of {file_name} "
            f"has it already (one row per record; the first is kept)"))
    seen_ids.add(key)
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


class _Retry:
    """The rows of the file rejected by an earlier sync, read again even when older than the
    cursor (by first line, or by remote id)."""

    def __init__(self, standing: StandingRejects, file_name: str) -> None:
        prefix = f"{file_name} line "
        self.lines = {int(s[len(prefix):]) for s in standing.sources
                      if s.startswith(prefix) and s[len(prefix):].isdigit()}
        self.remote_ids = standing.remote_ids

    def wants(self, row: SourceRow) -> bool:
        """True for a row an earlier sync rejected."""
        return bool(self.lines or self.remote_ids) and _retry(row, self.lines, self.remote_ids)


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


def _retry(row: SourceRow, lines: set[int], remote_ids: frozenset[str]) -> bool:
    """True for a row rejected by an earlier sync (same first line, or same remote id)."""
    if row.first_line in lines:
        return True
    rid = (row.raw or row.values).get("remote_id")
    return rid is not None and str(rid) in remote_ids


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    """The later of two optional timestamps."""
    if a is None or b is None:
        return a or b
    return max(a, b)
