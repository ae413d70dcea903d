"""Goal targets, feedback submissions and marketing campaigns of the fake portal: the KPI
inputs (quotas, survey responses, campaign spend), generated like every other record: a pure
function of ``(seed, index)``.

Shapes follow HubSpot's documented ones. A goal target is one time slice of one assignee's
goal (``hs_goal_type`` ``sales_quota`` for revenue goals, ``hs_target_amount`` a number string,
``hs_start_datetime``/``hs_end_datetime`` with the end at the next month's first midnight); its
assignee is an owner (``hubspot_owner_id``), a user only (``hs_assignee_user_id``, as older
targets) or a team (``hs_assignee_team_id``). A feedback submission has ``hs_survey_type``
``NPS``/``CSAT``/``CES``/``CUSTOM``, ``hs_value`` on the survey's scale and one contact. Campaigns
live outside the CRM objects: ``GET /marketing/v3/campaigns`` (``after`` an opaque cursor, 100
a page, properties comma-separated) and ``GET /marketing/v3/campaigns/{guid}/budget/totals``.
Each API answers 403 ``MISSING_SCOPES`` when the app lacks its scope.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

__all__ = ["TYPES", "SCOPES", "PROPERTIES", "ASSOCIATION_TYPES", "goal_target",
           "feedback_submission", "submission_contact", "Campaigns", "list_campaigns",
           "budget_totals", "missing_scope"]

TYPES = ("goal_targets", "feedback_submissions")
#: object type (or ``campaigns``) → the scope reading it needs
SCOPES = {"goal_targets": "crm.objects.goals.read",
          "feedback_submissions": "crm.objects.feedback_submissions.read",
          "campaigns": "marketing.campaigns.read"}
#: (from, to) → (unlabelled typeId, None); the fake's own numbering
ASSOCIATION_TYPES = {("feedback_submissions", "contacts"): (1107, None),
                     ("contacts", "feedback_submissions"): (1106, None)}
S, N, DT, E = "string", "number", "datetime", "enumeration"
#: name → (type, group, calculated) per object type, as hs_schema.SPECIFIC holds them.
PROPERTIES: dict[str, dict[str, tuple[str, str, bool]]] = {
    "goal_targets": {"hs_goal_name": (S, "goalinformation", False),
                     "hs_goal_type": (E, "goalinformation", False),
                     "hs_target_amount": (N, "goalinformation", False),
                     "hs_start_datetime": (DT, "goalinformation", False),
                     "hs_end_datetime": (DT, "goalinformation", False),
                     "hs_assignee_user_id": (E, "goalinformation", False),
                     "hs_assignee_team_id": (E, "goalinformation", False),
                     "hs_group_correlation_uuid": (S, "goalinformation", True)},
    "feedback_submissions": {"hs_survey_type": (E, "feedbacksubmissioninformation", True),
                             "hs_survey_name": (S, "feedbacksubmissioninformation", True),
                             "hs_survey_channel": (E, "feedbacksubmissioninformation", True),
                             "hs_value": (N, "feedbacksubmissioninformation", True),
                             "hs_response_group": (E, "feedbacksubmissioninformation", True),
                             "hs_content": (S, "feedbacksubmissioninformation", True),
                             "hs_submission_timestamp": (DT, "feedbacksubmissioninformation",
                                                         True)},
}
_GOALS = ("sales_quota", "sales_quota", "sales_quota", "sales_quota", "sales_quota",
          "calls_made")
_SURVEYS = (("NPS", 0, 10), ("NPS", 0, 10), ("CSAT", 1, 5), ("CES", 1, 7), ("NPS", 0, 10),
            ("CSAT", 1, 5), ("NPS", 0, 10), ("CUSTOM", 1, 5))
_MONTH_STARTS = (*(f"2025-{m:02d}-01T00:00:00Z" for m in range(1, 13)),
                 "2026-01-01T00:00:00Z")


def goal_target(gen: Any, i: int) -> dict[str, str | None]:
    """Goal target ``i``: month ``i % 12`` of 2025 for one assignee. Every 6th target is a
    calls goal; of the revenue ones, one in five is a team's and one in five names only the
    assignee's user id."""
    from fakes.hs_data import mix

    h = mix(i, gen.salt + 400)
    month = i % 12
    k = (i // 12) % max(gen.ds.owners, 1)
    goal_type = _GOALS[(i // 12) % len(_GOALS)]
    kind = (i // 12) % 5
    props: dict[str, str | None] = {
        "hs_goal_name": "Revenue 2025" if goal_type == "sales_quota" else "Calls made 2025",
        "hs_goal_type": goal_type, "hs_target_amount": f"{10_000 + h % 40 * 500}.00",
        "hs_start_datetime": _MONTH_STARTS[month], "hs_end_datetime": _MONTH_STARTS[month + 1],
        "hubspot_owner_id": None, "hs_assignee_user_id": None, "hs_assignee_team_id": None,
        "hs_group_correlation_uuid": f"5b2c{i // 12:04d}-9f3e-4c1a-8d2e-000000000000"}
    if goal_type == "sales_quota" and kind == 4:
        props["hs_assignee_team_id"] = str(5_000 + k % max(gen.ds.teams, 1))
    elif goal_type == "sales_quota" and kind == 3:
        props["hs_assignee_user_id"] = str(9_000_000 + k)
    else:
        props["hubspot_owner_id"] = str(100_000 + k)
        props["hs_assignee_user_id"] = str(9_000_000 + k)
    return props


def feedback_submission(gen: Any, i: int) -> dict[str, str | None]:
    """Feedback submission ``i``: mostly NPS, some CSAT and CES, one in eight custom."""
    from fakes.hs_data import iso, mix

    h = mix(i, gen.salt + 410)
    survey, low, high = _SURVEYS[i % len(_SURVEYS)]
    value = low + h % (high - low + 1)
    group = None
    if survey == "NPS":
        group = "PROMOTER" if value >= 9 else "PASSIVE" if value >= 7 else "DETRACTOR"
    return {"hs_survey_type": survey, "hs_survey_name": f"{survey} survey",
            "hs_survey_channel": "EMAIL", "hs_value": str(value), "hs_response_group": group,
            "hs_content": "Great onboarding" if h % 3 == 0 else None,
            "hs_submission_timestamp": iso(gen.created_ms("feedback_submissions", i))}


def submission_contact(gen: Any, i: int) -> list[int]:
    """The contact index of feedback submission ``i``."""
    from fakes.hs_data import mix

    contacts = gen.ds.count("contacts")
    return [mix(i, gen.salt + 411) % contacts] if contacts else []


class Campaigns:
    """The portal's marketing campaigns: generated, then changed or deleted by tests.

    :param omit_spend: list answers lack ``hs_spend_items_sum_amount`` (budget totals only).
    """

    def __init__(self, dataset: Any, now_ms: Any) -> None:
        from fakes.hs_data import SOURCES, mix

        self.now_ms = now_ms
        self.omit_spend = False
        self.records: dict[str, dict[str, Any]] = {}
        for i in range(getattr(dataset, "campaigns", 0)):
            h = mix(i, dataset.seed * 1000 + 420)
            guid = str(uuid.UUID(int=(h << 64) | mix(i, dataset.seed * 1000 + 421), version=4))
            month = 1 + i % 12
            spend = None if i % 5 == 4 else f"{2_000 + h % 30 * 250}"
            at = 1_735_689_600_000 + i * 86_400_000  # 2025-01-01 + i days
            self.records[guid] = {
                "hs_name": f"Campaign {i}", "hs_start_date": f"2025-{month:02d}-01",
                "hs_end_date": f"2025-{month:02d}-28", "hs_currency_code": "EUR" if i % 3 == 2
                else "USD", "hs_utm": f"campaign_{i}", "hs_audience": ("SMB", "Enterprise")[i % 2],
                "hs_spend_items_sum_amount": spend,
                "hs_budget_items_sum_amount": f"{5_000 + h % 20 * 500}",
                "channel": SOURCES[h % 4], "_created": at, "_updated": at}

    def update(self, guid: str, properties: dict[str, str | None]) -> None:
        """Change a campaign now."""
        self.records[guid].update(properties, _updated=self.now_ms())

    def delete(self, guid: str) -> None:
        """Delete a campaign (the API has no archive: it is gone from the list)."""
        del self.records[guid]


def _render(guid: str, record: dict[str, Any], props: list[str], omit: bool) -> dict[str, Any]:
    from fakes.hs_data import iso

    known = {p: record[p] for p in props if p in record and not p.startswith("_")
             and not (omit and p == "hs_spend_items_sum_amount")}
    return {"id": guid, "properties": known, "createdAt": iso(record["_created"]),
            "updatedAt": iso(record["_updated"]), "businessUnits": [{"id": 0}]}


def list_campaigns(portal: Any, req: Any) -> tuple[int, dict[str, Any]]:
    """GET /marketing/v3/campaigns: creation order, ``after`` an opaque cursor."""
    from fakes.hs_api import error

    limit = int(req.q("limit", "50") or 50)
    if not 0 < limit <= 100:
        return error(400, "VALIDATION_ERROR", f"limit must be between 1 and 100, got {limit}")
    after = req.q("after")
    start = int(base64.b64decode(after).decode()) if after else 0
    guids = list(portal.campaigns.records)
    props = req.qlist("properties") or ["hs_name"]
    body: dict[str, Any] = {"total": len(guids), "results": [
        _render(g, portal.campaigns.records[g], props, portal.campaigns.omit_spend)
        for g in guids[start:start + limit]]}
    if start + limit < len(guids):
        nxt = base64.b64encode(str(start + limit).encode()).decode()
        body["paging"] = {"next": {"after": nxt,
                                   "link": f"/marketing/v3/campaigns?after={nxt}"}}
    return 200, body


def budget_totals(portal: Any, req: Any, guid: str) -> tuple[int, dict[str, Any]]:
    """GET /marketing/v3/campaigns/{guid}/budget/totals."""
    from fakes.hs_api import error

    record = portal.campaigns.records.get(guid)
    if record is None:
        return error(404, "OBJECT_NOT_FOUND", "Campaign not found")
    spend = record["hs_spend_items_sum_amount"]
    budget = float(record["hs_budget_items_sum_amount"])
    item = {"createdAt": record["_created"], "updatedAt": record["_updated"], "order": 0}
    return 200, {
        "budgetItems": [{**item, "id": f"b-{guid[:8]}", "name": "Budget", "amount": budget}],
        "spendItems": [] if spend is None else [
            {**item, "id": f"s-{guid[:8]}", "name": "Paid ads", "amount": float(spend)}],
        "budgetTotal": budget, "spendTotal": float(spend or 0),
        "remainingBudget": budget - float(spend or 0), "currencyCode": record["hs_currency_code"]}


def missing_scope(portal: Any, args: dict[str, Any], path: str
                  ) -> tuple[int, dict[str, Any]] | None:
    """HubSpot's 403 when a request touches goals, feedback or campaigns without the scope."""
    touched = {args.get("type"), args.get("from_type"), args.get("to_type")}
    if path.startswith("/marketing/v3/campaigns"):
        touched.add("campaigns")
    needed = [SCOPES[t] for t in SCOPES if t in touched and SCOPES[t] not in portal.scopes]
    if not needed:
        return None
    from fakes.hs_api import error

    return error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to "
                 "make this call. Read more about required scopes here: "
                 "https://developers.hubspot.com/scopes.",
                 errors=[{"message": "One or more of the following scopes are required.",
                          "context": {"requiredGranularScopes": needed}}],
                 links={"scopes": "https://developers.hubspot.com/scopes"})
