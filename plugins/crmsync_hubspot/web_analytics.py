"""Website traffic: HubSpot's analytics sources report by day → ``web_traffic``
(docs/connectors/hubspot.md, "Web traffic").

``GET /analytics/v2/reports/sources/daily?start=YYYYMMDD&end=YYYYMMDD`` (the Analytics API
v2, which hubspot-api-client does not wrap: called through the SDK's own ``ApiClient``, so
auth, pooling, timeouts and error mapping are the connector's usual ones) answers an object
keyed by day, each day a list of breakdowns, one per traffic source that had activity. Quirks
handled here:

* **Numbers.** ``visits`` are the sessions, ``rawViews`` the page views, ``contacts`` the new
  contacts whose first session came from the source; JSON numbers (strings are accepted too).
  A breakdown whose number is not a whole number ≥ 0 is rejected naming the field; the rest
  of the day stays.
* **Sources.** Breakdowns are the sources report's keys (``organic``, ``paid``,
  ``paid-social``…); the upper-case ``hs_analytics_source`` names (``ORGANIC_SEARCH``,
  ``DIRECT_TRAFFIC``…) are read too. Both become one channel name (:data:`CHANNELS`);
  another breakdown is kept, lower-cased with ``_`` for other characters.
* **Days.** A day without activity is not a key. Analytics keep being attributed for a few
  days, so every read starts :data:`REREAD_DAYS` before the day the last one reached and a
  re-read day's sources that are no longer in the report are deleted.
* **Windows.** The first read goes back :data:`HISTORY_DAYS`; reads ask :data:`WINDOW_DAYS`
  days a call (one batch, one transaction, one cursor each), so an answer stays bounded.
* **Scope.** The report needs the ``business-intelligence`` scope (and a Marketing Hub
  subscription that has the sources report): without it HubSpot answers 403 and the entity
  is skipped with one log line (:func:`~crmsync_hubspot.line_items.without_scope`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Deletion, Reject
from crmsync_hubspot.line_items import without_scope

if TYPE_CHECKING:
    from crmsync_hubspot.client import HubSpotClient

__all__ = ["SCOPE", "REPORT_PATH", "CHANNELS", "WINDOW_DAYS", "HISTORY_DAYS", "REREAD_DAYS",
           "channel_of", "day_records", "WebTrafficReader", "calls_for_days", "utc_today"]

#: The scope the analytics reports need.
SCOPE = "business-intelligence"
#: The daily sources report.
REPORT_PATH = "/analytics/v2/reports/sources/daily"
#: Days asked a call (about 3,300 rows at nine sources a day).
WINDOW_DAYS = 366
#: How far back the first read goes.
HISTORY_DAYS = 730
#: Days before the last read's end that every read reads again (late attribution).
REREAD_DAYS = 3
#: Breakdown → channel (``web_traffic.channel``).
CHANNELS = {
    "organic": "organic_search", "organic_search": "organic_search",
    "paid": "paid_search", "paid_search": "paid_search",
    "social": "organic_social", "social_media": "organic_social",
    "paid-social": "paid_social", "paid_social": "paid_social",
    "email": "email", "email_marketing": "email", "referrals": "referrals",
    "direct": "direct", "direct_traffic": "direct",
    "other": "other_campaigns", "other_campaigns": "other_campaigns", "offline": "offline",
}
#: schema column → the report's number.
_NUMBERS = {"sessions": "visits", "page_views": "rawViews", "new_contacts": "contacts"}
_OTHER = re.compile(r"[^a-z0-9]+")


def channel_of(breakdown: str) -> str:
    """The channel name of a report breakdown (:data:`CHANNELS`, else the name normalised)."""
    key = breakdown.strip().lower()
    return CHANNELS.get(key) or _OTHER.sub("_", key).strip("_") or "unknown"


def _count(value: Any) -> int | None:
    """A whole number ≥ 0 from a JSON number or numeric string; ``None`` when absent.

    :raises ValueError: a negative, fractional or non-numeric value (``TypeError``: one that
        is not a number or a string at all).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value)
    if number < 0 or number != int(number):
        raise ValueError(value)
    return int(number)


