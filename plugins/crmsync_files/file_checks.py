"""Whole-file problems: the ones that would reject every row of a file, found once, up front.

A header typo (``amout``), a missing required column or a ``;``-delimited file would
otherwise reject every row one by one (``docs/connectors/files.md#whole-file-problems``).
:func:`header_problems` names each such problem once; ``read`` fails the table with them and
``check`` reports them before any sync.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["header_problems", "delimiter_hint", "undecodable", "encoding_hint"]

_DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_SETTING = {",": '","', ";": '";"', "\t": '"\\t"', "|": '"|"'}


def delimiter_hint(first_line: str, delimiter: str, allowed: Sequence[str]) -> str | None:
    """``"looks ';'-delimited …"`` when splitting the header line on another delimiter gives
    mostly known column names, else ``None``."""
    known = frozenset(allowed)
    for other in _DELIMITERS:
        if other == delimiter or other not in first_line:
            continue
        names = [name.strip().strip('"') for name in first_line.split(other)]
        hits = sum(name in known for name in names)
        if len(names) >= 2 and hits >= max(2, len(names) // 2):
            return (f"the header looks {_NAMES[other]}-delimited ({hits} known columns when "
                    f"split on {_NAMES[other]}); set delimiter = {_SETTING[other]} for this "
                    f"file, or save it comma-separated")
    return None


def header_problems(header: Sequence[str], table: str, allowed: Sequence[str],
                    required: Sequence[str]) -> list[str]:
    """The problems of a CSV header that concern every row of the file.

    * a column named twice;
    * an unknown column close to an allowed one the header lacks (a typo: "did you mean");
    * a required column the header lacks.

    An unknown column like no allowed one is not a whole-file problem: a row with a value in it
    is rejected, an empty one is ignored.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(f"column '{name}' appears twice")
        seen.add(name)
    known = frozenset(allowed)
    absent = [name for name in allowed if name not in seen]
    folded = {a.lower(): a for a in absent}
    meant: set[str] = set()  # allowed columns a typo stands for
    for name in header:
        if name in known or not name:
            continue
        match = folded.get(name.lower()) or next(
            iter(difflib.get_close_matches(name, absent, n=1, cutoff=0.75)), None)
        if match is not None:
            meant.add(match)
            problems.append(f"unknown column '{name}' for table {table} — did you mean "
                            f"'{match}'?")
    for name in required:
        if name not in seen and name not in meant:
            problems.append(f"required column '{name}' is missing from the header")
    return problems


def undecodable(path: Path, encoding: str, chunk: int = 1 << 20) -> tuple[int, int] | None:
    """``(line, byte)`` of the first byte of ``path`` that ``encoding`` cannot decode, or
    ``None`` when the whole file decodes (checked in C, a megabyte at a time)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0  # line breaks before the current chunk (a held-back partial character has none)
    with open(path, "rb") as stream:
        while True:
            data = stream.read(chunk)
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                buffer = bytes(exc.object)
                return lines + buffer.count(b"\n", 0, exc.start) + 1, buffer[exc.start]
            if not data:
                return None
            lines += data.count(b"\n")


def encoding_hint(byte: int) -> str:
    """What to do about a file that is not UTF-8."""
    return (f"byte 0x{byte:02x} is not UTF-8; if the file is in another encoding, set "
            f'encoding for it (e.g. encoding = "cp1252" for a file saved by Excel on Windows)')
