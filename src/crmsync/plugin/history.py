"""As of any moment: the store's records as they stood at a past instant, rebuilt from
``opportunity_field_history`` (docs/as-of.md).

:func:`opportunities_as_of` is the building block: a ``Select`` with every column of
``opportunities``, each deal as it was at ``at``. :func:`table_as_of` gives any synced table at
``at`` (the opportunities rebuilt, the others cut at ``at``). Both are plain SQL, on SQLite and
PostgreSQL alike; a metric gets them through ``ctx.table`` when the run is as of a date.

The value of a tracked field F of deal O at instant T is the ``old_value`` of O's earliest F
change after T, or O's current value when F has not changed since T. (The history's chain of
values makes this the ``new_value`` of the last change at or before T too; reading only what
happened after T lets the recent past cost little however long the history is.) Where a
deal has changes of F after T from the CRM (``source = 'crm'``), its *observed* changes of F
(seen between two syncs) are ignored. Ties at one instant are broken by the store's row id
(the order the rows arrived). ``status`` and ``closed_at`` follow the stage at T
(``stages.is_closed`` / ``is_won``); ``amount_base`` is kept only while amount and currency
are as they are now; the other columns (name, account, custom fields) are today's;
the won or lost reason shows while the deal is closed that way or as it is now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from crmsync.core.schema import HISTORY_FIELDS, SYNCED_TABLES

__all__ = ["opportunities_as_of", "table_as_of", "field_changes_at", "fields_at",
           "deal_states", "owner_at_close", "STRUCTURE_TABLES"]

_NUMBERS = ("amount", "probability")
_DATES = ("expected_close_date",)
#: The column that says when a row of a table came to be, for tables cut at an instant.
_BORN = {
    "activities": "occurred_at",
    "feedback": "responded_at",
    "opportunity_stage_history": "entered_at",
    "opportunity_field_history": "changed_at",
}
#: Tables describing the organisation's structure, not events: kept whole. Quotas, spend and
#: targets are cut like other records, by when they were created (when the CRM says).
STRUCTURE_TABLES = ("users", "pipelines", "stages")
_STRUCTURE = STRUCTURE_TABLES


def _instant(at: dt.datetime) -> ColumnElement[dt.datetime]:
    return sa.literal(at, sa.DateTime())


def field_changes_at(at: dt.datetime) -> Subquery:
    """For each (connection, deal, field) changed after ``at``: the value the field held at
    ``at`` (text, in the history encoding), the ``old_value`` of its earliest change after
    ``at``. A field not in it held its current value. Reads only the changes after ``at``
    (the ``changed_at`` index), so the recent past costs little however long the history.

    Columns: ``connection``, ``opportunity_id``, ``field``, ``value``.
    """
    h = SYNCED_TABLES["opportunity_field_history"]
    keys = (h.c.connection, h.c.opportunity_id, h.c.field)
    after = sa.select(
        *keys, h.c.old_value,
        sa.func.row_number().over(partition_by=keys, order_by=_earliest(h)).label("rn"),
    ).where(h.c.is_deleted == sa.false(), h.c.changed_at > _instant(at)).subquery("changes")
    c = after.c
    return (sa.select(c.connection, c.opportunity_id, c.field, c.old_value.label("value"))
            .where(c.rn == 1).subquery("field_at"))


def _earliest(h: Any) -> tuple[ColumnElement[Any], ...]:
    """The order of a deal's changes of a field after an instant that puts first the one
    whose ``old_value`` is the value at the instant: the CRM's before observed ones, then
    the earliest, ties by row id. Its constants are SQL literals, not parameters: two
    windows ordered by it are then the same window to SQLite, which sorts once for both."""
    observed = sa.case((h.c.source == sa.literal_column("'observed'"), sa.literal_column("1")),
                       else_=sa.literal_column("0"))
    return (observed, h.c.changed_at, h.c.id)


def fields_at(instants: Sequence[dt.datetime], fields: Sequence[str] = HISTORY_FIELDS
              ) -> Select[Any]:
    """The values of ``fields`` at each of ``instants``, per deal with a change of one of
    them after the earliest instant, in ONE read of those changes: for instant number ``k``
    and field ``F``, ``has{k}_{F}`` is 1 when F changed after that instant and ``v{k}_{F}``
    is then the value it held (text); otherwise F held its current value. The rule of
    :func:`field_changes_at` for each instant.

    Columns: ``connection``, ``opportunity_id``, ``has{k}_{F}``, ``v{k}_{F}``.
    """
    h = SYNCED_TABLES["opportunity_field_history"]
    keys = (h.c.connection, h.c.opportunity_id, h.c.field)
    first = min(instants)
    # In the order of the changes after the first instant, the change of a later instant
    # is the first one after it: where the changes after it counted so far are one. One
    # window, so one sort, serves every instant; a ROWS frame (the order has no ties) is a
    # running count, where the default RANGE frame costs SQLite as much as the sort.
    ranks = [sa.func.row_number().over(partition_by=keys, order_by=_earliest(h))
             .label(f"rn{k}") if t == first else
             sa.func.sum(sa.case((h.c.changed_at > _instant(t), 1), else_=0))
             .over(partition_by=keys, order_by=_earliest(h), rows=(None, 0)).label(f"rn{k}")
             for k, t in enumerate(instants)]
    where = [h.c.is_deleted == sa.false(), h.c.changed_at > _instant(first)]
    if tuple(fields) != HISTORY_FIELDS:
        where.append(h.c.field.in_(list(fields)))
    c = sa.select(*keys, h.c.old_value, h.c.changed_at, *ranks).where(*where).subquery(
        "changes").c
    columns: list[ColumnElement[Any]] = []
    for k, t in enumerate(instants):
        held = c[f"rn{k}"] == 1 if t == first else sa.and_(c[f"rn{k}"] == 1,
                                                              c.changed_at > _instant(t))
        for name in fields:
            mine = sa.and_(held, c.field == name)
            columns.append(sa.func.max(sa.case((mine, 1))).label(f"has{k}_{name}"))
            columns.append(sa.func.max(sa.case((mine, c.old_value))).label(f"v{k}_{name}"))
    return (sa.select(c.connection, c.opportunity_id, *columns)
            .where(sa.or_(*(c[f"rn{k}"] == 1 for k in range(len(instants)))))
            .group_by(c.connection, c.opportunity_id))


def _decode(dialect: str, field: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
    """A history value (text) as the column's type."""
    text = sa.func.nullif(text, "")
    if field in _NUMBERS:
        return sa.cast(text, sa.Float())
    if field in _DATES:
        # SQLite stores dates as ISO text (a CAST would make a number of it).
        return sa.type_coerce(text, sa.Date()) if dialect == "sqlite" else sa.cast(text, sa.Date)
    return text


