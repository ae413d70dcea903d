"""Pipeline changes between two instants, in SQL (``crmsync pipeline changes``;
docs/pipeline-changes.md).

The pipeline at an instant is the open, not deleted deals as of that instant
(:func:`crmsync.opportunities_as_of`'s rule; both instants are rebuilt from one read of the
history by :func:`crmsync.deal_states`) whose expected close date lies in the target window.
Each deal is compared in two states: *A*, as it stood at the start (or, for a deal created in
the period, as it was created) and *E*, as it stood at the end. Its categories follow from
those two states alone (docs/pipeline-changes.md, "Per deal"), so that for every deal
``end − start = Σ categories`` exactly: amounts are whole cents (base currency, the rule of
the ``pipeline_value`` KPI: the CRM's base amount, else the latest rate), summed as integers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.history import deal_states
from crmsync.plugin.slippage import close_date_pushes

__all__ = ["Window", "ChangesSpec", "CATEGORIES", "GROUPINGS", "deal_changes",
           "category_sums", "deal_rows", "deal_categories", "sums_of_rows"]

#: The report's lines in order: (key, label, sign of its count). ``start`` and ``end`` are the
#: two pipelines; the count of every other line adds ``sign × deals`` to the start's count.
CATEGORIES: tuple[tuple[str, str, int], ...] = (
    ("start", "open pipeline at start", 1),
    ("created", "+ created", 1),
    ("pulled_in", "+ pulled into the window", 1),
    ("reopened", "+ reopened or restored", 1),
    ("moved_in", "+ moved in from another group", 1),
    ("amount_change", "± amount changes", 0),
    ("moved_out", "− moved out to another group", -1),
    ("pushed_out", "− pushed out of the window", -1),
    ("pulled_out", "− moved before the window", -1),
    ("won", "− won", -1),
    ("lost", "− lost", -1),
    ("removed", "− deleted", -1),
    ("end", "open pipeline at end", 1),
)
#: Categories counted on the start side (the deal's group in state A); the rest use E's.
_A_SIDE = ("start", "created", "moved_out")
#: ``--by`` values.
GROUPINGS = ("owner", "team")


@dataclass(frozen=True)
class Window:
    """The target window: deals whose expected close date lies in ``[first, last]`` (both
    inclusive); ``first = last = None`` for every deal, with or without a close date."""

    first: dt.date | None
    last: dt.date | None
    label: str = ""

    def holds(self, close: ColumnElement[Any]) -> ColumnElement[bool]:
        """Whether the close date ``close`` is in the window."""
        if self.first is None or self.last is None:
            return sa.true()
        return sa.and_(close >= sa.literal(self.first, sa.Date()),
                       close <= sa.literal(self.last, sa.Date()))


@dataclass(frozen=True)
class ChangesSpec:
    """What to compare: the instants (naive UTC), the window, the grouping."""

    start: dt.datetime
    end: dt.datetime
    window: Window
    by: str | None = None
    base_currency: str = "USD"


#: The columns of a deal's state the report reads.
_STATE_COLUMNS = ("connection", "remote_id", "name", "remote_created_at", "is_deleted",
                  "status", "expected_close_date", "amount", "amount_base", "currency",
                  "owner_id")


class _State:
    """One of the two states in the row of :func:`crmsync.deal_states`: ``state.c.amount``
    is its column ``s{k}_amount``."""

    def __init__(self, states: Subquery, k: int) -> None:
        self.c = _Columns(states, k)


class _Columns:
    def __init__(self, states: Subquery, k: int) -> None:
        self._states, self._k = states, k

    def __getattr__(self, name: str) -> Any:
        return self._states.c[f"s{self._k}_{name}"]


def _states(dialect: str, spec: ChangesSpec) -> tuple[Subquery, Any, Any]:
    """The deals created by the end in their two states, one row each, from one read of
    the history after the start (:func:`crmsync.deal_states`): *A* as the deal stood at
    the start, or as it was created when created after it (before its first change, a
    tracked field holds the old value of that change: its value at creation); *E* as it
    stood at the end. Returns the rows and the two states' columns."""
    q = deal_states(dialect, (spec.start, spec.end), _STATE_COLUMNS)
    created = q.selected_columns.s1_remote_created_at
    rows = q.where(sa.or_(created.is_(None), created <= sa.literal(spec.end, sa.DateTime()))
                   ).subquery("states")
    return rows, _State(rows, 0), _State(rows, 1)


