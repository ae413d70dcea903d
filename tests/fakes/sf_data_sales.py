"""The sales side of the generated org: stages, opportunities and their stage history,
contact roles, activities (Task, Event) and currencies — a mixin of the dataset builder."""

from __future__ import annotations

from typing import Any

from .sf_ids import DAY, fmt_date, fmt_datetime, parse_id
from .sf_schema import F, Field, ObjectSpec

__all__ = ["SalesObjects", "STAGES", "standard_fields", "WORDS", "SOURCES", "CURRENCIES",
           "FORECAST_API"]

#: The standard sales process: (ApiName, probability, closed, won, forecast category).
STAGES = [("Prospecting", 10, False, False, "Pipeline"),
          ("Qualification", 10, False, False, "Pipeline"),
          ("Needs Analysis", 20, False, False, "Pipeline"),
          ("Value Proposition", 50, False, False, "Pipeline"),
          ("Id. Decision Makers", 60, False, False, "Pipeline"),
          ("Perception Analysis", 70, False, False, "Pipeline"),
          ("Proposal/Price Quote", 75, False, False, "Pipeline"),
          ("Negotiation/Review", 90, False, False, "Commit"),
          ("Closed Won", 100, True, True, "Closed"),
          ("Closed Lost", 0, True, False, "Omitted")]
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Hooli", "Vandelay",
         "Soylent", "Wonka", "Cyberdyne", "Aperture", "Oscorp", "Gringotts", "Monarch"]
SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
CURRENCIES = (("USD", 1.0), ("EUR", 0.92), ("GBP", 0.79), ("JPY", 151.2))
#: ForecastCategoryName label → ForecastCategory API value (OpportunityHistory's snapshot).
FORECAST_API = {"Pipeline": "Pipeline", "Best Case": "BestCase", "Commit": "Forecast",
                "Closed": "Closed", "Omitted": "Omitted"}
_PRODUCTS = ("Platform", "Analytics", "Services", "Support")


def standard_fields(*extra: Field, deleted: bool = True, created: bool = True,
                    modified: bool = True) -> list[Field]:
    """Id, IsDeleted, ``extra``, the created/modified audit fields and SystemModstamp (each
    optional as in Salesforce's object reference)."""
    fields = [F("Id", "id")]
    if deleted:
        fields.append(F("IsDeleted", "boolean"))
    fields.extend(extra)
    if created:
        fields += [F("CreatedDate", "datetime"), F("CreatedById", "reference",
                                                    reference_to=("User",))]
    if modified:
        fields += [F("LastModifiedDate", "datetime"), F("LastModifiedById", "reference",
                                                        reference_to=("User",))]
    fields.append(F("SystemModstamp", "datetime"))
    return fields


