"""The only retry and rate-limit policy in crmsync (docs/concepts.md#retries).

Connectors raise :class:`~crmsync.RateLimited` (with ``retry_after`` when the CRM says how
long) or :class:`~crmsync.TransientError` (5xx, timeouts); they never sleep or loop. The sync
engine reads through :func:`retrying`: after a wait it calls ``Connector.read`` again from the
last committed cursor, so a retry never re-reads what is already stored. The attempt budget
counts failures *without progress*: a long sync that is throttled now and then, but commits
batches in between, is never given up on.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from crmsync.core.errors import RateLimited, TransientError

__all__ = ["RetryPolicy", "retrying", "RETRYABLE", "parse_retry_after"]

log = logging.getLogger(__name__)

#: Errors worth another attempt.
RETRYABLE = (RateLimited, TransientError)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time
                      ) -> float | None:
    """The seconds an HTTP ``Retry-After`` header asks to wait, for
    :class:`~crmsync.RateLimited`'s ``retry_after``.

    The header is either a number of seconds (``120``) or an HTTP-date
    (``Wed, 21 Oct 2026 07:28:00 GMT``, RFC 9110 §10.2.3); a date already past means "now"
    (``0.0``). ``None`` when the header is missing or is neither form.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 850/asctime forms carry no zone: they are GMT
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(when.timestamp() - now(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry.

    :param attempts: consecutive failures without progress before giving up.
    :param initial_wait: first back-off (seconds) when the CRM gave no ``Retry-After``.
    :param max_wait: the longest back-off between attempts.
    :param max_retry_after: a ``Retry-After`` longer than this fails the run instead of
        sleeping (the state is kept; the next scheduled run continues).
    """

    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0
    max_retry_after: float = 900.0


def retrying(policy: RetryPolicy, progress: Callable[[], int], *,
             sleep: Callable[[float], None] = time.sleep,
             describe: str = "") -> tenacity.Retrying:
    """A :class:`tenacity.Retrying` for one connection/entity.

    :param progress: returns a number that grows when work is committed (batches); a failure
        after progress starts a fresh attempt budget.
    :param sleep: injectable for tests.
    """
    backoff = tenacity.wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait)
    seen = {"progress": progress(), "failures": 0}

    def stop(state: tenacity.RetryCallState) -> bool:
        now = progress()
        if now != seen["progress"]:
            seen["progress"], seen["failures"] = now, 0
        seen["failures"] += 1
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and (exc.retry_after or 0) > policy.max_retry_after:
            return True
        return seen["failures"] >= policy.attempts

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return max(float(exc.retry_after), 0.0)
        return backoff(state)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: %s; retrying in %.1f s from the last committed cursor", describe, exc,
                    state.next_action.sleep if state.next_action else 0.0)

    return tenacity.Retrying(stop=stop, wait=wait, sleep=sleep, before_sleep=before_sleep,
                             retry=tenacity.retry_if_exception_type(RETRYABLE), reraise=True)
