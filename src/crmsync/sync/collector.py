"""The cyclic garbage collector held back while a sync loads batches.

A batch makes tens of thousands of container objects (rows, cells, tuples) that live until
it commits. With CPython's default first-generation threshold (700 allocations) the
collector runs hundreds of times a batch and, every few batches, walks every object of the
process (the imported libraries included): a quarter of the validation's time in a 500k-row
load (docs/performance.md). :func:`fewer_collections` raises the threshold for the load and
freezes the objects that exist before it (they are never garbage of the load), then puts
both back. Memory stays bounded: collections still run, only less often.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["fewer_collections", "LOAD_THRESHOLD"]

#: The first generation's threshold during a load (allocations net of deallocations).
LOAD_THRESHOLD = 10_000


_lock = threading.Lock()
_depth = 0  # loads running (threads may sync connections at once): the last one restores
_before: tuple[int, int, int] = (0, 0, 0)


@contextmanager
def fewer_collections(threshold: int = LOAD_THRESHOLD) -> Iterator[None]:
    """Run the block with the collector's first generation collected every ``threshold``
    allocations (or the current threshold, if higher) and the objects existing before it
    frozen; both are put back when the last such block running ends."""
    global _depth, _before
    with _lock:
        if _depth == 0:
            _before = gc.get_threshold()
            gc.set_threshold(max(_before[0], threshold), _before[1], _before[2])
            gc.freeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
                gc.set_threshold(*_before)
