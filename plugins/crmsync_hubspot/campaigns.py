"""Marketing campaigns → ``spend`` (docs/connectors/hubspot.md, "Goals, campaigns and
feedback").

``GET /marketing/v3/campaigns`` lists a portal's campaigns, 100 a page, with the properties
asked for; hubspot-api-client 12 has no campaigns API, so the call goes through the objects
API client's generic ``call_api`` (:func:`raw_get`: same pool, token, timeouts and errors).

* **Spend.** ``hs_spend_items_sum_amount`` is the sum of the campaign's spend items (what
  ``GET /marketing/v3/campaigns/{guid}/budget/totals`` answers as ``spendTotal``), so the list
  carries it: one call per 100 campaigns. Only where a portal's list omits the property is the
  campaign's budget read (one call per such campaign). A campaign with no spend recorded (empty
  or 0) has no row (a row stored before its spend items were removed is deleted): a missing
  input is no value, never zero.
* **One row per campaign**, period ``hs_start_date`` .. ``hs_end_date`` (dates), category
  ``marketing``, currency ``hs_currency_code`` (else the budget's, else the portal's).
  ``channel`` is the property ``field_map.campaigns`` maps to it (a custom campaign property
  holding the same values as the contacts' original source, so CAC can be split by channel),
  else ``hs_utm``; ``segment`` is ``hs_audience``. A campaign without dates is rejected,
  naming the property.
* **Incremental and deletes.** The list has no modified-since filter and no archived view,
  but campaigns are few: every run lists them all; campaigns whose ``updatedAt`` passed the
  cursor's (minus ``lookback_seconds``) are upserted, and ids the cursor held that the list no
  longer has are deletions. Cursor: ``{"updated_at": ms, "ids": [...]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import Batch, Deletion, Reject
from crmsync_hubspot.paging import follow
from crmsync_hubspot.search import epoch_ms
from crmsync_hubspot.values import Unmappable, _text, number, when

if TYPE_CHECKING:
    from crmsync_hubspot.client import HubSpotClient
    from crmsync_hubspot.connector import HubSpotConnector

__all__ = ["CAMPAIGN_PROPERTIES", "raw_get", "campaign_to_spend", "read_campaigns"]

#: The campaign properties read (plus the ``field_map.campaigns`` ones).
CAMPAIGN_PROPERTIES = ("hs_name", "hs_start_date", "hs_end_date", "hs_currency_code", "hs_utm",
                       "hs_audience", "hs_spend_items_sum_amount", "hs_budget_items_sum_amount")
_LIMIT = 100


def raw_get(client: HubSpotClient, path: str, query: list[tuple[str, Any]] | None = None
            ) -> Callable[..., Any]:
    """An SDK-style method for :meth:`HubSpotClient.call` that GETs ``path`` (an API the
    SDK lacks) through the objects API client."""
    api_client = client.objects.api_client

    def call(*, _preload_content: bool = False, _request_timeout: Any = None) -> Any:
        return api_client.call_api(path, "GET", {}, list(query or ()),
                                   {"Accept": "application/json"}, auth_settings=["oauth2"],
                                   response_types_map={}, _preload_content=_preload_content,
                                   _request_timeout=_request_timeout)
    return call


def campaign_to_spend(record: Mapping[str, Any], channel_property: str | None = None,
                      budget: Mapping[str, Any] | None = None,
                      currency: str | None = None) -> dict[str, Any] | None:
    """A campaign → ``spend``; ``None`` when it has no spend recorded. ``budget`` is its
    ``budget/totals`` answer when the list lacked the spend property."""
    props = record.get("properties") or {}
    if budget is not None:
        amount = number(budget, "spendTotal")
        currency = _text(budget, "currencyCode") or currency
    else:
        amount = number(props, "hs_spend_items_sum_amount")
    if not amount:
        return None
    start, end = when(props, "hs_start_date"), when(props, "hs_end_date")
    for name, value in (("hs_start_date", start), ("hs_end_date", end)):
        if value is None:
            raise Unmappable(name, f"{name} is empty: the campaign's spend has no period")
    assert start is not None and end is not None
    channel = _text(props, channel_property) if channel_property else None
    return {"remote_id": str(record["id"]),
            "remote_created_at": record.get("createdAt"),
            "remote_updated_at": record.get("updatedAt"),
            "category": "marketing", "channel": channel or _text(props, "hs_utm"),
            "segment": _text(props, "hs_audience"), "period_start": start.date(),
            "period_end": end.date(), "amount": amount,
            "currency": (_text(props, "hs_currency_code") or currency or "").upper() or None,
            "custom": {"campaign_name": _text(props, "hs_name")}}


def read_campaigns(connector: HubSpotConnector, cursor: Any,
                   company_currency: Callable[[], str | None]) -> Iterator[Batch]:
    """Every campaign page; changed campaigns as records, vanished ones as deletions."""
    client = connector.client
    state = dict(cursor or {})
    since = state.get("updated_at")
    if since is not None:
        since -= connector.settings["lookback_seconds"] * 1000
    fmap = connector.settings["field_map"].get("campaigns") or {}
    channel = next((p for p, column in fmap.items() if column == "channel"), None)
    props = list(dict.fromkeys([*CAMPAIGN_PROPERTIES, *fmap]))
    seen: list[str] = []
    newest = state.get("updated_at")

    def page(after: str | None) -> dict[str, Any]:
        query: list[tuple[str, Any]] = [("limit", _LIMIT), ("properties", ",".join(props))]
        if after:
            query.append(("after", after))
        return client.call("GET /marketing/v3/campaigns",
                           raw_get(client, "/marketing/v3/campaigns", query),
                           entity="spend").data

    for res in follow(page):
        records: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        cleared: list[Deletion] = []
        for raw in res.get("results", ()):
            seen.append(str(raw["id"]))
            updated = epoch_ms(str(raw["updatedAt"])) if raw.get("updatedAt") else None
            if updated is not None and (newest is None or updated > newest):
                newest = updated
            if since is not None and updated is not None and updated <= since:
                continue
            try:
                budget = (None if "hs_spend_items_sum_amount" in (raw.get("properties") or {})
                          else _budget(client, str(raw["id"])))
                own = _text(raw.get("properties") or {}, "hs_currency_code") or (
                    _text(budget, "currencyCode") if budget else None)
                record = campaign_to_spend(raw, channel, budget,
                                           None if own else company_currency())
            except Unmappable as exc:
                rejects.append(Reject(str(exc), remote_id=str(raw["id"]), field=exc.field,
                                      source="HubSpot campaigns", payload=raw))
                continue
            if record is not None:
                records.append(record)
            elif since is not None:  # its spend was removed: its row goes
                cleared.append(Deletion(str(raw["id"])))
        yield Batch(records=records, rejects=rejects, deleted=cleared)
    gone = sorted(set(state.get("ids") or ()) - set(seen))
    yield Batch(deleted=[Deletion(i) for i in gone],
                cursor={"updated_at": newest, "ids": sorted(seen)})


def _budget(client: HubSpotClient, guid: str) -> dict[str, Any]:
    """``GET /marketing/v3/campaigns/{guid}/budget/totals``."""
    path = f"/marketing/v3/campaigns/{guid}/budget/totals"
    return client.call("GET /marketing/v3/campaigns/{guid}/budget/totals",
                       raw_get(client, path), entity="spend").data