def _last_change(o: Any, t: ColumnElement[dt.datetime], field: str | None = None
                 ) -> ColumnElement[dt.datetime]:
    """When deal ``o`` last changed (``field``, or any tracked field) at or before ``t``: a
    lookup on the deal's own history, asked only for the few deals that need it (a deal
    closed then but closed again since; a deal updated since)."""
    h = SYNCED_TABLES["opportunity_field_history"].alias("last_change")
    cond = [h.c.connection == o.c.connection, h.c.opportunity_id == o.c.remote_id,
            h.c.changed_at <= t, h.c.is_deleted == sa.false()]
    if field is not None:
        cond.append(h.c.field == field)
    return sa.select(sa.func.max(h.c.changed_at)).where(*cond).scalar_subquery()


def opportunities_as_of(dialect: str, at: dt.datetime) -> Select[Any]:
    """Every deal of the store as it stood at ``at`` (naive UTC), with the columns of
    ``opportunities``: deals created after ``at`` are left out, deals deleted after it are
    not deleted, and the tracked fields, ``status``, ``closed_at``, ``amount_base`` and
    ``remote_updated_at`` hold their values of that instant (module docstring).

    :param dialect: ``sqlite`` or ``postgresql``.
    """
    o = SYNCED_TABLES["opportunities"]
    stages = SYNCED_TABLES["stages"].alias("stage_at")
    f = field_changes_at(at)
    pivot_cols: list[ColumnElement[Any]] = []
    for name in HISTORY_FIELDS:
        pivot_cols.append(sa.func.max(sa.case((f.c.field == name, 1))).label(f"has_{name}"))
        pivot_cols.append(sa.func.max(sa.case((f.c.field == name, f.c.value))).label(f"v_{name}"))
    p = (sa.select(f.c.connection, f.c.opportunity_id, *pivot_cols)
         .group_by(f.c.connection, f.c.opportunity_id).subquery("deal_at"))
    columns, stage_id = _state(dialect, o, p, "", at, stages)
    joined = (
        o.outerjoin(p, sa.and_(p.c.connection == o.c.connection,
                               p.c.opportunity_id == o.c.remote_id))
        .outerjoin(stages, sa.and_(stages.c.connection == o.c.connection,
                                   stages.c.remote_id == stage_id,
                                   stages.c.is_deleted == sa.false()))
    )
    return (
        sa.select(*(expr.label(name) for name, expr in columns.items()))
        .select_from(joined)
        .where(sa.or_(o.c.remote_created_at.is_(None), o.c.remote_created_at <= _instant(at)))
    )


