"""Theme metrics over ``text_themes`` (docs/metrics/themes.md): per period, source, theme
and — with ``by`` — owner, team or segment.

* **population** (``n``): the analysed texts of the source in the period (and group): survey
  responses with a comment, lost deals with a lost reason…
* **count**: those texts in the theme; **share** = count ÷ population. A text may be in
  several themes, so the shares of a source can add up to more than 100%.
* **sentiment**: the mean sentiment (−1 to 1) of the texts in the theme.
* **NPS of a theme**: over the NPS responses whose comment is in the theme, (promoters
  (9–10) − detractors (0–6)) ÷ those responses × 100; ``nps_n`` is how many.

A text's period is that of its time (``responded_at``, ``closed_at``, ``occurred_at``, UTC).
Its owner is the record's ``owner_id``; a survey response without one is its contact's,
else its account's (as for the ``nps`` metric); its team is the owner's ``users.team`` and
its segment its account's ``accounts.segment``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from crmsync.core.internal_tables import text_themes
from crmsync.core.periods import period_start_sql
from crmsync.core.schema import SYNCED_TABLES

__all__ = ["BY", "attribution", "theme_counts", "populations", "quotes"]

#: What ``by`` may be: the owner (a rep), their team, or the account's segment.
BY = ("owner", "team", "segment")


def attribution(entities: Sequence[str]) -> Any:
    """``connection, entity, remote_id, owner_id, account_id, nps_score`` of every live
    record of ``entities`` (module docstring: a response's owner falls back to its
    contact's, then its account's)."""
    parts: list[sa.Select[Any]] = []
    for entity in entities:
        t = SYNCED_TABLES[entity]
        if entity == "feedback":
            c = SYNCED_TABLES["contacts"].alias("th_contact")
            a = SYNCED_TABLES["accounts"].alias("th_account")
            account_id = sa.func.coalesce(t.c.account_id, c.c.account_id)
            frm = (t.outerjoin(c, sa.and_(c.c.connection == t.c.connection,
                                          c.c.remote_id == t.c.contact_id,
                                          c.c.is_deleted == sa.false()))
                   .outerjoin(a, sa.and_(a.c.connection == t.c.connection,
                                         a.c.remote_id == account_id,
                                         a.c.is_deleted == sa.false())))
            parts.append(sa.select(
                t.c.connection, sa.literal(entity).label("entity"), t.c.remote_id,
                sa.func.coalesce(t.c.owner_id, c.c.owner_id, a.c.owner_id).label("owner_id"),
                account_id.label("account_id"),
                sa.case((t.c.type == "nps", t.c.score), else_=sa.null()).label("nps_score"))
                .select_from(frm).where(t.c.is_deleted == sa.false()))
        else:
            parts.append(sa.select(
                t.c.connection, sa.literal(entity).label("entity"), t.c.remote_id,
                t.c.owner_id, t.c.account_id,
                sa.cast(sa.null(), sa.Float).label("nps_score"))
                .where(t.c.is_deleted == sa.false()))
    return sa.union_all(*parts).subquery("attributed")


def _frame(entities: Sequence[str], by: str | None, texts: Any) -> tuple[Any, Any, Any]:
    """``texts`` joined to its attribution (and what ``by`` needs): FROM, the attribution,
    and the group expression (NULL without ``by``)."""
    at = attribution(entities)
    frm = texts.join(at, sa.and_(at.c.connection == texts.c.connection,
                                 at.c.entity == texts.c.entity,
                                 at.c.remote_id == texts.c.remote_id))
    if by is None:
        return frm, at, sa.null()
    if by == "owner":
        return frm, at, at.c.owner_id
    if by == "team":
        u = SYNCED_TABLES["users"]
        frm = frm.outerjoin(u, sa.and_(u.c.connection == at.c.connection,
                                       u.c.remote_id == at.c.owner_id,
                                       u.c.is_deleted == sa.false()))
        return frm, at, u.c.team
    a = SYNCED_TABLES["accounts"]
    frm = frm.outerjoin(a, sa.and_(a.c.connection == at.c.connection,
                                   a.c.remote_id == at.c.account_id,
                                   a.c.is_deleted == sa.false()))
    return frm, at, a.c.segment


def _keys(by: str | None, group: Any) -> tuple[Any, ...]:
    """The group's GROUP BY key: none without ``by`` (PostgreSQL refuses ``GROUP BY NULL``)."""
    return () if by is None else (group,)


