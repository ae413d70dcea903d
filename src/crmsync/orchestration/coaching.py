"""Coaching findings over the stored per-rep values (``crmsync coach``; the rules are in
:mod:`crmsync.metrics.coaching` and docs/coaching.md).

See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.core.reports import RunReport
from crmsync.metrics.coaching import Finding, evaluate, kpi_keys
from crmsync.metrics.coaching_kpis import rep_kpis
from crmsync.metrics.coaching_rules import COACH, Rule, builtin_rules, merge_rules, parse_rules
from crmsync.metrics.coaching_store import CHANGES, record_findings, stored_findings
from crmsync.orchestration.connections import now_utc, open_store
from crmsync.orchestration.reading import metric_report
from crmsync.orchestration.scorecards import scorecard, store_reps
from crmsync.plugin.registry import Registry
from crmsync.store import Store

__all__ = ["coaching_rules", "coach", "coaching_findings"]

#: What each change is called on a finding (``status`` of :func:`coach`'s findings).
_STATUS = {"opened": "new", "reopened": "reopened", "still_open": "still open",
           "resolved": "resolved"}


def _check_kpis(rules: list[Rule], registry: Registry) -> list[Rule]:
    """The rules whose KPIs are all registered metrics. A built-in rule reading a metric no
    plugin registers (``crmsync_kpis`` disabled) is left out; any other rule naming an
    unknown metric is an error (a typo would silently never fire)."""
    known = registry.metrics()
    kept = []
    for rule in rules:
        unknown = [c for c in rule.conditions if c.metric not in known]
        if unknown and rule.source != "built-in":
            raise ConfigError(f"unknown metric '{unknown[0].metric}' in condition "
                              f"'{unknown[0].text}' (see `crmsync metrics list`)",
                              file=rule.source, section="coach.rules", key=f"{rule.id}.when")
        if not unknown:
            kept.append(rule)
    return kept


def coaching_rules(config: Config, registry: Registry) -> list[Rule]:
    """The rules in force: the built-in pack (unless ``[coach] builtin = false``), then the
    plugins' (``crmsync_coaching_rules``), then ``[[coach.rules]]``; a later rule replaces an
    earlier one of the same id, and ``enabled = false`` switches one off."""
    settings = COACH.get(config)
    layers = [builtin_rules() if settings.builtin else []]
    for plugin, specs in registry.coaching_rules():
        layers.append(parse_rules(specs, source=f"plugin {plugin}", file=f"plugin {plugin}"))
    layers.append(parse_rules(settings.rules, source=settings.file or "crmsync.toml",
                              file=settings.file))
    return _check_kpis(merge_rules(layers), registry)


def _evaluate(config: Config, registry: Registry, rules: list[Rule], card: dict[str, Any],
              store: Store) -> tuple[list[Finding], list[str]]:
    """The findings of every rep of the scorecard and the reps evaluated (remote ids)."""
    wanted = kpi_keys(rules)
    rows: list[dict[str, Any]] = []
    for metric in sorted(wanted):
        rows += metric_report(config, registry, metric=metric, period=card["period"],
                              dimension="owner", subjects=True, store=store,
                              period_starts=[dt.date.fromisoformat(card["period_start"])])
    reps = rep_kpis(card["reps"], rows, wanted, store_reps(store))
    return (evaluate(rules, reps, card["period"], card["period_start"], card["period_end"]),
            [r.rep_id for r in reps])


def _unrecorded(store: Store, findings: list[Finding], scope: set[str]
                ) -> dict[str, list[dict[str, Any]]]:
    """The changes an evaluation would make, from the store as it is (nothing written)."""
    stored = {(r["rule_id"], r["rep_id"]): r for r in stored_findings(store, reps=scope)}
    changes: dict[str, list[dict[str, Any]]] = {c: [] for c in CHANGES}
    for f in findings:
        row = stored.get((f.rule_id, f.rep_id), {})
        kept = {k: v for k, v in row.items() if k.endswith("_at") or k in ("id", "reopened")}
        changes["still_open" if row else "opened"].append({**f.as_dict(), **kept})
    return changes


def coach(config: Config, registry: Registry, *, rep: str | None = None,
          team: str | None = None, period: str | None = None, as_of: dt.date | None = None,
          store: Store | None = None, record: bool = True, notify: bool = False,
          include_resolved: bool = False, now: dt.datetime | None = None) -> dict[str, Any]:
    """Evaluate the coaching rules over the scorecard's period (:func:`scorecard`: the
    latest period of ``period`` with per-rep values) and track the findings::

        {"period", "period_start", "period_end", "partial", "as_of", "computed", "rules",
         "reps_evaluated", "findings": [{…finding, "status", "opened_at", …}],
         "resolved": [stored findings resolved by this run, or every resolved one with
                      include_resolved], "changes": {"opened": n, "reopened": n, …}}

    :param rep: only this rep (remote id); ``team``: only this team's reps. Team medians are
        over the whole team either way; only the reps in scope are evaluated and tracked.
    :param record: store the findings (opened / still open / reopened / resolved); without
        it nothing is written and statuses come from the store as it is.
    :param notify: send the digest through ``crmsync_after_run`` (a report of kind
        ``coach``), as a ``[schedule]`` job with ``task = "coach"`` does.
    """
    rules = coaching_rules(config, registry)
    own = store is None
    store = store or open_store(config)
    try:
        card = scorecard(config, registry, period=period, as_of=as_of, store=store)
        card["reps"] = [c for c in card["reps"] if (rep is None or c["rep_id"] == rep)
                        and (team is None or c["team"] == team)]
        findings, evaluated = (_evaluate(config, registry, rules, card, store)
                               if card["reps"] else ([], []))
        scope = set(evaluated)
        changes = (record_findings(store, findings, scope, _naive_utc(now or now_utc()))
                   if record and card["computed"] else _unrecorded(store, findings, scope))
        resolved = ([r for r in stored_findings(store, reps=scope, include_resolved=True)
                     if r["status"] == "resolved"] if include_resolved
                    else changes["resolved"])
    finally:
        if own:
            store.dispose()
    out: dict[str, Any] = {k: card[k] for k in ("period", "period_start", "period_end",
                                                "partial", "as_of", "computed")}
    shown = [{**row, "status": _STATUS[c]} for c in ("opened", "reopened", "still_open")
             for row in changes[c]]
    out.update(rules=[r.id for r in rules], reps_evaluated=len(evaluated),
               findings=sorted(shown, key=_order),
               resolved=[{**r, "status": "resolved"} for r in resolved],
               changes={c: len(changes[c]) for c in CHANGES})
    if notify:
        _send_digest(config, registry, out, changes)
    return out


def _send_digest(config: Config, registry: Registry, out: dict[str, Any],
                 changes: dict[str, list[dict[str, Any]]]) -> None:
    """A ``coach`` run report through ``crmsync_after_run`` (docs/coaching.md, "Digest")."""
    report = RunReport(kind="coach", status="success")
    report.ended_at = dt.datetime.now(dt.timezone.utc)
    report.details = [{"coaching": {k: out[k] for k in ("period", "period_start",
                                                        "period_end", "partial")},
                       **{c: changes[c] for c in CHANGES}}]
    registry.after_run(report, config)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as the store keeps times: naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _order(f: dict[str, Any]) -> tuple[Any, ...]:
    """Findings by rep name, then most severe first, then rule."""
    severity = {"high": 0, "medium": 1, "low": 2}.get(f["severity"], 3)
    return (str(f["rep"]).lower(), f["rep_id"], severity, f["rule_id"])


def coaching_findings(config: Config, *, reps: list[str] | None = None,
                      include_resolved: bool = False, store: Store | None = None
                      ) -> list[dict[str, Any]]:
    """The stored findings (open ones unless ``include_resolved``) as the last evaluation
    left them, without evaluating anything (the dashboard reads these)."""
    own = store is None
    store = store or open_store(config)
    try:
        return stored_findings(store, reps=reps, include_resolved=include_resolved)
    finally:
        if own:
            store.dispose()
