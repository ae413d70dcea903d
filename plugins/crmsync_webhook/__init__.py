"""crmsync_webhook: post run notifications to a webhook (Slack-compatible ``text``).

Configured by ``[notify]`` in ``crmsync.toml`` (:mod:`crmsync_webhook.settings`)::

    [notify]
    webhook_url = "${SLACK_WEBHOOK_URL}"
    on = ["failure", "quota", "below_target"]

Sends one JSON ``POST`` per run that raises a configured event: a failed run, a sync stopped
on the API quota, a sync that found targets locked, a metrics run leaving values below their
targets (or every run, with ``success``), a coaching evaluation's digest of findings new,
still open and resolved (``coaching``; :mod:`crmsync_webhook.digest`). The payload carries
counts and errors (and, in the digest, the findings with their evidence), with every known
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
    events = events_of(report, results, notify.on)
    if not events:
        return
    post_json(notify.webhook_url, build_payload(report, events), timeout=notify.timeout)
