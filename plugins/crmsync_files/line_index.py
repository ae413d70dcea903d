"""The line index: which physical lines of a CSV file the last complete pass needs no more.

A CSV has no index, so without one an incremental sync of a changed file re-reads, re-parses
and re-validates every row only to skip the old ones. The cursor of a complete pass therefore
keeps, for every *settled* line (a one-line row the connector took as a record, whose
``remote_updated_at`` is older than the cursor's new ``since``), a 64-bit digest of its bytes
and of its ``remote_id``. The next pass over a changed file hashes its lines in C and parses
only the lines whose digest is not in the index (``docs/connectors/files.md``).

Why skipping a known line changes nothing: the same bytes under the same header and settings,
at the start of a row, make the same row; its timestamp is older than ``since`` (which only
grows), so the full read would have skipped it too. What the full read still learns from such
a row, its ``remote_id`` for the duplicate check, comes from the index. Whenever a pass cannot
show that every known line starts a row (a changed line leaves a quote open, a broken row, a
carriage return that ends a line alone, bytes that are not UTF-8, too many changed lines), it
is not used and the file is read whole as before.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import operator
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

__all__ = ["LineIndex", "IndexBuilder", "Scan", "scan_file", "id_hash", "estimated_lines",
           "index_key", "MAX_NEW_SHARE", "MAX_INDEX_ROWS"]

_DIGEST: Callable[[bytes], Any] = partial(hashlib.blake2b, digest_size=8)
_VALUE = operator.methodcaller("digest")
_CHUNK = 1 << 22
#: The most changed lines a pass parses on its own, as a share of the index (above it the
#: whole file is read, which then costs about the same).
MAX_NEW_SHARE = 0.2
_MIN_NEW = 10_000
#: The most lines an index holds (16 bytes each, about 21 in the cursor's JSON): a file with
#: more settled lines keeps none, so a sync's memory stays flat however large the file.
MAX_INDEX_ROWS = 1 << 19


def _digests(items: Iterable[bytes]) -> bytes:
    """The 8-byte digests of ``items``, concatenated (hashed in C, no Python loop)."""
    return b"".join(map(_VALUE, map(_DIGEST, items)))


_ENCODE = operator.methodcaller("encode", "utf-8")


def _text_digests(texts: Iterable[str]) -> bytes:
    return _digests(map(_ENCODE, texts))


def _extend(values: array[int], raw: bytes) -> None:
    """Add little-endian 8-byte values to ``values`` (whatever this machine's byte order)."""
    more = array("Q", raw)
    if sys.byteorder == "big":  # pragma: no cover - every machine this runs on is little-endian
        more.byteswap()
    values.extend(more)


def _little(values: array[int]) -> bytes:
    """``values`` as little-endian 8-byte values."""
    if sys.byteorder == "big":  # pragma: no cover - as above
        values = array("Q", values)
        values.byteswap()
    return values.tobytes()


def id_hash(remote_id: Any) -> int:
    """A stable 64-bit hash of a remote id (0 for none), as the index holds it."""
    if remote_id is None or remote_id == "":
        return 0
    return int.from_bytes(_DIGEST(str(remote_id).encode("utf-8")).digest(), "little")


def estimated_lines(path: Path, sample: int = 1 << 20) -> float:
    """About how many lines ``path`` has, from the line breaks in its first ``sample``
    bytes (a file larger than an index can hold then builds none)."""
    size = path.stat().st_size
    with open(path, "rb") as stream:
        head = stream.read(sample)
    return size * max(head.count(b"\n"), 1) / max(len(head), 1)


def index_key(header_line: str, *settings: Any) -> str:
    """What the index is valid for: the header line and the settings that change parsing."""
    text = "\x1f".join([header_line.rstrip("\r\n"), *map(repr, settings)])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class LineIndex:
    """The settled lines of the last complete pass: parallel digests of the line and of its
    row's ``remote_id``."""

    key: str
    digests: array[int]
    ids: array[int]

    @classmethod
    def from_json(cls, value: Any) -> LineIndex | None:
        """Parse the cursor's ``lines``; anything unrecognisable means no index."""
        if not isinstance(value, dict) or not isinstance(value.get("key"), str):
            return None
        try:
            digests, ids = array("Q"), array("Q")
            _extend(digests, base64.b64decode(value["digests"], validate=True))
            _extend(ids, base64.b64decode(value["ids"], validate=True))
        except (KeyError, TypeError, ValueError):
            return None
        return cls(value["key"], digests, ids) if len(digests) == len(ids) else None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "rows": len(self.digests),
                "digests": base64.b64encode(_little(self.digests)).decode("ascii"),
                "ids": base64.b64encode(_little(self.ids)).decode("ascii")}


