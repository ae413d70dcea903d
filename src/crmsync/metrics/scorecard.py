"""Rep scorecards (docs/metrics.md, "Scorecards"): each rep's KPIs against their team.

Pure computation over report rows (:func:`crmsync.metrics.report.report_rows`) of one period
broken down by ``owner``: for each rep and each KPI family (outcomes, pipeline, activity, lead
handling, customers), the rep's value and ``n``, the median of their team, their percentile
in the team, the target and direction-aware attainment. The rules:

* **Team**: the ``team`` of the rep's record in ``users``. A rep without a team has no
  teammates: no median, no percentile.
* **Who counts**: only reps with a value for the metric in the period; a rep without one is
  left out of that metric's median and percentiles (and their scorecard has no line for it).
* **Median**: the median of the values of the team's reps, the rep included (the mean of the
  two middle values for an even count).
* **Percentile**: the share of the rep's teammates (the rep excluded) the rep does *better*
  than, a tie counting half, × 100. Better follows the metric's direction (the target's when
  it sets one): for a lower-is-better metric the lower value is better, so 100 is always the
  team's best and 0 its worst. ``None`` when no teammate has a value (a rep alone).
* **Attainment**: the report row's, :func:`crmsync.metrics.targets.attainment`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync.plugin.metric import Metric

__all__ = ["HEADINGS", "FAMILY_HEADINGS", "Rep", "heading_of", "team_median",
           "percentile_in_team", "choose_period", "scorecards"]

#: The scorecard's headings, in order (a plugin's metrics follow under their own family).
HEADINGS = ("outcomes", "pipeline", "activity", "lead handling", "customers")
#: The built-in families (``crmsync_kpis`` modules) → the heading they are shown under;
#: ``None``: not on a scorecard (data quality and record-level metrics are not a rep's KPIs).
FAMILY_HEADINGS: dict[str, str | None] = {
    "deals": "outcomes", "pipeline": "pipeline", "stages": "pipeline",
    "activity": "activity", "leads": "lead handling", "customers": "customers",
    "feedback": "customers", "data_quality": None, "records": None, "slippage": "pipeline",
}


@dataclass(frozen=True)
class Rep:
    """A rep as the store's ``users`` names them."""

    id: str
    name: str
    team: str | None = None


def heading_of(metric: Metric | None) -> str | None:
    """The scorecard heading of a metric: its family's (:data:`FAMILY_HEADINGS`), a plugin's
    family (its module's last name) as it is, ``other`` for an unregistered metric."""
    if metric is None:
        return "other"
    family = type(metric).__module__.rsplit(".", 1)[-1]
    return FAMILY_HEADINGS.get(family, family)


def team_median(values: Iterable[float]) -> float | None:
    """The median of ``values`` (``None`` for none)."""
    present = list(values)
    return float(statistics.median(present)) if present else None


def percentile_in_team(value: float, teammates: Sequence[float], direction: str
                       ) -> float | None:
    """The share of ``teammates`` that ``value`` is better than, ties counting half, × 100
    (module docstring); ``None`` without teammates."""
    if not teammates:
        return None
    lower = direction == "lower_is_better"
    better = sum(1 for t in teammates if (value < t if lower else value > t))
    ties = sum(1 for t in teammates if t == value)
    return 100.0 * (better + 0.5 * ties) / len(teammates)


def choose_period(counts: Mapping[tuple[dt.date, dt.date | None], int], as_of: dt.date
                  ) -> tuple[dt.date, dt.date | None] | None:
    """The period a scorecard shows, from how many metrics have per-rep values in each
    ``(start, end)``: the latest one starting on or before ``as_of`` with at least half as
    many metrics as the fullest of those periods (a period holding only forward-looking
    values, such as open pipeline expected to close next quarter, is not chosen)."""
    started = {p: n for p, n in counts.items() if p[0] <= as_of}
    if not started:
        return None
    fullest = max(started.values())
    return max((p for p, n in started.items() if 2 * n >= fullest), key=lambda p: p[0])


def _line(row: Mapping[str, Any], team_values: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """One metric of one rep's scorecard."""
    value = float(row["value"])
    teammates = [v for rid, v in team_values if rid != row["dimension_value"]]
    return {
        "metric": row["metric"], "title": row["title"], "unit": row["unit"],
        "direction": row["direction"], "value": value, "n": row.get("n"),
        "team_median": team_median(v for _, v in team_values) if team_values else None,
        "team_reps": len(team_values),
        "percentile": percentile_in_team(value, teammates, row["direction"]),
        "target": row.get("target"), "attainment": row.get("attainment"),
        "below_target": row.get("below_target"),
    }


def scorecards(rows: Iterable[Mapping[str, Any]], reps: Mapping[str, Rep],
               definitions: Mapping[str, Metric]) -> list[dict[str, Any]]:
    """One scorecard per rep with a value, ordered by team then name: ``{"rep_id", "rep",
    "team", "families": [{"family", "metrics": [line…]}]}``.

    :param rows: report rows of **one** period by ``owner`` (per-subject rows are ignored).
    :param reps: the store's reps by remote id (a rep missing from it is named by the row's
        label and has no team).
    """
    mine: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in rows:
        if (r["dimension"] != "owner" or r["subject_id"] is not None or r["value"] is None
                or r["dimension_value"] is None
                or heading_of(definitions.get(r["metric"])) is None):
            continue
        mine.setdefault(r["dimension_value"], {})[r["metric"]] = r
    known = {rid: reps.get(rid) or Rep(rid, str(next(iter(m.values())).get("label") or rid))
             for rid, m in mine.items()}
    by_team: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for rid, metrics in mine.items():
        team = known[rid].team
        for name, r in metrics.items():
            if team is not None:
                by_team.setdefault((team, name), []).append((rid, float(r["value"])))
    order = {name: i for i, name in enumerate(definitions)}
    cards = []
    for rid in sorted(mine, key=lambda i: (known[i].team or "\uffff", known[i].name.lower(), i)):
        rep = known[rid]
        families: dict[str, list[dict[str, Any]]] = {}
        for name in sorted(mine[rid], key=lambda n: (order.get(n, len(order)), n)):
            heading = heading_of(definitions.get(name)) or "other"
            team_values = by_team.get((rep.team, name), []) if rep.team is not None else []
            families.setdefault(heading, []).append(_line(mine[rid][name], team_values))
        shown = sorted(families, key=lambda h: (HEADINGS.index(h) if h in HEADINGS
                                                else len(HEADINGS), h))
        cards.append({"rep_id": rid, "rep": rep.name, "team": rep.team,
                      "families": [{"family": h, "metrics": families[h]} for h in shown]})
    return cards
