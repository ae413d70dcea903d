"""The KPIs the coaching rules read, per rep (docs/coaching.md): the scorecard's lines, plus
the per-stage values a rule names as ``metric[stage]`` with their team medians computed the
way the scorecard computes its own (:mod:`crmsync.metrics.scorecard`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmsync.metrics.coaching import KpiLine, RepKpis
from crmsync.metrics.scorecard import Rep, team_median

__all__ = ["rep_kpis"]


def _card_lines(card: Mapping[str, Any]) -> dict[str, KpiLine]:
    """A scorecard's lines by metric id."""
    return {m["metric"]: KpiLine(value=float(m["value"]), n=m.get("n"),
                                 team_median=m.get("team_median"),
                                 team_reps=int(m.get("team_reps") or 0),
                                 target=m.get("target"), title=m.get("title") or m["metric"],
                                 unit=m.get("unit") or "count")
            for family in card["families"] for m in family["metrics"]}


def _subject_key(row: Mapping[str, Any], wanted: Mapping[str, set[str]]) -> str | None:
    """``metric[subject]`` as a rule spells it when the row is one of ``wanted`` (matched by
    the stage's name, case-insensitive, or its remote id)."""
    for subject in wanted.get(row["metric"], ()):
        label = str(row.get("subject") or "")
        if subject.casefold() == label.casefold() or subject == row.get("subject_id"):
            return f"{row['metric']}[{subject}]"
    return None


def _subject_lines(rows: Iterable[Mapping[str, Any]], wanted: Mapping[str, set[str]],
                   reps: Mapping[str, Rep]) -> dict[str, dict[str, KpiLine]]:
    """Per rep, the wanted per-subject KPIs with the team median of each (when a stage
    name matches several stages, the value with the largest ``n`` counts)."""
    best: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in rows:
        if r["dimension"] != "owner" or r["value"] is None or r["dimension_value"] is None:
            continue
        key = _subject_key(r, wanted)
        if key is None:
            continue
        slot = (str(r["dimension_value"]), key)
        if slot not in best or (r.get("n") or 0) > (best[slot].get("n") or 0):
            best[slot] = r
    by_team: dict[tuple[str, str], list[float]] = {}
    for (rid, key), r in best.items():
        team = reps[rid].team if rid in reps else None
        if team is not None:
            by_team.setdefault((team, key), []).append(float(r["value"]))
    out: dict[str, dict[str, KpiLine]] = {}
    for (rid, key), r in best.items():
        team = reps[rid].team if rid in reps else None
        values = by_team.get((team, key), []) if team is not None else []
        out.setdefault(rid, {})[key] = KpiLine(
            value=float(r["value"]), n=r.get("n"), team_median=team_median(values),
            team_reps=len(values), target=r.get("target"),
            title=f"{r.get('title') or r['metric']}: {r.get('subject') or r.get('subject_id')}",
            unit=r.get("unit") or "ratio")
    return out


def rep_kpis(cards: Iterable[Mapping[str, Any]], subject_rows: Iterable[Mapping[str, Any]],
             wanted: Mapping[str, set[str]], reps: Mapping[str, Rep]) -> list[RepKpis]:
    """Each rep of ``cards`` (the scorecard's ``reps``) with their KPIs by key.

    :param subject_rows: report rows by owner with per-subject values of the period.
    :param wanted: metric → the subjects the rules name (stage names or ids).
    :param reps: the store's reps by remote id (for the teams of the per-subject medians).
    """
    extra = _subject_lines(subject_rows, wanted, reps)
    return [RepKpis(rep_id=c["rep_id"], rep=c["rep"], team=c["team"],
                    kpis={**_card_lines(c), **extra.get(c["rep_id"], {})}) for c in cards]
