"""The coaching digest (docs/coaching.md, "Digest"): what a ``coach`` report says in words.

A report of kind ``coach`` (``crmsync coach --notify``, a ``[schedule]`` job with ``task =
"coach"``) carries one detail row with the findings opened, reopened, still open and resolved
by that evaluation; each finding (a rule and a rep) is in exactly one of them, so the message
names it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CHANGES", "LIMIT", "is_digest", "has_news", "digest_lines"]

#: The parts of the digest, in order, and their headings.
CHANGES = (("opened", "New"), ("reopened", "Reopened"), ("still_open", "Still open"),
           ("resolved", "Resolved"))
#: At most this many findings are listed per part.
LIMIT = 20


def is_digest(detail: Mapping[str, Any]) -> bool:
    """True for the detail row of a ``coach`` report."""
    return "coaching" in detail and all(c in detail for c, _ in CHANGES)


def has_news(details: Sequence[Any]) -> bool:
    """True when a ``coach`` report lists at least one finding."""
    return any(isinstance(d, dict) and is_digest(d) and any(d[c] for c, _ in CHANGES)
               for d in details)


def _value(v: float | None, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "ratio":
        return f"{v:.1%}"
    return f"{v:,.4g}"


def _evidence(e: Mapping[str, Any]) -> str:
    """``Win rate 17.4% (team median 28.8%, target 30.0%, n 23)``."""
    unit = str(e.get("unit") or "count")
    parts = [f"team median {_value(e.get('team_median'), unit)}"]
    if e.get("target") is not None:
        parts.append(f"target {_value(e['target'], unit)}")
    if e.get("n") is not None:
        parts.append(f"n {e['n']:,.0f}")
    return f"{e.get('title') or e.get('kpi')} {_value(e.get('value'), unit)} ({', '.join(parts)})"


def _finding(f: Mapping[str, Any], resolved: bool) -> str:
    team = f" ({f['team']})" if f.get("team") else ""
    head = f"• {f.get('rep') or f.get('rep_id')}{team} — {f.get('area')}"
    if resolved:
        return f"{head}: {f.get('title')}"
    evidence = "; ".join(_evidence(e) for e in f.get("evidence") or ())
    return f"{head}, {f.get('severity')}: {f.get('title')} — {evidence}"


def digest_lines(rows: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """Counts by change and the digest's lines (a heading, then each part's findings)."""
    totals = {c: sum(len(r[c]) for r in rows) for c, _ in CHANGES}
    lines = []
    for r in rows:
        period = r["coaching"]
        lines.append(f"Coaching digest, {period.get('period')} from {period.get('period_start')}"
                     f": {totals['opened']} new, {totals['reopened']} reopened, "
                     f"{totals['still_open']} still open, {totals['resolved']} resolved")
        for change, heading in CHANGES:
            found = r[change]
            if not found:
                continue
            lines.append(f"{heading}:")
            lines.extend(_finding(f, change == "resolved") for f in found[:LIMIT])
            if len(found) > LIMIT:
                lines.append(f"… and {len(found) - LIMIT} more")
    return totals, lines
