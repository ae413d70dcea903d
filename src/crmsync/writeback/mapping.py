"""``[[writeback]]`` mappings: which metric goes into which CRM field (docs/writeback.md).

Parsed by :func:`crmsync.core.config.load_config`; every problem is a :class:`~crmsync.ConfigError`
naming the file, the mapping (``[writeback #2]``, counting from 1) and the key. What needs the
plugins (does the metric exist, is it record-level, what is the connector's default field name)
is checked when a plan is made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmsync.core.config import Section, SectionContext
from crmsync.core.errors import ConfigError
from crmsync.core.periods import is_period
from crmsync.plugin.connector import FIELD_PREFIX

__all__ = ["WRITEBACK", "WritebackMapping", "parse_writeback", "OBJECTS", "OVERWRITE", "NULLS",
           "MODES",
           "is_owned_field"]

#: Mapping ``object`` → the schema table (and connector entity) it names.
OBJECTS = {"opportunity": "opportunities", "account": "accounts", "contact": "contacts",
           "lead": "leads", "user": "users"}
OVERWRITE = ("always", "if_empty", "never")
NULLS = ("skip", "clear")
MODES = ("update_only",)
_KEYS = ("metric", "connection", "object", "field", "create_field", "overwrite", "nulls", "mode",
         "owned", "decimals", "period")


def is_owned_field(name: str) -> bool:
    """True for field names in crmsync's namespace (``crmsync_…``, any case)."""
    return name.lower().startswith(f"{FIELD_PREFIX}_")


@dataclass(frozen=True)
class WritebackMapping:
    """One ``[[writeback]]`` table, validated.

    :param number: its position in the file, from 1 (``[writeback #1]`` in messages).
    :param field: the CRM field's API name; ``None`` for the connector's default name for
        ``crmsync_<metric>`` (:meth:`crmsync.Connector.default_field_name`).
    :param owned: the field is crmsync's (within its prefix) rather than a person's.
    :param decimals: digits kept after the decimal point (default: per metric unit).
    :param period: for a per-rep metric mapped to ``user``: the period whose latest value is
        written (default ``all``); record-level metrics are always period ``all``.
    """

    number: int
    metric: str
    connection: str
    object: str
    field: str | None = None
    create_field: bool = False
    overwrite: str = "always"
    nulls: str = "skip"
    mode: str = "update_only"
    owned: bool = True
    decimals: int | None = None
    period: str | None = None
    file: str | None = None

    @property
    def section(self) -> str:
        """The mapping as messages name it."""
        return f"writeback #{self.number}"

    @property
    def entity(self) -> str:
        """The schema table (connector entity) of :attr:`object`."""
        return OBJECTS[self.object]

    def describe(self, field: str | None = None) -> str:
        """``[writeback #1] days_in_current_stage → sf/opportunity.Field``, for messages."""
        return (f"[{self.section}] {self.metric} → {self.connection}/{self.object}."
                f"{field or self.field or '(default field)'}")

    def as_dict(self) -> dict[str, Any]:
        """The mapping as written, defaults filled in (for ``config show``)."""
        return {k: getattr(self, k) for k in _KEYS}


def _get(table: Mapping[str, Any], key: str, types: type | tuple[type, ...], default: Any,
         *, file: str | None, section: str, choices: Sequence[Any] | None = None) -> Any:
    if key not in table:
        return default
    value = table[key]
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        names = " or ".join(t.__name__ for t in allowed)
        raise ConfigError(f"expected {names}, got {type(value).__name__} {value!r}", file=file,
                          section=section, key=key)
    if choices is not None and value not in choices:
        raise ConfigError(f"expected one of {', '.join(map(repr, choices))}, got {value!r}",
                          file=file, section=section, key=key)
    return value


def _check_keys(table: Any, *, file: str | None, section: str) -> None:
    """A table, of known keys only, naming a metric, a connection and an object."""
    if not isinstance(table, dict):
        raise ConfigError("expected a table ([[writeback]])", file=file, section=section)
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown key (known: {', '.join(_KEYS)})", file=file,
                              section=section, key=key)
    for key in ("metric", "connection", "object"):
        if key not in table:
            raise ConfigError("required: every [[writeback]] names a metric, a connection and "
                              "an object", file=file, section=section, key=key)


