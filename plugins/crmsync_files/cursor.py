"""The files connector's cursor and the tolerant timestamp parser it compares with.

A cursor is a JSON-able mapping::

    {"since": S, "resume": {"signature": SIG, "line": N, "max_seen": M} | None,
     "read": SIG}  # "read" only after a complete pass

* ``since``: the greatest ``remote_updated_at`` (ISO 8601, naive UTC) of earlier complete
  passes over the file; rows older than it are skipped, rows equal to it are read again.
* ``resume``: set while a pass is under way. ``signature`` (``"<size>:<mtime_ns>"``) identifies
  the file the pass read, ``line`` is the last physical line whose rows are committed and
  ``max_seen`` the greatest ``remote_updated_at`` read so far in the pass. When the file's
  signature has changed, the pass starts again from line 1.
* ``read``: the signature of the file the last complete pass read. While the file keeps it
  (and no earlier reject is to be read again), the next sync has nothing to read and skips
  the file without opening it (``docs/performance.md``).
* ``lines``: with ``read``, the :mod:`crmsync_files.line_index` of that pass (CSV files),
  which lets the next pass over a changed file parse only the lines that changed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Resume", "FileCursor", "parse_timestamp", "format_timestamp", "file_signature"]

_TIMESTAMP = re.compile(
    r"""\s*(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
        (?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})
            (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?
        \s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?\s*""",
    re.VERBOSE,
)


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Parse an ISO 8601 date or date-time as naive UTC, or return ``None`` when it isn't one.

    Accepts ``T`` or a space between date and time, optional seconds and fractions of any
    length, and an optional ``Z`` or ``±HH[:MM]`` offset (a value without one is UTC already).
    """
    parsed: dt.datetime | None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_text(value)
    else:
        return None
    if parsed is not None and parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _parse_text(value: str) -> dt.datetime | None:
    """``value`` as a datetime (aware when it has an offset), or ``None``."""
    try:  # the C parser handles the common forms; the regex below the tolerant rest
        return dt.datetime.fromisoformat(value)
    except ValueError:
        pass
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    try:
        return dt.datetime(
            int(match["year"]), int(match["month"]), int(match["day"]),
            int(match["hour"] or 0), int(match["minute"] or 0), int(match["second"] or 0),
            int(fraction), tzinfo=_zone(match["zone"]),
        )
    except ValueError:  # out-of-range parts, e.g. month 13
        return None


def _zone(text: str | None) -> dt.tzinfo | None:
    """The tzinfo for a ``Z`` or ``±HH[:MM]`` suffix."""
    if not text:
        return None
    if text in "Zz":
        return dt.timezone.utc
    digits = text[1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return dt.timezone(-offset if text[0] == "-" else offset)


def format_timestamp(value: dt.datetime | None) -> str | None:
    """The cursor's text for a naive UTC timestamp."""
    return value.isoformat() if value is not None else None


def file_signature(path: Path) -> str:
    """``"<size>:<mtime_ns>"``: changes whenever the file is rewritten or appended to."""
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@dataclass(frozen=True)
class Resume:
    """Where an unfinished pass over a file stopped."""

    signature: str
    line: int
    max_seen: dt.datetime | None


@dataclass(frozen=True)
class FileCursor:
    """The parsed form of the cursor described in the module docstring."""

    since: dt.datetime | None = None
    resume: Resume | None = None
    read: str | None = None
    lines: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, value: Any) -> FileCursor:
        """Parse a stored cursor; anything unrecognisable means a full read (re-reads are safe)."""
        if not isinstance(value, dict):
            return cls()
        since = parse_timestamp(value.get("since"))
        read = value.get("read") if isinstance(value.get("read"), str) else None
        resume = value.get("resume")
        if (isinstance(resume, dict) and isinstance(resume.get("signature"), str)
                and isinstance(resume.get("line"), int) and resume["line"] >= 0):
            return cls(since, Resume(resume["signature"], resume["line"],
                                     parse_timestamp(resume.get("max_seen"))))
        lines = value.get("lines") if read is not None else None
        return cls(since, read=read, lines=lines if isinstance(lines, dict) else None)

    def to_json(self) -> dict[str, Any]:
        """The JSON-able form the engine persists."""
        resume = None
        if self.resume is not None:
            resume = {"signature": self.resume.signature, "line": self.resume.line,
                      "max_seen": format_timestamp(self.resume.max_seen)}
        value: dict[str, Any] = {"since": format_timestamp(self.since), "resume": resume}
        if self.read is not None:
            value["read"] = self.read
        if self.lines is not None:
            value["lines"] = self.lines
        return value
