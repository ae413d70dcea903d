"""The standard computation: what ``crmsync metrics compute`` without options stores, so that
every other command finds its values (docs/cli.md, ``metrics compute``).

* the organisation-level catalogue for the configured period, for the whole organisation and
  the :data:`STANDARD_DIMENSIONS` breakdowns (``metrics show``, ``--by owner|team``, the
  dashboard and the scorecards read these);
* the snapshot metrics (period ``all`` only, such as data quality), likewise;
* the metrics ``[[writeback]]`` mappings send: record-level ones for period ``all`` and per-rep
  ones by ``owner`` for their period, one run per connection (docs/writeback.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmsync.metrics.engine import compute, supports_period
from crmsync.metrics.findings import Finding
from crmsync.writeback.mapping import WRITEBACK

if TYPE_CHECKING:
    from crmsync.core.config import Config
    from crmsync.plugin.metric import Metric
    from crmsync.store import Store
    from crmsync.writeback.mapping import WritebackMapping

__all__ = ["STANDARD_DIMENSIONS", "ComputeRequest", "StandardResult", "standard_requests",
           "writeback_requests", "compute_standard"]

#: Breakdowns the standard computation stores besides the whole organisation.
STANDARD_DIMENSIONS: tuple[str, ...] = ("owner", "team")


@dataclass
class ComputeRequest:
    """One :func:`crmsync.metrics.compute` call of the standard computation."""

    #: What the values are for (printed by ``metrics compute``).
    purpose: str
    metrics: list[Metric]
    period: str
    dimensions: tuple[str | None, ...]
    connection: str | None = None


@dataclass
class StandardResult:
    """What :func:`compute_standard` stored: one line per request."""

    #: ``(purpose, period, dimensions, connection, run_id, values stored)`` per request.
    runs: list[tuple[str, str, tuple[str | None, ...], str | None, str, int]] = field(
        default_factory=list)
    #: Metrics or breakdowns a request could not compute (e.g. a variant without a period).
    skipped: list[str] = field(default_factory=list)
    #: Records left out of money metrics (the same for every request: reported once).
    findings: list[Finding] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Values stored by all the requests."""
        return sum(r[5] for r in self.runs)


def _org_requests(period: str, metrics: Mapping[str, Metric]) -> list[ComputeRequest]:
    """The catalogue for ``period`` and the snapshot (``all``-only) metrics, each for the
    organisation and the standard breakdowns it supports."""
    org = [m for m in metrics.values() if m.subject == "org"]
    requests = []
    for purpose, chosen, p in (
            ("catalogue", [m for m in org if supports_period(m, period)], period),
            ("snapshot", [m for m in org if not supports_period(m, period)
                          and "all" in m.periods], "all")):
        if not chosen:
            continue
        requests.append(ComputeRequest(purpose, chosen, p, (None,)))
        for dim in STANDARD_DIMENSIONS:
            supporting = [m for m in chosen if dim in m.dimensions]
            if supporting:
                requests.append(ComputeRequest(purpose, supporting, p, (dim,)))
    return requests


def writeback_requests(mappings: Sequence[WritebackMapping], metrics: Mapping[str, Metric],
                       connections: Sequence[str] | None = None) -> list[ComputeRequest]:
    """The computations ``[[writeback]]`` mappings read, per connection: record-level metrics
    for period ``all``; per-rep ones by ``owner`` for the mapping's period. Mappings naming an
    unknown metric are left to ``writeback plan`` to report.

    :param connections: only mappings of these connections (``None``: all).
    """
    from crmsync.writeback.validate import is_per_rep, mapping_period

    runs: dict[tuple[str, str, str | None], dict[str, None]] = {}
    for m in mappings:
        if m.metric not in metrics or (connections is not None and m.connection not in
                                       connections):
            continue
        period, dimension = ((mapping_period(m), "owner") if is_per_rep(m, metrics[m.metric])
                             else ("all", None))
        runs.setdefault((m.connection, period, dimension), {})[m.metric] = None
    return [ComputeRequest("writeback", [metrics[n] for n in names], period, (dimension,),
                           connection)
            for (connection, period, dimension), names in runs.items()]


def standard_requests(config: Config, metrics: Mapping[str, Metric], *,
                      period: str | None = None) -> list[ComputeRequest]:
    """Every computation of the standard run (module docstring), in order."""
    return [*_org_requests(period or config.metrics.period, metrics),
            *writeback_requests(WRITEBACK.get(config), metrics)]


def compute_standard(store: Store, config: Config, metrics: Mapping[str, Metric], *,
                     period: str | None = None, as_of: dt.datetime | None = None,
                     progress: Callable[[int, int], None] | None = None) -> StandardResult:
    """Run :func:`standard_requests`; each request is one stored run (all its values or
    none). ``progress(done, total)`` is called before each request."""
    result = StandardResult()
    requests = standard_requests(config, metrics, period=period)
    for done, r in enumerate(requests):
        if progress is not None:
            progress(done, len(requests))
        run = compute(store, r.metrics, config.metrics, period=r.period,
                      dimensions=r.dimensions, connection=r.connection, as_of=as_of,
                      keep_values=False)
        result.runs.append((r.purpose, r.period, r.dimensions, r.connection, run.run_id,
                            run.stored))
        result.skipped += [s for s in run.skipped if s not in result.skipped]
        result.findings = result.findings or run.findings
    return result