def _latest_rates(base_currency: str) -> Any:
    """The latest rate of each (connection, currency): ``MetricContext.amount_in_base``'s rule
    for open deals, as a join: a materialised CTE of a few rows (a subquery would be ranked
    again, or scanned whole, for every deal)."""
    r = SYNCED_TABLES["currency_rates"]
    ranked = sa.select(
        r.c.connection, r.c.currency, r.c.rate_to_base,
        sa.func.row_number().over(partition_by=(r.c.connection, r.c.currency),
                                  order_by=(r.c.valid_from.desc(), r.c.id.desc())).label("rn"),
    ).where(r.c.is_deleted == sa.false(),
            sa.or_(r.c.base_currency.is_(None), r.c.base_currency == base_currency)
            ).subquery("ranked_rates")
    return (sa.select(ranked.c.connection, ranked.c.currency, ranked.c.rate_to_base)
            .where(ranked.c.rn == 1).cte("latest_rates").prefix_with("MATERIALIZED"))


def _base(state: Any, rate: Any, base_currency: str) -> ColumnElement[Any]:
    """The state's amount in the base currency (``NULL`` without a rate)."""
    return sa.case(
        (state.c.amount_base.is_not(None), state.c.amount_base),
        (sa.or_(state.c.currency.is_(None), state.c.currency == base_currency), state.c.amount),
        else_=state.c.amount * rate.c.rate_to_base)


def _cents(dialect: str, amount: ColumnElement[Any]) -> ColumnElement[int]:
    """Whole cents, half up (amounts are never negative); 0 without an amount."""
    x = sa.func.coalesce(amount, 0.0) * 100.0 + 0.5
    if dialect == "postgresql":
        return sa.cast(sa.func.floor(x), sa.BigInteger)
    return sa.cast(x, sa.BigInteger)  # SQLite's CAST truncates: floor for x ≥ 0


def _open_in(state: Any, window: Window) -> ColumnElement[Any]:
    return sa.case((sa.and_(state.c.is_deleted == sa.false(), state.c.status == "open",
                            window.holds(state.c.expected_close_date)), 1), else_=0)


def deal_changes(dialect: str, spec: ChangesSpec) -> Subquery:
    """:func:`_deal_changes` as a subquery."""
    return _deal_changes(dialect, spec).subquery("deal_changes")


def _deal_changes(dialect: str, spec: ChangesSpec) -> Select[Any]:
    """One row per deal in the pipeline at either end (the others are in no category): its
    two states and its categories.

    Columns: ``connection``, ``deal_id``, ``name``, ``created`` (1 when created in the
    period), ``in_a``/``in_e`` (1 when in the pipeline), ``cents_a``/``cents_e``,
    ``owner_a``/``owner_e``, ``group_a``/``group_e`` (``NULL`` without ``by``), ``moved`` (1
    when in the pipeline at A and in another group at E), ``entry`` (``pulled_in`` or
    ``reopened`` for a deal entering), ``exit`` (``won``, ``lost``, ``removed``, ``pushed_out``
    or ``pulled_out`` for a deal leaving), ``close_a``/``close_e``, ``status_a``/``status_e``,
    ``unpriced`` (1 when in the pipeline at either end with an amount but no rate).
    """
    states, a, e = _states(dialect, spec)
    rates = _latest_rates(spec.base_currency)
    ra, re_ = rates.alias("rate_a"), rates.alias("rate_e")
    frm = (states
           .outerjoin(ra, sa.and_(ra.c.connection == a.c.connection,
                                  ra.c.currency == a.c.currency))
           .outerjoin(re_, sa.and_(re_.c.connection == e.c.connection,
                                   re_.c.currency == e.c.currency)))
    group_a: ColumnElement[Any] = sa.null()
    group_e: ColumnElement[Any] = sa.null()
    if spec.by == "owner":
        group_a, group_e = a.c.owner_id, e.c.owner_id
    elif spec.by == "team":
        users = SYNCED_TABLES["users"]
        ua, ue = users.alias("user_a"), users.alias("user_e")
        frm = (frm.outerjoin(ua, sa.and_(ua.c.connection == a.c.connection,
                                         ua.c.remote_id == a.c.owner_id))
               .outerjoin(ue, sa.and_(ue.c.connection == e.c.connection,
                                      ue.c.remote_id == e.c.owner_id)))
        group_a, group_e = ua.c.team, ue.c.team
    in_a, in_e = _open_in(a, spec.window), _open_in(e, spec.window)
    base_a, base_e = _base(a, ra, spec.base_currency), _base(e, re_, spec.base_currency)
    window = spec.window
    after = (sa.or_(e.c.expected_close_date.is_(None),
                    e.c.expected_close_date > sa.literal(window.last, sa.Date()))
             if window.last is not None else sa.true())
    exit_kind = sa.case(
        (e.c.is_deleted == sa.true(), "removed"),
        (e.c.status == "won", "won"), (e.c.status == "lost", "lost"),
        (after, "pushed_out"), else_="pulled_out")
    entry_kind = sa.case(
        (sa.or_(a.c.is_deleted == sa.true(), a.c.status != "open"), "reopened"),
        else_="pulled_in")
    priced = sa.or_(a.c.amount.is_(None), base_a.is_not(None))
    priced_e = sa.or_(e.c.amount.is_(None), base_e.is_not(None))
    return (
        sa.select(
            a.c.connection.label("connection"), a.c.remote_id.label("deal_id"),
            e.c.name.label("name"),
            sa.case((a.c.remote_created_at > sa.literal(spec.start, sa.DateTime()), 1),
                    else_=0).label("created"),
            in_a.label("in_a"), in_e.label("in_e"),
            _cents(dialect, base_a).label("cents_a"), _cents(dialect, base_e).label("cents_e"),
            a.c.owner_id.label("owner_a"), e.c.owner_id.label("owner_e"),
            group_a.label("group_a"), group_e.label("group_e"),
            sa.case((sa.and_(in_a == 1, group_a.is_distinct_from(group_e)), 1),
                    else_=0).label("moved"),
            sa.case((sa.and_(in_a == 0, in_e == 1), entry_kind)).label("entry"),
            sa.case((sa.and_(in_a == 1, in_e == 0), exit_kind)).label("exit"),
            a.c.expected_close_date.label("close_a"), e.c.expected_close_date.label("close_e"),
            a.c.status.label("status_a"), e.c.status.label("status_e"),
            sa.case((sa.or_(sa.and_(in_a == 1, sa.not_(priced)),
                            sa.and_(in_e == 1, sa.not_(priced_e))), 1),
                    else_=0).label("unpriced"),
        )
        .select_from(frm)
        .where(sa.or_(in_a == 1, in_e == 1))
    )