def _scope(query: sa.Select[Any], texts: Any, at: Any, sources: Sequence[str],
           window: tuple[dt.date, dt.date] | None, owner: str | None) -> sa.Select[Any]:
    """Only the texts of ``sources``, in ``window`` if given, of ``owner`` if given."""
    pairs = [s.split(".") for s in sources]
    query = query.where(sa.or_(*(sa.and_(texts.c.entity == e, texts.c.field == f)
                                 for e, f in pairs)))
    if window is not None:
        query = query.where(texts.c.occurred_at >= _moment(window[0]),
                            texts.c.occurred_at < _moment(window[1]))
    if owner is not None:
        query = query.where(at.c.owner_id == owner)
    return query


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def theme_counts(conn: sa.Connection, *, period: str, sources: Sequence[str],
                 by: str | None = None, window: tuple[dt.date, dt.date] | None = None,
                 fiscal_year_start_month: int = 1, owner: str | None = None
                 ) -> list[dict[str, Any]]:
    """Per period start, group, source and theme: ``count``, ``sentiment`` (mean),
    ``promoters``, ``detractors`` and ``nps_n`` (module docstring). ``window``: only texts
    from its first day up to (not including) its second; ``owner``: only texts attributed
    to that rep (remote id)."""
    tt = text_themes
    entities = sorted({s.split(".")[0] for s in sources})
    frm, at, group = _frame(entities, by, tt)
    start = period_start_sql(conn.dialect.name, period, tt.c.occurred_at,
                             fiscal_year_start_month)
    nps = at.c.nps_score
    query = (sa.select(start.label("period_start"), group.label("grp"), tt.c.entity,
                       tt.c.field, tt.c.theme, sa.func.count().label("count"),
                       sa.func.avg(tt.c.sentiment).label("sentiment"),
                       sa.func.sum(sa.case((nps >= 9, 1), else_=0)).label("promoters"),
                       sa.func.sum(sa.case((nps <= 6, 1), else_=0)).label("detractors"),
                       sa.func.count(nps).label("nps_n"))
             .select_from(frm).where(tt.c.theme.is_not(None))
             .group_by(start, *_keys(by, group), tt.c.entity, tt.c.field, tt.c.theme))
    query = _scope(query, tt, at, sources, window, owner)
    return [dict(r._mapping) for r in conn.execute(query)]


def populations(conn: sa.Connection, *, period: str, sources: Sequence[str],
                by: str | None = None, window: tuple[dt.date, dt.date] | None = None,
                fiscal_year_start_month: int = 1, owner: str | None = None
                ) -> list[dict[str, Any]]:
    """Per period start, group and source: ``n`` (analysed texts, whether in a theme or
    not), ``sentiment`` (their mean), and ``nps_n`` with its promoters and detractors."""
    tt = text_themes
    texts = (sa.select(tt.c.connection, tt.c.entity, tt.c.remote_id, tt.c.field,
                       tt.c.occurred_at, tt.c.sentiment).distinct().subquery("texts"))
    entities = sorted({s.split(".")[0] for s in sources})
    frm, at, group = _frame(entities, by, texts)
    start = period_start_sql(conn.dialect.name, period, texts.c.occurred_at,
                             fiscal_year_start_month)
    nps = at.c.nps_score
    query = (sa.select(start.label("period_start"), group.label("grp"), texts.c.entity,
                       texts.c.field, sa.func.count().label("n"),
                       sa.func.avg(texts.c.sentiment).label("sentiment"),
                       sa.func.sum(sa.case((nps >= 9, 1), else_=0)).label("promoters"),
                       sa.func.sum(sa.case((nps <= 6, 1), else_=0)).label("detractors"),
                       sa.func.count(nps).label("nps_n"))
             .select_from(frm).group_by(start, *_keys(by, group), texts.c.entity,
                                        texts.c.field))
    query = _scope(query, texts, at, sources, window, owner)
    return [dict(r._mapping) for r in conn.execute(query)]


def quotes(conn: sa.Connection, *, theme: str, source: str, limit: int,
           window: tuple[dt.date, dt.date] | None = None, owners: Sequence[str] | None = None
           ) -> list[dict[str, Any]]:
    """The latest ``limit`` distinct texts of ``source`` in ``theme`` (in ``window``; of
    records attributed to ``owners`` if given): ``text``, ``sentiment``, ``matched``,
    ``occurred_at``, ``remote_id``. Not redacted: the caller redacts."""
    tt = text_themes
    entity, field = source.split(".")
    t = SYNCED_TABLES[entity]
    frm = tt.join(t, sa.and_(t.c.connection == tt.c.connection,
                             t.c.remote_id == tt.c.remote_id))
    query = (sa.select(t.c[field].label("text"), tt.c.sentiment, tt.c.matched,
                       tt.c.occurred_at, tt.c.remote_id)
             .select_from(frm)
             .where(tt.c.theme == theme, tt.c.entity == entity, tt.c.field == field,
                    t.c.is_deleted == sa.false())
             .order_by(tt.c.occurred_at.desc(), tt.c.remote_id))
    if window is not None:
        query = query.where(tt.c.occurred_at >= _moment(window[0]),
                            tt.c.occurred_at < _moment(window[1]))
    if owners is not None:
        at = attribution([entity])
        query = query.join(at, sa.and_(at.c.connection == tt.c.connection,
                                       at.c.entity == tt.c.entity,
                                       at.c.remote_id == tt.c.remote_id)
                           ).where(at.c.owner_id.in_(list(owners)))
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in conn.execute(query.limit(limit * 20)):
        text = " ".join(str(row.text or "").split())
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            out.append({**row._mapping, "text": text})
        if len(out) >= limit:
            break
    return out
