"""Working hours as written in ``[metrics] business_hours`` (``"09:00-17:30"``)."""

from __future__ import annotations

import re

__all__ = ["parse_hours"]

_HOURS = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


def parse_hours(text: str) -> tuple[int, int]:
    """``"09:00-17:30"`` → ``(540, 1050)`` minutes from midnight.

    :raises ValueError: when the text is not ``HH:MM-HH:MM`` with start before end.
    """
    m = _HOURS.fullmatch(text.strip())
    if not m:
        raise ValueError(f"expected HH:MM-HH:MM, got {text!r}")
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    if not 0 <= start < end <= 24 * 60:
        raise ValueError(f"the working day must start before it ends, got {text!r}")
    return start, end
