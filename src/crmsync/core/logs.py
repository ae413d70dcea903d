"""Logging set-up: human lines by default, one JSON object per line for machines, and secrets
redacted from both.

Redaction happens in the formatters, so it covers every message, argument and traceback that
reaches crmsync's handler: the resolved secret values registered with :func:`register_secrets`
(connection secrets, the notification webhook URL), passwords in URLs
(``scheme://user:***@host``) and ``key=value`` pairs whose key names a secret.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO

from crmsync.core.redact import REDACTED, SECRET_KEY_PATTERN, Redactor

__all__ = ["configure", "register_secrets", "redact", "HumanFormatter", "JsonFormatter",
           "FORMATS"]

FORMATS = ("human", "json")
HUMAN_FORMAT = "%(levelname)s %(name)s: %(message)s"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?=@)",
                           re.IGNORECASE)
# ``key=value`` / ``key: value`` in free text, for keys that name a secret (not a bare "pass",
# which prose uses: "3 passed: ok"); an HTTP auth scheme word is kept with its token.
_SECRET_PAIR = re.compile(
    r"(?P<key>\b[\w.-]*(?:password|passwd|secret|token|api[_-]?key|authorization|"
    r"session[_-]?id|private[_-]?key|credential|cookie)[\w.-]*)(?P<sep>\s*[=:]\s*)"
    r"(?P<q>['\"]?)(?P<value>(?:(?:bearer|basic|token)\s+)?[^\s'\",;&]+)", re.IGNORECASE)
# Built-in LogRecord attributes; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_lock = threading.Lock()
_secrets: set[str] = set()
_redactor = Redactor()


def register_secrets(values: Iterable[str]) -> None:
    """Redact these literal values from every log line from now on (process-wide)."""
    global _redactor
    new = {v for v in values if v and len(v) >= 4} - _secrets
    if not new:
        return
    with _lock:
        _secrets.update(new)
        _redactor = Redactor(_secrets)


def redact(text: str) -> str:
    """``text`` with registered secrets, URL passwords and secret ``key=value`` pairs hidden."""
    text = _redactor.text(text)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    return _SECRET_PAIR.sub(
        lambda m: f"{m.group('key')}{m.group('sep')}{m.group('q')}{REDACTED}", text)


class HumanFormatter(logging.Formatter):
    """``LEVEL logger: message``, redacted."""

    def __init__(self) -> None:
        super().__init__(HUMAN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO UTC), ``level``, ``logger``, ``message``,
    ``exception`` when there is one, and any ``extra=`` fields; every string redacted."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        return json.dumps(_redact_data(data), default=str)


def _redact_data(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: (REDACTED if SECRET_KEY_PATTERN.search(str(k)) else _redact_data(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_data(v) for v in value]
    return value


def configure(fmt: str = "human", level: int = logging.WARNING,
              stream: TextIO | None = None) -> logging.Handler | None:
    """Send log records to ``stream`` (standard error) in ``fmt``; returns the handler, or
    None when the root logger already has handlers crmsync did not install (an application
    embedding crmsync, or pytest, keeps its own logging, as with :func:`logging.basicConfig`).

    Replaces the handler crmsync installed before (calling it twice is safe).
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    root = logging.getLogger()
    root.setLevel(level)
    ours = [h for h in root.handlers if getattr(h, "_crmsync", False)]
    if len(ours) != len(root.handlers):
        return None
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    handler._crmsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return handler