#: The columns of a rebuilt deal that read the stage at the instant.
_BY_STAGE = ("stage_id", "status", "closed_at", "won_reason", "lost_reason")


def deal_states(dialect: str, instants: Sequence[dt.datetime], columns: Collection[str]
                ) -> Select[Any]:
    """Every deal as it stood at each of ``instants`` — and a deal created after one as it
    was created —, in ONE row per deal: ``s{k}_{C}`` is column ``C`` of ``columns`` (those
    of :func:`opportunities_as_of`) at instant number ``k``. No creation cut (filter on
    ``s{k}_remote_created_at``). One read of the history after the earliest instant
    (:func:`fields_at`, for the tracked fields the columns need), one join of it with the
    deals: what a report comparing instants (``crmsync pipeline changes``) reads.
    """
    o = SYNCED_TABLES["opportunities"]
    needed = {c for c in columns if c in HISTORY_FIELDS}
    if set(columns).intersection(_BY_STAGE):
        needed.add("stage_id")
    if "amount_base" in columns:
        needed.update(("amount", "currency"))
    fields = [name for name in HISTORY_FIELDS if name in needed]
    p = fields_at(instants, fields).subquery("fields_at")
    joined = o.outerjoin(p, sa.and_(p.c.connection == o.c.connection,
                                    p.c.opportunity_id == o.c.remote_id))
    selected: list[ColumnElement[Any]] = []
    for k, at in enumerate(instants):
        stages = SYNCED_TABLES["stages"].alias(f"stage_at_{k}")
        state, stage_id = _state(dialect, o, p, str(k), at, stages, fields)
        if "stage_id" in fields:
            joined = joined.outerjoin(stages, sa.and_(stages.c.connection == o.c.connection,
                                                      stages.c.remote_id == stage_id,
                                                      stages.c.is_deleted == sa.false()))
        selected += [state[name].label(f"s{k}_{name}") for name in columns]
    return sa.select(*selected).select_from(joined)


