"""A deterministic, HubSpot-shaped dataset for the fake portal (no data files: all computed).

Every record of every object type is a pure function of ``(seed, object type, index)``, so a
portal of 650,000 records costs a few arrays of timestamps (see :mod:`fakes.hs_objects`) and
the property values of a record are generated only when a response needs them. Values follow
HubSpot's conventions: every property value is a string (numbers, booleans, dates included),
datetimes are ISO-8601 with milliseconds and ``Z``, date-only properties are midnight UTC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Dataset", "Generator", "iso", "parse_ms", "mix", "ENGAGEMENTS", "OBJECT_TYPES",
           "TS_PROPERTY", "PIPELINES", "HOME_CURRENCY", "RATES", "TIED_TS", "START_MS", "END_MS"]

M64 = (1 << 64) - 1
#: Engagement object types and their share of ``Dataset.engagements``.
ENGAGEMENTS = {"calls": 0.3, "emails": 0.3, "meetings": 0.15, "tasks": 0.15, "notes": 0.1}
OBJECT_TYPES = ("companies", "contacts", "deals", *ENGAGEMENTS, "leads", "products",
                "line_items", "goal_targets", "feedback_submissions")
#: HubSpot quirk: contacts keep their modification time in ``lastmodifieddate``.
TS_PROPERTY = {t: ("lastmodifieddate" if t == "contacts" else "hs_lastmodifieddate")
               for t in OBJECT_TYPES}
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
END_MS = 1_780_272_000_000    # 2026-06-01T00:00:00Z
#: The one timestamp shared by ``Dataset.tied`` records (2025-06-01T00:00:00.000Z).
TIED_TS = 1_748_736_000_000
HOME_CURRENCY = "USD"
RATES = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
DAY_MS = 86_400_000

#: (id, label, stages as (id, label, probability, is_closed)); the default pipeline uses
#: HubSpot's own stage ids, the others numeric ids like portals' custom pipelines.
PIPELINES: tuple[tuple[str, str, tuple[tuple[str, str, str, bool], ...]], ...] = (
    ("default", "Sales Pipeline", (
        ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
        ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
        ("presentationscheduled", "Presentation Scheduled", "0.6", False),
        ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
        ("contractsent", "Contract Sent", "0.9", False),
        ("closedwon", "Closed Won", "1.0", True),
        ("closedlost", "Closed Lost", "0.0", True))),
    ("75e28846-ad0d-4be2-a027-5e1da6590b98", "Renewals", (
        ("1029431", "Renewal Due", "0.5", False),
        ("1029432", "Negotiation", "0.75", False),
        ("1029433", "Renewed", "1.0", True),
        ("1029434", "Churned", "0.0", True))),
    ("3391046", "Partner Deals", (
        ("3391047", "Registered", "0.1", False),
        ("3391048", "Accepted", "0.3", False),
        ("3391049", "Won", "1.0", True),
        ("3391050", "Lost", "0.0", True))),
)
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer")
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret",
         "Linus", "Radia", "Dennis")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Hamilton", "Torvalds", "Perlman", "Ritchie")
INDUSTRIES = ("COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL",
              "LOGISTICS_AND_SUPPLY_CHAIN", "EDUCATION_MANAGEMENT")
COUNTRIES = (("Germany", "Berlin"), ("United States", "Boston"), ("France", "Paris"),
             ("United Kingdom", "London"), ("Japan", "Tokyo"))
SOURCES = ("ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "REFERRALS", "DIRECT_TRAFFIC",
           "OFFLINE")
CALL_DISPOSITIONS = ("f240bbac-87c9-4f6e-bf70-924b57d47db7",  # Connected
                     "73a0d17f-1163-4015-bdd5-ec830791da20",  # No answer
                     "b2cf5968-551e-4856-9783-52b3da59a7d0",  # Left voicemail
                     "9d9162e7-6cf3-4944-bf63-4dff82258764")  # Busy


def mix(i: int, salt: int) -> int:
    """A well-mixed 64-bit hash of ``(i, salt)`` (splitmix64): the dataset's only randomness."""
    x = (i * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9 + 0x632BE59BD9B4E019) & M64
    x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 29)


