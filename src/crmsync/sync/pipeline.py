"""A sync's batches written behind its reads, on PostgreSQL: batch N commits while batch
N+1 is read and validated.

On PostgreSQL the database's share of a load (the ``COPY``, the merge, the commit) runs in
the server while the client waits without Python's GIL, so a background thread that writes
lets the connector's parsing and the validation of the next batch go on meanwhile
(docs/performance.md, "Writing behind the reads"). On SQLite the database work runs in the
process and gives the GIL up row by row: a second thread there only adds switching, so
SQLite writes inline.

One write is in flight at a time, in order, and the reader waits for it before it goes on
after an error, so every guarantee of docs/concepts.md holds: a batch's rows, rejects and
cursor commit in one transaction, and a process killed mid-load loses at most the batch
being written (the next one, read but not written, is read again from the last committed
cursor).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

__all__ = ["WriteBehind"]

log = logging.getLogger(__name__)


class WriteBehind:
    """Runs writes one at a time, in order, in one background thread (inline when
    ``threaded`` is false).

    Leaving the ``with`` block waits for the write in flight; when the block raised, a
    failure of that write is logged and the block's own error goes on.
    """

    def __init__(self, threaded: bool) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="crmsync-write") \
            if threaded else None
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        """Run ``write`` once the previous one is done; raises the previous one's error."""
        self.wait()
        if self._pool is None:
            write()
        else:
            self._pending = self._pool.submit(write)

    def wait(self) -> None:
        """Wait for the write in flight; raises its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _tb: TracebackType | None) -> None:
        try:
            if error is None:
                self.wait()
            else:
                try:
                    self.wait()
                except Exception:  # the block's own error is the one to report
                    log.debug("the write in flight failed as well", exc_info=True)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
