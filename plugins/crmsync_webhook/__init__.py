"""crmsync_webhook: post run notifications to a webhook (Slack-compatible ``text``).

Configured by ``[notify]`` in ``crmsync.toml`` (:mod:`crmsync_webhook.settings`)::

    [notify]
    webhook_url = "${SLACK_WEBHOOK_URL}"
    on = ["failure", "quota", "below_target", "anomaly"]
    digest = true

Sends one JSON ``POST`` per run that raises a configured event: a failed run, a sync stopped
on the API quota, a sync that found targets locked, a metrics run whose values for the latest
ended period miss their targets or stray from their baselines (``below_target``,
``anomaly``: :mod:`crmsync_webhook.alerts`; each sent once, until it changes), or every run
(``success``), a coaching evaluation's digest of findings new, still open and resolved
(``coaching``; :mod:`crmsync_webhook.digest`). With ``digest = true`` a ``[schedule]`` job
sends one message when it ends, for all its runs. The payload carries counts and errors (and
the alerts, and in the coaching digest the findings with their evidence), with every known
secret redacted; the webhook URL is never logged.
"""

from __future__ import annotations

from crmsync import Config, RunReport, RunResults, hookimpl
from crmsync_webhook.payload import build_payload, events_of
from crmsync_webhook.post import post_json
from crmsync_webhook.settings import NOTIFY

__all__ = ["crmsync_after_run", "build_payload", "post_json"]


@hookimpl
def crmsync_after_run(report: RunReport, config: Config | None,
                      results: RunResults | None) -> None:
    """Post the report to ``[notify] webhook_url`` when it raises a configured event."""
    notify = NOTIFY.get(config) if config is not None else None
    if notify is None:
        return
    # Digest mode: a scheduled job's runs are said once, by the job's own report.
    if (report.kind == "job") != (notify.digest and report.job is not None):
        return
    events, alerts = events_of(report, results, notify.on)
    if not events:
        return
    sent = post_json(notify.webhook_url, build_payload(report, events, alerts),
                     timeout=notify.timeout)
    if sent and alerts and results is not None:
        results.mark_sent(alerts)