def _terms(d: Subquery) -> dict[str, tuple[ColumnElement[bool], Any, Any]]:
    """Each category: (the deals in it, their signed count, their signed cents)."""
    in_a, in_e = d.c.in_a == 1, d.c.in_e == 1
    change = d.c.cents_e - d.c.cents_a
    terms: dict[str, tuple[ColumnElement[bool], Any, Any]] = {
        "start": (sa.and_(in_a, d.c.created == 0), 1, d.c.cents_a),
        "created": (sa.and_(in_a, d.c.created == 1), 1, d.c.cents_a),
        "moved_out": (d.c.moved == 1, -1, -d.c.cents_a),
        "moved_in": (d.c.moved == 1, 1, d.c.cents_a),
        "amount_change": (sa.and_(sa.or_(in_a, in_e), change != 0), 0, change),
        "end": (in_e, 1, d.c.cents_e),
    }
    for kind in ("pulled_in", "reopened"):
        terms[kind] = (d.c.entry == kind, 1, d.c.cents_a)
    for kind in ("pushed_out", "pulled_out", "won", "lost", "removed"):
        terms[kind] = (d.c.exit == kind, -1, -d.c.cents_e)
    return terms


def category_sums(dialect: str, spec: ChangesSpec) -> Select[Any]:
    """Per group (``NULL`` without ``by``): for each category ``K`` of :data:`CATEGORIES`,
    ``K_deals`` (deals in it), ``K_count`` (their signed count) and ``K_cents`` (their signed
    amount in cents); plus ``unpriced``. :func:`deal_changes` is computed once (a
    materialised CTE) and read twice: for the start-side categories by each deal's group in A,
    for the others by its group in E."""
    d = _deal_changes(dialect, spec).cte("deal_changes").prefix_with("MATERIALIZED")
    terms = _terms(d)  # type: ignore[arg-type]  # a CTE has the subquery's columns

    def side(start_side: bool) -> Select[Any]:
        columns: list[ColumnElement[Any]] = [
            (d.c.group_a if start_side else d.c.group_e).label("grp")]
        for key, (member, sign, cents) in terms.items():
            mine = (key in _A_SIDE) == start_side
            for name, what in (("deals", 1), ("count", sign), ("cents", cents)):
                value = sa.case((member, what), else_=0) if mine else sa.literal(0)
                columns.append(value.label(f"{key}_{name}"))
        columns.append((sa.literal(0) if start_side else d.c.unpriced).label("unpriced"))
        return sa.select(*columns)

    both = sa.union_all(side(True), side(False)).subquery("sides")
    sums = [sa.func.sum(c).label(c.name) for c in both.c if c.name != "grp"]
    return sa.select(both.c.grp, *sums).group_by(both.c.grp)