def day_records(day: str, breakdowns: Any) -> tuple[list[dict[str, Any]], list[Reject]]:
    """One day of the report → ``web_traffic`` records (breakdowns of one channel summed) and
    the rejects of breakdowns that cannot be read."""
    by_channel: dict[str, dict[str, Any]] = {}
    rejects: list[Reject] = []
    for raw in breakdowns if isinstance(breakdowns, list) else ():
        name = raw.get("breakdown") if isinstance(raw, Mapping) else None
        remote_id = f"{day}:{channel_of(name)}" if isinstance(name, str) else None
        if remote_id is None:
            rejects.append(Reject("a breakdown without its source name", field="breakdown",
                                  source=f"HubSpot sources report {day}", payload={"row": raw}))
            continue
        try:
            counts = {col: _count(raw.get(key)) for col, key in _NUMBERS.items()}
        except (ValueError, TypeError):
            bad = next(k for k in _NUMBERS.values() if not _is_count(raw.get(k)))
            rejects.append(Reject(f"{bad} is not a whole number >= 0: {raw.get(bad)!r}",
                                  remote_id=remote_id, field=bad,
                                  source=f"HubSpot sources report {day}", payload=raw))
            continue
        record = by_channel.setdefault(remote_id, {
            "remote_id": remote_id, "date": day, "channel": remote_id.split(":", 1)[1],
            **dict.fromkeys(_NUMBERS)})
        for col, n in counts.items():
            if n is not None:
                record[col] = (record[col] or 0) + n
    return list(by_channel.values()), rejects


def _is_count(value: Any) -> bool:
    try:
        _count(value)
    except (ValueError, TypeError):
        return False
    return True


def utc_today() -> dt.date:
    """Today in UTC: the last day a read asks for."""
    return dt.datetime.now(dt.timezone.utc).date()


def calls_for_days(days: int) -> int:
    """The report calls a read of ``days`` days makes (:data:`WINDOW_DAYS` a call)."""
    return max(1, -(-days // WINDOW_DAYS))


class WebTrafficReader:
    """Reads ``web_traffic`` for one connection.

    :param client: the connection's client, made on first use.
    :param connection: the connection's name (for the missing-scope note).
    :param today: the last day to read; default :func:`utc_today` (tests pin it).
    """

    def __init__(self, client: Callable[[], HubSpotClient], connection: str,
                 today: Callable[[], dt.date] | None = None) -> None:
        self._client = client
        self.connection = connection
        self.today = today

    def _report(self, start: dt.date, end: dt.date) -> dict[str, Any]:
        client = self._client()
        api = client.objects.api_client  # the SDK's ApiClient: auth, pool, timeouts
        query = [("start", start.strftime("%Y%m%d")), ("end", end.strftime("%Y%m%d"))]
        return client.call(f"GET {REPORT_PATH}", api.call_api, REPORT_PATH, "GET",
                           query_params=query, header_params={"Accept": "application/json"},
                           auth_settings=["oauth2"], entity="web_traffic").data

    def read(self, cursor: Any) -> Iterator[Batch]:
        """Batches of days from the cursor's day (less :data:`REREAD_DAYS`) to today, one
        report call each; cursor ``{"through": "YYYY-MM-DD"}``. Without the scope: nothing,
        and one log line."""
        return without_scope(lambda: self._read(cursor), connection=self.connection,
                             entity="web_traffic", scope=SCOPE)

    def _read(self, cursor: Any) -> Iterator[Batch]:
        end = self.today() if self.today is not None else utc_today()
        through = (cursor or {}).get("through")
        reached = dt.date.fromisoformat(through) if through else None
        start = (reached - dt.timedelta(days=REREAD_DAYS) if reached
                 else end - dt.timedelta(days=HISTORY_DAYS))
        while start <= end:
            stop = min(start + dt.timedelta(days=WINDOW_DAYS - 1), end)
            report = self._report(start, stop)
            records: list[dict[str, Any]] = []
            rejects: list[Reject] = []
            for day in sorted(k for k in report if _in_window(k, start, stop)):
                got, bad = day_records(day, report[day])
                records += got
                rejects += bad
            keep = {r["remote_id"] for r in records} | {r.remote_id for r in rejects}
            deleted = _gone(keep, start, min(stop, reached)) if reached else []
            yield Batch(records=records, rejects=rejects, deleted=deleted,
                        cursor={"through": stop.isoformat()})
            start = stop + dt.timedelta(days=1)


def _in_window(key: str, start: dt.date, stop: dt.date) -> bool:
    try:
        return start <= dt.date.fromisoformat(key) <= stop
    except ValueError:
        return False


def _gone(keep: set[str | None], start: dt.date, last: dt.date) -> list[Deletion]:
    """Deletions of the standard channels not in ``keep`` (the day's records and rejects) on
    the re-read days ``start``–``last``: a source whose traffic HubSpot re-attributed away."""
    out: list[Deletion] = []
    day = start
    while day <= last:
        out += [Deletion(rid) for c in sorted(set(CHANNELS.values()))
                if (rid := f"{day.isoformat()}:{c}") not in keep]
        day += dt.timedelta(days=1)
    return out
