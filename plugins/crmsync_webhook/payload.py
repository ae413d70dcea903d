"""What a notification says: a Slack-compatible ``text`` line plus structured fields."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from crmsync import Redactor, RunReport, RunResults, redact
from crmsync_webhook.alerts import alert_lines, gather
from crmsync_webhook.digest import digest_lines, has_news, is_digest
from crmsync_webhook.settings import report_events

__all__ = ["build_payload", "events_of", "below_target_rows"]

log = logging.getLogger(__name__)
#: How the headline names each kind of report.
_WHAT = {"sync": "sync", "metrics": "metrics computation", "writeback": "write-back",
         "run": "run", "coach": "coaching digest", "job": "job"}
_ICONS = {"failure": ":x:", "quota": ":hourglass:", "locked": ":lock:",
          "below_target": ":chart_with_downwards_trend:", "success": ":white_check_mark:",
          "coaching": ":mortar_board:", "anomaly": ":warning:"}


def below_target_rows(results: RunResults | None) -> list[dict[str, Any]]:
    """The latest metric values below their targets (``crmsync metrics show --below-target``)."""
    return results.below_target() if results is not None else []


def events_of(report: RunReport, results: RunResults | None, wanted: Sequence[str]
              ) -> tuple[list[str], list[dict[str, Any]]]:
    """The configured events ``report`` raises, in ``wanted`` order, and the alerts of its
    metric runs not sent yet (:mod:`crmsync_webhook.alerts`)."""
    raised = report_events(report.status)
    details = [d.as_dict() if hasattr(d, "as_dict") else d for d in report.details]
    alerts: list[dict[str, Any]] = []
    if report.kind in ("metrics", "job") and report.status in ("success", "partial"):
        alerts = gather(details, results, wanted)
        raised |= {a["kind"] for a in alerts}
    coach_details = [d for r in details if isinstance(r, dict)
                     for d in (r.get("details", []) if r.get("kind") == "coach" else [r])]
    if "coaching" in wanted and report.kind in ("coach", "job") and report.ok \
            and has_news(coach_details):
        raised.add("coaching")
    return [e for e in wanted if e in raised], alerts


def _clean(value: Any) -> Any:
    """Known secrets and secret-looking keys out (connection secrets, URL passwords)."""
    data = Redactor().data(value)
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: _clean(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_clean(v) for v in data]
    return data


def _headline(report: RunReport, events: Sequence[str]) -> str:
    icon = _ICONS.get(events[0], "") if events else ""
    what = _WHAT.get(report.kind, report.kind)
    if report.kind == "job" and report.job:
        what = f"job {report.job}"
    return f"{icon} crmsync {what}: {report.status}".strip()


def _sync_lines(rows: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """Totals of a sync's entity rows, and one line per entity that did not succeed."""
    keys = ("rows_read", "rows_upserted", "rows_deleted", "rejects")
    totals = {"entities": len(rows), **{k: sum(int(r.get(k) or 0) for r in rows) for k in keys}}
    lines = [f"{totals['entities']} entities: {totals['rows_read']} rows read, "
             f"{totals['rows_upserted']} stored, {totals['rows_deleted']} deleted, "
             f"{totals['rejects']} rejected"]
    for r in rows:
        if r.get("status") != "success":
            lines.append(f"• {r.get('connection')}/{r.get('entity')}: {r.get('status')}"
                         + (f" — {r['error']}" if r.get("error") else ""))
    return totals, lines


def _writeback_lines(rows: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """Totals of a write-back's mapping rows, and one line per mapping that left values
    unwritten (failed, parked or missing in the CRM), with its vendor error codes."""
    keys = ("sent", "failed", "parked", "missing")
    totals = {"mappings": len(rows), **{k: sum(int(r.get(k) or 0) for r in rows) for k in keys}}
    lines = [f"{totals['mappings']} mappings: {totals['sent']} values sent, "
             f"{totals['failed']} failed, {totals['parked']} parked, "
             f"{totals['missing']} missing in the CRM"]
    for r in rows:
        bad = [f"{r[k]} {k}" for k in ("failed", "parked", "missing") if r.get(k)]
        if bad:
            codes = ", ".join(f"{code} ×{n}" for code, n in (r.get("errors") or {}).items())
            lines.append(f"• {r.get('connection')}/{r.get('object')}.{r.get('field')} "
                         f"({r.get('metric')}): {', '.join(bad)}"
                         + (f" — {codes}" if codes else ""))
    return totals, lines


def _metrics_lines(rows: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    """Values stored and metrics skipped by a metrics computation."""
    totals = {"values": sum(int(r.get("values") or 0) for r in rows),
              "skipped": sum(len(r.get("skipped") or ()) for r in rows)}
    line = f"{totals['values']} metric values stored"
    if totals["skipped"]:
        line += f", {totals['skipped']} metrics skipped"
    return totals, [line]


def _describe(details: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """The summary and text lines of a report's details, by the shape of each row (a run's
    details may mix sync entities, metric runs and write-back mappings)."""
    rows = [d for d in details if isinstance(d, dict)]
    summary: dict[str, Any] = {}
    lines: list[str] = []
    kinds: tuple[tuple[str, Callable[[dict[str, Any]], bool],
                       Callable[[list[dict[str, Any]]], tuple[dict[str, int], list[str]]]], ...] = (
            ("sync", lambda d: "entity" in d and "connection" in d, _sync_lines),
            ("metrics", lambda d: "values" in d and "run_id" in d, _metrics_lines),
            ("writeback", lambda d: "mapping" in d and "object" in d, _writeback_lines),
            ("coaching", is_digest, digest_lines))
    for name, is_kind, describe in kinds:
        picked = [d for d in rows if is_kind(d)]
        if picked:
            summary[name], more = describe(picked)
            lines.extend(more)
    return summary, lines


def _job_lines(details: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """A job's runs (its details are run reports): a line per run, then what it says."""
    summary: dict[str, Any] = {}
    lines: list[str] = []
    for r in details:
        if not isinstance(r, dict) or "kind" not in r:
            continue
        part, more = _describe(r.get("details") or [])
        summary.update(part)
        lines.append(f"{_WHAT.get(r['kind'], r['kind'])}: {r.get('status')}"
                     + (f" — {r['error']}" if r.get("error") else ""))
        lines.extend(f"  {line}" for line in more)
    return summary, lines


def build_payload(report: RunReport, events: Sequence[str],
                  alerts: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The JSON body: ``text`` (what Slack shows), ``summary`` (totals per part of the run:
    ``sync``, ``metrics``, ``writeback``), ``alerts`` (values below target and anomalies,
    one line each in ``text``) and the report's facts, secrets redacted. A ``job`` report
    (digest mode) says each of its runs in turn."""
    data = report.as_dict()
    describe = _job_lines if report.kind == "job" else _describe
    summary, lines = describe(data["details"])
    text = [_headline(report, events)]
    if report.error:
        text.append(report.error)
    lines += alert_lines(alerts)
    if alerts:
        summary["alerts"] = {k: sum(1 for a in alerts if a["kind"] == k)
                             for k in ("below_target", "anomaly")}
    payload: dict[str, Any] = _clean({"text": "\n".join(text + lines), "events": list(events),
                                      "summary": summary, "alerts": list(alerts), **data})
    return payload
