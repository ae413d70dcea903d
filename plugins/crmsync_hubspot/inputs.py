"""KPI inputs from the portal: goal targets → ``quotas``, feedback submissions → ``feedback``
and marketing campaigns → ``spend`` (:mod:`crmsync_hubspot.campaigns`); see
docs/connectors/hubspot.md, "Goals, campaigns and feedback".

Goal targets and feedback submissions are CRM objects, read like the others (search on
``hs_lastmodifieddate``, the ``archived=true`` pass for deletions). Quirks handled here:

* **A goal is many goal targets.** HubSpot stores one ``goal_targets`` record per assignee and
  time slice (a monthly goal of one rep is twelve records), so one record is one quota row.
* **Only revenue goals are quotas.** ``hs_goal_type`` names the goal's template; the types in
  the ``goal_types`` setting (default ``sales_quota``, HubSpot's revenue quota) become quotas,
  the others (calls made, meetings booked…) are left out: their targets are not money.
* **Owner or team.** ``hubspot_owner_id`` is the owner the goal is assigned to (an owner id,
  like deals'); older targets carry only ``hs_assignee_user_id``, a *user* id, mapped to its
  owner through the owners API. A team goal carries ``hs_assignee_team_id`` (or
  ``hubspot_team_id``) and becomes a team quota named like ``users.team``.
* **Periods.** ``hs_end_datetime`` is usually the first instant *after* the period
  (``2024-01-01T00:00:00Z`` ends December): an end at midnight UTC ends the day before.
* **Currency.** Goal amounts carry no currency: they are in the portal's company currency
  (``GET /account-info/v3/details``, read once a run), as deals' home-currency amounts are.
* **Survey types.** ``hs_survey_type`` ``NPS``, ``CSAT`` and ``CES`` become feedback; custom
  and knowledge-base surveys are left out. The score is ``hs_value`` (``hs_response_value`` on
  older portals), the contact the v4 association (else ``hs_contact_id``). Account and owner
  stay empty unless the submission has an owner: the feedback metrics attribute a response to
  its contact's account and owner (plugins/crmsync_kpis/feedback.py).
* **Scopes.** Without ``crm.objects.goals.read``, ``crm.objects.feedback_submissions.read`` or
  ``marketing.campaigns.read`` (or the hub that has the feature) HubSpot answers 403: the
  entity is skipped with one log line (:func:`crmsync_hubspot.line_items.without_scope`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import Batch, ConnectorError
from crmsync_hubspot.archived import LIST_LIMIT, flag
from crmsync_hubspot.line_items import FORBIDDEN, without_scope
from crmsync_hubspot.paging import follow
from crmsync_hubspot.values import Unmappable, _text, associated_ids, number, when

if TYPE_CHECKING:
    from crmsync_hubspot.connector import HubSpotConnector

__all__ = ["INPUT_ENTITIES", "OBJECT_TYPES", "SCOPES", "REVENUE_GOAL_TYPES", "Directory",
           "goal_to_quota", "submission_to_feedback", "period_end", "Inputs"]

#: Schema table → HubSpot object type (``spend`` reads the marketing campaigns API).
OBJECT_TYPES = {"quotas": "goal_targets", "feedback": "feedback_submissions",
                "spend": "campaigns"}
INPUT_ENTITIES = tuple(OBJECT_TYPES)
#: The scope each entity needs.
SCOPES = {"quotas": "crm.objects.goals.read",
          "feedback": "crm.objects.feedback_submissions.read",
          "spend": "marketing.campaigns.read"}
#: ``hs_goal_type`` values that are revenue quotas (the ``goal_types`` setting's default).
REVENUE_GOAL_TYPES = ("sales_quota",)
_SURVEYS = {"NPS": "nps", "CSAT": "csat", "CES": "ces"}


class Directory:
    """Owners by HubSpot user id and team names by team id, from the owners API."""

    def __init__(self, owners: Iterable[Mapping[str, Any]], currency: str | None) -> None:
        self.owner_of_user: dict[str, str] = {}
        self.team_name: dict[str, str] = {}
        for o in owners:
            if o.get("userId") is not None:
                self.owner_of_user[str(o["userId"])] = str(o["id"])
            for team in o.get("teams") or ():
                if team.get("id") is not None and team.get("name"):
                    self.team_name[str(team["id"])] = str(team["name"])
        #: the portal's company currency (goal amounts are in it)
        self.currency = currency


def period_end(props: Mapping[str, Any], name: str = "hs_end_datetime") -> dt.date | None:
    """The last day of a period whose end is ``name``: an end at midnight UTC is exclusive
    (the day before), any other instant ends its own day."""
    at = when(props, name)
    if at is None:
        return None
    at = at.astimezone(dt.timezone.utc)
    if at.time() == dt.time(0, 0):
        return (at - dt.timedelta(days=1)).date()
    return at.date()


def _date(props: Mapping[str, Any], name: str) -> dt.date:
    at = when(props, name)
    if at is None:
        raise Unmappable(name, f"{name} is empty: the quota has no period")
    return at.astimezone(dt.timezone.utc).date()


def _base(record: Mapping[str, Any]) -> dict[str, Any]:
    props = record.get("properties") or {}
    return {"remote_id": str(record["id"]),
            "remote_created_at": (when(props, "hs_createdate") or when(props, "createdate")
                                  or record.get("createdAt")),
            "remote_updated_at": when(props, "hs_lastmodifieddate") or record.get("updatedAt")}


def goal_to_quota(record: Mapping[str, Any], directory: Directory,
                  goal_types: Iterable[str] = REVENUE_GOAL_TYPES) -> dict[str, Any] | None:
    """A goal target → ``quotas``; ``None`` for a goal that is not a revenue goal."""
    props = record.get("properties") or {}
    goal_type = (_text(props, "hs_goal_type") or "").strip().lower()
    if goal_type not in {t.lower() for t in goal_types}:
        return None
    amount = number(props, "hs_target_amount")
    if amount is None:
        raise Unmappable("hs_target_amount", "hs_target_amount is empty: the quota has no "
                                             "amount")
    start, end = _date(props, "hs_start_datetime"), period_end(props)
    if end is None:
        raise Unmappable("hs_end_datetime", "hs_end_datetime is empty: the quota has no period")
    owner = _text(props, "hubspot_owner_id")
    user = _text(props, "hs_assignee_user_id")
    if owner is None and user is not None:
        owner = directory.owner_of_user.get(user)
    team_id = _text(props, "hs_assignee_team_id") or _text(props, "hubspot_team_id")
    team = None
    if owner is None and team_id is not None:
        team = directory.team_name.get(team_id, team_id)
    if owner is None and team is None:
        raise Unmappable("hs_assignee_user_id", "the goal is assigned to no owner and no team"
                         + (f" (user {user} is no owner)" if user else ""))
    return {**_base(record), "owner_id": owner, "team": team, "period_start": start,
            "period_end": end, "amount": amount, "currency": directory.currency}


def submission_to_feedback(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """A feedback submission → ``feedback``; ``None`` for a custom or knowledge-base survey."""
    props = record.get("properties") or {}
    kind = _SURVEYS.get((_text(props, "hs_survey_type") or "").strip().upper())
    if kind is None:
        return None
    name = "hs_value" if _text(props, "hs_value") is not None else "hs_response_value"
    score = number(props, name)
    if score is None:
        raise Unmappable("hs_value", "hs_value is empty: the response has no score")
    responded = (when(props, "hs_submission_timestamp") or when(props, "hs_createdate")
                 or when(props, "createdate"))
    if responded is None:
        raise Unmappable("hs_submission_timestamp", "hs_submission_timestamp is empty")
    contacts = associated_ids(record, "contacts")
    return {**_base(record), "type": kind, "score": score,
            "contact_id": contacts[0] if contacts else _text(props, "hs_contact_id"),
            "account_id": None, "owner_id": _text(props, "hubspot_owner_id"),
            "responded_at": responded,
            "comment": _text(props, "hs_content")}


class Inputs:
    """Reads ``quotas``, ``feedback`` and ``spend`` for one connector instance (one run)."""

    def __init__(self, connector: HubSpotConnector) -> None:
        self.connector = connector
        #: owners seen by this run's ``users`` read (else read here, once)
        self.owners: list[dict[str, Any]] | None = None
        self._directory: Directory | None = None
        self._currency: tuple[str | None] | None = None

    def forget(self) -> None:
        """Forget the per-run caches (owners, currency)."""
        self.owners, self._directory, self._currency = None, None, None

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """``entity``'s batches after ``cursor``; a missing scope ends it with one log line."""
        return without_scope(lambda: self._read(entity, cursor), connection=self.connector.name,
                             entity=entity, scope=SCOPES[entity])

    def _read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        c = self.connector
        if entity == "spend":
            from crmsync_hubspot.campaigns import read_campaigns

            return read_campaigns(c, cursor, self.company_currency)
        to_record: Callable[[dict[str, Any]], dict[str, Any] | None]
        if entity == "quotas":
            types = tuple(c.settings["goal_types"]) or REVENUE_GOAL_TYPES

            def to_record(raw: dict[str, Any]) -> dict[str, Any] | None:
                return goal_to_quota(raw, self.directory(), types)
        else:
            to_record = submission_to_feedback
        return c._read_objects(OBJECT_TYPES[entity], cursor, to_record, entity=entity)

    def directory(self) -> Directory:
        """Owners and teams (this run's ``users`` read, else one list pass) and the portal's
        currency."""
        if self._directory is None:
            owners = self.owners if self.owners is not None else self._read_owners()
            self._directory = Directory(owners, self.company_currency())
        return self._directory

    def _read_owners(self) -> list[dict[str, Any]]:
        client, owners = self.connector.client, []
        for archived in (False, True):
            def fetch(after: str | None, archived: bool = archived) -> dict[str, Any]:
                return client.call(f"GET /crm/v3/owners?archived={flag(archived)}",
                                   client.owners.get_page, limit=LIST_LIMIT, after=after,
                                   archived=flag(archived), entity="quotas").data
            for res in follow(fetch):
                owners += res.get("results", ())
        return owners

    def company_currency(self) -> str | None:
        """The portal's company currency, read once a run (``None`` when unreadable)."""
        if self._currency is None:
            from crmsync_hubspot.campaigns import raw_get

            client = self.connector.client
            try:
                res = client.call("GET /account-info/v3/details",
                                  raw_get(client, "/account-info/v3/details"))
                value = res.data.get("companyCurrency")
            except ConnectorError as exc:
                if not FORBIDDEN.search(str(exc)):
                    raise
                value = None  # an app refused the account details: no currency known
            self._currency = (str(value).upper() if value else None,)
        return self._currency[0]
