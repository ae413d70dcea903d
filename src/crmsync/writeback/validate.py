"""Checks a write-back mapping must pass before anything is planned: the metric (known,
record-level or per rep, of the mapping's object and period) and the CRM field (exists or may be
created, not calculated, writable, of a kind that can hold the value)."""

from __future__ import annotations

from collections.abc import Mapping

from crmsync.core.errors import ConfigError, WritebackError
from crmsync.plugin.connector import Connector, FieldInfo
from crmsync.plugin.metric import Metric
from crmsync.writeback.formatting import compatible_kinds, field_kind
from crmsync.writeback.mapping import OBJECTS, WritebackMapping

__all__ = ["is_per_rep", "mapping_period", "check_metric", "check_field", "mapping_error",
           "supports"]


def is_per_rep(m: WritebackMapping, metric: Metric) -> bool:
    """An aggregate metric broken down by owner, mapped to the reps' user records."""
    return m.object == "user" and metric.subject == "org" and "owner" in metric.dimensions


def check_metric(m: WritebackMapping, metrics: Mapping[str, Metric]) -> Metric:
    """The mapping's metric, if it can be written to the mapping's object and period."""
    metric = metrics.get(m.metric)
    if metric is None:
        raise ConfigError(f"unknown metric {m.metric!r} (see `crmsync metrics list`)",
                          file=m.file, section=m.section, key="metric")
    if is_per_rep(m, metric):
        if mapping_period(m) not in metric.periods:
            raise ConfigError(f"metric {m.metric!r} has no period {mapping_period(m)!r} "
                              f"(periods: {', '.join(metric.periods)})", file=m.file,
                              section=m.section, key="period")
        return metric
    if metric.subject not in OBJECTS or "all" not in metric.periods:
        raise ConfigError(f"metric {m.metric!r} is not a record-level metric (it is computed "
                          f"per {metric.subject}); only metrics with one value per record, or "
                          "per-rep metrics mapped to object = 'user', can be written to CRM "
                          "fields", file=m.file, section=m.section, key="metric")
    if metric.subject != m.object:
        raise ConfigError(f"metric {m.metric!r} has one value per {metric.subject}, not per "
                          f"{m.object}: set object = {metric.subject!r}", file=m.file,
                          section=m.section, key="object")
    if m.period not in (None, "all"):
        raise ConfigError("a record-level metric has only period 'all'", file=m.file,
                          section=m.section, key="period")
    return metric


def mapping_period(m: WritebackMapping) -> str:
    """The period whose values the mapping writes."""
    return m.period or "all"


def mapping_error(m: WritebackMapping, name: str, message: str) -> WritebackError:
    """An error naming the mapping, its connection, object and field."""
    return WritebackError(message, mapping=m.describe(name), connection=m.connection,
                          object=m.object, field=name)


def check_field(m: WritebackMapping, name: str, info: FieldInfo | None, unit: str) -> None:
    """The CRM field ``info`` (``None``: it does not exist) can take values of ``unit``."""
    if info is None:
        if not m.create_field:
            raise mapping_error(m, name, "the field does not exist in the CRM; create it "
                                         "there, or set create_field = true in this mapping")
        return
    if info.calculated:
        raise mapping_error(m, name, "the field is calculated (a formula or rollup) and "
                                     "cannot be written")
    if not info.writable:
        raise mapping_error(m, name, "the field is read-only for this connection's user")
    if field_kind(info) not in compatible_kinds(unit):
        raise mapping_error(m, name, f"the field's type {info.type!r} cannot hold a {unit} "
                                     f"value (needs {' or '.join(compatible_kinds(unit))})")


def supports(connector: Connector, method: str) -> bool:
    """The connector's class implements ``method`` (overrides the base class's)."""
    return getattr(type(connector), method) is not getattr(Connector, method)
