"""Targets (``[targets]`` in crmsync.toml): what "good" is for a metric, and who falls short.

A target is a value for one metric, optionally restricted to a period (``week``…) and to a
dimension (``by = "owner"``: it applies to each rep's value, not to the organisation's). ``by``
is a built-in dimension, one a plugin or metric declares (``currency``) or ``custom.<field>``
with any key (docs/configuration.md, ``[targets]``)::

    [targets]
    win_rate = 0.25                                          # every period and dimension
    calls = { value = 10, period = "week", by = "owner" }    # 10 calls per rep per week
    sales_cycle_days = { value = 45, direction = "lower_is_better" }
    revenue = "baseline:last_year * 1.05"                    # relative to a baseline
    win_rate = { value = "baseline:trailing_4 * 1.1", by = "owner" }

A relative target (:func:`parse_relative`) is resolved per value from its baselines
(:mod:`crmsync.metrics.baselines`): the same period last year, or the median of the four
periods before; no baseline, no target (docs/trends.md, "Targets relative to a baseline").

The direction defaults to the metric's own (``higher_is_better`` / ``lower_is_better``).
Targets also come from the synced ``targets`` table (a ``targets.csv`` in a files connection),
where a row may name one rep or team (``dimension = owner``, ``dimension_value = U042``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core.config import PERIODS, Section, SectionContext
from crmsync.core.errors import ConfigError, MetricError
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.context import DIMENSIONS
from crmsync.plugin.dimensions import Dimension, custom_key

if TYPE_CHECKING:
    from crmsync.store import Store

__all__ = ["TARGETS", "BASELINES", "attainment", "Target", "parse_targets", "parse_relative",
           "target_for", "is_below", "resolve", "stored_targets"]

_KEYS = ("value", "direction", "period", "by")
_DIRECTIONS = ("higher_is_better", "lower_is_better")
#: The baselines a relative target may name.
BASELINES = ("trailing_4", "last_year")
_RELATIVE = re.compile(r"\s*baseline\s*:\s*(\w+)\s*"
                       r"(?:\*\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*)?")


@dataclass(frozen=True)
class Target:
    """One metric's target."""

    metric: str
    #: The target; ``None`` for a relative one (``baseline``).
    value: float | None
    direction: str | None = None
    period: str | None = None
    by: str | None = None
    #: With ``by``: the one rep, team… the target is for (only from the ``targets`` table).
    dimension_value: str | None = None
    #: A relative target: the baseline it multiplies (one of :data:`BASELINES`).
    baseline: str | None = None
    #: A relative target: the factor applied to the baseline.
    factor: float = 1.0


def parse_relative(text: str, *, file: str | None = None, metric: str = "") -> tuple[str, float]:
    """``"baseline:trailing_4 * 1.1"`` → ``("trailing_4", 1.1)``; the factor is optional
    (1) and positive. Errors name the file, section and key."""
    match = _RELATIVE.fullmatch(text)
    if match is None or match.group(1) not in BASELINES:
        raise ConfigError(f"needs a numeric value or a relative target such as "
                          f"\"baseline:trailing_4 * 1.1\" or \"baseline:last_year * 1.05\" "
                          f"(baselines: {', '.join(BASELINES)}), got {text!r}",
                          file=file, section="targets", key=metric)
    factor = float(match.group(2)) if match.group(2) is not None else 1.0
    if factor <= 0:
        raise ConfigError(f"the factor of a relative target must be positive, got {text!r}",
                          file=file, section="targets", key=metric)
    return match.group(1), factor


def _relative(spec: Any, file: str | None, metric: str) -> dict[str, Any]:
    """The fields of a target's value: a number, or a relative target's baseline and
    factor."""
    if isinstance(spec, str):
        baseline, factor = parse_relative(spec, file=file, metric=metric)
        return {"value": None, "baseline": baseline, "factor": factor}
    return {"value": float(spec)}


def parse_targets(raw: Mapping[str, Any], *, file: str | None = None) -> list[Target]:
    """Validate the ``[targets]`` table; errors name the file, section and key."""
    out = []
    for metric, spec in raw.items():
        section = "targets"
        if isinstance(spec, (int, float, str)) and not isinstance(spec, bool):
            out.append(Target(metric, **_relative(spec, file, metric)))
            continue
        if not isinstance(spec, Mapping):
            raise ConfigError("expected a number or a table such as "
                              "{ value = 10, period = \"week\", by = \"owner\" }",
                              file=file, section=section, key=metric)
        for key in spec:
            if key not in _KEYS:
                raise ConfigError(f"unknown key '{key}' (known: {', '.join(_KEYS)})",
                                  file=file, section=section, key=metric)
        value = spec.get("value")
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise ConfigError("needs a numeric value or a relative one such as "
                              "\"baseline:trailing_4 * 1.1\"", file=file, section=section,
                              key=metric)
        direction, period, by = spec.get("direction"), spec.get("period"), spec.get("by")
        if direction is not None and direction not in _DIRECTIONS:
            raise ConfigError(f"direction must be one of {', '.join(_DIRECTIONS)}",
                              file=file, section=section, key=metric)
        if period is not None and period not in PERIODS:
            raise ConfigError(f"period must be one of {', '.join(PERIODS)}",
                              file=file, section=section, key=metric)
        if by is not None:
            _check_by(by, file=file, metric=metric)
        out.append(Target(metric, direction=direction, period=period, by=by,
                          **_relative(value, file, metric)))
    return out


