"""Rate limits and scripted faults of the fake portal.

:class:`RateLimits` counts every API call the way HubSpot does (a rolling ten-second window, a
daily total, a separate per-second budget for search) and always reports the counters in the
``X-HubSpot-RateLimit-*`` headers; whether exceeding them answers 429 is up to the test
(``enforce_interval``/``enforce_search``; the daily limit is always enforced). Faults are
scripted answers (429, 5xx, slow responses) for the next N matching requests.
"""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RateLimits", "Fault", "Faults", "rate_limit_body"]


def rate_limit_body(policy: str, portal_id: int) -> dict[str, Any]:
    """A 429 body shaped like HubSpot's (see
    reference/hubspot/error_429_ten_secondly_rolling.json)."""
    group = {"TEN_SECONDLY_ROLLING": "ten-secondly", "DAILY": "daily",
             "SECONDLY": "secondly"}.get(policy, policy.lower())
    return {"status": "error", "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{group}:{portal_id}"}


@dataclass
class RateLimits:
    """HubSpot's limits for one portal (defaults: Professional private app).

    :param max_per_interval: requests per ``interval_ms`` (HubSpot: 100 or 190 per 10 s).
    :param daily: requests per day; when spent every call answers 429 ``DAILY``.
    :param search_per_second: the search endpoints' own limit.
    :param enforce_interval: answer 429 ``TEN_SECONDLY_ROLLING`` past ``max_per_interval``.
    :param enforce_search: answer 429 ``SECONDLY`` past ``search_per_second`` on search.
    """

    max_per_interval: int = 190
    interval_ms: int = 10_000
    daily: int = 1_000_000
    search_per_second: int = 5
    enforce_interval: bool = False
    enforce_search: bool = False
    daily_used: int = 0
    #: calls answered 429, by policy name
    refused: dict[str, int] = field(default_factory=dict)
    window: deque = field(default_factory=deque)
    search_window: deque = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self, is_search: bool) -> tuple[str, float | None] | None:
        """Count one call; return ``(policy, retry_after)`` when it must be refused."""
        now = time.monotonic()
        with self.lock:
            horizon = now - self.interval_ms / 1000
            while self.window and self.window[0] <= horizon:
                self.window.popleft()
            while self.search_window and self.search_window[0] <= now - 1:
                self.search_window.popleft()
            refusal: tuple[str, float | None] | None = None
            if self.daily_used >= self.daily:
                refusal = ("DAILY", None)
            elif self.enforce_interval and len(self.window) >= self.max_per_interval:
                refusal = ("TEN_SECONDLY_ROLLING", max(self.window[0] - horizon, 0.001))
            elif (is_search and self.enforce_search
                  and len(self.search_window) >= self.search_per_second):
                refusal = ("SECONDLY", max(self.search_window[0] - (now - 1), 0.001))
            if refusal is not None:
                self.refused[refusal[0]] = self.refused.get(refusal[0], 0) + 1
                return refusal
            self.daily_used += 1
            self.window.append(now)
            if is_search:
                self.search_window.append(now)
        return None

    def headers(self) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers with the current counters."""
        with self.lock:
            return {
                "X-HubSpot-RateLimit-Daily": str(self.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(self.daily - self.daily_used, 0)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
                "X-HubSpot-RateLimit-Max": str(self.max_per_interval),
                "X-HubSpot-RateLimit-Remaining":
                    str(max(self.max_per_interval - len(self.window), 0)),
            }

    def exhaust_daily(self) -> None:
        """Spend the rest of today's calls: the next call answers 429 ``DAILY``."""
        with self.lock:
            self.daily_used = self.daily

    def new_day(self) -> None:
        """Reset the daily counter (midnight in the portal's time zone)."""
        with self.lock:
            self.daily_used = 0


@dataclass
class Fault:
    """A scripted answer for the next ``times`` requests whose ``METHOD /path`` matches.

    :param status: the HTTP status to answer (0: answer normally, only ``delay``).
    :param after: let this many matching requests through first.
    :param policy: for 429s, the ``policyName`` of the body.
    :param retry_after: the ``Retry-After`` header (seconds), when set.
    """

    pattern: str = ""
    status: int = 0
    times: int = 1
    delay: float = 0.0
    after: int = 0
    policy: str = "TEN_SECONDLY_ROLLING"
    retry_after: float | None = None
    body: dict[str, Any] | None = None
    hits: int = 0

    def matches(self, request_line: str) -> bool:
        """True when this fault applies to ``METHOD /path?query``."""
        return re.search(self.pattern, request_line) is not None


class Faults:
    """The queue of scripted faults; the first matching, unspent fault answers."""

    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Script ``fault``; returns it (its ``hits`` counts how often it answered)."""
        with self._lock:
            self._items.append(fault)
        return fault

    def clear(self) -> None:
        """Drop every scripted fault."""
        with self._lock:
            self._items.clear()

    def take(self, request_line: str) -> Fault | None:
        """The fault that answers this request, if any (spending one of its ``times``)."""
        with self._lock:
            for fault in self._items:
                if fault.times <= 0 or not fault.matches(request_line):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                fault.hits += 1
                return fault
        return None


def retry_after_header(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` in whole seconds (HubSpot sends integers), when known."""
    return {} if seconds is None else {"Retry-After": str(max(1, math.ceil(seconds)))}
