"""The connector interface (docs/writing-a-connector.md): what a CRM plugin implements.

A connector class is registered through ``crmsync_register_connectors``; the host creates one
instance per configured connection. Connectors speak the unified schema: :meth:`Connector.read`
yields :class:`Batch` objects whose records are plain mappings keyed by the column names of
``docs/schema.md``. The sync engine validates every record; connectors are not trusted.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from crmsync.core.errors import ConfigError
from crmsync.plugin.records import Batch, Deletion, Reject, RowRecords, StandingRejects

__all__ = [
    "Setting",
    "Batch",
    "Deletion",
    "Reject",
    "RowRecords",
    "StandingRejects",
    "FieldInfo",
    "FieldSpec",
    "WriteUpdate",
    "WriteResult",
    "ApiCallCounter",
    "Quota",
    "Connector",
    "FIELD_TYPES",
    "FIELD_PREFIX",
    "FLAGS_KEY",
]

#: Field kinds write-back understands (``FieldInfo.type``, ``FieldSpec.type``). ``percent``
#: fields hold 0–100 (a ratio of 0.25 is written as 25).
FIELD_TYPES = ("number", "currency", "percent", "date", "datetime", "string", "boolean")
#: Fields whose name starts with this (case-insensitively, then ``_``) belong to crmsync.
FIELD_PREFIX = "crmsync"
#: The key of a record's ``custom`` object under which a connector flags columns it filled by
#: a documented fallback: ``{"occurred_at": "remote_created_at"}`` says "the CRM gave no
#: activity time; ``occurred_at`` is the creation time" (docs/schema.md, "Flags").
FLAGS_KEY = "_crmsync_flags"

_MISSING = object()


@dataclass(frozen=True)
class Setting:
    """One documented connector setting.

    :param type: the Python type(s) the TOML value must have (``str``, ``int``, ``bool``,
        ``float``, ``list``, ``dict``).
    :param default: the value when the key is absent; leave unset for a required setting.
    :param secret: the value must come from an ``${ENV_VAR}`` reference and is redacted
        everywhere (logs, errors, ``config show``, reject payloads).
    :param choices: the allowed values, when the setting is an enumeration.
    :param path: the value is a file or folder; a relative path is taken relative to the
        config file that names it (so scheduled runs from another directory agree).
    """

    type: type | tuple[type, ...]
    help: str
    default: Any = _MISSING
    secret: bool = False
    choices: tuple[Any, ...] | None = None
    path: bool = False

    @property
    def required(self) -> bool:
        """True when the setting has no default."""
        return self.default is _MISSING


@dataclass(frozen=True)
class FieldInfo:
    """A field (or property) the CRM has on an entity.

    :param type: the field's kind as write-back understands it (:data:`FIELD_TYPES`:
        ``number``, ``currency``, ``percent``, ``date``, ``datetime``, ``string``,
        ``boolean``); any other vendor type is given verbatim and is not written to.
    :param writable: the API accepts values for it (not read-only).
    :param calculated: a formula or rollup field (never written to).
    :param custom: a custom field rather than a standard one.
    :param scale: digits after the decimal point the field keeps, when the CRM says.
    """

    name: str
    type: str
    label: str | None = None
    writable: bool = False
    calculated: bool = False
    custom: bool = False
    scale: int | None = None


@dataclass(frozen=True)
class FieldSpec:
    """A custom field crmsync asks a connector to create for write-back."""

    name: str
    type: str
    label: str
    description: str = ""
    #: Digits after the decimal point for ``number``/``currency``/``percent`` fields.
    scale: int | None = None


@dataclass(frozen=True)
class WriteUpdate:
    """Field values to write on one CRM record."""

    remote_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class WriteResult:
    """The outcome of writing one record.

    :param error_code: the vendor's code for the failure (e.g. ``UNABLE_TO_LOCK_ROW``).
    :param retryable: the same value may succeed later (a lock, a timeout); a validation
        failure is not retryable.
    :param missing: the record does not exist in the CRM (deleted, merged away).
    """

    remote_id: str
    ok: bool
    error: str | None = None
    error_code: str | None = None
    retryable: bool = False
    missing: bool = False


@dataclass
class Quota:
    """The vendor's API quota where the CRM exposes it."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        """Calls left before the limit."""
        return max(self.limit - self.used, 0)


