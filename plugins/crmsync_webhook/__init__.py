"""crmsync_webhook: post run notifications to a webhook (Slack-compatible ``text``).

Configured by ``[notify]`` in ``crmsync.toml`` (:mod:`crmsync.orchestration.notify`)::

    [notify]
    webhook_url = "${SLACK_WEBHOOK_URL}"
    on = ["failure", "quota", "below_target"]

Sends one JSON ``POST`` per run that raises a configured event: a failed run, a sync stopped
on the API quota, a sync that found targets locked, a metrics run leaving values below their
targets (or every run, with ``success``). The payload carries counts and errors only, with
every known secret redacted; the webhook URL is never logged.
"""

from __future__ import annotations

from crmsync import hookimpl
from crmsync.core.config import Config
from crmsync.core.reports import RunReport
from crmsync_webhook.payload import build_payload, events_of
from crmsync_webhook.post import post_json

__all__ = ["crmsync_after_run", "build_payload", "post_json"]


@hookimpl
def crmsync_after_run(report: RunReport, config: Config | None) -> None:
    """Post the report to ``[notify] webhook_url`` when it raises a configured event."""
    if config is None or config.notify is None:
        return
    notify = config.notify
    events = events_of(report, config, notify.on)
    if not events:
        return
    post_json(notify.webhook_url, build_payload(report, events), timeout=notify.timeout)
