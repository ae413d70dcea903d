"""Merging the history objects' full reads by opportunity (see
:mod:`crmsync_salesforce.history_reader`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["Pages", "merge_by_opportunity"]

#: Pages of rows and where they came from, each stream ordered by ``OpportunityId``.
Pages = Iterable[tuple[list[dict[str, Any]], str]]


def merge_by_opportunity(streams: Sequence[Pages]) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """Merge pages of rows, each stream ordered by ``OpportunityId``, into chunks holding only
    opportunities no stream can add rows to any more (every stream has read past them or
    ended). Only the stream furthest behind is read next, so what is held stays about a page
    per stream."""
    iters = [iter(s) for s in streams]
    buffers: list[list[dict[str, Any]]] = [[] for _ in iters]
    last: list[str | None] = [None] * len(iters)
    live = [True] * len(iters)
    source = ""
    while any(live):
        k = _furthest_behind(live, last)
        page = next(iters[k], None)
        if page is None:
            live[k] = False
        else:
            rows, source = page
            if rows:
                buffers[k].extend(rows)
                last[k] = str(rows[-1]["OpportunityId"])
        if any(live[i] and last[i] is None for i in range(len(iters))):
            continue  # a stream that has not answered yet may hold any opportunity
        ahead = [v for v, on in zip(last, live, strict=True) if on and v is not None]
        done = _settled(buffers, min(ahead) if ahead else None)
        if done:
            done.sort(key=lambda r: str(r["OpportunityId"]))  # stable: each stream's order
            yield done, source


def _furthest_behind(live: list[bool], last: list[str | None]) -> int:
    """The live stream with the least last ``OpportunityId`` (one that has read none first)."""
    return min((i for i in range(len(live)) if live[i]),
               key=lambda i: (last[i] is not None, last[i] or ""))


def _settled(buffers: list[list[dict[str, Any]]], limit: str | None) -> list[dict[str, Any]]:
    """Take from each buffer the rows of opportunities before ``limit`` (all when ``None``)."""
    done: list[dict[str, Any]] = []
    for i, buffer in enumerate(buffers):
        cut = len(buffer) if limit is None else next(
            (n for n, r in enumerate(buffer) if str(r["OpportunityId"]) >= limit),
            len(buffer))
        done.extend(buffer[:cut])
        buffers[i] = buffer[cut:]
    return done
