"""``[notify]``: where and when run notifications go. The table belongs to this plugin: it is
registered as a :class:`crmsync.Section`, the way any plugin adds its own configuration.

The webhook URL carries its own credential (a Slack incoming-webhook URL is a secret), so it
must be an ``${ENV}`` reference and is redacted wherever it could appear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync import LOCKED, STOPPED_QUOTA, ConfigError, Section, SectionContext

__all__ = ["NOTIFY", "NotifyConfig", "EVENTS", "DEFAULT_EVENTS", "parse_notify", "report_events"]

#: What can trigger a notification.
EVENTS = ("failure", "quota", "below_target", "anomaly", "locked", "success", "coaching")
DEFAULT_EVENTS = ("failure", "quota", "below_target")
_KEYS = ("webhook_url", "on", "timeout", "digest")
_ENV_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


@dataclass(frozen=True)
class NotifyConfig:
    """The ``[notify]`` table, resolved."""

    webhook_url: str
    on: tuple[str, ...] = DEFAULT_EVENTS
    timeout: float = 10.0
    #: One message per ``[schedule]`` job instead of one per run (docs/trends.md).
    digest: bool = False

    def __repr__(self) -> str:  # never show the URL (it is a credential)
        return (f"NotifyConfig(webhook_url='***', on={self.on!r}, timeout={self.timeout!r}, "
                f"digest={self.digest!r})")


def parse_notify(raw: Mapping[str, Any], file: str | None,
                 interpolate: Callable[..., Any]) -> NotifyConfig | None:
    """The ``[notify]`` table, or None when empty.

    :param interpolate: ``interpolate(value, key=...)`` resolving ``${ENV}`` references.
    """
    if not raw:
        return None
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(_KEYS)})", file=file,
                              section="notify", key=key)
    url = raw.get("webhook_url")
    if not isinstance(url, str) or not _ENV_REF.fullmatch(url.strip()):
        raise ConfigError("the webhook URL is a secret: write it as an environment reference "
                          "such as \"${SLACK_WEBHOOK_URL}\"", file=file, section="notify",
                          key="webhook_url")
    resolved = interpolate(url.strip(), key="webhook_url")
    if not resolved.startswith(("http://", "https://")):
        raise ConfigError("expected an http(s) URL in the environment variable", file=file,
                          section="notify", key="webhook_url")
    on = raw.get("on", list(DEFAULT_EVENTS))
    if not isinstance(on, list) or not on or any(e not in EVENTS for e in on):
        raise ConfigError(f"expected a list of events from {', '.join(EVENTS)}, got {on!r}",
                          file=file, section="notify", key="on")
    timeout = raw.get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"expected a positive number of seconds, got {timeout!r}", file=file,
                          section="notify", key="timeout")
    digest = raw.get("digest", False)
    if not isinstance(digest, bool):
        raise ConfigError(f"expected true or false, got {digest!r}", file=file,
                          section="notify", key="digest")
    return NotifyConfig(webhook_url=resolved, on=tuple(on), timeout=float(timeout),
                        digest=digest)


def report_events(status: str) -> set[str]:
    """The events a run with ``status`` raises (below-target values are checked apart)."""
    if status == "success":
        return {"success"}
    if status == STOPPED_QUOTA:
        return {"quota"}
    if status == LOCKED:
        return {"locked"}
    if status == "interrupted":
        return set()
    return {"failure"}


def _parse_section(raw: Any, ctx: SectionContext) -> NotifyConfig | None:
    return parse_notify(ctx.expect(raw, dict, "notify", "notify"), ctx.file,
                        lambda value, key: ctx.interpolate(value, "notify", key))


#: ``[notify]``: ``NOTIFY.get(config)`` (None when absent); its webhook URL is a secret.
NOTIFY: Section[NotifyConfig | None] = Section(
    "notify", _parse_section, default=lambda: None,
    secrets=lambda notify: [notify.webhook_url] if notify else [])