def _state(dialect: str, o: Any, p: Any, k: str, at: dt.datetime, stages: Any,
           fields: Sequence[str] = HISTORY_FIELDS
           ) -> tuple[dict[str, ColumnElement[Any]], ColumnElement[Any]]:
    """The columns of deal ``o`` at ``at`` from the pivot ``p`` (``has{k}_{F}``,
    ``v{k}_{F}`` of the ``fields``; the others hold their current values) and ``stages``
    (the stage at ``at``, joined by the caller on the returned stage id)."""
    t = _instant(at)

    def has(name: str) -> ColumnElement[Any]:
        return p.c[f"has{k}_{name}"] if name in fields else sa.null()

    def at_t(name: str) -> ColumnElement[Any]:
        if name not in fields:
            return o.c[name]  # type: ignore[no-any-return]
        return sa.case((has(name) == 1, _decode(dialect, name, p.c[f"v{k}_{name}"])),
                       else_=o.c[name])

    stage_id = at_t("stage_id")
    changed_stage = has("stage_id") == 1
    closed_now_before = sa.and_(o.c.status != "open", o.c.closed_at <= t)
    status = sa.case(
        (sa.and_(changed_stage, stages.c.is_closed == sa.true(), stages.c.is_won == sa.true()),
         "won"),
        (sa.and_(changed_stage, stages.c.is_closed == sa.true()), "lost"),
        (sa.and_(changed_stage, stages.c.is_closed == sa.false()), "open"),
        (closed_now_before, o.c.status),
        (sa.or_(o.c.status == "open", o.c.closed_at > t), "open"),
        else_=o.c.status,
    )
    closed_at = sa.case(
        (status == "open", sa.null()),
        (o.c.closed_at <= t, o.c.closed_at),
        else_=sa.func.coalesce(_last_change(o, t, "stage_id"), o.c.remote_created_at),
    )
    amount, currency = at_t("amount"), at_t("currency")
    same_money = sa.and_(sa.func.coalesce(has("amount"), 0) == 0,
                         sa.func.coalesce(has("currency"), 0) == 0)
    unchanged_money = sa.or_(same_money, sa.and_(
        amount == o.c.amount, sa.func.coalesce(currency, "") == sa.func.coalesce(o.c.currency, "")))
    deleted = sa.and_(o.c.is_deleted == sa.true(),
                      sa.or_(o.c.deleted_at.is_(None), o.c.deleted_at <= t))
    updated = sa.case(
        (o.c.remote_updated_at <= t, o.c.remote_updated_at),
        else_=sa.func.coalesce(_last_change(o, t), o.c.remote_created_at),
    )
    columns: dict[str, ColumnElement[Any]] = {c.name: c for c in o.c}
    columns.update({
        "remote_updated_at": updated,
        "is_deleted": deleted,
        "deleted_at": sa.case((deleted, o.c.deleted_at), else_=sa.null()),
        "status": status,
        "closed_at": closed_at,
        "amount_base": sa.case((unchanged_money, o.c.amount_base), else_=sa.null()),
        "won_reason": sa.case((sa.or_(status == "won", status == o.c.status), o.c.won_reason),
                              else_=sa.null()),
        "lost_reason": sa.case((sa.or_(status == "lost", status == o.c.status),
                                o.c.lost_reason), else_=sa.null()),
    })
    for name in HISTORY_FIELDS:
        columns[name] = stage_id if name == "stage_id" else at_t(name)
    return columns, stage_id


