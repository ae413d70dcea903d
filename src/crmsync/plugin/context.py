"""What a metric's ``query`` receives: the parameters and SQL building blocks."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from crmsync.core.config import METRIC_OPTIONS
from crmsync.core.errors import MetricError
from crmsync.core.hours import parse_hours
from crmsync.core.periods import period_end_sql, period_start_sql, rolling_days
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.dimensions import CUSTOM_PREFIX, Dimension, custom_key, custom_value, reach
from crmsync.plugin.history import STRUCTURE_TABLES, owner_at_close, table_as_of

if TYPE_CHECKING:
    from typing import TypeAlias

    from typing_extensions import Unpack

    #: What a metric's :meth:`~crmsync.plugin.metric.Metric.query` (and the selects a
    #: :class:`MetricContext` takes) are: a ``Select`` of any columns. At run time it is
    #: SQLAlchemy's ``Select``.
    MetricSelect: TypeAlias = Select[Unpack[tuple[Any, ...]]]
else:
    MetricSelect = Select


def _sqlite_dialect() -> Dialect:
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


def _postgresql_dialect() -> Dialect:
    from sqlalchemy.dialects import postgresql

    # SQLAlchemy leaves this dialect's __init__ unannotated.
    return postgresql.dialect()  # type: ignore[no-untyped-call]


_DIALECTS = {"sqlite": _sqlite_dialect, "postgresql": _postgresql_dialect}

__all__ = ["MetricContext", "MetricSelect", "DIMENSIONS", "METRIC_OPTIONS", "CUSTOM_PREFIX",
           "is_dimension"]


def is_dimension(name: str, declared: Collection[str] = ()) -> bool:
    """A built-in dimension, one of ``declared`` (dimensions metrics and plugins declare) or
    ``custom.<field>`` with any custom-field key (:func:`~crmsync.plugin.dimensions.custom_key`
    checks its length)."""
    if name in DIMENSIONS or name in declared:
        return True
    try:
        return custom_key(name) is not None
    except MetricError:
        return False


#: Dimension name → (table holding it, column, how it is reached from a fact table).
#: ``direct`` columns live on the fact table; ``owner`` columns on its owner (``users``);
#: ``account`` columns on its account.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "owner": ("direct", "owner_id"),
    "team": ("owner", "team"),
    "pipeline": ("direct", "pipeline_id"),
    "deal_type": ("direct", "type"),
    "lead_source": ("direct", "lead_source"),
    "segment": ("account", "segment"),
    "region": ("account", "region"),
    "industry": ("account", "industry"),
    "territory": ("account", "territory"),
    "stage": ("direct", "stage_id"),
}


@dataclass
class MetricContext:
    """Parameters the host binds and helpers that keep metric SQL dialect-neutral.

    :param dialect: ``sqlite`` or ``postgresql``.
    :param period: ``day``, ``week``, ``month``, ``quarter``, ``year`` or ``all``.
    :param dimension: a key of :data:`DIMENSIONS`, a declared dimension (``declared``),
        ``custom.<field>``, or ``None`` for the whole organisation.
    :param variant: the definition chosen in ``[metrics.definitions]`` for this metric.
    :param options: ``[metrics]`` settings; read them with :meth:`option`.
    :param pipelines: only deals of these pipelines (remote ids); empty = all.
    :param deal_types: only deals of these types; empty = all.
    :param as_of: "now" for the metrics (naive UTC); tests pin it.
    :param rebuilt: the run is *as of* ``as_of`` (``crmsync metrics compute --as-of``):
        :meth:`table` gives each table as it stood then, rebuilt from history
        (docs/as-of.md).
    :param declared: the dimensions metrics and plugins declare, by name
        (:class:`~crmsync.Dimension`).
    """

    dialect: str
    period: str = "month"
    dimension: str | None = None
    base_currency: str = "USD"
    timezone: str = "UTC"
    fiscal_year_start_month: int = 1
    connection: str | None = None
    variant: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    pipelines: tuple[str, ...] = ()
    deal_types: tuple[str, ...] = ()
    as_of: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    #: Shared fact sets this context's queries use: temp table name → defining select. The
    #: engine materialises each once per run (see :meth:`shared`).
    shared_facts: dict[str, MetricSelect] = field(default_factory=dict)
    declared: Mapping[str, Dimension] = field(default_factory=dict)
    rebuilt: bool = False
    #: Indexes the engine builds on shared fact sets that stand for a table (temp table name
    #: → column lists): the rebuilt tables keep their table's lookups fast.
    shared_indexes: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    #: The rebuilt tables handed out, by name: one object per table, as ``SYNCED_TABLES``.
    _rebuilt_tables: dict[str, sa.TableClause] = field(default_factory=dict, repr=False)

    def shared(self, name: str, facts: MetricSelect) -> sa.TableClause:
        """A fact set several metrics of one run need (e.g. per-lead activity facts), as a
        table: when several metrics of a ``compute`` run use it, the engine creates it once as
        a temporary table (six lead metrics scan the activities once, not six times); when
        only one does, on SQLite, as a temporary view (no extra cost). Dropped after the run.

        :param name: a label for the fact set (letters, digits, ``_``).
        :param facts: the select defining it; its labelled columns become the table's.
        """
        if not re.fullmatch(r"[A-Za-z0-9_]{1,40}", name):
            raise MetricError(f"shared fact set names use letters, digits and _: {name!r}")
        table_name = self._shared_name(name, facts)
        self.shared_facts[table_name] = facts
        return sa.table(table_name, *(sa.column(_key(c), c.type) for c in facts.selected_columns))

    def _shared_name(self, name: str, facts: MetricSelect) -> str:
        compiled = facts.compile(dialect=_DIALECTS[self.dialect]())
        key = f"{compiled}|{sorted(compiled.params.items(), key=lambda kv: kv[0])!r}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]
        return f"crmsync_tmp_{name}_{digest}"

    def has_data(self, table: str, fact: FromClause) -> ColumnElement[bool]:
        """Whether the connection of ``fact``'s row has synced any row of ``table`` (deleted
        ones too). A metric that counts related records (activities of a deal, touches of a
        lead) uses it to tell *none* (0) from *no data* (``NULL``): a connection that syncs no
        activities has no activity counts, not counts of 0 (docs/metrics.md, "No data is not
        zero"). One index probe per row (every synced table is indexed by connection first).

        :param table: a synced table's name (``activities``, ``opportunities``…).
        :param fact: the table (or alias, subquery) whose ``connection`` column is tested.
        """
        other = self.table(table).alias(f"any_{table}")
        return sa.exists().where(other.c.connection == fact.c.connection)

    def option(self, name: str) -> Any:
        """A ``[metrics]`` setting (e.g. ``response_sla_minutes``), with its default."""
        return self.options.get(name, METRIC_OPTIONS[name])

    def now(self) -> ColumnElement[dt.datetime]:
        """The moment the metrics describe (naive UTC) as a SQL literal; record-level and
        "days since" metrics measure up to it."""
        return sa.literal(self.as_of, sa.DateTime())

    def table(self, name: str) -> sa.TableClause:
        """A schema table by name (``opportunities``, ``activities``…), with its columns.

        In a run *as of* a past instant (:attr:`rebuilt`) it is the table as it stood at
        :attr:`as_of` (:func:`~crmsync.table_as_of`), and with ``[metrics] closed_deal_owner
        = "at_close"`` closed deals carry their owner at close
        (:func:`~crmsync.owner_at_close`): a shared fact set the engine materialises once a
        run (docs/as-of.md). A metric reads every table through here, never
        ``SYNCED_TABLES`` directly, to compute as of any instant unchanged.
        """
        base = SYNCED_TABLES[name]
        if name in self._rebuilt_tables:
            return self._rebuilt_tables[name]
        at_close = name == "opportunities" and self.option("closed_deal_owner") == "at_close"
        if name in STRUCTURE_TABLES or not (self.rebuilt or at_close):
            return base
        key = (self.dialect, name, self.as_of if self.rebuilt else None, at_close)
        digest = hashlib.sha1(repr(key).encode()).hexdigest()[:10]
        table_name = f"crmsync_tmp_{'asof' if self.rebuilt else 'now'}_{name}_{digest}"
        self.shared_facts[table_name] = _rebuilt_rows(*key)
        self.shared_indexes[table_name] = _lookups(base)
        table = sa.table(table_name, *(sa.column(c.name, c.type) for c in base.c))
        self._rebuilt_tables[name] = table
        return table

    def live(self, table: FromClause) -> ColumnElement[bool]:
        """Rows that count: not deleted, of the selected connection if one is set, and — for
        tables with those columns (deals) — of the ``pipelines`` and ``deal_types`` filters."""
        cond = table.c.is_deleted == sa.false()
        if self.connection is not None:
            cond = sa.and_(cond, table.c.connection == self.connection)
        if self.pipelines and "pipeline_id" in table.c and "status" in table.c:
            cond = sa.and_(cond, table.c.pipeline_id.in_(self.pipelines))
        if self.deal_types and "type" in table.c and "status" in table.c:
            cond = sa.and_(cond, table.c.type.in_(self.deal_types))
        return cond

    def local(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A naive-UTC timestamp column as wall-clock time in ``timezone`` (dates and UTC are
        returned unchanged)."""
        if self.timezone == "UTC" or (isinstance(getattr(column, "type", None), sa.Date) and \
                not isinstance(column.type, sa.DateTime)):
            return column
        if self.dialect == "postgresql":
            return sa.func.timezone(self.timezone, sa.func.timezone("UTC", column))
        return sa.func.crmsync_local_time(column, self.timezone)  # registered on SQLite

    def period_start(self, column: Any) -> ColumnElement[Any]:
        """The period bucket of a timestamp or date column, in ``timezone``: ``NULL`` for
        period ``all``; for a rolling ``last_Nd`` period the window's first day for rows
        inside ``[as_of − N days, as_of)`` and ``NULL`` outside (the engine drops those)."""
        days = rolling_days(self.period)
        if days is not None:
            start = self.as_of - dt.timedelta(days=days)
            return sa.case((sa.and_(column >= sa.literal(start, sa.DateTime()),
                                    column < sa.literal(self.as_of, sa.DateTime())),
                            sa.literal(start.date(), sa.Date())), else_=sa.null())
        return period_start_sql(self.dialect, self.period, self.local(column),
                                self.fiscal_year_start_month)

    def period_end(self, start: Any) -> ColumnElement[Any]:
        """The first day after the period starting at ``start`` (a period-start column, e.g.
        one made with :meth:`period_start`); ``NULL`` for period ``all``."""
        return period_end_sql(self.dialect, self.period, start)

    def dimension_of(self, fact: FromClause) -> tuple[FromClause, ColumnElement[Any]]:
        """Join what the dimension needs onto ``fact``; return the joined FROM and the
        dimension's value expression (``NULL`` for the whole organisation)."""
        if self.dimension is None:
            return fact, sa.null()
        key = custom_key(self.dimension)
        if key is not None:
            if "custom" not in fact.c:
                raise MetricError(f"dimension '{self.dimension}' needs a custom column")
            return fact, custom_value(self.dialect, fact, key)
        if self.dimension in self.declared:
            return self.declared[self.dimension].value_of(fact)
        try:
            via, column = DIMENSIONS[self.dimension]
        except KeyError:
            known = ", ".join([*DIMENSIONS, *self.declared])
            raise MetricError(f"unknown dimension '{self.dimension}' "
                              f"(known: {known}, or custom.<field>)") from None
        if via == "direct":
            if column not in fact.c:
                raise MetricError(f"dimension '{self.dimension}' needs column {column}")
            return fact, fact.c[column]
        joined, other = reach(fact, via, self.dimension)
        return joined, other.c[column]

    def minutes_between(self, start: Any, end: Any) -> ColumnElement[float]:
        """Fractional minutes from ``start`` to ``end`` (two timestamp columns)."""
        return self.days_between(start, end) * 1440.0

    def response_minutes(self, start: Any, end: Any) -> ColumnElement[float]:
        """Minutes from ``start`` to ``end`` as response times count them: every minute, or —
        with ``[metrics] business_hours`` set — only the working minutes (``business_days``,
        in ``timezone``)."""
        hours = self.option("business_hours")
        if hours is None:
            return self.minutes_between(start, end)
        day_start, day_end = parse_hours(hours)
        days = ",".join(str(d) for d in self.option("business_days"))
        return sa.func.crmsync_business_minutes(start, end, self.timezone, day_start, day_end,
                                                days, type_=sa.Float())

    def days_between(self, start: Any, end: Any) -> ColumnElement[float]:
        """Fractional days from ``start`` to ``end`` (two timestamp columns)."""
        if self.dialect == "sqlite":
            return sa.func.julianday(end) - sa.func.julianday(start)
        # PostgreSQL's extract() is numeric (Decimal in Python); a number of days either way.
        return cast("ColumnElement[float]", sa.extract("epoch", end - start) / 86400.0)

    def amount_in_base(self, fact: FromClause, at: Any = None) -> ColumnElement[float]:
        """A deal's (or quota's) amount in the base currency: ``amount_base`` when the CRM gave
        it (a table with that column), else ``amount`` converted at the rate valid at ``at``
        (a timestamp or date column; ``None`` = the latest rate, for open deals); ``NULL``
        when no rate is known (never silently 1:1)."""
        rates = self.table("currency_rates").alias("fx")
        conditions = [rates.c.connection == fact.c.connection,
                      rates.c.currency == fact.c.currency,
                      rates.c.is_deleted == sa.false(),
                      sa.or_(rates.c.base_currency.is_(None),
                             rates.c.base_currency == self.base_currency)]
        if at is not None:
            at_date = sa.func.date(at) if self.dialect == "sqlite" else sa.cast(at, sa.Date)
            conditions += [rates.c.valid_from <= at_date,
                           sa.or_(rates.c.valid_to.is_(None), rates.c.valid_to > at_date)]
        rate = (
            sa.select(rates.c.rate_to_base)
            .where(*conditions)
            .order_by(rates.c.valid_from.desc())
            .limit(1)
            .scalar_subquery()
        )
        given = [(fact.c.amount_base.is_not(None), fact.c.amount_base)] \
            if "amount_base" in fact.c else []
        return sa.case(
            *given,
            (sa.or_(fact.c.currency.is_(None), fact.c.currency == self.base_currency),
             fact.c.amount),
            else_=fact.c.amount * rate,
        )

    def quota_total(self, quotas: FromClause) -> ColumnElement[float]:
        """The sum of ``quotas``' amounts in the base currency, each converted at the rate
        valid at its ``period_start``; ``NULL`` when one of them cannot be converted (a
        total that leaves a quota out would overstate attainment)."""
        amount = self.amount_in_base(quotas, quotas.c.period_start)
        return sa.case((sa.func.count(amount) == sa.func.count(), sa.func.sum(amount)))

    def median(self, facts: MetricSelect) -> MetricSelect:
        """The contract columns for the median of ``x`` per (``subject_id``,
        ``dimension_value``, ``period_start``), computed in SQL: PostgreSQL's ordered-set
        aggregate ``percentile_cont(0.5)``; on SQLite, which has none, window functions
        (the middle one or two values of each group, averaged). Both are exact.

        :param facts: a select with columns ``subject_id``, ``dimension_value``,
            ``period_start`` and ``x``, one row per observation.
        """
        s = facts.subquery("facts")
        keys = [s.c.subject_id, s.c.dimension_value, s.c.period_start]
        if self.dialect == "postgresql":
            return (
                sa.select(*keys,
                          sa.func.percentile_cont(0.5).within_group(s.c.x).label("value"),
                          sa.null().label("numerator"), sa.func.count(s.c.x).label("denominator"))
                .where(s.c.x.is_not(None))
                .group_by(*keys)
            )
        # A key the facts leave NULL (no subject; the organisation) is one group: partitioning
        # and grouping by it only costs comparisons (~10% of a median by month x owner).
        names = ["subject_id", "dimension_value", "period_start"]
        varying = [n for n in names if not _is_null(facts.selected_columns[n])] or names
        ranked = sa.select(
            s.c.subject_id, s.c.dimension_value, s.c.period_start, s.c.x,
            sa.func.row_number().over(partition_by=[s.c[n] for n in varying],
                                      order_by=s.c.x).label("rn"),
            sa.func.count().over(partition_by=[s.c[n] for n in varying]).label("cnt"),
        ).where(s.c.x.is_not(None)).subquery("ranked")
        middle = sa.and_(ranked.c.rn >= (ranked.c.cnt + 1) // 2,
                         ranked.c.rn <= (ranked.c.cnt + 2) // 2)
        return (
            sa.select(*(ranked.c[n] if n in varying else sa.null().label(n) for n in names),
                      sa.func.avg(ranked.c.x).label("value"),
                      sa.null().label("numerator"),
                      sa.func.max(ranked.c.cnt).label("denominator"))
            .where(middle)
            .group_by(*(ranked.c[n] for n in varying))
        )

    def group_keys(self, *exprs: Any) -> list[Any]:
        """The non-constant expressions among ``exprs`` (for ``GROUP BY``)."""
        return [e for e in exprs if not isinstance(e, sa.sql.elements.Null)]


def _is_null(column: Any) -> bool:
    """Whether a selected column is the constant ``NULL`` (labelled or not)."""
    return isinstance(getattr(column, "element", column), sa.sql.elements.Null)


def _key(column: ColumnElement[Any]) -> str:
    """The name of a shared fact set's column: its label."""
    if column.key is None:
        raise MetricError(f"a shared fact set's columns must be labelled: {column}")
    return column.key


@functools.lru_cache(maxsize=64)
def _rebuilt_rows(dialect: str, name: str, at: dt.datetime | None, at_close: bool
                  ) -> MetricSelect:
    """The rows of a table :meth:`MetricContext.table` rebuilds: as of ``at`` (``None``: now),
    with closed deals' owners at close when ``at_close``. Built once for all the contexts of
    a run (a run plans hundreds of queries over the same few tables)."""
    rows: MetricSelect = (table_as_of(dialect, name, at) if at is not None
                          else sa.select(SYNCED_TABLES[name]))
    return owner_at_close(rows) if at_close else rows


def _lookups(table: sa.Table) -> list[tuple[str, ...]]:
    """The column lists of ``table``'s unique constraints and indexes."""
    out = [tuple(c.name for c in con.columns) for con in table.constraints
           if isinstance(con, sa.UniqueConstraint)]
    out += [tuple(c.name for c in ix.columns) for ix in table.indexes]
    return list(dict.fromkeys(out))
