"""The garbage collector is held back during a load and put back after it."""

from __future__ import annotations

import gc
import threading

import pytest

from crmsync.sync.collector import fewer_collections


def test_the_collector_is_put_back_after_a_load() -> None:
    before = gc.get_threshold()
    with fewer_collections(123_456):
        assert gc.get_threshold() == (123_456, *before[1:])
        assert gc.get_freeze_count() > 0
        with fewer_collections(5):  # nested (another thread's load): the outer one restores
            assert gc.get_threshold()[0] == 123_456
        assert gc.get_threshold()[0] == 123_456
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_failed_load_puts_the_collector_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the connector failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_loads_in_threads_end_with_the_first_threshold() -> None:
    before = gc.get_threshold()
    started, release = threading.Barrier(3), threading.Event()

    def load() -> None:
        with fewer_collections():
            started.wait()
            release.wait()

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    started.wait()
    assert gc.get_threshold()[0] >= 10_000
    release.set()
    for t in threads:
        t.join()
    assert gc.get_threshold() == before
