"""Theme metrics over ``text_themes`` (docs/metrics/themes.md): per period, source, theme
and — with ``by`` — owner, team or segment. Every query reads ``text_themes`` alone (plus
``users`` for the team, ``accounts`` for the segment, the text's record for a quote): the
attribution is stored on its rows when a text is analysed
(:mod:`crmsync.metrics.themes_store`).

* **population** (``n``): the analysed texts of the source in the period (and group): survey
  responses with a comment, lost deals with a lost reason… — the rows with ``theme`` NULL.
* **count**: those texts in the theme; **share** = count ÷ population. A text may be in
  several themes, so the shares of a source can add up to more than 100%.
* **sentiment**: the mean sentiment (−1 to 1) of the texts in the theme.
* **NPS of a theme**: over the NPS responses whose comment is in the theme, (promoters
  (9–10) − detractors (0–6)) ÷ those responses × 100; ``nps_n`` is how many.

A text's period is that of its time (``responded_at``, ``closed_at``, ``occurred_at``, UTC).
Its owner is the record's ``owner_id`` (a survey response without one: its contact's, else
its account's), its team the owner's ``users.team``, its segment its account's
``accounts.segment``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from crmsync.core.internal_tables import text_themes
from crmsync.core.periods import period_start_sql
from crmsync.core.schema import SYNCED_TABLES

__all__ = ["BY", "latest_start", "theme_counts", "populations", "quotes"]

#: What ``by`` may be: the owner (a rep), their team, or the account's segment.
BY = ("owner", "team", "segment")


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _group(by: str | None) -> tuple[Any, Any]:
    """``text_themes`` joined to what ``by`` needs, and the group expression."""
    tt = text_themes
    if by is None:
        return tt, sa.null()
    if by == "owner":
        return tt, tt.c.owner_id
    if by == "team":
        u = SYNCED_TABLES["users"]
        return tt.outerjoin(u, sa.and_(u.c.connection == tt.c.connection,
                                       u.c.remote_id == tt.c.owner_id,
                                       u.c.is_deleted == sa.false())), u.c.team
    a = SYNCED_TABLES["accounts"]
    return tt.outerjoin(a, sa.and_(a.c.connection == tt.c.connection,
                                   a.c.remote_id == tt.c.account_id,
                                   a.c.is_deleted == sa.false())), a.c.segment


def _scoped(query: sa.Select[Any], sources: Sequence[str],
            window: tuple[dt.date, dt.date] | None, owner: str | None) -> sa.Select[Any]:
    """Only the texts of ``sources``, in ``window`` if given, of ``owner`` if given."""
    tt = text_themes
    query = query.where(sa.or_(*(sa.and_(tt.c.entity == e, tt.c.field == f)
                                 for e, f in (s.split(".") for s in sources))))
    if window is not None:
        query = query.where(tt.c.occurred_at >= _moment(window[0]),
                            tt.c.occurred_at < _moment(window[1]))
    if owner is not None:
        query = query.where(tt.c.owner_id == owner)
    return query


def latest_start(conn: sa.Connection, *, period: str, sources: Sequence[str], as_of: dt.date,
                 owner: str | None = None, fiscal_year_start_month: int = 1
                 ) -> dt.date | None:
    """The start of the period holding the latest text up to ``as_of`` (included)."""
    tt = text_themes
    query = _scoped(sa.select(sa.func.max(tt.c.occurred_at)).where(
        tt.c.theme.is_(None), tt.c.occurred_at < _moment(as_of + dt.timedelta(days=1))),
        sources, None, owner)
    latest = conn.execute(query).scalar()
    if latest is None:
        return None
    start = conn.execute(sa.select(period_start_sql(
        conn.dialect.name, period, sa.literal(latest, sa.DateTime()),
        fiscal_year_start_month))).scalar()
    return start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start)[:10])


def _aggregate(conn: sa.Connection, themed: bool, *, sources: Sequence[str],
               by: str | None, window: tuple[dt.date, dt.date] | None,
               owner: str | None) -> list[dict[str, Any]]:
    tt = text_themes
    frm, group = _group(by)
    nps = tt.c.nps_score
    keys = [*(() if by is None else (group,)), tt.c.entity, tt.c.field,
            *((tt.c.theme,) if themed else ())]
    query = (sa.select(group.label("grp"), tt.c.entity, tt.c.field,
                       (tt.c.theme if themed else sa.null()).label("theme"),
                       sa.func.count().label("count"),
                       sa.func.avg(tt.c.sentiment).label("sentiment"),
                       sa.func.sum(sa.case((nps >= 9, 1), else_=0)).label("promoters"),
                       sa.func.sum(sa.case((nps <= 6, 1), else_=0)).label("detractors"),
                       sa.func.count(nps).label("nps_n"))
             .select_from(frm)
             .where(tt.c.theme.is_not(None) if themed else tt.c.theme.is_(None))
             .group_by(*keys))
    return [dict(r._mapping) for r in conn.execute(_scoped(query, sources, window, owner))]


def theme_counts(conn: sa.Connection, *, sources: Sequence[str], by: str | None = None,
                 window: tuple[dt.date, dt.date] | None = None, owner: str | None = None
                 ) -> list[dict[str, Any]]:
    """Per group, source and theme: ``count``, ``sentiment`` (mean), ``promoters``,
    ``detractors`` and ``nps_n`` (module docstring). ``window``: only texts from its first
    day up to (not including) its second; ``owner``: only texts attributed to that rep."""
    return _aggregate(conn, True, sources=sources, by=by, window=window, owner=owner)


def populations(conn: sa.Connection, *, sources: Sequence[str], by: str | None = None,
                window: tuple[dt.date, dt.date] | None = None, owner: str | None = None
                ) -> list[dict[str, Any]]:
    """Per group and source: ``count`` (the population ``n``: analysed texts, whether in a
    theme or not), ``sentiment`` (their mean), and ``nps_n`` with its promoters and
    detractors."""
    return _aggregate(conn, False, sources=sources, by=by, window=window, owner=owner)


def quotes(conn: sa.Connection, *, theme: str, source: str, limit: int,
           window: tuple[dt.date, dt.date] | None = None, owner: str | None = None
           ) -> list[dict[str, Any]]:
    """The latest ``limit`` distinct texts of ``source`` in ``theme`` (in ``window``; of
    ``owner``'s records if given): ``text``, ``sentiment``, ``matched``, ``occurred_at``,
    ``remote_id``. Not redacted: the caller redacts."""
    tt = text_themes
    entity, field = source.split(".")
    t = SYNCED_TABLES[entity]
    frm = tt.join(t, sa.and_(t.c.connection == tt.c.connection,
                             t.c.remote_id == tt.c.remote_id))
    query = (sa.select(t.c[field].label("text"), tt.c.sentiment, tt.c.matched,
                       tt.c.occurred_at, tt.c.remote_id)
             .select_from(frm)
             .where(tt.c.theme == theme, t.c.is_deleted == sa.false())
             .order_by(tt.c.occurred_at.desc(), tt.c.remote_id))
    query = _scoped(query, [source], window, owner)
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
