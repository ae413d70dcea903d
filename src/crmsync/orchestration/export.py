"""Export the store's synced tables as a folder the ``files`` connector reads back.

One ``<table>.csv`` or ``<table>.jsonl`` per table, with every column a connector may set
(all but ``id``, ``connection``, ``synced_at`` and ``raw``), one connection at a time. Rows are
streamed from the database and written to temporary files that replace the targets only once
every table has been written, so a failed export leaves the folder as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from crmsync.core.errors import ConfigError
from crmsync.core.schema import BOOK_KEEPING_COLUMNS, SYNCED_TABLES, sync_state

__all__ = ["FORMATS", "EXPORTED_COLUMNS", "export_store", "format_csv_value", "format_json_value"]

#: Export formats: the file extension for each.
FORMATS = ("csv", "jsonl")
#: The columns written for each table, in schema order.
EXPORTED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns
                if c.name not in BOOK_KEEPING_COLUMNS and c.name != "raw")
    for name, table in SYNCED_TABLES.items()
}
_YIELD_PER = 5000


def _timestamp(value: dt.datetime) -> str:
    """ISO 8601 for a store timestamp (naive UTC), microseconds only when non-zero."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat()


def _compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_json_value(value: Any) -> Any:
    """A store value as a JSONL value: timestamps and dates as ISO 8601 text, the rest as is."""
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def format_csv_value(value: Any) -> str:
    """A store value as CSV text.

    ``None`` is the empty string, booleans ``true``/``false``, floats their shortest
    round-trip form, timestamps and dates ISO 8601, JSON (``custom``) compact with sorted keys.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return _compact_json(value)
    return str(value)


def _format_csv_json(value: Any) -> str:
    """A JSON column's value as CSV text: compact JSON, even for a bare string."""
    return "" if value is None else _compact_json(value)


def _write_csv(stream: IO[str], table: str, rows: Iterable[Sequence[Any]]) -> int:
    columns = EXPORTED_COLUMNS[table]
    formatters = [_format_csv_json if isinstance(SYNCED_TABLES[table].c[name].type, sa.JSON)
                  else format_csv_value for name in columns]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([fmt(value) for fmt, value in zip(formatters, row, strict=True)])
        count += 1
    return count


def _write_jsonl(stream: IO[str], table: str, rows: Iterable[Sequence[Any]]) -> int:
    columns = EXPORTED_COLUMNS[table]
    count = 0
    for row in rows:
        record = {name: format_json_value(value) for name, value in zip(columns, row, strict=True)}
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


_WRITERS: dict[str, Callable[[IO[str], str, Iterable[Sequence[Any]]], int]] = {
    "csv": _write_csv,
    "jsonl": _write_jsonl,
}


def _store_connections(conn: sa.Connection, tables: Sequence[str]) -> list[str]:
    """The connections that have rows in ``tables`` or a cursor in ``sync_state``."""
    names: set[str] = set()
    inspector = sa.inspect(conn)
    for table in [*(SYNCED_TABLES[name] for name in tables), sync_state]:
        if inspector.has_table(table.name):
            names.update(conn.scalars(sa.select(table.c.connection).distinct()))
    return sorted(names)


def _choose_connection(conn: sa.Connection, tables: Sequence[str],
                       connection: str | None) -> str | None:
    """The connection to export: ``connection``, or the store's only one.

    :raises ConfigError: when the store has several connections and none was chosen, or the
        chosen one is not in the store.
    """
    known = _store_connections(conn, tables)
    if connection is None:
        if len(known) > 1:
            raise ConfigError(f"the store has {len(known)} connections ({', '.join(known)}); "
                              f"choose one with --connection")
        return known[0] if known else None
    if connection not in known:
        listed = ", ".join(known) or "none"
        raise ConfigError(f"connection '{connection}' is not in the store "
                          f"(connections: {listed})")
    return connection


def _check_tables(tables: Sequence[str] | None) -> list[str]:
    """``tables`` validated, or every synced table."""
    if tables is None:
        return list(SYNCED_TABLES)
    unknown = [name for name in tables if name not in SYNCED_TABLES]
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(unknown)} "
                          f"(tables: {', '.join(SYNCED_TABLES)})")
    return list(dict.fromkeys(tables))


def _check_directory(directory: Path, fmt: str, tables: Sequence[str]) -> None:
    """Refuse to write next to a file the connector would read instead of (or with) ours."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder")
    others = [directory / f"{name}.{ext}" for name in tables for ext in FORMATS if ext != fmt]
    clashes = [path.name for path in others if path.exists()]
    if clashes:
        raise ConfigError(f"{directory} already holds {', '.join(clashes)}; the files connector "
                          f"cannot read a table from two files, so export {fmt} to another "
                          f"folder or remove them")


def _stream_rows(conn: sa.Connection, table_name: str,
                 connection: str | None) -> Iterable[Sequence[Any]]:
    """The exported columns of ``table_name``'s rows for ``connection``, in insertion order."""
    table = SYNCED_TABLES[table_name]
    query = sa.select(*(table.c[name] for name in EXPORTED_COLUMNS[table_name]))
    if connection is not None:
        query = query.where(table.c.connection == connection)
    result = conn.execution_options(yield_per=_YIELD_PER).execute(query.order_by(table.c.id))
    for partition in result.partitions():
        yield from partition


def export_store(engine: sa.Engine, directory: str | Path, fmt: str = "csv", *,
                 connection: str | None = None,
                 tables: Sequence[str] | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Write the store's synced tables to ``directory`` as the ``files`` connector reads them.

    Every selected table gets a file, even when it has no rows (a CSV then holds its header
    only), so an export is a complete picture of the connection.

    :param engine: the store.
    :param directory: the folder to write to; created if missing. Files of the same name are
        replaced.
    :param fmt: ``"csv"`` or ``"jsonl"``.
    :param connection: the connection to export; may be left out when the store has one.
    :param tables: the tables to export; all synced tables by default.
    :param progress: ``progress(table, done, total)`` before each table is written.
    :return: the number of rows written per table.
    :raises ConfigError: for an unknown format or table, a store with several connections and
        no ``connection``, an unknown ``connection``, or a folder already holding the same
        tables in the other format.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (formats: {', '.join(FORMATS)})")
    names = _check_tables(tables)
    folder = Path(directory).expanduser()
    _check_directory(folder, fmt, names)
    folder.mkdir(parents=True, exist_ok=True)

    written: dict[str, int] = {}
    temporary: dict[Path, Path] = {}
    try:
        with engine.connect() as conn:
            chosen = _choose_connection(conn, names, connection)
            for done, name in enumerate(names):
                if progress is not None:
                    progress(name, done, len(names))
                target = folder / f"{name}.{fmt}"
                temp = folder / f".{name}.{fmt}.tmp"
                temporary[temp] = target
                with open(temp, "w", encoding="utf-8", newline="") as stream:
                    written[name] = _WRITERS[fmt](stream, name, _stream_rows(conn, name, chosen))
        for temp, target in temporary.items():
            os.replace(temp, target)
    finally:
        for temp in temporary:
            temp.unlink(missing_ok=True)
    return written
