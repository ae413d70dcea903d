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
import time
from dataclasses import dataclass
from typing import Any

from .sf_schema import F, Field, ObjectSpec

__all__ = ["Dataset", "make_id", "parse_id", "fmt_datetime", "fmt_date", "STAGES", "PREFIXES"]

_M64 = (1 << 64) - 1
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order
_CHECK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
DAY = 86400

PREFIXES = {"User": "005", "UserRole": "00E", "Account": "001", "Contact": "003", "Lead": "00Q",
            "Opportunity": "006", "OpportunityHistory": "008", "OpportunityContactRole": "00K",
            "Task": "00T", "Event": "00U", "OpportunityStage": "01J", "CurrencyType": "02c",
            "DatedConversionRate": "04w"}

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
_FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
          "Keiko", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tara"]
_LAST = ["Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
         "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi",
         "Schmidt", "Tanaka", "Weber"]
_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Hooli", "Vandelay",
          "Soylent", "Wonka", "Cyberdyne", "Aperture", "Oscorp", "Gringotts", "Monarch"]
_INDUSTRIES = ("Technology", "Manufacturing", "Finance", "Healthcare", "Retail", "Education")
_SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
_LEAD_STATUS = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                "Closed - Not Converted")
_CURRENCIES = (("USD", 1.0), ("EUR", 0.92), ("GBP", 0.79), ("JPY", 151.2))
_PRODUCTS = ("Platform", "Analytics", "Services", "Support")
_ROLES = ("CEO", "VP Sales", "Sales Manager East", "Sales Manager West", "Account Executive")