def _number(value: float) -> str:
    """A number as HubSpot writes it in a property: ``"1250"``, ``"1250.5"``."""
    return str(int(value)) if value == int(value) else repr(value)


def iso(ms: int) -> str:
    """HubSpot's datetime format: ``2024-08-10T23:13:12.293Z``."""
    s, m = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{m:03d}Z"


def parse_ms(value: str) -> int:
    """Epoch ms of an epoch-ms string, an ISO datetime (``Z`` or offset) or an ISO date."""
    import datetime as dt

    v = value.strip()
    if v.lstrip("-").isdigit():
        return int(v)
    if len(v) == 10:
        v += "T00:00:00"
    parsed = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class Dataset:
    """How big the generated portal is.

    :param engagements: calls, emails, meetings, tasks and notes together (see ENGAGEMENTS).
    :param tied: this many deals (``tied_object``) share one modification timestamp
        (:data:`TIED_TS`), to exercise the search API's 10,000 cap on ties.
    :param leads: records of the Leads object (0: the portal has no Leads object).
    :param field_changes: deals' property histories hold changes (resizes, pushed close
        dates, owner and currency changes, forecast categories set and cleared, probability
        with each stage) instead of one value at creation (:meth:`Generator.deal_history`).
    """

    deals: int = 120
    contacts: int = 200
    companies: int = 50
    engagements: int = 300
    owners: int = 12
    teams: int = 3
    leads: int = 0
    #: products and line items (fakes.hs_products)
    products: int = 6
    line_items: int = 240
    #: goal targets, feedback submissions and marketing campaigns (fakes.hs_inputs)
    goal_targets: int = 72
    feedback_submissions: int = 80
    campaigns: int = 10
    tied: int = 0
    tied_object: str = "deals"
    field_changes: bool = False
    seed: int = 7

    @classmethod
    def bench(cls, scale: float = 1.0) -> Dataset:
        """The benchmark portal: 100k deals, 200k contacts, 50k companies, 300k engagements."""
        return cls(deals=int(100_000 * scale), contacts=int(200_000 * scale),
                   companies=int(50_000 * scale), engagements=int(300_000 * scale),
                   owners=max(12, int(200 * scale)), teams=8)

    def with_(self, **changes: Any) -> Dataset:
        """A copy with some sizes changed."""
        return replace(self, **changes)

    def count(self, object_type: str) -> int:
        """Generated records of ``object_type``."""
        if object_type in ENGAGEMENTS:
            return int(self.engagements * ENGAGEMENTS[object_type])
        return {"deals": self.deals, "contacts": self.contacts, "companies": self.companies,
                "leads": self.leads, "products": self.products,
                "line_items": self.line_items, "goal_targets": self.goal_targets,
                "feedback_submissions": self.feedback_submissions}[object_type]


