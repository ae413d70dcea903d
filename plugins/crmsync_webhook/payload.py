"""What a notification says: a Slack-compatible ``text`` line plus structured fields."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from crmsync import Redactor, RunReport, RunResults, redact
from crmsync_webhook.digest import digest_lines, has_news, is_digest
from crmsync_webhook.settings import report_events

__all__ = ["build_payload", "events_of", "below_target_rows"]

log = logging.getLogger(__name__)
#: At most this many below-target values are listed.
BELOW_TARGET_LIMIT = 20
#: How the headline names each kind of report.
_WHAT = {"sync": "sync", "metrics": "metrics computation", "writeback": "write-back",
         "run": "run", "coach": "coaching digest"}
_ICONS = {"failure": ":x:", "quota": ":hourglass:", "locked": ":lock:",
          "below_target": ":chart_with_downwards_trend:", "success": ":white_check_mark:",
          "coaching": ":mortar_board:"}


def below_target_rows(results: RunResults | None) -> list[dict[str, Any]]:
    """The latest metric values below their targets (``crmsync metrics show --below-target``)."""
    return results.below_target() if results is not None else []


def events_of(report: RunReport, results: RunResults | None, wanted: Sequence[str]) -> list[str]:
    """The configured events ``report`` raises, in ``wanted`` order."""
    raised = report_events(report.status)
    if "below_target" in wanted and report.kind == "metrics" and report.ok:
        rows = below_target_rows(results)
        if rows:
            raised.add("below_target")
            report.details = [*report.details, {"below_target": rows[:BELOW_TARGET_LIMIT],
                                                "below_target_total": len(rows)}]
    if "coaching" in wanted and report.kind == "coach" and report.ok \
            and has_news(report.details):
        raised.add("coaching")
    return [e for e in wanted if e in raised]


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
    return f"{icon} crmsync {_WHAT.get(report.kind, report.kind)}: {report.status}".strip()


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


def _below_target_lines(d: dict[str, Any]) -> list[str]:
    lines = [f"{d['below_target_total']} values below target:"]
    for row in d["below_target"]:
        where = f" ({row['dimension']}={row['dimension_value']})" if row.get("dimension") else ""
        lines.append(f"• {row['metric']}{where}: {row['value']:.4g} vs target {row['target']:.4g}")
    return lines


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
    for d in rows:
        if d.get("below_target"):
            lines.extend(_below_target_lines(d))
    return summary, lines


def build_payload(report: RunReport, events: Sequence[str]) -> dict[str, Any]:
    """The JSON body: ``text`` (what Slack shows), ``summary`` (totals per part of the run:
    ``sync``, ``metrics``, ``writeback``) and the report's facts, secrets redacted."""
    data = report.as_dict()
    summary, lines = _describe(data["details"])
    text = [_headline(report, events)]
    if report.error:
        text.append(report.error)
    payload: dict[str, Any] = _clean({"text": "\n".join(text + lines), "events": list(events),
                                      "summary": summary, **data})
    return payload
