"""What a notification says: a Slack-compatible ``text`` line plus structured fields."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from crmsync import logs
from crmsync.config import Config
from crmsync.notify import report_events
from crmsync.redact import Redactor
from crmsync.reports import RunReport

__all__ = ["build_payload", "events_of", "below_target_rows"]

log = logging.getLogger(__name__)
#: At most this many below-target values are listed.
BELOW_TARGET_LIMIT = 20
_ICONS = {"failure": ":x:", "quota": ":hourglass:", "locked": ":lock:",
          "below_target": ":chart_with_downwards_trend:", "success": ":white_check_mark:"}


def below_target_rows(config: Config) -> list[dict[str, Any]]:
    """The latest metric values below their targets (``crmsync metrics show --below-target``)."""
    from crmsync import api
    from crmsync.registry import Registry

    return api.metric_report(config, Registry(), below_target=True)


def events_of(report: RunReport, config: Config, wanted: Sequence[str]) -> list[str]:
    """The configured events ``report`` raises, in ``wanted`` order."""
    raised = report_events(report.status)
    if "below_target" in wanted and report.kind == "metrics" and report.ok:
        rows = below_target_rows(config)
        if rows:
            raised.add("below_target")
            report.details = [*report.details, {"below_target": rows[:BELOW_TARGET_LIMIT],
                                                "below_target_total": len(rows)}]
    return [e for e in wanted if e in raised]


def _clean(value: Any) -> Any:
    """Known secrets and secret-looking keys out (connection secrets, URL passwords)."""
    data = Redactor().data(value)
    if isinstance(data, str):
        return logs.redact(data)
    if isinstance(data, dict):
        return {k: _clean(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_clean(v) for v in data]
    return data


def _headline(report: RunReport, events: Sequence[str]) -> str:
    icon = _ICONS.get(events[0], "") if events else ""
    what = {"sync": "sync", "metrics": "metrics computation", "writeback": "write-back"}.get(
        report.kind, report.kind)
    return f"{icon} crmsync {what}: {report.status}".strip()


def build_payload(report: RunReport, events: Sequence[str]) -> dict[str, Any]:
    """The JSON body: ``text`` (what Slack shows) and the report's facts, secrets redacted."""
    data = report.as_dict()
    lines = [_headline(report, events)]
    if report.error:
        lines.append(report.error)
    for d in data["details"]:
        if isinstance(d, dict) and d.get("connection") and d.get("status") != "success":
            lines.append(f"• {d['connection']}/{d['entity']}: {d['status']}"
                         + (f" — {d['error']}" if d.get("error") else ""))
        if isinstance(d, dict) and d.get("below_target"):
            lines.append(f"{d['below_target_total']} values below target:")
            for row in d["below_target"]:
                where = f" ({row['dimension']}={row['dimension_value']})" \
                    if row.get("dimension") else ""
                lines.append(f"• {row['metric']}{where}: {row['value']:.4g} "
                             f"vs target {row['target']:.4g}")
    return _clean({"text": "\n".join(lines), "events": list(events), **data})
