"""Reading a store on several connections at once: queries the database runs without
Python's lock (SQLite in the process, PostgreSQL in its server), so independent reports
(the instants of a forecast's accuracy, the periods of the dashboard's forecast page) run
on as many connections as the machine has cores (docs/forecast.md, "Accuracy")."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import pool

from crmsync.store import Store

__all__ = ["READERS", "at_once"]

#: Queries run at once (one connection each): the machine's cores, at most 4.
READERS = max(1, min(4, os.cpu_count() or 1))

_T = TypeVar("_T")


def at_once(store: Store, calls: Sequence[Callable[[], _T]]) -> list[_T]:
    """``[call() for call in calls]``, in order, run :data:`READERS` at a time; one after the
    other on a store whose connection is shared (an in-memory SQLite)."""
    shared = isinstance(store.engine.pool, (pool.StaticPool, pool.SingletonThreadPool))
    if shared or len(calls) < 2 or READERS < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(min(READERS, len(calls)), thread_name_prefix="crmsync-read") as run:
        return list(run.map(lambda call: call(), calls))