def deal_rows(dialect: str, spec: ChangesSpec) -> Select[Any]:
    """The deals in the pipeline at either end or behind a change — the rows of
    :func:`deal_changes` in the pipeline in A or E, or that moved, entered, left, changed
    amount or were created into the pipeline — with their owners' names and their close-date
    pushes up to the end (``pushes``, ``push_days``) and within the period
    (``pushes_in_period``). Enough to list the deals of each change and to sum every
    category (:func:`sums_of_rows`). The pushes are counted from the history of these
    deals only (a materialised CTE of them), not the whole history."""
    d: Any = _deal_changes(dialect, spec).cte("deal_changes").prefix_with("MATERIALIZED")
    users = SYNCED_TABLES["users"]
    ua, ue = users.alias("owner_a"), users.alias("owner_e")
    h = SYNCED_TABLES["opportunity_field_history"]
    theirs = (sa.select(h).where(h.c.field == "expected_close_date",
                                 h.c.opportunity_id.in_(sa.select(d.c.deal_id)))
              .subquery("listed_history"))
    total = close_date_pushes(dialect, spec.end, split=spec.start,
                              history=theirs).alias("pushes_total")
    changed = sa.or_(d.c.in_a == 1, d.c.in_e == 1, d.c.entry.is_not(None),
                     d.c.exit.is_not(None))
    return (
        sa.select(d, ua.c.name.label("owner_name_a"), ue.c.name.label("owner_name_e"),
                  sa.func.coalesce(total.c.pushes, 0).label("pushes"),
                  sa.func.coalesce(total.c.push_days, 0).label("push_days"),
                  sa.func.coalesce(total.c.pushes_after, 0).label("pushes_in_period"))
        .select_from(
            d.outerjoin(ua, sa.and_(ua.c.connection == d.c.connection,
                                    ua.c.remote_id == d.c.owner_a))
            .outerjoin(ue, sa.and_(ue.c.connection == d.c.connection,
                                   ue.c.remote_id == d.c.owner_e))
            .outerjoin(total, sa.and_(total.c.connection == d.c.connection,
                                      total.c.opportunity_id == d.c.deal_id)))
        .where(changed)
        .order_by(d.c.connection, d.c.deal_id)
    )


def deal_categories(row: Mapping[str, Any]) -> list[tuple[str, bool, int, int]]:
    """One row of :func:`deal_rows` as its lines: (category, start side, signed count,
    signed cents) — the rules of :func:`category_sums`, per deal."""
    a, e = int(row["cents_a"]), int(row["cents_e"])
    lines: list[tuple[str, bool, int, int]] = []
    if row["in_a"]:
        lines.append(("created" if row["created"] else "start", True, 1, a))
    if row["moved"]:
        lines += [("moved_out", True, -1, -a), ("moved_in", False, 1, a)]
    if row["entry"]:
        lines.append((row["entry"], False, 1, a))
    if (row["in_a"] or row["in_e"]) and a != e:
        lines.append(("amount_change", False, 0, e - a))
    if row["exit"]:
        lines.append((row["exit"], False, -1, -e))
    if row["in_e"]:
        lines.append(("end", False, 1, e))
    return lines


def sums_of_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`category_sums`'s rows computed from :func:`deal_rows`' rows (integer cents:
    the same exact sums; one query serves the lines and the deal lists)."""
    groups: dict[Any, dict[str, Any]] = {}

    def group(key: Any) -> dict[str, Any]:
        if key not in groups:
            groups[key] = {"grp": key, "unpriced": 0, **{
                f"{k}_{c}": 0 for k, _, _ in CATEGORIES for c in ("deals", "count", "cents")}}
        return groups[key]

    for row in rows:
        for category, start_side, count, cents in deal_categories(row):
            g = group(row["group_a"] if start_side else row["group_e"])
            g[f"{category}_deals"] += 1
            g[f"{category}_count"] += count
            g[f"{category}_cents"] += cents
        group(row["group_e"])["unpriced"] += int(row["unpriced"])
    return list(groups.values())
