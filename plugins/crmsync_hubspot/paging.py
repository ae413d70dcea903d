"""HubSpot's paging signal, read in one place.

Every HubSpot list answer (owners, objects, v4 associations, search) says whether more follows
with ``paging.next.after``; only that decides. The number of results never does: an endpoint may
answer fewer records than the ``limit`` asked for on a page that is not the last (page caps
differ by endpoint and have changed over time, 100 vs 200), so "a short page is the last one"
silently drops the rest. See docs/connectors/hubspot.md ("Paging").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from crmsync import ConnectorError

__all__ = ["next_after", "follow"]


def next_after(body: Mapping[str, Any]) -> str | None:
    """The ``paging.next.after`` token of one answer (or one v4 association row), ``None``
    when the answer is the last page."""
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def follow(fetch: Callable[[str | None], Mapping[str, Any]], after: str | None = None
           ) -> Iterator[Mapping[str, Any]]:
    """Every page of a paged list: ``fetch(after)`` answers one page (``after=None`` for the
    first); pages are requested while the previous one names a next page.

    :raises crmsync.ConnectorError: when an answer names the very ``after`` it was asked for
        (the same page would otherwise be asked for forever).
    """
    while True:
        body = fetch(after)
        yield body
        token = next_after(body)
        if token is None:
            return
        if token == after:
            raise ConnectorError(f"HubSpot answered paging.next.after={token!r} for the page "
                               f"asked with after={after!r}")
        after = token
