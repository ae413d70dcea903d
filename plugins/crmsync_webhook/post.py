"""Sending a JSON payload to the webhook (standard library HTTP; no retries: a lost
notification never holds up a run)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from crmsync import redact, register_secrets

__all__ = ["post_json"]

log = logging.getLogger(__name__)


def post_json(url: str, payload: dict[str, Any], *, timeout: float = 10.0) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer. Failures are logged without the URL
    (it is a credential) and never raised."""
    register_secrets([url])
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "crmsync-webhook"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            ok = 200 <= int(response.status) < 300
    except urllib.error.HTTPError as exc:
        log.warning("notification webhook answered HTTP %s", exc.code)
        return False
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        log.warning("notification webhook unreachable: %s", redact(str(reason)))
        return False
    if not ok:
        log.warning("notification webhook answered HTTP %s", response.status)
    return ok
