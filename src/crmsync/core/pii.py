"""Personal data and secret-looking strings in free text (quotes from survey comments and
reasons shown on the dashboard and printed by ``crmsync themes``; docs/themes.md, "Quotes").

:func:`redact_quote` replaces e-mail addresses, phone numbers, URLs, ``key=value`` secrets
(``password: hunter2``, ``token=…``), bearer tokens and long random-looking strings (API
keys), after the :class:`~crmsync.core.redact.Redactor`'s known secrets. It errs on the side
of hiding: a long order number may be taken for a phone number.
"""

from __future__ import annotations

import re

from crmsync.core.redact import SECRET_KEY_PATTERN, Redactor

__all__ = ["EMAIL", "PHONE", "redact_quote"]

#: What replaces an e-mail address, a phone number, a URL and a secret.
EMAIL, PHONE, URL, SECRET = "[email]", "[phone]", "[link]", "[secret]"

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
# 7+ digits, optionally led by + or (, with spaces, dots, dashes or brackets between groups.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().-]{5,}\d(?!\w)")
_KEYED = re.compile(r"(?P<key>\b[\w-]*(?:" + SECRET_KEY_PATTERN.pattern + r")[\w-]*)"
                    r"(?P<sep>\s*[:=]\s*|\s+is\s+)(?P<value>\S+)", re.IGNORECASE)
_BEARER = re.compile(r"\b(?:bearer|basic)\s+[\w\-.~+/=]{8,}", re.IGNORECASE)
# 20+ characters of letters and digits (with - _), mixing both: keys, tokens, hashes.
_RANDOM = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}\b")


def _phone(m: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in m.group(0))
    return PHONE if digits >= 7 else m.group(0)


def redact_quote(text: str, redactor: Redactor | None = None) -> str:
    """``text`` with known secrets, e-mail addresses, URLs, phone numbers and
    secret-looking strings replaced (module docstring)."""
    if redactor is not None:
        text = redactor.text(text)
    text = _EMAIL.sub(EMAIL, text)
    text = _URL.sub(URL, text)
    text = _BEARER.sub(SECRET, text)
    text = _KEYED.sub(lambda m: m.group("key") + m.group("sep") + SECRET, text)
    text = _RANDOM.sub(SECRET, text)
    return _PHONE.sub(_phone, text)