def _connection(table: Mapping[str, Any], *, file: str | None, section: str,
                connections: Collection[str]) -> str:
    """``connection``: one of the configured connections."""
    connection: str = _get(table, "connection", str, None, file=file, section=section)
    if connection not in connections:
        known = ", ".join(sorted(connections)) or "none configured"
        raise ConfigError(f"no connection named {connection!r} (configured: {known})",
                          file=file, section=section, key="connection")
    return connection


def _field(table: Mapping[str, Any], *, file: str | None,
           section: str) -> tuple[str | None, bool]:
    """``(field, owned)``: a field outside crmsync's namespace needs ``owned = false``."""
    field = _get(table, "field", str, None, file=file, section=section)
    if field is not None and not field.strip():
        raise ConfigError("expected a field name", file=file, section=section, key="field")
    owned: bool = _get(table, "owned", bool, True, file=file, section=section)
    if field is not None and not is_owned_field(field) and owned:
        raise ConfigError(
            f"field {field!r} is outside crmsync's own fields ({FIELD_PREFIX}_…); writing to a "
            "field people may edit needs `owned = false` in this mapping", file=file,
            section=section, key="owned" if "owned" in table else "field")
    return field, owned


def _decimals(table: Mapping[str, Any], *, file: str | None, section: str) -> int | None:
    """``decimals``: 0 to 10 digits, or ``None`` (per metric unit)."""
    decimals: int | None = _get(table, "decimals", int, None, file=file, section=section)
    if decimals is not None and not 0 <= decimals <= 10:
        raise ConfigError(f"expected 0 to 10 digits, got {decimals!r}", file=file,
                          section=section, key="decimals")
    return decimals


def _period(table: Mapping[str, Any], *, file: str | None, section: str) -> str | None:
    """``period``: a period name, or ``None``."""
    period: str | None = _get(table, "period", str, None, file=file, section=section)
    if period is not None and not is_period(period):
        raise ConfigError(f"expected day, week, month, quarter, year, all or last_<N>d, got "
                          f"{period!r}", file=file, section=section, key="period")
    return period


def _mapping(number: int, table: Any, *, file: str | None,
             connections: Collection[str]) -> WritebackMapping:
    section = f"writeback #{number}"
    _check_keys(table, file=file, section=section)
    metric = _get(table, "metric", str, None, file=file, section=section)
    connection = _connection(table, file=file, section=section, connections=connections)
    obj = _get(table, "object", str, None, file=file, section=section, choices=tuple(OBJECTS))
    field, owned = _field(table, file=file, section=section)
    decimals = _decimals(table, file=file, section=section)
    period = _period(table, file=file, section=section)
    return WritebackMapping(
        period=period,
        number=number, metric=metric, connection=connection, object=obj, field=field,
        create_field=_get(table, "create_field", bool, False, file=file, section=section),
        overwrite=_get(table, "overwrite", str, "always" if owned else "if_empty", file=file,
                       section=section, choices=OVERWRITE),
        nulls=_get(table, "nulls", str, "skip", file=file, section=section, choices=NULLS),
        mode=_get(table, "mode", str, "update_only", file=file, section=section,
                  choices=MODES),
        owned=owned, decimals=decimals, file=file)


def parse_writeback(raw: Any, *, file: str | None,
                    connections: Collection[str]) -> list[WritebackMapping]:
    """Validate the ``writeback`` array of tables of a config file."""
    if not isinstance(raw, list):
        raise ConfigError("expected an array of tables: write [[writeback]], not [writeback]",
                          file=file, section="writeback")
    mappings = [_mapping(i, table, file=file, connections=connections)
                for i, table in enumerate(raw, start=1)]
    seen: dict[tuple[str, str, str], int] = {}
    for m in mappings:
        if m.field is None:
            continue
        key = (m.connection, m.object, m.field.lower())
        if key in seen:
            raise ConfigError(f"field {m.field!r} of {m.connection}/{m.object} is already "
                              f"written by [writeback #{seen[key]}]", file=file,
                              section=m.section, key="field")
        seen[key] = m.number
    return mappings


def _parse_section(raw: Any, ctx: SectionContext) -> list[WritebackMapping]:
    return parse_writeback(raw, file=ctx.file, connections=ctx.connections)


#: ``[[writeback]]`` (docs/writeback.md): ``WRITEBACK.get(config)``.
WRITEBACK: Section[list[WritebackMapping]] = Section("writeback", _parse_section, default=list)
