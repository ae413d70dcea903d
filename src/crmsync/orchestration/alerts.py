"""Alerts of a metrics run: the values below target and the anomalies of the run just
computed, de-duplicated against what was already sent (docs/trends.md, "Notifications").

:class:`crmsync.RunResults` hands these to notifier plugins (``results.alerts(run_ids)`` and
``results.mark_sent(alerts)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from crmsync.core.config import Config
from crmsync.core.formatting import period_label
from crmsync.core.internal_tables import metric_values, notifications_sent
from crmsync.core.periods import as_date
from crmsync.metrics.baselines import TRENDS
from crmsync.metrics.engine import MetricValue
from crmsync.metrics.report import report_rows, today_in
from crmsync.metrics.targets import TARGETS, stored_targets
from crmsync.orchestration.connections import open_store
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.store.upsert import upsert_statement

__all__ = ["ALERT_KINDS", "run_alerts", "mark_sent", "alert_key"]

#: The kinds of alert, in the order they are listed.
ALERT_KINDS = ("below_target", "anomaly")


def _run_values(store: Store, run_ids: Sequence[str]) -> list[MetricValue]:
    """The aggregate values (no per-subject ones) the runs stored."""
    mv = metric_values
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(mv).where(mv.c.run_id.in_(sorted(set(run_ids))),
                                                mv.c.subject_id.is_(None))).all()
    return [MetricValue(metric=r.metric, period=r.period, period_start=as_date(r.period_start),
                        period_end=as_date(r.period_end), dimension=r.dimension,
                        dimension_value=r.dimension_value, value=r.value,
                        numerator=r.numerator, denominator=r.denominator) for r in rows]


def _latest_ended(rows: Iterable[Mapping[str, Any]], today: dt.date) -> set[tuple[Any, ...]]:
    """Per metric, period kind and dimension: the latest period that has ended by ``today``
    (the one rolling window or ``all`` as it is)."""
    latest: dict[tuple[Any, ...], str | None] = {}
    for r in rows:
        key = (r["metric"], r["period"], r["dimension"])
        ended = r["period_end"] is None or r["period"].startswith("last_") \
            or dt.date.fromisoformat(r["period_end"]) <= today
        if ended and (key not in latest or (r["period_start"] or "") > (latest[key] or "")):
            latest[key] = r["period_start"]
    return {(*k, start) for k, start in latest.items()}


def alert_key(alert: Mapping[str, Any]) -> str:
    """What identifies an alert across runs (``notifications_sent.key``)."""
    return "|".join(str(alert.get(k) or "") for k in
                    ("kind", "metric", "period", "period_start", "dimension", "dimension_value"))


def _alert(kind: str, r: Mapping[str, Any], currency: str) -> dict[str, Any]:
    start = dt.date.fromisoformat(r["period_start"]) if r["period_start"] else None
    out = {k: r.get(k) for k in (
        "metric", "title", "unit", "direction", "period", "period_start", "period_end",
        "dimension", "dimension_value", "label", "value", "target", "attainment", "n",
        "baseline_trailing", "baseline_last_year", "band_low", "band_high")}
    out.update(kind=kind, period_label=period_label(r["period"], start))
    if out["unit"] == "currency":  # amounts are converted into the base currency
        out["currency"] = currency
    if kind == "anomaly":  # an anomaly is measured against its trailing median
        out["target"] = r.get("baseline_trailing")
    out["key"] = alert_key(out)
    return out


def _unsent(store: Store, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts not sent before with the same value and target."""
    if not alerts:
        return []
    ns = notifications_sent
    with store.engine.connect() as conn:
        sent = {r.key: (r.value, r.target) for r in conn.execute(
            sa.select(ns.c.key, ns.c.value, ns.c.target)
            .where(ns.c.key.in_(sorted({a["key"] for a in alerts}))))}
    return [a for a in alerts if a["key"] not in sent
            or not (_same(sent[a["key"]][0], a["value"]) and _same(sent[a["key"]][1],
                                                                    a["target"]))]


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def run_alerts(config: Config, registry: Registry, run_ids: Sequence[str], *,
               kinds: Sequence[str] = ALERT_KINDS, store: Store | None = None,
               now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The alerts of the runs ``run_ids`` not sent yet, ``below_target`` ones first: for each
    metric, period kind and dimension of those runs, the values of the latest period that
    has ended which miss their target (``below_target``) or lie outside their baseline band
    (``anomaly``). Each alert is a report row's ``metric``, ``title``, ``unit``, ``period``,
    ``period_start``, ``period_label``, ``dimension``, ``dimension_value``, ``label`` (the
    rep's or team's name), ``value``, ``target`` (the trailing median for an anomaly),
    ``n``, the baselines and band, ``kind`` and ``key``; an amount's also ``currency`` (the
    ``[metrics] base_currency`` every amount is converted into)."""
    if not run_ids:
        return []
    own = store is None
    store = store or open_store(config)
    try:
        values = _run_values(store, run_ids)
        targets = [*TARGETS.get(config), *stored_targets(store)]
        rows = report_rows(store, values, targets, registry.metrics(),
                           timezone=config.metrics.timezone, now=now,
                           declared=registry.dimensions(), rule=TRENDS.get(config))
        current = _latest_ended(rows, today_in(config.metrics.timezone, now))
        rows = [r for r in rows
                if (r["metric"], r["period"], r["dimension"], r["period_start"]) in current]
        currency = config.metrics.base_currency
        alerts = [_alert("below_target", r, currency) for r in rows
                  if "below_target" in kinds and r["below_target"]]
        alerts += [_alert("anomaly", r, currency) for r in rows
                   if "anomaly" in kinds and r["anomaly"]]
        return _unsent(store, alerts)
    finally:
        if own:
            store.dispose()


def mark_sent(config: Config, alerts: Sequence[Mapping[str, Any]], *,
              store: Store | None = None, now: dt.datetime | None = None) -> None:
    """Remember that ``alerts`` were sent (their value and target), so that
    :func:`run_alerts` leaves them out until they change."""
    if not alerts:
        return
    sent_at = (now or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None)
    rows = {a["key"]: {"key": a["key"], "kind": a["kind"], "metric": a["metric"],
                       "period": a["period"], "period_start": as_date(a.get("period_start")),
                       "dimension": a.get("dimension"),
                       "dimension_value": a.get("dimension_value"), "value": a.get("value"),
                       "target": a.get("target"), "sent_at": sent_at} for a in alerts}
    own = store is None
    store = store or open_store(config)
    try:
        with store.engine.begin() as conn:
            stmt = upsert_statement(conn.dialect.name, notifications_sent,
                                    ("value", "target", "sent_at"), key=("key",))
            conn.execute(stmt, list(rows.values()))
    finally:
        if own:
            store.dispose()