class SalesObjects:
    """Opportunity-side object specs; expects the builder's ``ds``, ``n_acc``, ``n_ocr``,
    ``h``, ``start``, ``opp_plan``, ``rnd``, ``ref``, ``owner``, ``cur``, ``dates``, ``born``
    and ``mc``."""

    ds: Any
    n_acc: int
    n_ocr: int
    h: int
    start: int
    opp_plan: Any
    process_stages: Any
    opp_record_type: Any
    record_type_field: Any
    opportunity_campaign: Any
    opportunity_campaign_field: Any

    def _opp_plan(self, j: int) -> tuple[int, list[int], list[int], int]:
        """(hash, step times, stage indexes, amount) of opportunity ``j``."""
        h = self.rnd(4, j)
        created = self.start + h % (700 * DAY - self.h * 20 * DAY)
        outcome = (h >> 20) % 20  # 0-5 won, 6-10 lost, else open
        times, t = [], created
        for k in range(self.h):
            times.append(t)
            t += DAY + (h >> (24 + k * 3)) % (19 * DAY) if k < 12 else DAY
        if outcome <= 10:
            stages = [min(k, 7) for k in range(self.h - 1)] + [8 if outcome <= 5 else 9]
        else:
            stages = [min(k, 7) for k in range(self.h)]
        return h, times, self.process_stages(j, stages), 1000 + ((h >> 40) % 2000) * 100

    def step_values(self, j: int) -> list[tuple[float, str, str]]:
        """(Amount, CloseDate, ForecastCategoryName) of opportunity ``j`` at each history step.

        Without ``field_changes`` the amount never changes, the close date is the close (closed
        deals) or 90 days after creation, and the category is the stage's. With it, some steps
        resize the deal, push an open deal's close date by 30 days or move a pipeline-stage deal
        to Best Case; closing sets the close date to the day it closed."""
        h, times, stages, amount = self.opp_plan(j)
        if not self.ds.field_changes:
            return [(float(amount), fmt_date(times[-1] if STAGES[s][2] else times[0] + 90 * DAY),
                     STAGES[s][4]) for s in stages]
        out: list[tuple[float, str, str]] = []
        value, due = float(amount), times[0] + 90 * DAY
        for k, s in enumerate(stages):
            if k and (h >> (3 + 4 * k)) % 4 == 0:  # a resize
                step = ((h >> (5 + 4 * k)) % 10 + 1) * 100.0
                value = max(100.0, value + (step if (h >> (7 + 4 * k)) % 2 else -step))
            if k and not STAGES[s][2] and (h >> (20 + 3 * k)) % 3 == 0:  # a pushed close date
                due += 30 * DAY
            fc = STAGES[s][4]
            if fc == "Pipeline" and (h >> (40 + 2 * k)) % 5 == 0:
                fc = "Best Case"  # the rep's own call
            out.append((value, fmt_date(times[k] if STAGES[s][2] else due), fc))
        return out

    def opportunity(self) -> ObjectSpec:
        def stamp(j: int) -> int:
            h, times, _, _ = self.opp_plan(j)
            return min(self.ds.end, times[-1] + h % 3600)

        def make(j: int) -> dict[str, Any]:
            h, times, stages, _ = self.opp_plan(j)
            name, prob, closed, won, _ = STAGES[stages[-1]]
            amount, close, fc = self.step_values(j)[-1]
            rec = {"Id": self.ref("Opportunity", j), "IsDeleted": False,
                   "AccountId": self.ref("Account", (h >> 8) % self.n_acc),
                   "Name": f"{WORDS[h % 16]} {_PRODUCTS[(h >> 4) % 4]} {j}",
                   "StageName": name, "Amount": amount, "Probability": float(prob),
                   "CloseDate": close,
                   "Type": ("New Business", "Existing Business")[(h >> 50) % 2],
                   "LeadSource": SOURCES[(h >> 52) % 5], "IsClosed": closed, "IsWon": won,
                   "ForecastCategory": FORECAST_API[fc] if self.ds.field_changes else fc,
                   "ForecastCategoryName": fc,
                   "OwnerId": self.owner(h >> 54), "LastStageChangeDate": fmt_datetime(times[-1]),
                   "Product_Line__c": _PRODUCTS[(h >> 4) % 4],
                   "Loss_Reason__c": ("Price", "Competitor", "No Budget")[h % 3]
                   if closed and not won else None, **self.opportunity_campaign(j),
                   **self.dates(times[0], stamp(j))}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = self.cur(h >> 58)
            if self.ds.record_types:
                rt = self.opp_record_type(j)
                rec["RecordTypeId"] = None if rt is None else self.ref("RecordType", rt)
            return rec
        fields = self.mc(standard_fields(
            F("AccountId", "reference", reference_to=("Account",)), *self.record_type_field(),
            F("Name", "string"),
            F("StageName", "picklist", picklist=tuple(s[0] for s in STAGES)),
            F("Amount", "currency"), F("Probability", "percent"), F("CloseDate", "date"),
            F("Type", "picklist"), F("LeadSource", "picklist", picklist=SOURCES),
            F("IsClosed", "boolean", updateable=False), F("IsWon", "boolean", updateable=False),
            F("ForecastCategory", "picklist", updateable=False),
            F("ForecastCategoryName", "picklist"),
            F("OwnerId", "reference", reference_to=("User",)),
            F("LastStageChangeDate", "datetime", updateable=False),
            F("Product_Line__c", "picklist", picklist=_PRODUCTS),
            F("Loss_Reason__c", "string"), *self.opportunity_campaign_field()))
        return ObjectSpec("Opportunity", "006", "Opportunity", "Opportunities", fields,
                          self.ds.opportunities, make, stamp)

    def history(self) -> ObjectSpec:
        H = self.h

        def make(i: int) -> dict[str, Any]:
            j, k = divmod(i, H)
            h, times, stages, _ = self.opp_plan(j)
            name, prob, _, _, _ = STAGES[stages[k]]
            steps = self.step_values(j)
            amount, close, fc = steps[k]
            prev_amount, prev_close, _ = steps[k - 1] if k else (None, None, None)
            if not self.ds.field_changes:
                prev_close = None if k == 0 else fmt_date(times[0] + 90 * DAY)
            rec = {"Id": self.ref("OpportunityHistory", i), "IsDeleted": False,
                   "OpportunityId": self.ref("Opportunity", j), "StageName": name,
                   "Amount": amount, "ExpectedRevenue": amount * prob / 100.0,
                   "CloseDate": close, "Probability": float(prob),
                   "ForecastCategory": FORECAST_API[fc] if self.ds.field_changes else fc,
                   "PrevAmount": prev_amount, "PrevCloseDate": prev_close,
                   "CreatedDate": fmt_datetime(times[k]), "CreatedById": self.owner(h >> 54),
                   "SystemModstamp": fmt_datetime(times[k])}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = self.cur(h >> 58)
            return rec

        def children(opp_id: str) -> list[int]:
            parsed = parse_id(opp_id)
            if not parsed or parsed[0] != "006" or parsed[1] >= self.ds.opportunities:
                return []
            return list(range(parsed[1] * H, parsed[1] * H + H))
        fields = self.mc(standard_fields(
            F("OpportunityId", "reference", reference_to=("Opportunity",), updateable=False),
            F("StageName", "picklist", updateable=False),
            F("Amount", "currency", updateable=False),
            F("ExpectedRevenue", "currency", updateable=False),
            F("CloseDate", "date", updateable=False), F("Probability", "percent",
                                                        updateable=False),
            F("ForecastCategory", "picklist", updateable=False),
            F("PrevAmount", "currency", updateable=False),
            F("PrevCloseDate", "date", updateable=False), modified=False))
        return ObjectSpec("OpportunityHistory", "008", "Opportunity History",
                          "Opportunity History", fields, self.ds.opportunities * H, make,
                          lambda i: self.opp_plan(i // H)[1][i % H], {"OpportunityId": children})

    def contact_role(self) -> ObjectSpec:
        step = max(1, self.ds.opportunities // self.n_ocr)

        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(5, i)
            return {"Id": self.ref("OpportunityContactRole", i), "IsDeleted": False,
                    "OpportunityId": self.ref("Opportunity",
                                              (i * step) % max(1, self.ds.opportunities)),
                    "ContactId": self.ref("Contact", h % max(1, self.ds.contacts)),
                    "Role": ("Decision Maker", "Economic Buyer", "Influencer")[(h >> 8) % 3],
                    "IsPrimary": True, **self.dates(created, stamp)}
        fields = standard_fields(F("OpportunityId", "reference", reference_to=("Opportunity",)),
                      F("ContactId", "reference", reference_to=("Contact",)),
                      F("Role", "picklist"), F("IsPrimary", "boolean"))
        return ObjectSpec("OpportunityContactRole", "00K", "Contact Role", "Contact Roles",
                          fields, self.n_ocr, make, lambda i: self.born(5, i)[2])

    def _activity_refs(self, h: int) -> dict[str, Any]:
        if self.ds.leads and h % 5 == 0:  # a lead's activity: no account, no opportunity
            return {"WhoId": self.ref("Lead", (h >> 8) % self.ds.leads), "WhatId": None,
                    "AccountId": None}
        j = (h >> 8) % max(1, self.ds.opportunities)
        acc = self.ref("Account", (self.opp_plan(j)[0] >> 8) % self.n_acc)
        return {"WhoId": self.ref("Contact", (h >> 28) % self.ds.contacts)
                if self.ds.contacts else None,
                "WhatId": self.ref("Opportunity", j) if self.ds.opportunities else acc,
                "AccountId": acc}

    def _activity_fields(self) -> list[Field]:
        return [F("WhoId", "reference", reference_to=("Contact", "Lead"), relationship="Who"),
                F("WhatId", "reference", reference_to=("Opportunity", "Account"),
                  relationship="What"),
                F("AccountId", "reference", reference_to=("Account",), updateable=False),
                F("Subject", "string"), F("ActivityDate", "date"),
                F("OwnerId", "reference", reference_to=("User",))]

    def task(self) -> ObjectSpec:
        n = self.ds.activities - self.ds.activities // 3

        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(6, i)
            kind = ("Call", "Call", "Email", "Email", "Task")[(h >> 40) % 5]
            done = (h >> 44) % 4 != 0
            rec = {"Id": self.ref("Task", i), "IsDeleted": False, **self._activity_refs(h),
                   "Subject": {"Call": "Call", "Email": "Email: follow-up",
                               "Task": "Send proposal"}[kind],
                   "ActivityDate": fmt_date(created), "OwnerId": self.owner(h >> 48),
                   "Status": "Completed" if done else "Not Started", "IsClosed": done,
                   "Priority": "Normal", "TaskSubtype": kind,
                   "CompletedDateTime": fmt_datetime(stamp) if done else None,
                   "CallDurationInSeconds": 30 + (h >> 52) % 1800 if kind == "Call" else None,
                   "CallType": "Outbound" if kind == "Call" else None,
                   "CallDisposition": ("Connected", "Left Voicemail", "No Answer")[h % 3]
                   if kind == "Call" else None, **self.dates(created, stamp)}
            return rec
        fields = standard_fields(*self._activity_fields(), F("Status", "picklist"),
                      F("IsClosed", "boolean", updateable=False), F("Priority", "picklist"),
                      F("TaskSubtype", "picklist", updateable=False),
                      F("CompletedDateTime", "datetime", updateable=False),
                      F("CallDurationInSeconds", "int"), F("CallType", "picklist"),
                      F("CallDisposition", "string"))
        return ObjectSpec("Task", "00T", "Task", "Tasks", fields, n, make,
                          lambda i: self.born(6, i)[2])

    def event(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(7, i)
            begin = created + DAY + (h >> 40) % (10 * DAY)
            minutes = (30, 45, 60, 90)[(h >> 50) % 4]
            return {"Id": self.ref("Event", i), "IsDeleted": False, **self._activity_refs(h),
                    "Subject": ("Meeting", "Demo", "Discovery call")[(h >> 44) % 3],
                    "ActivityDate": fmt_date(begin), "OwnerId": self.owner(h >> 48),
                    "ActivityDateTime": fmt_datetime(begin), "StartDateTime": fmt_datetime(begin),
                    "EndDateTime": fmt_datetime(begin + minutes * 60),
                    "DurationInMinutes": minutes, "IsAllDayEvent": False,
                    "EventSubtype": "Event", **self.dates(created, stamp)}
        fields = standard_fields(*self._activity_fields(), F("ActivityDateTime", "datetime"),
                      F("StartDateTime", "datetime"), F("EndDateTime", "datetime"),
                      F("DurationInMinutes", "int"), F("IsAllDayEvent", "boolean"),
                      F("EventSubtype", "picklist", updateable=False))
        return ObjectSpec("Event", "00U", "Event", "Events", fields, self.ds.activities // 3,
                          make, lambda i: self.born(7, i)[2])

    # -- currencies (multi-currency orgs only) ----------------------------------------------

    def currency(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            code, rate = CURRENCIES[i]
            stamp = self.start - 90 * DAY + i * 60
            return {"Id": self.ref("CurrencyType", i), "IsoCode": code, "ConversionRate": rate,
                    "DecimalPlaces": 0 if code == "JPY" else 2, "IsActive": True,
                    "IsCorporate": i == 0, **self.dates(stamp, stamp)}
        fields = standard_fields(F("IsoCode", "picklist"), F("ConversionRate", "double"),
                      F("DecimalPlaces", "int"), F("IsActive", "boolean"),
                      F("IsCorporate", "boolean"), deleted=False)
        return ObjectSpec("CurrencyType", "02c", "Currency Type", "Currency Types", fields,
                          len(CURRENCIES), make, lambda i: self.start - 90 * DAY + i * 60)

    def dated_rate(self) -> ObjectSpec:
        periods = 9  # quarters covering the two years, the last one open-ended

        def make(i: int) -> dict[str, Any]:
            c, q = divmod(i, periods)
            code, rate = CURRENCIES[c]
            begin = self.start - 30 * DAY + q * 91 * DAY
            stamp = self.start - 90 * DAY + i * 60
            return {"Id": self.ref("DatedConversionRate", i), "IsoCode": code,
                    "ConversionRate": round(rate * (1 + ((q * 7 + c) % 5 - 2) / 100), 6)
                    if c else 1.0, "StartDate": fmt_date(begin),
                    "NextStartDate": fmt_date(begin + 91 * DAY) if q < periods - 1 else
                    "9999-12-31", **self.dates(stamp, stamp)}
        fields = standard_fields(F("IsoCode", "picklist"), F("ConversionRate", "double"),
                      F("StartDate", "date"), F("NextStartDate", "date", updateable=False),
                      deleted=False)
        return ObjectSpec("DatedConversionRate", "04w", "Dated Exchange Rate",
                          "Dated Exchange Rates", fields, len(CURRENCIES) * periods, make,
                          lambda i: self.start - 90 * DAY + i * 60)