class _Lines:
    """Lines and their rows' remote ids, hashed into arrays a few thousand at a time (in C)."""

    def __init__(self) -> None:
        self.digests: array[int] = array("Q")
        self.ids: array[int] = array("Q")
        self.texts: list[str] = []
        self.rids: list[str] = []

    def __len__(self) -> int:
        return len(self.digests) + len(self.texts)

    def hash(self) -> None:
        _extend(self.digests, _text_digests(self.texts))
        _extend(self.ids, _text_digests(self.rids))
        self.texts.clear()
        self.rids.clear()

    def move_to(self, other: _Lines) -> None:
        """Add these lines to ``other`` and forget them."""
        self.hash()
        other.hash()
        other.digests.extend(self.digests)
        other.ids.extend(self.ids)
        self.digests, self.ids = array("Q"), array("Q")


class IndexBuilder:
    """Collects the settled lines of a pass: a line counts when its row's timestamp ends up
    older than the pass's final ``since`` (rows at the greatest timestamp so far wait, as
    they are read again if it stays the greatest).

    :param limit: the most lines; a pass with more keeps no index (:attr:`over`).
    """

    def __init__(self, key: str, limit: int = MAX_INDEX_ROWS) -> None:
        self.key = key
        self.limit = limit
        self.over = False
        self._settled = _Lines()
        self._at_top = _Lines()
        self._top: dt.datetime | None = None

    def add(self, text: str, remote_id: str | None, updated_at: dt.datetime) -> None:
        """A row on one line (``text``, with its line break) whose timestamp is
        ``updated_at``."""
        top = self._top
        lines = self._settled
        if top is None or updated_at >= top:
            if top is None or updated_at > top:
                self._at_top.move_to(lines)
                self._top = updated_at
            lines = self._at_top
        lines.texts.append(text)
        lines.rids.append(remote_id or "")
        if len(lines.texts) >= 4096:
            lines.hash()
            self._check_size()

    def add_many(self, texts: list[str], remote_ids: list[str],
                 updated: list[dt.datetime | None]) -> None:
        """:meth:`add` for each row on one line with a timestamp (in file order); a block
        of rows all older than the greatest timestamp so far is added in one step."""
        top = self._top
        if top is not None and None not in updated \
                and max(cast("list[dt.datetime]", updated)) < top:
            lines = self._settled
            lines.texts.extend(texts)
            lines.rids.extend(remote_ids)
            if len(lines.texts) >= 4096:
                lines.hash()
                self._check_size()
            return
        for text, rid, at in zip(texts, remote_ids, updated, strict=True):
            if at is not None:
                self.add(text, rid, at)

    def extend(self, digests: Iterable[int], ids: Iterable[int]) -> None:
        """Lines known to be older than any ``since`` this pass can end with."""
        self._settled.digests.extend(digests)
        self._settled.ids.extend(ids)
        self._check_size()

    def _check_size(self) -> None:
        if len(self._settled) + len(self._at_top) > self.limit:
            self.over = True
            self._settled, self._at_top = _Lines(), _Lines()

    def finish(self, since: dt.datetime | None) -> LineIndex | None:
        """The index for a pass ending with cursor ``since`` (``None`` when it is over
        ``limit`` lines)."""
        if since is not None and self._top is not None and self._top < since:
            self._at_top.move_to(self._settled)
        self._settled.hash()
        self._check_size()
        if self.over:
            return None
        return LineIndex(self.key, self._settled.digests, self._settled.ids)


@dataclass
class Scan:
    """A changed file hashed line by line against the index.

    :param changed: the lines to parse, ``(line number, bytes)`` in file order.
    :param digests: every line's digest after the header, in file order (line ``n`` at
        ``n - 2``).
    :param present: the digests of the lines not to parse.
    """

    changed: list[tuple[int, bytes]]
    digests: array[int]
    present: set[int]


