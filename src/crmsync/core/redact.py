"""Keeping secrets out of logs, errors, reject payloads and printed config."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "SECRET_KEY_PATTERN", "Redactor"]

REDACTED = "***"
#: Keys whose values are secrets wherever they appear.
SECRET_KEY_PATTERN = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|session[_-]?id|private[_-]?key|"
    r"credential|cookie)", re.IGNORECASE)


class Redactor:
    """Removes known secret values and secret-looking keys from data and text.

    :param secrets: literal secret values (resolved ``${ENV}`` settings) to scrub from text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced."""
        if self._pattern is None:
            return value
        return self._pattern.sub(REDACTED, value)

    def data(self, value: Any) -> Any:
        """A deep copy of ``value`` with secret keys and known secret values replaced."""
        if isinstance(value, Mapping):
            return {str(k): (REDACTED if SECRET_KEY_PATTERN.search(str(k)) and v not in (None, "")
                             else self.data(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self.text(str(value))