def _check_by(by: Any, *, file: str | None, metric: str) -> None:
    """``by`` names a built-in dimension, ``custom.<field>`` or a dimension a plugin may
    declare (the syntax of :class:`~crmsync.Dimension` names: the plugins are not known when
    the file is read, so a name no plugin declares matches no value)."""
    def error(message: str) -> ConfigError:
        return ConfigError(message, file=file, section="targets", key=metric)

    if not isinstance(by, str):
        raise error(f"by must be a dimension name (a string), not {by!r}")
    if by in DIMENSIONS:
        return
    try:
        if custom_key(by) is not None:
            return
        Dimension(by, title=by, column=by)
    except MetricError as exc:
        raise error(f"by must be a built-in dimension ({', '.join(DIMENSIONS)}), a dimension "
                    f"a plugin declares (such as currency) or custom.<field>: {exc}") from None


def target_for(targets: Sequence[Target], metric: str, period: str,
               dimension: str | None, dimension_value: str | None = None) -> Target | None:
    """The most specific target for a metric value: one for this very rep/team beats one
    naming the period and dimension, which beats one naming either, which beats a plain one.
    A target with ``by`` applies only to values of that dimension."""
    best: tuple[int, Target] | None = None
    for t in targets:
        if t.metric != metric or (t.period is not None and t.period != period):
            continue
        if t.by is not None and t.by != dimension:
            continue
        if t.dimension_value is not None and t.dimension_value != dimension_value:
            continue
        score = (t.period is not None) + (t.by is not None) + 2 * (t.dimension_value is not None)
        if best is None or score > best[0]:
            best = (score, t)
    return best[1] if best else None


def resolve(target: Target | None, baselines: Mapping[str, float | None] | None = None
            ) -> float | None:
    """The number a target stands for at one value: its ``value``, or for a relative target
    the named baseline (``baselines``: ``trailing_4`` and ``last_year`` of that value) times
    its factor; ``None`` when that baseline is missing."""
    if target is None:
        return None
    if target.baseline is None:
        return target.value
    base = (baselines or {}).get(target.baseline)
    return None if base is None else base * target.factor


def is_below(value: float | None, target: Target, metric_direction: str,
             resolved: float | None = None) -> bool | None:
    """Whether ``value`` misses ``target`` (``None`` when there is no value, or no number
    for the target: ``resolved`` is a relative target's, :func:`resolve`)."""
    number = target.value if target.baseline is None else resolved
    if value is None or number is None:
        return None
    direction = target.direction or metric_direction
    return value < number if direction == "higher_is_better" else value > number


def attainment(value: float | None, target: float | None, direction: str) -> float | None:
    """How far ``value`` has come towards ``target``, 1.0 meaning "on target", whatever the
    direction (docs/metrics.md, "Targets and attainment").

    Higher is better: ``value ÷ target``. Lower is better: ``target ÷ value``, so a response
    time of 30 minutes against a 60-minute target reads 200% and 120 minutes reads 50%, never
    a figure that grows as the value gets worse. ``None`` when either side is missing or the
    divisor is not positive (a zero target, or a lower-is-better value of zero).
    """
    if value is None or target is None:
        return None
    if direction == "lower_is_better":
        return target / value if value > 0 else None
    return value / target if target > 0 else None


def stored_targets(store: Store) -> list[Target]:
    """Targets synced into the ``targets`` table (e.g. a ``targets.csv`` read by the files
    connector): per metric, optionally per period, dimension and dimension value."""
    t = SYNCED_TABLES["targets"]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.metric, t.c.value, t.c.direction, t.c.period,
                                      t.c.dimension, t.c.dimension_value)
                            .where(t.c.is_deleted == sa.false())
                            .order_by(t.c.id)).all()
    return [Target(metric=r.metric, value=float(r.value), direction=r.direction,
                   period=r.period, by=r.dimension,
                   dimension_value=r.dimension_value if r.dimension else None) for r in rows]


def _parse_section(raw: Any, ctx: SectionContext) -> list[Target]:
    return parse_targets(ctx.expect(raw, dict, "targets", "targets"), file=ctx.file)


#: ``[targets]`` (docs/configuration.md#targets): ``TARGETS.get(config)``.
TARGETS: Section[list[Target]] = Section("targets", _parse_section, default=list)
