"""A deterministic, Salesforce-shaped dataset of any size, generated lazily.

Nothing is stored per record: record ``i`` of an object is a pure function of (seed, i), so a
900k-record org costs a few MB (the sorted index the org builds) and any record can be made on
demand. Ids are real-looking 18-character Ids (key prefix, pod, base-62 sequence, case-safe
checksum) whose sequence part is the record's index, so an Id resolves back to its record.

``Dataset.bench()`` is the benchmark's org: 100k opportunities, 400k stage-history rows, 300k
activities (Task + Event), 50k contacts and 50k leads.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from .sf_data_sales import CURRENCIES, SOURCES, STAGES, WORDS, SalesObjects, standard_fields
from .sf_field_history import TRACKED_FIELDS, FieldHistoryObjects
from .sf_ids import DAY, PREFIXES, fmt_date, fmt_datetime, make_id, mix, parse_id
from .sf_inputs import InputObjects
from .sf_products import ProductObjects
from .sf_record_types import RecordTypeObjects
from .sf_schema import F, Field, ObjectSpec
from .sf_surveys import SurveyObjects, TerritoryObjects

__all__ = ["Dataset", "make_id", "parse_id", "fmt_datetime", "fmt_date", "STAGES", "PREFIXES"]

_FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
          "Keiko", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tara"]
_LAST = ["Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
         "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi",
         "Schmidt", "Tanaka", "Weber"]
_INDUSTRIES = ("Technology", "Manufacturing", "Finance", "Healthcare", "Retail", "Education")
_SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
_LEAD_STATUS = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                "Closed - Not Converted")
_ROLES = ("CEO", "VP Sales", "Sales Manager East", "Sales Manager West", "Account Executive")


@dataclass(frozen=True)
class Dataset:
    """Sizes and switches of a generated org (``multi_currency``: CurrencyIsoCode fields and
    the CurrencyType/DatedConversionRate objects exist; ``record_types``: record types and
    sales processes, see sf_record_types.py; ``field_history``: OpportunityFieldHistory
    exists, see sf_field_history.py, tracking ``tracked_fields``; ``field_changes``:
    opportunities are resized, their close dates pushed and their forecast categories
    overridden between stage changes, in OpportunityHistory and in field history)."""

    opportunities: int = 40
    history_per_opportunity: int = 4
    activities: int = 90
    contacts: int = 30
    leads: int = 30
    accounts: int = 0  # 0: opportunities // 5, at least 5
    users: int = 0  # 0: opportunities // 500, at least 6
    contact_roles: int = 0  # 0: opportunities // 4, at least 1
    multi_currency: bool = True
    record_types: bool = False
    field_history: bool = False
    field_changes: bool = False
    tracked_fields: tuple[str, ...] = TRACKED_FIELDS
    #: Product2 records (0: no Product2 or OpportunityLineItem objects; sf_products.py)
    products: int = 0
    line_items_per_opportunity: int = 2
    #: quarterly forecast periods with quotas (0: no Collaborative Forecasts; sf_inputs.py)
    forecast_quarters: int = 0
    #: Campaign records (0: no campaigns, and no Opportunity.CampaignId; sf_inputs.py)
    campaigns: int = 0
    #: survey responses (0: no Feedback Management objects; sf_surveys.py)
    surveys: int = 0
    #: Enterprise Territory Management objects (sf_surveys.py)
    territories: bool = False
    end: int = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp())
    seed: int = 7

    @classmethod
    def bench(cls, scale: float = 1.0, **kw: Any) -> Dataset:
        """The benchmark org (scale 1: 100k opportunities, 400k history rows, 300k
        activities, 50k contacts, 50k leads, 5k campaigns and eight quarters of quotas)."""
        kw.setdefault("campaigns", int(5_000 * scale))
        kw.setdefault("forecast_quarters", 8)
        return cls(opportunities=int(100_000 * scale), activities=int(300_000 * scale),
                   contacts=int(50_000 * scale), leads=int(50_000 * scale), **kw)

    def build(self) -> list[ObjectSpec]:
        """The object specs of this dataset."""
        return _Builder(self).specs()


def master_record(obj: str) -> Field:
    """``MasterRecordId``: the record this one was merged into (set by a merge, read-only)."""
    return F("MasterRecordId", "reference", reference_to=(obj,), relationship="MasterRecord",
             updateable=False)


class _Builder(SalesObjects, RecordTypeObjects, FieldHistoryObjects, ProductObjects,
               InputObjects, SurveyObjects, TerritoryObjects):
    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.n_acc = ds.accounts or max(5, ds.opportunities // 5)
        self.n_users = ds.users or max(6, ds.opportunities // 500)
        self.n_ocr = ds.contact_roles or max(1, ds.opportunities // 4)
        self.start = ds.end - 730 * DAY
        self.h = max(1, ds.history_per_opportunity)
        self.opp_plan = functools.lru_cache(maxsize=8192)(self._opp_plan)
        self.user_ids = [make_id("005", i) for i in range(self.n_users)]
        self.admin = self.user_ids[0]

    def rnd(self, salt: int, i: int) -> int:
        return mix((self.ds.seed << 48) ^ (salt << 40) ^ i)

    def ref(self, obj: str, i: int) -> str:
        return make_id(PREFIXES[obj], i)

    def owner(self, h: int) -> str:
        return self.user_ids[1 + h % (self.n_users - 1)]

    def cur(self, h: int) -> str:
        return ("USD", "USD", "EUR", "GBP")[h % 4]

    def dates(self, created: int, stamp: int) -> dict[str, Any]:
        modified = fmt_datetime(stamp)
        return {"CreatedDate": fmt_datetime(created), "LastModifiedDate": modified,
                "SystemModstamp": modified, "CreatedById": self.admin,
                "LastModifiedById": self.admin}

    def mc(self, fields: list[Field]) -> list[Field]:
        if self.ds.multi_currency:
            fields.insert(-1, F("CurrencyIsoCode", "picklist",
                                picklist=tuple(c for c, _ in CURRENCIES)))
        return fields

    # -- simple objects: created uniformly over two years, modified a little later ----------

    def born(self, salt: int, i: int) -> tuple[int, int, int]:
        h = self.rnd(salt, i)
        created = self.start + h % (700 * DAY)
        return h, created, min(self.ds.end, created + (h >> 20) % (30 * DAY))

    def specs(self) -> list[ObjectSpec]:
        specs = [self.user(), self.role(), self.account(), self.contact(), self.lead(),
                 self.stage(), self.opportunity(), self.history(), self.contact_role(),
                 self.task(), self.event()]
        if self.ds.multi_currency:
            specs += [self.currency(), self.dated_rate()]
        specs += [self.business_process(), self.record_type()]
        if self.ds.field_history:
            specs.append(self.field_history())
        if self.ds.products:
            specs += [self.product2(), self.line_item(), self.line_item_schedule()]
        return specs + self.input_specs() + self.survey_specs() + self.territory_specs()

    def user_name(self, i: int) -> str:
        """The Name of user ``i``."""
        return f"{_FIRST[i % 20]} {_LAST[(i // 20) % 20]}"

    def user(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            first, last = _FIRST[i % 20], _LAST[(i // 20) % 20]
            created, stamp = self.start - 60 * DAY + i * 60, self.start - 30 * DAY + i * 60
            email = f"{first}.{last}{i}@example.com".lower()
            return {"Id": self.ref("User", i), "Username": email, "FirstName": first,
                    "LastName": last, "Name": f"{first} {last}", "Email": email,
                    "IsActive": i % 17 != 16, "Title": "CEO" if i == 0 else "Account Executive",
                    "Department": "Sales", "UserRoleId": self.ref("UserRole", min(i, 2 + i % 3)),
                    "ManagerId": None if i == 0 else self.ref("User", 0 if i < 4 else 1 + i % 3),
                    **self.dates(created, stamp)}
        fields = standard_fields(F("Username", "string"), F("FirstName", "string"),
                      F("LastName", "string"), F("Name", "string", updateable=False),
                      F("Email", "email"), F("IsActive", "boolean"), F("Title", "string"),
                      F("Department", "string"),
                      F("UserRoleId", "reference", reference_to=("UserRole",)),
                      F("ManagerId", "reference", reference_to=("User",),
                        relationship="Manager"), deleted=False)
        return ObjectSpec("User", "005", "User", "Users", fields, self.n_users, make,
                          lambda i: self.start - 30 * DAY + i * 60)

    def role(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            stamp = self.start - 90 * DAY + i * 60
            return {"Id": self.ref("UserRole", i), "Name": _ROLES[i],
                    "DeveloperName": _ROLES[i].replace(" ", "_"),
                    "ParentRoleId": None if i == 0 else self.ref("UserRole", min(i - 1, 1)),
                    "LastModifiedDate": fmt_datetime(stamp), "SystemModstamp": fmt_datetime(stamp),
                    "LastModifiedById": self.ref("User", 0)}
        fields = standard_fields(F("Name", "string"), F("DeveloperName", "string"),
                      F("ParentRoleId", "reference", reference_to=("UserRole",),
                        relationship=None), deleted=False, created=False)
        return ObjectSpec("UserRole", "00E", "Role", "Roles", fields, len(_ROLES), make,
                          lambda i: self.start - 90 * DAY + i * 60)

    def account(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(1, i)
            word = WORDS[h % 16]
            rec = {"Id": self.ref("Account", i), "IsDeleted": False, "MasterRecordId": None,
                   "Name": f"{word} {_INDUSTRIES[(h >> 8) % 6]} {i}",
                   "Type": ("Customer - Direct", "Prospect", "Customer - Channel")[(h >> 12) % 3],
                   "ParentId": self.ref("Account", (h >> 16) % i) if i and h % 10 == 0 else None,
                   "Industry": _INDUSTRIES[(h >> 8) % 6],
                   "BillingCountry": ("US", "DE", "GB", "JP", "FR")[(h >> 20) % 5],
                   "Website": f"www.{word.lower()}{i}.example.com",
                   "NumberOfEmployees": 5 + (h >> 24) % 5000,
                   "AnnualRevenue": float(((h >> 32) % 5000) * 10_000),
                   "OwnerId": self.owner(h >> 40), "Segment__c": _SEGMENTS[(h >> 44) % 3],
                   **self.dates(created, stamp)}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = self.cur(h >> 50)
            if self.ds.record_types:
                rec["RecordTypeId"] = None  # the Master record type
            return rec
        fields = self.mc(standard_fields(
            master_record("Account"), *self.record_type_field(), F("Name", "string"),
            F("Type", "picklist"),
            F("ParentId", "reference", reference_to=("Account",), relationship="Parent"),
            F("Industry", "picklist", picklist=_INDUSTRIES), F("BillingCountry", "string"),
            F("Website", "url"), F("NumberOfEmployees", "int"), F("AnnualRevenue", "currency"),
            F("OwnerId", "reference", reference_to=("User",)),
            F("Segment__c", "picklist", picklist=_SEGMENTS)))
        return ObjectSpec("Account", "001", "Account", "Accounts", fields, self.n_acc, make,
                          lambda i: self.born(1, i)[2])

    def contact(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(2, i)
            first, last = _FIRST[h % 20], _LAST[(h >> 8) % 20]
            rec = {"Id": self.ref("Contact", i), "IsDeleted": False, "MasterRecordId": None,
                   "AccountId": self.ref("Account", (h >> 16) % self.n_acc),
                   "FirstName": first, "LastName": last, "Name": f"{first} {last}",
                   "Email": f"{first}.{last}.{i}@example.org".lower(),
                   "Phone": f"+1 555 {i % 10_000:04d}", "Title": ("CTO", "Buyer", "VP")[h % 3],
                   "LeadSource": SOURCES[(h >> 24) % 5], "OwnerId": self.owner(h >> 32),
                   **self.dates(created, stamp)}
            return rec
        fields = standard_fields(master_record("Contact"),
                      F("AccountId", "reference", reference_to=("Account",)),
                      F("FirstName", "string"), F("LastName", "string"),
                      F("Name", "string", updateable=False), F("Email", "email"),
                      F("Phone", "phone"), F("Title", "string"),
                      F("LeadSource", "picklist", picklist=SOURCES),
                      F("OwnerId", "reference", reference_to=("User",)))
        return ObjectSpec("Contact", "003", "Contact", "Contacts", fields, self.ds.contacts,
                          make, lambda i: self.born(2, i)[2])

    def lead(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(3, i)
            first, last = _FIRST[h % 20], _LAST[(h >> 8) % 20]
            status = _LEAD_STATUS[(h >> 16) % 4]
            converted = status == "Closed - Converted"
            return {"Id": self.ref("Lead", i), "IsDeleted": False, "MasterRecordId": None,
                    "FirstName": first,
                    "LastName": last, "Name": f"{first} {last}",
                    "Company": f"{WORDS[(h >> 20) % 16]} {i}",
                    "Email": f"{first}.{last}.{i}@example.net".lower(), "Status": status,
                    "LeadSource": SOURCES[(h >> 24) % 5], "OwnerId": self.owner(h >> 28),
                    "IsConverted": converted,
                    "ConvertedDate": fmt_date(stamp) if converted else None,
                    "ConvertedAccountId": self.ref("Account", (h >> 32) % self.n_acc)
                    if converted else None,
                    "ConvertedContactId": self.ref("Contact", (h >> 36) % self.ds.contacts)
                    if converted and self.ds.contacts else None,
                    "ConvertedOpportunityId": self.ref("Opportunity",
                                                       (h >> 40) % self.ds.opportunities)
                    if converted and self.ds.opportunities and h % 2 else None,
                    **self.dates(created, stamp)}
        fields = standard_fields(master_record("Lead"), F("FirstName", "string"),
                      F("LastName", "string"),
                      F("Name", "string", updateable=False), F("Company", "string"),
                      F("Email", "email"), F("Status", "picklist", picklist=_LEAD_STATUS),
                      F("LeadSource", "picklist", picklist=SOURCES),
                      F("OwnerId", "reference", reference_to=("User",)),
                      F("IsConverted", "boolean", updateable=False),
                      F("ConvertedDate", "date", updateable=False),
                      F("ConvertedAccountId", "reference", reference_to=("Account",),
                        updateable=False),
                      F("ConvertedContactId", "reference", reference_to=("Contact",),
                        updateable=False),
                      F("ConvertedOpportunityId", "reference", reference_to=("Opportunity",),
                        updateable=False))
        return ObjectSpec("Lead", "00Q", "Lead", "Leads", fields, self.ds.leads, make,
                          lambda i: self.born(3, i)[2])

    def stage(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, prob, closed, won, fc = STAGES[i]
            stamp = self.start - 90 * DAY + i * 60
            return {"Id": self.ref("OpportunityStage", i), "ApiName": name, "MasterLabel": name,
                    "IsActive": True, "SortOrder": i + 1, "IsClosed": closed, "IsWon": won,
                    "ForecastCategory": fc, "ForecastCategoryName": fc,
                    "DefaultProbability": float(prob), "Description": None,
                    **self.dates(stamp, stamp)}
        fields = standard_fields(F("ApiName", "string"), F("MasterLabel", "string"),
                      F("IsActive", "boolean"), F("SortOrder", "int"), F("IsClosed", "boolean"),
                      F("IsWon", "boolean"), F("ForecastCategory", "picklist"),
                      F("ForecastCategoryName", "string"), F("DefaultProbability", "percent"),
                      F("Description", "string"), deleted=False)
        return ObjectSpec("OpportunityStage", "01J", "Opportunity Stage", "Opportunity Stages",
                          fields, len(STAGES), make, lambda i: self.start - 90 * DAY + i * 60)

    # -- opportunities and their stage history ---------------------------------------------