def table_as_of(dialect: str, name: str, at: dt.datetime) -> Select[Any]:
    """The synced table ``name`` as it stood at ``at``, with the table's columns.

    ``opportunities`` is rebuilt (:func:`opportunities_as_of`). Event tables keep the rows
    that happened by ``at`` (activities by ``occurred_at``, feedback by ``responded_at``,
    stage and field history by when they happened; a stage still occupied at ``at`` has no
    ``exited_at``). Leads and other records (quotas, spend and targets included) keep those
    created by ``at`` (or with no creation time); a lead converted after ``at`` is not
    converted. The organisation's structure (users, pipelines, stages) is kept whole;
    exchange rates are those valid from ``at`` or before. A row deleted after ``at`` is not
    deleted.
    """
    if name == "opportunities":
        return opportunities_as_of(dialect, at)
    table = SYNCED_TABLES[name]
    if name in _STRUCTURE:
        return sa.select(table)
    t = _instant(at)
    columns: dict[str, ColumnElement[Any]] = {c.name: c for c in table.c}
    deleted = sa.and_(table.c.is_deleted == sa.true(),
                      sa.or_(table.c.deleted_at.is_(None), table.c.deleted_at <= t))
    columns["is_deleted"] = deleted
    columns["deleted_at"] = sa.case((deleted, table.c.deleted_at), else_=sa.null())
    where: list[ColumnElement[bool]] = []
    if name == "currency_rates":
        at_date = sa.literal(at.date(), sa.Date())
        where.append(table.c.valid_from <= at_date)
        columns["valid_to"] = sa.case((table.c.valid_to > at_date, sa.null()),
                                      else_=table.c.valid_to)
    elif name in _BORN:
        where.append(table.c[_BORN[name]] <= t)
    else:
        where.append(sa.or_(table.c.remote_created_at.is_(None), table.c.remote_created_at <= t))
    if name == "opportunity_stage_history":
        columns["exited_at"] = sa.case((table.c.exited_at > t, sa.null()),
                                       else_=table.c.exited_at)
    if name == "leads":
        later = sa.or_(table.c.converted_at.is_(None), table.c.converted_at > t)
        for col in ("converted_at", "converted_contact_id", "converted_account_id",
                    "converted_opportunity_id"):
            columns[col] = sa.case((later, sa.null()), else_=table.c[col])
    return sa.select(*(expr.label(col) for col, expr in columns.items())).where(*where)


def owner_at_close(deals: Select[Any]) -> Select[Any]:
    """``deals`` (a select with the columns of ``opportunities``: the table, or
    :func:`opportunities_as_of`) with each closed deal's ``owner_id`` the owner who held it at
    its ``closed_at``, by the reconstruction rule of the module docstring; open deals keep
    theirs. One scan of the owner changes of closed deals (``[metrics] closed_deal_owner =
    "at_close"``, docs/as-of.md).
    """
    d = deals.subquery("deals")
    h = SYNCED_TABLES["opportunity_field_history"]
    keys = (h.c.connection, h.c.opportunity_id)
    src = sa.select(
        *keys, h.c.changed_at, h.c.old_value, h.c.new_value, h.c.id,
        sa.func.max(sa.case((h.c.source == "crm", 1), else_=0)).over(partition_by=keys)
        .label("has_crm"),
        sa.case((h.c.source == "crm", 1), (h.c.source.is_(None), 1), else_=0).label("trusted"),
    ).where(h.c.is_deleted == sa.false(), h.c.field == "owner_id").subquery("owner_changes")
    c = src.c
    before = c.changed_at <= d.c.closed_at
    ranked = (
        sa.select(c.connection, c.opportunity_id,
                  sa.func.nullif(sa.case((before, c.new_value), else_=c.old_value), "")
                  .label("owner"),
                  sa.func.row_number().over(
                      partition_by=(c.connection, c.opportunity_id),
                      order_by=(sa.case((before, 0), else_=1),
                                sa.case((before, c.changed_at)).desc(), c.changed_at.asc(),
                                sa.case((before, c.id)).desc(), c.id.asc())).label("rn"))
        .select_from(src.join(d, sa.and_(d.c.connection == c.connection,
                                         d.c.remote_id == c.opportunity_id)))
        .where(d.c.status != "open", d.c.closed_at.is_not(None),
               sa.or_(c.trusted == 1, c.has_crm == 0))
        .subquery("owner_ranked")
    )
    at_close = (sa.select(ranked.c.connection, ranked.c.opportunity_id, ranked.c.owner)
                .where(ranked.c.rn == 1).subquery("owner_at_close"))
    owner = sa.case((at_close.c.opportunity_id.is_not(None), at_close.c.owner),
                    else_=d.c.owner_id)
    return (
        sa.select(*(owner.label("owner_id") if col.name == "owner_id" else col for col in d.c))
        .select_from(d.outerjoin(at_close, sa.and_(at_close.c.connection == d.c.connection,
                                                   at_close.c.opportunity_id == d.c.remote_id)))
    )
