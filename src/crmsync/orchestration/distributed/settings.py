"""``[celery]``: the broker and result backend of the Celery workers (no Celery import)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.core.config import Section, SectionContext
from crmsync.core.errors import ConfigError

__all__ = ["CELERY", "CelerySettings", "parse_celery", "DEFAULT_BROKER"]

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
_KEYS = ("broker_url", "result_backend", "queue", "visibility_timeout", "lock_retry_seconds")


@dataclass(frozen=True)
class CelerySettings:
    """The ``[celery]`` table.

    :param broker_url: Redis (``redis://…``) or RabbitMQ (``amqp://…``); may hold
        ``${ENV}`` references (passwords).
    :param result_backend: where task results go (default: the broker, when it is Redis).
    :param queue: the queue the tasks go to and workers read.
    :param visibility_timeout: (Redis) seconds before an unacknowledged task is given to
        another worker; the run locks make such a redelivery harmless.
    :param lock_retry_seconds: how long a task whose target is locked waits before it is
        retried.
    """

    broker_url: str = DEFAULT_BROKER
    result_backend: str | None = None
    queue: str = "crmsync"
    visibility_timeout: int = 3600
    lock_retry_seconds: float = 10.0

    def backend(self) -> str | None:
        """The result backend: the explicit one, else a Redis broker doubles as backend."""
        if self.result_backend:
            return self.result_backend
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) \
            else None


def parse_celery(raw: Mapping[str, Any], file: str | None,
                 interpolate: Callable[..., Any]) -> CelerySettings:
    """The ``[celery]`` table; errors name the file, section and key."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(_KEYS)})", file=file,
                              section="celery", key=key)
        if key in ("broker_url", "result_backend", "queue"):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"expected a non-empty string, got {value!r}", file=file,
                                  section="celery", key=key)
            values[key] = interpolate(value, key=key)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"expected a positive number of seconds, got {value!r}",
                                  file=file, section="celery", key=key)
            values[key] = int(value) if key == "visibility_timeout" else float(value)
    return CelerySettings(**values)


def _parse_section(raw: Any, ctx: SectionContext) -> CelerySettings:
    return parse_celery(ctx.expect(raw, dict, "celery", "celery"), ctx.file,
                        lambda value, key: ctx.interpolate(value, "celery", key))


#: ``[celery]`` (docs/deploying.md): ``CELERY.get(config)``.
CELERY: Section[CelerySettings] = Section("celery", _parse_section, default=CelerySettings)
