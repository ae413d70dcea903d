"""Errors crmsync raises.

Two kinds (docs/architecture.md#errors): subclasses of :class:`CrmsyncError` are the user's, and
are shown as one line with no traceback; anything else is a bug and keeps its traceback.
Every error carries its context (connection, entity, record, field) as attributes.
"""

from __future__ import annotations

__all__ = [
    "CrmsyncError",
    "ConfigError",
    "PluginError",
    "DuplicateNameError",
    "ConnectorError",
    "AuthError",
    "RateLimited",
    "TransientError",
    "QuotaExhausted",
    "RecordError",
    "StoreError",
    "MetricError",
    "WritebackError",
]


class CrmsyncError(Exception):
    """An error the user can act on; the CLI prints it as one line and exits non-zero."""

    exit_code = 1


class ConfigError(CrmsyncError):
    """The configuration is wrong: names the file, section and key."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, section: str | None = None,
                 key: str | None = None) -> None:
        self.file = file
        self.section = section
        self.key = key
        where = ", ".join(
            part for part in (
                file,
                f"[{section}]" if section else None,
                f"key '{key}'" if key else None,
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class PluginError(CrmsyncError):
    """A plugin could not be loaded or registered something invalid."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class DuplicateNameError(PluginError):
    """Two plugins registered a connector or metric under the same name."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        self.kind = kind
        self.name = name
        self.plugins = (first, second)
        super().__init__(
            f"{kind} '{name}' is registered by two plugins: '{first}' and '{second}'; "
            f"disable one with CRMSYNC_DISABLE_PLUGINS",
            plugin=second,
        )


class ConnectorError(CrmsyncError):
    """A connector failed talking to its CRM; names the connection and entity."""

    def __init__(self, message: str, *, connection: str | None = None,
                 entity: str | None = None) -> None:
        self.connection = connection
        self.entity = entity
        prefix = "/".join(p for p in (connection, entity) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class AuthError(ConnectorError):
    """Credentials were rejected or have expired beyond a single re-authentication."""


class RateLimited(ConnectorError):
    """The CRM asked us to slow down. Raised by connectors; ``crmsync.core.retry`` waits."""

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None,
                 connection: str | None = None, entity: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, connection=connection, entity=entity)


class TransientError(ConnectorError):
    """A failure worth retrying: HTTP 5xx, a timeout, a dropped connection."""


class QuotaExhausted(ConnectorError):
    """The run's API budget is spent; the run stops cleanly with its state kept."""


class RecordError(CrmsyncError):
    """One record is invalid: names the entity, record and field."""

    def __init__(self, reason: str, *, entity: str, remote_id: str | None = None,
                 field: str | None = None, source: str | None = None) -> None:
        self.reason = reason
        self.entity = entity
        self.remote_id = remote_id
        self.field = field
        self.source = source
        record = remote_id if remote_id is not None else "?"
        where = f"{entity} record {record!s}"
        if source:
            where += f" ({source})"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {reason}")


class StoreError(CrmsyncError):
    """The store cannot be opened or migrated."""


class MetricError(CrmsyncError):
    """A metric is misconfigured or was asked for something it does not support."""


class WritebackError(CrmsyncError):
    """A write-back mapping cannot be planned or applied: names the mapping, connection,
    object and field."""

    def __init__(self, message: str, *, mapping: str | None = None,
                 connection: str | None = None, object: str | None = None,
                 field: str | None = None) -> None:
        self.mapping = mapping
        self.connection = connection
        self.object = object
        self.field = field
        super().__init__(f"{mapping}: {message}" if mapping else message)
