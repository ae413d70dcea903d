"""Ids and value formats of the fake Salesforce org.

Ids are real-looking 18-character Ids: key prefix, pod ``8d``, ``0000``, six base-62 digits
(the record's index, so an Id resolves back to its record), then the case-safe checksum.
Datetimes are Salesforce's ``2024-01-02T03:04:05.000+0000`` (fixed width, UTC: they compare
correctly as strings).
"""

from __future__ import annotations

import functools
import time

__all__ = ["make_id", "parse_id", "fmt_datetime", "fmt_date", "mix", "PREFIXES", "DAY"]

_M64 = (1 << 64) - 1
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order
_CHECK = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
DAY = 86400
PREFIXES = {"User": "005", "UserRole": "00E", "Account": "001", "Contact": "003", "Lead": "00Q",
            "Opportunity": "006", "OpportunityHistory": "008", "OpportunityContactRole": "00K",
            "Task": "00T", "Event": "00U", "OpportunityStage": "01J", "CurrencyType": "02c",
            "DatedConversionRate": "04w", "RecordType": "012", "BusinessProcess": "019",
            "OpportunityFieldHistory": "017", "Product2": "01t", "OpportunityLineItem": "00k",
            "OpportunityLineItemSchedule": "00o",
            "Period": "026", "ForecastingType": "0Db", "ForecastingQuota": "0J9",  # sf_inputs
            "Campaign": "701",
            # sf_surveys.py
            "Survey": "0Kd", "SurveyVersion": "0Kc", "SurveyQuestion": "0Kb",
            "SurveyInvitation": "0Ki", "SurveyResponse": "0Kf", "SurveyQuestionResponse": "0Kh",
            "SurveySubject": "0XS", "Territory2Model": "0MA", "Territory2": "0MI",
            "ObjectTerritory2Association": "0R0"}

def mix(x: int) -> int:
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