def _fresh(lines: list[bytes], values: array[int], known: set[int], present: set[int],
           first: int) -> list[tuple[int, bytes]]:
    """The lines of a chunk not in ``known``, numbered (the chunk starts at line ``first``);
    adds the chunk's digests to ``present``."""
    where = dict(zip(values, range(len(values)), strict=True))  # in C
    present.update(where)
    fresh = where.keys() - known
    if len(where) == len(values):  # no line twice in the chunk: the common case
        return sorted((first + where[digest], lines[where[digest]]) for digest in fresh)
    return [(first + i, lines[i]) for i, digest in enumerate(values) if digest in fresh]


def _line_digests(lines: list[bytes]) -> array[int]:
    values = array("Q")
    _extend(values, _digests(lines))
    if values.itemsize != 8:  # pragma: no cover - 'Q' is 8 bytes on every supported platform
        raise ValueError("array 'Q' is not 64-bit")
    return values


class _LoneReturn(Exception):
    """A carriage return ending a line alone: the CSV reader numbers such lines otherwise."""


def _chunks(path: Path) -> Iterator[list[bytes]]:
    """The file's physical lines after the header, each with its line break, a few MB at a
    time; a final line without one too.

    :raises _LoneReturn: for a carriage return not followed by a line feed.
    """
    with open(path, "rb") as stream:
        stream.readline()  # the header
        rest = b""
        while True:
            data = stream.read(_CHUNK)
            if not data:
                if b"\r" in rest:
                    raise _LoneReturn
                if rest:
                    yield [rest]
                return
            buffer = rest + data
            cut = buffer.rfind(b"\n") + 1
            body, rest = buffer[:cut], buffer[cut:]
            if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
                raise _LoneReturn
            if body:  # no lone carriage return: split at line feeds, as the CSV reader does
                yield body.splitlines(keepends=True)


def scan_file(path: Path, index: LineIndex, retry_lines: set[int],
              retry_ids: frozenset[str], delimiter: str) -> Scan | None:
    """Hash ``path``'s lines and pick the ones to parse: those not in ``index``, and the lines
    rejected before (by number, or holding a rejected ``remote_id``); ``None`` when the file
    cannot be read this way (see the module docstring)."""
    try:
        pattern = _ids_pattern(retry_ids, delimiter)
    except ValueError:
        return None
    known = set(index.digests)
    limit = max(_MIN_NEW, int(len(index.digests) * MAX_NEW_SHARE))
    changed: list[tuple[int, bytes]] = []
    digests = array("Q")
    present: set[int] = set()
    first = 2  # the line number of the chunk's first line
    try:
        for lines in _chunks(path):
            values = _line_digests(lines)
            digests.extend(values)
            changed.extend(_fresh(lines, values, known, present, first))
            if retry_lines or pattern is not None:
                _add_retried(changed, lines, values, known, first, retry_lines, pattern)
            if len(changed) > limit:
                return None
            first += len(lines)
    except _LoneReturn:
        return None
    changed.sort(key=operator.itemgetter(0))
    present.difference_update(digests[n - 2] for n, _ in changed)
    return Scan(changed, digests, present)


def _ids_pattern(ids: frozenset[str], delimiter: str) -> re.Pattern[bytes] | None:
    """A pattern finding the lines that may hold one of ``ids``.

    :raises ValueError: when an id could be written otherwise in a CSV cell (quoted), so
        lines cannot be searched for it.
    """
    if not ids:
        return None
    if any(c in rid for rid in ids for c in ('"', delimiter, "\n", "\r")):
        raise ValueError("a remote id a CSV cell would quote")
    return re.compile(b"|".join(re.escape(rid.encode("utf-8")) for rid in sorted(ids)))


def _add_retried(changed: list[tuple[int, bytes]], lines: list[bytes], values: array[int],
                 known: set[int], first: int, retry_lines: set[int],
                 pattern: re.Pattern[bytes] | None) -> None:
    """Add the known lines of a chunk that an earlier sync rejected."""
    end = first + len(lines)
    picked = {n for n in retry_lines if first <= n < end and values[n - first] in known}
    if pattern is not None:
        picked.update(first + i for i, line in enumerate(lines)
                      if pattern.search(line) and values[i] in known)
    changed.extend((n, lines[n - first]) for n in sorted(picked))
