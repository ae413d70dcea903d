"""Computing the next result page ahead of the client (the benchmark's switch)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["Prefetcher"]


class Prefetcher:
    """Computes the next result page while the client digests this one (off by default).

    The benchmark turns it on (``org.ahead.enabled = True``) so that the fake's own work
    overlaps the client's, as a real org prepares pages server-side: the client under test,
    not the fake, should be what the figures measure.
    """

    def __init__(self) -> None:
        self.enabled = False
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[Any, Future[Any]] = {}

    def start(self, key: Any, fn: Callable[..., Any], *args: Any) -> None:
        """Begin computing ``fn(*args)`` for ``key`` (when enabled)."""
        if not self.enabled:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-sf-ahead")
        self._futures[key] = self._pool.submit(fn, *args)

    def take(self, key: Any) -> Any:
        """The precomputed result for ``key``, or None."""
        future = self._futures.pop(key, None)
        return future.result() if future is not None else None