class Generator:
    """Property values, timestamps, stage paths and associations of generated records."""

    def __init__(self, dataset: Dataset) -> None:
        self.ds = dataset
        self.salt = dataset.seed * 1000

    # -- timestamps -----------------------------------------------------------------------------

    def created_ms(self, object_type: str, i: int) -> int:
        """When record ``i`` was created: spread over 2024-01-01 .. 2026-06-01, rising with i."""
        n = max(self.ds.count(object_type), 1)
        return (START_MS + (END_MS - START_MS - 90 * DAY_MS) * i // n
                + mix(i, self.salt + 1) % 3_600_000)

    def updated_ms(self, object_type: str, i: int) -> int:
        """The last modification of record ``i`` (tied records share :data:`TIED_TS`)."""
        if object_type == self.ds.tied_object and i < self.ds.tied:
            return TIED_TS
        return self.created_ms(object_type, i) + mix(i, self.salt + 2) % (80 * DAY_MS)

    # -- owners, deals ----------------------------------------------------------------------------

    def owner_id(self, i: int, salt: int) -> str:
        """The owner of a record (owner ids are ``100000 + k``)."""
        return str(100_000 + mix(i, self.salt + salt) % self.ds.owners)

    def deal_path(self, i: int) -> tuple[str, list[tuple[str, int]]]:
        """Deal ``i``'s pipeline and the stages it entered, oldest first, with entry times."""
        h = mix(i, self.salt + 10)
        pipeline = PIPELINES[0] if h % 10 < 7 else PIPELINES[1 + h % 2]
        stages = pipeline[2]
        open_stages = [s for s in stages if not s[3]]
        outcome = (h >> 8) % 100
        depth = 1 + (h >> 16) % len(open_stages)
        path = [s[0] for s in open_stages[:depth]]
        if outcome >= 40:  # 35% won, 25% lost
            path.append(next(s[0] for s in stages if s[3] and (s[2] == "1.0") == (outcome < 75)))
        start = self.created_ms("deals", i)
        end = max(self.updated_ms("deals", i), start + len(path))
        step = (end - start) // len(path)
        return pipeline[0], [(sid, start + k * step) for k, sid in enumerate(path)]

    def deal(self, i: int) -> dict[str, str | None]:
        """The generated properties of deal ``i`` (all strings)."""
        h = mix(i, self.salt + 20)
        pipeline, path = self.deal_path(i)
        stage, entered = path[-1]
        meta = {s[0]: s for p in PIPELINES for s in p[2]}
        closed = meta[stage][3]
        won = closed and meta[stage][2] == "1.0"
        currency = "USD" if h % 10 < 7 else ("EUR" if h % 10 < 9 else "GBP")
        amount = None if h % 20 == 0 else (1000 + (h >> 8) % 99_000) + ((h >> 30) % 4) * 0.25
        close_day = (entered if closed else entered + (30 + (h >> 40) % 90) * DAY_MS)
        props: dict[str, str | None] = {
            "dealname": f"Deal {i} - {LAST[h % len(LAST)]} expansion",
            "pipeline": pipeline,
            "dealstage": stage,
            "amount": None if amount is None else _number(amount),
            "deal_currency_code": currency,
            "amount_in_home_currency": (None if amount is None
                                        else _number(round(amount * RATES[currency], 2))),
            "closedate": iso(close_day - close_day % DAY_MS),
            "hubspot_owner_id": self.owner_id(i, 21),
            "hs_is_closed": "true" if closed else "false",
            "hs_is_closed_won": "true" if won else "false",
            "hs_deal_stage_probability": meta[stage][2],
            "dealtype": "newbusiness" if h % 3 else "existingbusiness",
            "closed_won_reason": "Best fit" if won else None,
            "closed_lost_reason": "Went with a competitor" if closed and not won else None,
            "hs_analytics_source": SOURCES[(h >> 12) % len(SOURCES)],
            "deal_region": ("EMEA", "AMER", "APAC")[(h >> 20) % 3],
            "hs_priority": ("low", "medium", "high")[(h >> 24) % 3],
            "hs_manual_forecast_category": None if closed or (h >> 44) % 4 else
            ("BEST_CASE", "COMMIT")[(h >> 46) % 2],
        }
        for k, (sid, at) in enumerate(path):
            props[f"hs_v2_date_entered_{sid}"] = iso(at)
            if k + 1 < len(path):
                props[f"hs_v2_date_exited_{sid}"] = iso(path[k + 1][1])
        return props

    def deal_history(self, i: int, prop: str) -> list[tuple[str | None, int]] | None:
        """``(value, ms)`` history of a deal property, oldest first, with ``field_changes``
        (``None`` without: one entry at creation). Changes happen halfway through the deal's
        life; the last entry is the current value."""
        if not self.ds.field_changes or prop == "dealstage":
            return None
        h = mix(i, self.salt + 70)
        created = self.created_ms("deals", i)
        mid = (created + self.updated_ms("deals", i)) // 2
        final = self.deal(i).get(prop)
        if prop == "hs_deal_stage_probability":
            probability = {s[0]: s[2] for p in PIPELINES for s in p[2]}
            return [(probability[sid], at) for sid, at in self.deal_path(i)[1]]
        first: str | None = None
        if prop == "amount" and final is not None and h % 3 == 0:
            first = _number(round(float(final) * 0.8, 2))  # resized up later
        elif prop == "closedate" and final is not None and (h >> 4) % 2 == 0:
            first = iso(parse_ms(final) - 30 * DAY_MS)  # pushed by a month
        elif prop == "hubspot_owner_id" and (h >> 8) % 5 == 0:
            first = self.owner_id(i + 1, 21)  # handed over
        elif prop == "deal_currency_code" and final != "USD" and (h >> 16) % 3 == 0:
            first = "USD"
        elif prop == "hs_manual_forecast_category":
            if final is not None:
                return [(final, mid)]  # the rep's call, made after creation
            return [("BEST_CASE", created + 3_600_000), ("", mid)] if (h >> 12) % 6 == 0 \
                else []  # set, then cleared
        if first is None or first == final:
            return [] if final is None else [(final, created)]
        return [(first, created), (final, mid)]

    # -- companies, contacts, leads --------------------------------------------------------------

    def company(self, i: int) -> dict[str, str | None]:
        """The generated properties of company ``i``."""
        h = mix(i, self.salt + 30)
        country, city = COUNTRIES[h % len(COUNTRIES)]
        return {
            "name": f"{LAST[h % len(LAST)]} {('Labs', 'Systems', 'GmbH', 'Inc')[(h >> 4) % 4]} {i}",
            "domain": f"company{i}.example.com",
            "industry": INDUSTRIES[(h >> 8) % len(INDUSTRIES)],
            "numberofemployees": str(5 + (h >> 12) % 5000),
            "annualrevenue": str(100_000 + (h >> 24) % 50_000_000),
            "country": country,
            "city": city,
            "lifecyclestage": "customer" if h % 3 == 0 else "lead",
            "type": ("PROSPECT", "CUSTOMER", "PARTNER")[(h >> 30) % 3],
            "hubspot_owner_id": self.owner_id(i, 31),
        }

    def contact(self, i: int) -> dict[str, str | None]:
        """The generated properties of contact ``i`` (lifecycle dates for stages reached)."""
        h = mix(i, self.salt + 40)
        reached = 1 + h % len(LIFECYCLE)
        created = self.created_ms("contacts", i)
        props: dict[str, str | None] = {
            "firstname": FIRST[h % len(FIRST)],
            "lastname": LAST[(h >> 4) % len(LAST)],
            "email": f"contact{i}@example.com",
            "phone": f"+1 555 {(h >> 8) % 10_000_000:07d}" if h % 4 else None,
            "jobtitle": ("CFO", "Head of Sales", "Engineer", "Buyer")[(h >> 12) % 4],
            "company": f"Company {self.contact_company(i)}",
            "lifecyclestage": LIFECYCLE[reached - 1],
            "hs_lead_status": ("NEW", "OPEN", "IN_PROGRESS", "CONNECTED")[(h >> 16) % 4],
            "hs_analytics_source": SOURCES[(h >> 20) % len(SOURCES)],
            "hubspot_owner_id": self.owner_id(i, 41),
        }
        for k, stage in enumerate(LIFECYCLE[:reached]):
            props[f"hs_lifecyclestage_{stage}_date"] = iso(created + k * 5 * DAY_MS)
        return props

    def lead(self, i: int) -> dict[str, str | None]:
        """The generated properties of record ``i`` of the Leads object."""
        h = mix(i, self.salt + 50)
        return {"hs_lead_name": f"Lead {i}", "hs_pipeline": "lead-pipeline-id",
                "hs_pipeline_stage": ("new-stage-id", "attempting-stage-id",
                                      "connected-stage-id", "qualified-stage-id")[h % 4],
                "hs_lead_source": SOURCES[(h >> 8) % len(SOURCES)],
                "hubspot_owner_id": self.owner_id(i, 51)}

    # -- engagements -------------------------------------------------------------------------------

    def engagement(self, object_type: str, i: int) -> dict[str, str | None]:
        """The generated properties of engagement ``i`` of ``object_type`` (calls, emails…)."""
        h = mix(i, self.salt + 60 + len(object_type))
        at = self.created_ms(object_type, i)
        props: dict[str, str | None] = {"hs_timestamp": iso(at),
                                        "hubspot_owner_id": self.owner_id(i, 61)}
        if object_type == "calls":
            props.update(hs_call_title=f"Call {i}",
                         hs_call_direction="OUTBOUND" if h % 4 else "INBOUND",
                         hs_call_duration=str((h >> 8) % 1_800_000),
                         hs_call_disposition=CALL_DISPOSITIONS[(h >> 4) % 4],
                         hs_call_status="COMPLETED" if h % 9 else "NO_ANSWER")
        elif object_type == "emails":
            automated = h % 5 == 0
            props.update(hs_email_subject=f"Re: proposal {i}",
                         hs_email_direction="INCOMING_EMAIL" if h % 3 == 0 else "EMAIL",
                         hs_email_status="SENT",
                         hs_email_sequence_id=str(900 + h % 7) if automated else None,
                         hs_sequence_id=str(900 + h % 7) if automated else None)
        elif object_type == "meetings":
            props.update(hs_meeting_title=f"Meeting {i}",
                         hs_meeting_outcome=("SCHEDULED", "COMPLETED", "NO_SHOW", "CANCELED",
                                             "RESCHEDULED")[h % 5],
                         hs_meeting_start_time=iso(at), hs_meeting_end_time=iso(at + 1_800_000))
        elif object_type == "tasks":
            props.update(hs_task_subject=f"Follow up {i}",
                         hs_task_status="COMPLETED" if h % 2 else "NOT_STARTED",
                         hs_task_type=("CALL", "EMAIL", "TODO")[h % 3],
                         hs_task_priority=("LOW", "MEDIUM", "HIGH")[(h >> 4) % 3])
        else:
            props.update(hs_note_body=f"<p>Note {i}</p>")
        return props

    def properties(self, object_type: str, i: int) -> dict[str, str | None]:
        """The generated (not yet modified) properties of record ``i`` of ``object_type``."""
        if object_type == "deals":
            return self.deal(i)
        if object_type == "companies":
            return self.company(i)
        if object_type == "contacts":
            return self.contact(i)
        if object_type == "leads":
            return self.lead(i)
        if object_type in ("products", "line_items"):
            from fakes import hs_products

            make = hs_products.product if object_type == "products" else hs_products.line_item
            return make(self, i)
        if object_type in ("goal_targets", "feedback_submissions"):
            from fakes import hs_inputs

            return (hs_inputs.goal_target if object_type == "goal_targets"
                    else hs_inputs.feedback_submission)(self, i)
        return self.engagement(object_type, i)

    # -- associations (by index; the portal maps indexes to ids) ---------------------------------

    def contact_company(self, i: int) -> int | None:
        """The company index of contact ``i`` (10% have none)."""
        h = mix(i, self.salt + 70)
        return None if h % 10 == 0 or not self.ds.companies else h % self.ds.companies

    def associations(self, object_type: str, to_type: str, i: int) -> list[int]:
        """Indexes of ``to_type`` records associated with record ``i`` of ``object_type``
        (the generated, forward direction only)."""
        ds = self.ds
        if object_type == "deals" and to_type == "companies" and ds.companies:
            h = mix(i, self.salt + 80)
            return [] if h % 20 == 0 else [h % ds.companies]
        if object_type == "deals" and to_type == "contacts" and ds.contacts:
            h = mix(i, self.salt + 81)
            return sorted({mix(i, self.salt + 82 + k) % ds.contacts for k in range(1 + h % 3)})
        if object_type == "contacts" and to_type == "companies":
            c = self.contact_company(i)
            return [] if c is None else [c]
        if object_type in ENGAGEMENTS and ds.contacts:
            h = mix(i, self.salt + 90 + len(object_type))
            contact = h % ds.contacts
            if to_type == "contacts":
                return [contact]
            if to_type == "companies":
                c = self.contact_company(contact)
                return [] if c is None else [c]
            if to_type == "deals" and ds.deals and (h >> 32) % 2:
                return [(h >> 33) % ds.deals]
        if object_type == "line_items" and to_type == "deals":
            from fakes.hs_products import line_item_deal

            return line_item_deal(self, i)
        if object_type == "feedback_submissions" and to_type == "contacts":
            from fakes.hs_inputs import submission_contact

            return submission_contact(self, i)
        if object_type == "leads" and to_type == "contacts" and ds.contacts:
            return [mix(i, self.salt + 95) % ds.contacts]
        return []
