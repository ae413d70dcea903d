"""Value rules beyond a column's type (``docs/schema.md#value-rules``).

* Numbers written as text: a spreadsheet's ``$120,000`` or ``13,000.50`` is read as a number
  (one leading currency symbol, ``,`` thousands separators in groups of three); digit group
  underscores (``1_000``, which Python's ``int()`` would take) are not.
* Text: a text column without a declared length holds at most :data:`MAX_TEXT_LENGTH`
  characters, well below what either store (SQLite, PostgreSQL) would take, so one runaway
  cell cannot bloat the store.
* Rejects: their reason and each text value of their payload are cut to
  :data:`MAX_REJECT_TEXT` characters, so a reject of a 50 MB cell stays small in
  ``sync_rejects`` and in ``crmsync status --json``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MAX_TEXT_LENGTH", "MAX_REJECT_TEXT", "NUMBER_EXAMPLE", "INTEGER_EXAMPLE",
           "number_text", "bound_text", "bound_payload"]

#: The longest value of a text column without a declared length (``subject``, ``comment``…).
MAX_TEXT_LENGTH = 100_000
#: The longest reason, and text value in a payload, a reject keeps.
MAX_REJECT_TEXT = 1_000
#: What a number written as text should look like, for messages.
NUMBER_EXAMPLE = "a number like 120000 or 120,000.50"
#: What an integer written as text should look like, for messages.
INTEGER_EXAMPLE = "a whole number like 1200 or 1,200"

_CURRENCY = "$€£¥"
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def number_text(text: str) -> str | None:
    """``text`` as Python's ``int()``/``float()`` should see it, or ``None`` when it is not a
    number written in an accepted way.

    Strips surrounding blanks and one currency symbol (before or after the sign), and removes
    ``,`` thousands separators when every group has three digits (``1,200``, ``$120,000.50``).
    Refuses ``_`` (``1_000``): Python accepts it, a spreadsheet never writes it.
    """
    s = text.strip()
    if "_" in s:
        return None
    sign = ""
    if s[:1] in "+-" and s[:1]:
        sign, s = s[0], s[1:].lstrip()
    if s[:1] and s[0] in _CURRENCY:
        s = s[1:].lstrip()
    if not sign and s[:1] in "+-" and s[:1]:
        sign, s = s[0], s[1:]
    if "," in s:
        if not _GROUPED.fullmatch(s):
            return None
        s = s.replace(",", "")
    return sign + s if s else None


def bound_text(text: str, limit: int = MAX_REJECT_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [cut: {len(text)} characters]"


def bound_payload(value: Any, limit: int = MAX_REJECT_TEXT) -> Any:
    """A copy of a reject payload with every text value cut by :func:`bound_text` (nested
    objects and lists included)."""
    if isinstance(value, str):
        return bound_text(value, limit)
    if isinstance(value, dict):
        return {k: bound_payload(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [bound_payload(v, limit) for v in value]
    return value