class ApiCallCounter:
    """Counts API calls per endpoint. The engine reads it into ``sync_runs``."""

    def __init__(self) -> None:
        self.by_endpoint: collections.Counter[str] = collections.Counter()

    def count(self, endpoint: str, n: int = 1) -> None:
        """Record ``n`` calls to ``endpoint`` (a short label such as ``GET /query``)."""
        self.by_endpoint[endpoint] += n

    @property
    def total(self) -> int:
        """All calls counted so far."""
        return sum(self.by_endpoint.values())

    def snapshot(self) -> dict[str, int]:
        """A copy of the per-endpoint counts."""
        return dict(self.by_endpoint)


class Connector:
    """Base class of connector plugins; one instance per configured connection.

    Subclasses set :attr:`NAME`, :attr:`ENTITIES` and :attr:`SETTINGS` and implement
    :meth:`read`; CRMs that accept write-back also implement :meth:`fields`,
    :meth:`ensure_field` and :meth:`write`.

    :param name: the connection's configured name (``[connections.NAME]``).
    :param settings: the validated settings, with defaults filled in and ``${ENV}`` resolved.
    """

    #: The ``type`` users write in ``[connections.X]``.
    NAME: ClassVar[str] = ""
    #: Schema tables this connector can read, in a sensible sync order.
    ENTITIES: ClassVar[tuple[str, ...]] = ()
    #: Documented settings; unknown keys are rejected by the config loader.
    SETTINGS: ClassVar[Mapping[str, Setting]] = {}
    #: A connector that generates a fixed demo dataset (no CRM account needed) names the
    #: dataset's "today" here (ISO date); ``crmsync demo`` uses the first such connector.
    DEMO_AS_OF: ClassVar[str | None] = None
    #: Where this connector reads a table from, in a few words for people, e.g.
    #: ``{"feedback": "Salesforce survey responses (Feedback Management)"}``: ``crmsync
    #: status`` names it when the table is empty. A table in :attr:`ENTITIES` without an entry
    #: reads "a NAME connection".
    INPUT_SOURCES: ClassVar[Mapping[str, str]] = {}

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        self.name = name
        self.settings = dict(settings)
        self.api_calls = ApiCallCounter()

    # -- settings ---------------------------------------------------------------------------

    @classmethod
    def validate_settings(cls, raw: Mapping[str, Any], *, file: str | None = None,
                          section: str | None = None) -> dict[str, Any]:
        """Check ``raw`` against :attr:`SETTINGS`; fill defaults.

        :raises ConfigError: naming the file, section and key of an unknown key, a missing
            required key, a wrong type or a value outside ``choices``.
        """
        for key in raw:
            if key not in cls.SETTINGS and key != "type":
                known = ", ".join(sorted(cls.SETTINGS)) or "none"
                raise ConfigError(f"unknown setting for connector type '{cls.NAME}' "
                                  f"(known: {known})", file=file, section=section, key=key)
        out: dict[str, Any] = {}
        for key, spec in cls.SETTINGS.items():
            if key in raw:
                out[key] = cls._setting_value(spec, raw[key], file=file, section=section,
                                              key=key)
            elif spec.required:
                raise ConfigError(f"required by connector type '{cls.NAME}': {spec.help}",
                                  file=file, section=section, key=key)
            else:
                out[key] = spec.default
        return out

    @staticmethod
    def _setting_value(spec: Setting, value: Any, *, file: str | None, section: str | None,
                       key: str) -> Any:
        """``value`` checked against ``spec``'s type(s) and choices (an ``int`` where a
        ``float`` is allowed becomes one; a ``bool`` is no ``int``)."""
        types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"expected {names}, got {type(value).__name__} {value!r}"
                              if not spec.secret else f"expected {names}",
                              file=file, section=section, key=key)
        if spec.choices is not None and value not in spec.choices:
            raise ConfigError(f"expected one of {', '.join(map(repr, spec.choices))}, "
                              f"got {value!r}", file=file, section=section, key=key)
        return value

    @classmethod
    def secret_settings(cls) -> frozenset[str]:
        """Names of the settings that hold secrets."""
        return frozenset(k for k, s in cls.SETTINGS.items() if s.secret)

    # -- reading ------------------------------------------------------------------------------

    def check(self) -> str:
        """A cheap authentication and permission probe.

        :return: a one-line description of what was reached (e.g. the org or portal name).
        :raises crmsync.ConnectorError: (or :class:`crmsync.AuthError`) when it fails.
        """
        return "ok"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        """Yield pages of normalised records of ``entity`` changed after ``cursor``.

        :param entity: one of :attr:`ENTITIES`.
        :param cursor: the last cursor the engine committed for this entity, or ``None`` for
            a full read.
        :return: an iterator of :class:`Batch`; each batch's ``cursor`` must be safe to persist
            once its records are stored (a crash after it loses nothing).
        """
        raise NotImplementedError

    def retry_rejects(self, entity: str, standing: StandingRejects) -> None:
        """Told, before each :meth:`read` of ``entity``, which of its records are rejected
        and not stored since.

        An incremental read skips a record whose change time its cursor has passed, so a
        rejected record fixed at its source without that time changing would never be read
        again. A connector that can re-reads these records in the next :meth:`read`, whatever
        its cursor says (the files connector re-reads their rows). The engine marks a reject
        resolved once a record with its remote id (or, for a reject without one, from its
        source) is stored. The default ignores the call.
        """

    def close(self) -> None:
        """Release network sessions and files."""

    def history_fields(self) -> frozenset[str]:
        """The opportunity fields (names from :data:`crmsync.HISTORY_FIELDS`) whose every
        change this connector reads from the CRM into ``opportunity_field_history``.

        The engine records the changes of the other tracked fields itself, as *observed*
        history: when a sync sees a stored deal's value change (docs/history.md). Asked after
        :meth:`check`; a connector that learns from the CRM which fields it tracks (Salesforce
        field history tracking) answers for this org. The default, no field, lets the engine
        observe all of them.
        """
        return frozenset()

    # -- write-back ------------------------------------------------------------------------------

    def fields(self, entity: str) -> list[FieldInfo]:
        """Discover the fields/properties of ``entity`` in the CRM."""
        raise NotImplementedError(f"connector type '{self.NAME}' cannot list fields")

    def ensure_field(self, entity: str, spec: FieldSpec) -> FieldInfo:
        """Create the custom field ``spec`` on ``entity`` if it does not exist."""
        raise NotImplementedError(f"connector type '{self.NAME}' cannot create fields")

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        """Write field values, batched as the API allows; yield one result per record.

        Values are Python values already formatted for the field's type (``None`` clears
        the field); converting them to the wire format is the connector's job. When the API
        rejects a whole batch because of some of its records, raise: write-back splits the
        batch to isolate them.
        """
        raise NotImplementedError(f"connector type '{self.NAME}' cannot write")

    def read_values(self, entity: str, remote_ids: Sequence[str],
                    fields: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The CRM's current values of ``fields`` on the records ``remote_ids``.

        Write-back asks for them (``overwrite = "if_empty"`` or ``"never"``) only for records
        whose synced ``custom`` column does not hold the field. Records that do not exist
        are left out of the result.
        """
        raise NotImplementedError(f"connector type '{self.NAME}' cannot read field values")

    @classmethod
    def default_field_name(cls, metric: str) -> str:
        """The CRM field write-back uses for ``metric`` when a mapping names none, following
        the CRM's naming convention; the default is ``crmsync_<metric>``."""
        return f"{FIELD_PREFIX}_{metric}"

    def quota(self) -> Quota | None:
        """The vendor's API quota, where it is exposed."""
        return None

    def record_url(self, entity: str, remote_id: str) -> str | None:
        """The URL of a record in the CRM's own user interface (the dashboard links records
        to it), or ``None`` when the connector cannot build one from its settings alone.

        Never makes an API call: the dashboard asks for many records per page.

        :param entity: the schema table of the record (``opportunities``, ``accounts``…).
        :param remote_id: the record's id in the CRM.
        """
        return None