def _mix(x: int) -> int:
    """splitmix64: a cheap, well-spread hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


_PAIRS = [a + b for a in _B62 for b in _B62]  # every two-digit base-62 string, in order
_UP0 = [p[0].isupper() for p in _PAIRS]
_UP1 = [p[1].isupper() for p in _PAIRS]


@functools.lru_cache(maxsize=64)
def _head(prefix: str) -> tuple[str, str]:
    """(the Id's first 9 characters, the checksum character of its first 5)."""
    head = f"{prefix}8d0000"
    return head, _CHECK[sum(1 << j for j, ch in enumerate(head[:5]) if "A" <= ch <= "Z")]


def make_id(prefix: str, index: int) -> str:
    """The 18-character Id of record ``index`` of the object with key ``prefix``: prefix, pod
    ``8d``, ``0000``, six base-62 digits, then the case-safe checksum (one character per five,
    bit j set when character j is upper case)."""
    a, rest = divmod(index, 14_776_336)  # 62 ** 4
    b, c = divmod(rest, 3844)  # 62 ** 2
    head, check0 = _head(prefix)
    check1 = _CHECK[16 if _UP0[a] else 0]  # "0000" + first digit
    bits = _UP1[a] | _UP0[b] << 1 | _UP1[b] << 2 | _UP0[c] << 3 | _UP1[c] << 4
    return f"{head}{_PAIRS[a]}{_PAIRS[b]}{_PAIRS[c]}{check0}{check1}{_CHECK[bits]}"


def parse_id(value: str) -> tuple[str, int] | None:
    """(key prefix, index) of an Id made by :func:`make_id`, or None."""
    if not isinstance(value, str) or len(value) not in (15, 18) or value[3:9] != "8d0000":
        return None
    n = 0
    for ch in value[9:15]:
        k = _B62.find(ch)
        if k < 0:
            return None
        n = n * 62 + k
    return value[:3], n


@functools.lru_cache(maxsize=4096)
def _day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


def fmt_datetime(epoch: float) -> str:
    """Salesforce's JSON datetime: ``2024-01-02T03:04:05.000+0000``."""
    day, sec = divmod(int(epoch), DAY)
    hour, sec = divmod(sec, 3600)
    minute, sec = divmod(sec, 60)
    return f"{_day(day)}T{hour:02d}:{minute:02d}:{sec:02d}.000+0000"


def fmt_date(epoch: float) -> str:
    """``YYYY-MM-DD``."""
    return _day(int(epoch) // DAY)


def _std(*extra: Field, deleted: bool = True, created: bool = True,
         modified: bool = True) -> list[Field]:
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


@dataclass(frozen=True)
class Dataset:
    """Sizes and switches of a generated org (``multi_currency``: CurrencyIsoCode fields and
    the CurrencyType/DatedConversionRate objects exist)."""

    opportunities: int = 40
    history_per_opportunity: int = 4
    activities: int = 90
    contacts: int = 30
    leads: int = 30
    accounts: int = 0  # 0: opportunities // 5, at least 5
    users: int = 0  # 0: opportunities // 500, at least 6
    contact_roles: int = 0  # 0: opportunities // 4, at least 1
    multi_currency: bool = True
    end: int = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp())
    seed: int = 7

    @classmethod
    def bench(cls, scale: float = 1.0, **kw: Any) -> Dataset:
        """The benchmark org (scale 1: 100k opportunities, 400k history rows, 300k
        activities, 50k contacts, 50k leads)."""
        return cls(opportunities=int(100_000 * scale), activities=int(300_000 * scale),
                   contacts=int(50_000 * scale), leads=int(50_000 * scale), **kw)

    def build(self) -> list[ObjectSpec]:
        """The object specs of this dataset."""
        return _Builder(self).specs()


class _Builder:
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
        return _mix((self.ds.seed << 48) ^ (salt << 40) ^ i)

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
                                picklist=tuple(c for c, _ in _CURRENCIES)))
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
        return specs

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
        fields = _std(F("Username", "string"), F("FirstName", "string"),
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
        fields = _std(F("Name", "string"), F("DeveloperName", "string"),
                      F("ParentRoleId", "reference", reference_to=("UserRole",),
                        relationship=None), deleted=False, created=False)
        return ObjectSpec("UserRole", "00E", "Role", "Roles", fields, len(_ROLES), make,
                          lambda i: self.start - 90 * DAY + i * 60)

    def account(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(1, i)
            word = _WORDS[h % 16]
            rec = {"Id": self.ref("Account", i), "IsDeleted": False,
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
            return rec
        fields = self.mc(_std(
            F("Name", "string"), F("Type", "picklist"),
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
            rec = {"Id": self.ref("Contact", i), "IsDeleted": False,
                   "AccountId": self.ref("Account", (h >> 16) % self.n_acc),
                   "FirstName": first, "LastName": last, "Name": f"{first} {last}",
                   "Email": f"{first}.{last}.{i}@example.org".lower(),
                   "Phone": f"+1 555 {i % 10_000:04d}", "Title": ("CTO", "Buyer", "VP")[h % 3],
                   "LeadSource": _SOURCES[(h >> 24) % 5], "OwnerId": self.owner(h >> 32),
                   **self.dates(created, stamp)}
            return rec
        fields = _std(F("AccountId", "reference", reference_to=("Account",)),
                      F("FirstName", "string"), F("LastName", "string"),
                      F("Name", "string", updateable=False), F("Email", "email"),
                      F("Phone", "phone"), F("Title", "string"),
                      F("LeadSource", "picklist", picklist=_SOURCES),
                      F("OwnerId", "reference", reference_to=("User",)))
        return ObjectSpec("Contact", "003", "Contact", "Contacts", fields, self.ds.contacts,
                          make, lambda i: self.born(2, i)[2])

    def lead(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            h, created, stamp = self.born(3, i)
            first, last = _FIRST[h % 20], _LAST[(h >> 8) % 20]
            status = _LEAD_STATUS[(h >> 16) % 4]
            converted = status == "Closed - Converted"
            return {"Id": self.ref("Lead", i), "IsDeleted": False, "FirstName": first,
                    "LastName": last, "Name": f"{first} {last}",
                    "Company": f"{_WORDS[(h >> 20) % 16]} {i}",
                    "Email": f"{first}.{last}.{i}@example.net".lower(), "Status": status,
                    "LeadSource": _SOURCES[(h >> 24) % 5], "OwnerId": self.owner(h >> 28),
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
        fields = _std(F("FirstName", "string"), F("LastName", "string"),
                      F("Name", "string", updateable=False), F("Company", "string"),
                      F("Email", "email"), F("Status", "picklist", picklist=_LEAD_STATUS),
                      F("LeadSource", "picklist", picklist=_SOURCES),
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
        fields = _std(F("ApiName", "string"), F("MasterLabel", "string"),
                      F("IsActive", "boolean"), F("SortOrder", "int"), F("IsClosed", "boolean"),
                      F("IsWon", "boolean"), F("ForecastCategory", "picklist"),
                      F("ForecastCategoryName", "string"), F("DefaultProbability", "percent"),
                      F("Description", "string"), deleted=False)
        return ObjectSpec("OpportunityStage", "01J", "Opportunity Stage", "Opportunity Stages",
                          fields, len(STAGES), make, lambda i: self.start - 90 * DAY + i * 60)

    # -- opportunities and their stage history ---------------------------------------------

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
        return h, times, stages, 1000 + ((h >> 40) % 2000) * 100

    def opportunity(self) -> ObjectSpec:
        def stamp(j: int) -> int:
            h, times, _, _ = self.opp_plan(j)
            return min(self.ds.end, times[-1] + h % 3600)

        def make(j: int) -> dict[str, Any]:
            h, times, stages, amount = self.opp_plan(j)
            name, prob, closed, won, fc = STAGES[stages[-1]]
            rec = {"Id": self.ref("Opportunity", j), "IsDeleted": False,
                   "AccountId": self.ref("Account", (h >> 8) % self.n_acc),
                   "Name": f"{_WORDS[h % 16]} {_PRODUCTS[(h >> 4) % 4]} {j}",
                   "StageName": name, "Amount": float(amount), "Probability": float(prob),
                   "CloseDate": fmt_date(times[-1] if closed else times[0] + 90 * DAY),
                   "Type": ("New Business", "Existing Business")[(h >> 50) % 2],
                   "LeadSource": _SOURCES[(h >> 52) % 5], "IsClosed": closed, "IsWon": won,
                   "ForecastCategory": fc, "ForecastCategoryName": fc,
                   "OwnerId": self.owner(h >> 54), "LastStageChangeDate": fmt_datetime(times[-1]),
                   "Product_Line__c": _PRODUCTS[(h >> 4) % 4],
                   "Loss_Reason__c": ("Price", "Competitor", "No Budget")[h % 3]
                   if closed and not won else None,
                   **self.dates(times[0], stamp(j))}
            if self.ds.multi_currency:
                rec["CurrencyIsoCode"] = self.cur(h >> 58)
            return rec
        fields = self.mc(_std(
            F("AccountId", "reference", reference_to=("Account",)), F("Name", "string"),
            F("StageName", "picklist", picklist=tuple(s[0] for s in STAGES)),
            F("Amount", "currency"), F("Probability", "percent"), F("CloseDate", "date"),
            F("Type", "picklist"), F("LeadSource", "picklist", picklist=_SOURCES),
            F("IsClosed", "boolean", updateable=False), F("IsWon", "boolean", updateable=False),
            F("ForecastCategory", "picklist", updateable=False),
            F("ForecastCategoryName", "picklist"),
            F("OwnerId", "reference", reference_to=("User",)),
            F("LastStageChangeDate", "datetime", updateable=False),
            F("Product_Line__c", "picklist", picklist=_PRODUCTS),
            F("Loss_Reason__c", "string")))
        return ObjectSpec("Opportunity", "006", "Opportunity", "Opportunities", fields,
                          self.ds.opportunities, make, stamp)

    def history(self) -> ObjectSpec:
        H = self.h

        def make(i: int) -> dict[str, Any]:
            j, k = divmod(i, H)
            h, times, stages, amount = self.opp_plan(j)
            name, prob, closed, _, fc = STAGES[stages[k]]
            close = fmt_date(times[-1] if closed else times[0] + 90 * DAY)
            rec = {"Id": self.ref("OpportunityHistory", i), "IsDeleted": False,
                   "OpportunityId": self.ref("Opportunity", j), "StageName": name,
                   "Amount": float(amount), "ExpectedRevenue": amount * prob / 100.0,
                   "CloseDate": close, "Probability": float(prob), "ForecastCategory": fc,
                   "PrevAmount": None if k == 0 else float(amount),
                   "PrevCloseDate": None if k == 0 else fmt_date(times[0] + 90 * DAY),
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
        fields = self.mc(_std(
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
                    "OpportunityId": self.ref("Opportunity", (i * step) % max(1, self.ds.opportunities)),
                    "ContactId": self.ref("Contact", h % max(1, self.ds.contacts)),
                    "Role": ("Decision Maker", "Economic Buyer", "Influencer")[(h >> 8) % 3],
                    "IsPrimary": True, **self.dates(created, stamp)}
        fields = _std(F("OpportunityId", "reference", reference_to=("Opportunity",)),
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
        fields = _std(*self._activity_fields(), F("Status", "picklist"),
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
        fields = _std(*self._activity_fields(), F("ActivityDateTime", "datetime"),
                      F("StartDateTime", "datetime"), F("EndDateTime", "datetime"),
                      F("DurationInMinutes", "int"), F("IsAllDayEvent", "boolean"),
                      F("EventSubtype", "picklist", updateable=False))
        return ObjectSpec("Event", "00U", "Event", "Events", fields, self.ds.activities // 3,
                          make, lambda i: self.born(7, i)[2])

    # -- currencies (multi-currency orgs only) ----------------------------------------------

    def currency(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            code, rate = _CURRENCIES[i]
            stamp = self.start - 90 * DAY + i * 60
            return {"Id": self.ref("CurrencyType", i), "IsoCode": code, "ConversionRate": rate,
                    "DecimalPlaces": 0 if code == "JPY" else 2, "IsActive": True,
                    "IsCorporate": i == 0, **self.dates(stamp, stamp)}
        fields = _std(F("IsoCode", "picklist"), F("ConversionRate", "double"),
                      F("DecimalPlaces", "int"), F("IsActive", "boolean"),
                      F("IsCorporate", "boolean"), deleted=False)
        return ObjectSpec("CurrencyType", "02c", "Currency Type", "Currency Types", fields,
                          len(_CURRENCIES), make, lambda i: self.start - 90 * DAY + i * 60)

    def dated_rate(self) -> ObjectSpec:
        periods = 9  # quarters covering the two years, the last one open-ended

        def make(i: int) -> dict[str, Any]:
            c, q = divmod(i, periods)
            code, rate = _CURRENCIES[c]
            begin = self.start - 30 * DAY + q * 91 * DAY
            stamp = self.start - 90 * DAY + i * 60
            return {"Id": self.ref("DatedConversionRate", i), "IsoCode": code,
                    "ConversionRate": round(rate * (1 + ((q * 7 + c) % 5 - 2) / 100), 6)
                    if c else 1.0, "StartDate": fmt_date(begin),
                    "NextStartDate": fmt_date(begin + 91 * DAY) if q < periods - 1 else
                    "9999-12-31", **self.dates(stamp, stamp)}
        fields = _std(F("IsoCode", "picklist"), F("ConversionRate", "double"),
                      F("StartDate", "date"), F("NextStartDate", "date", updateable=False),
                      deleted=False)
        return ObjectSpec("DatedConversionRate", "04w", "Dated Exchange Rate",
                          "Dated Exchange Rates", fields, len(_CURRENCIES) * periods, make,
                          lambda i: self.start - 90 * DAY + i * 60)
