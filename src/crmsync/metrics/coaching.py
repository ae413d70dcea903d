"""Coaching findings (docs/coaching.md): rules over each rep's KPIs against their team.

Pure computation. The input is one period's KPIs per rep (:class:`RepKpis`, built from the
scorecard, :mod:`crmsync.metrics.scorecard`); the output is one :class:`Finding` per rep and
rule whose conditions all hold. The rules:

* **Sample**: a KPI's ``n`` is its population (the report row's ``n``), or the count itself
  for a count metric (calls, meetings…). A rule fires only when every KPI it reads has
  ``n ≥ min_n`` (the rule's, default :data:`~crmsync.metrics.coaching_rules.DEFAULT_MIN_N`).
* **Team median**: a condition against ``team_median`` needs at least
  :data:`MIN_TEAM_REPS` reps of the team with a value (the rep included); a rep without a
  team is never compared with one.
* **Target**: ``target`` is the rep's target for the KPI (``[targets]`` or the ``targets``
  table); without one the condition's fallback number (``target or 0.8``) is used, and
  without a fallback the rule does not fire.
* **Severity** comes from the *gap* of one condition (the rule's ``severity_kpi``, default
  the last condition): how far past its threshold the rep's value lies, relative to the
  threshold — ``(threshold − value) ÷ |threshold|`` for ``<``/``<=``, ``(value − threshold) ÷
  |threshold|`` for ``>``/``>=`` (the plain difference when the threshold is 0). ``high``
  from :data:`HIGH_GAP`, ``medium`` from :data:`MEDIUM_GAP`, else ``low``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from crmsync.metrics.coaching_rules import Condition, Rule

__all__ = ["MIN_TEAM_REPS", "MEDIUM_GAP", "HIGH_GAP", "SEVERITIES", "KpiLine", "RepKpis",
           "Evidence", "Finding", "sample_of", "threshold_of", "gap_of", "severity_of",
           "evaluate_rule", "evaluate", "kpi_keys", "finding_from_dict"]

#: The fewest reps of a team with a value for a team median to be compared with.
MIN_TEAM_REPS = 3
#: Gap (relative to the threshold) from which a finding is ``medium``…
MEDIUM_GAP = 0.25
#: …and ``high``.
HIGH_GAP = 0.5
#: Severities from the least to the most severe.
SEVERITIES = ("low", "medium", "high")

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class KpiLine:
    """One KPI of one rep in one period, as the scorecard shows it."""

    value: float
    n: float | None = None
    team_median: float | None = None
    team_reps: int = 0
    target: float | None = None
    title: str = ""
    unit: str = "count"


@dataclass(frozen=True)
class RepKpis:
    """A rep (by remote id, with their name and team) and their KPIs by KPI key
    (``metric`` or ``metric[stage]``)."""

    rep_id: str
    rep: str
    team: str | None
    kpis: Mapping[str, KpiLine] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """What one condition of a finding read."""

    kpi: str
    title: str
    unit: str
    condition: str
    value: float
    n: float | None
    min_n: int
    team_median: float | None
    team_reps: int
    target: float | None
    threshold: float


@dataclass(frozen=True)
class Finding:
    """A rule that fired for a rep in a period."""

    rule_id: str
    title: str
    area: str
    severity: str
    gap: float
    rep_id: str
    rep: str
    team: str | None
    period: str
    period_start: str | None
    period_end: str | None
    evidence: tuple[Evidence, ...]
    advice: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out = asdict(self)
        out["evidence"] = [asdict(e) for e in self.evidence]
        return out


def sample_of(line: KpiLine) -> float | None:
    """The KPI's ``n`` (module docstring): the row's, or the count itself for a count."""
    if line.n is not None:
        return line.n
    return line.value if line.unit == "count" else None


def threshold_of(condition: Condition, line: KpiLine) -> float | None:
    """The value the condition compares with, or ``None`` when it cannot be stated."""
    if condition.reference == "team_median":
        if line.team_median is None or line.team_reps < MIN_TEAM_REPS:
            return None
        return line.team_median * condition.factor
    if condition.reference == "target":
        base = line.target if line.target is not None else condition.number
        return base * condition.factor if base is not None else None
    return condition.number


def gap_of(op: str, value: float, threshold: float) -> float:
    """How far past ``threshold`` the value lies, relative to it (module docstring)."""
    past = threshold - value if op in ("<", "<=") else value - threshold
    return past / abs(threshold) if threshold else past


def severity_of(gap: float) -> str:
    """``low``, ``medium`` or ``high`` for a gap (module docstring)."""
    if gap >= HIGH_GAP:
        return "high"
    return "medium" if gap >= MEDIUM_GAP else "low"


def _evidence(rule: Rule, condition: Condition, line: KpiLine | None) -> Evidence | None:
    """The evidence of a condition that holds on a large enough sample, else ``None``."""
    if line is None:
        return None
    n = sample_of(line)
    minimum = rule.minimum(condition.kpi)
    if minimum > 0 and (n is None or n < minimum):
        return None
    threshold = threshold_of(condition, line)
    if threshold is None or not _OPS[condition.op](line.value, threshold):
        return None
    return Evidence(kpi=condition.kpi, title=line.title or condition.kpi, unit=line.unit,
                    condition=condition.text, value=line.value, n=n, min_n=minimum,
                    team_median=line.team_median, team_reps=line.team_reps,
                    target=line.target, threshold=threshold)


def evaluate_rule(rule: Rule, rep: RepKpis, period: str, period_start: str | None,
                  period_end: str | None) -> Finding | None:
    """The finding of ``rule`` for ``rep``, or ``None`` when a condition does not hold or a
    sample is below its minimum."""
    evidence = []
    for condition in rule.conditions:
        e = _evidence(rule, condition, rep.kpis.get(condition.kpi))
        if e is None:
            return None
        evidence.append(e)
    worst = rule.severity_condition
    e = next(x for x in evidence if x.kpi == worst.kpi and x.condition == worst.text)
    gap = gap_of(worst.op, e.value, e.threshold)
    return Finding(rule_id=rule.id, title=rule.title, area=rule.area,
                   severity=severity_of(gap), gap=gap, rep_id=rep.rep_id, rep=rep.rep,
                   team=rep.team, period=period, period_start=period_start,
                   period_end=period_end, evidence=tuple(evidence), advice=rule.advice)


def evaluate(rules: Sequence[Rule], reps: Iterable[RepKpis], period: str,
             period_start: str | None, period_end: str | None) -> list[Finding]:
    """Every rule over every rep: the findings, most severe first, then by rep name."""
    found = [f for rep in reps for rule in rules
             if (f := evaluate_rule(rule, rep, period, period_start, period_end)) is not None]
    return sorted(found, key=lambda f: (-SEVERITIES.index(f.severity), f.rep.lower(),
                                        f.rep_id, f.rule_id))


def kpi_keys(rules: Iterable[Rule]) -> dict[str, set[str]]:
    """The per-subject KPIs the rules read: metric → the subjects (stage names or ids)."""
    out: dict[str, set[str]] = {}
    for rule in rules:
        for c in rule.conditions:
            if c.subject is not None:
                out.setdefault(c.metric, set()).add(c.subject)
    return out


def finding_from_dict(d: Mapping[str, Any]) -> Finding:
    """A :class:`Finding` back from :meth:`Finding.as_dict`."""
    fields = dict(d)
    fields["evidence"] = tuple(Evidence(**e) for e in d.get("evidence") or ())
    return Finding(**fields)
