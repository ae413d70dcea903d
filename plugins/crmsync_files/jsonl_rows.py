"""The JSON Lines reader: one JSON object per line, each a :class:`SourceRow` (see
:mod:`crmsync_files.row_readers`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from crmsync_files.file_checks import encoding_hint
from crmsync_files.row_readers import (
    BOM,
    MAX_PAYLOAD_TEXT,
    ReadOptions,
    SourceRow,
    is_empty,
    unknown_column_problem,
)

__all__ = ["read_jsonl_rows"]

_DEFAULTS = ReadOptions()


def read_jsonl_rows(path: Path, table: str, allowed: Sequence[str], skip_through: int = 0,
                    options: ReadOptions = _DEFAULTS) -> Iterator[SourceRow]:
    """Yield the rows of a JSON Lines file: one JSON object per line, blank lines ignored.

    :param allowed: the keys a row may have a non-null value for.
    :param skip_through: skip lines up to and including this one (a resumed pass).
    :param options: ``encoding`` is the one that applies.
    """
    allowed_set = frozenset(allowed)
    encoding = options.encoding or "utf-8"
    with open(path, "rb") as stream:
        for number, data in enumerate(stream, start=1):
            if number <= skip_through:
                continue
            if number == 1 and data.startswith(BOM) and encoding == "utf-8":
                data = data[len(BOM):]
            row = _jsonl_row(number, data, table, allowed, allowed_set, options.encoding)
            if row is not None:
                yield row


def _jsonl_row(number: int, data: bytes, table: str, allowed: Sequence[str],
               allowed_set: frozenset[str], encoding: str | None) -> SourceRow | None:
    """Line ``number``'s row: its values, why it is rejected, or ``None`` for a blank line."""
    try:
        text = data.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode(encoding or "utf-8", errors="replace")
        byte = data[exc.start]
        return SourceRow(number, number, raw={"text": text[:MAX_PAYLOAD_TEXT]},
                         problem=encoding_hint(byte) if encoding is None
                         else f"byte 0x{byte:02x} is not {encoding}")
    if not text.strip():
        return None
    try:
        row = json.loads(text)
    except ValueError as exc:
        return SourceRow(number, number, raw={"text": text[:MAX_PAYLOAD_TEXT]},
                         problem=f"line {number} is not valid JSON: {exc}")
    if not isinstance(row, dict):
        return SourceRow(number, number, raw={"text": text[:MAX_PAYLOAD_TEXT]},
                         problem=f"line {number} is not a JSON object")
    bad = [key for key, value in row.items() if key not in allowed_set and not is_empty(value)]
    if bad:
        return SourceRow(number, number, raw=row, field=bad[0],
                         problem=unknown_column_problem(table, bad, allowed))
    return SourceRow(number, number, values={key: value for key, value in row.items()
                                             if key in allowed_set})
