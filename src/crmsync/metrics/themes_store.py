"""Analysing the store's texts incrementally into ``text_themes`` (docs/themes.md,
"Incremental analysis").

The texts are the live records' non-empty values of the sources asked for
(:data:`~crmsync.metrics.themes_config.SOURCES`; call outcomes and subjects of calls only).
Each text is read with its time and attribution — its record's owner and account; a survey
response without an owner is its contact's, else its account's (as for the ``nps`` metric)
— and, for a survey response of type ``nps``, its score; these are stored on its rows, so
the theme metrics read ``text_themes`` alone. Each text's *fingerprint* hashes the
analyser's fingerprint (name, version, options, taxonomy), the source, the text, its time,
attribution and score. A run:

* analyses the texts whose fingerprint is not stored (new, edited, re-dated, or analysed
  under another analyser or taxonomy) — every text when the analyser is not incremental and
  anything changed — each distinct (source, text) once;
* replaces their rows (one with ``theme`` NULL for the text, one per theme it is in), one
  transaction per batch;
* deletes the rows of texts that are gone (record deleted, text emptied, source dropped).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmsync.core.internal_tables import text_themes
from crmsync.core.schema import SYNCED_TABLES
from crmsync.plugin.analyser import Analysis, Text, TextAnalyser

if TYPE_CHECKING:
    from crmsync.store import Store

__all__ = ["SourceText", "AnalysisCounts", "source_query", "read_texts", "analyse_store"]

#: Texts analysed and written per transaction.
BATCH = 2000
#: The time column of each entity's texts.
_WHEN = {"feedback": "responded_at", "opportunities": "closed_at", "activities": "occurred_at"}

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class SourceText:
    """One text of the store with its record's key, time (as the store returns it, text)
    and attribution."""

    key: Key
    source: str
    text: str
    occurred_at: str | None
    owner_id: str | None = None
    account_id: str | None = None
    nps_score: float | None = None

    @property
    def moment(self) -> dt.datetime | None:
        """:attr:`occurred_at` as a naive datetime."""
        if self.occurred_at is None:
            return None
        return dt.datetime.fromisoformat(self.occurred_at.replace(" ", "T")[:26])


@dataclass
class AnalysisCounts:
    """What one run did: texts found, analysed (distinct texts given to the analyser),
    unchanged, and removed."""

    texts: int = 0
    analysed: int = 0
    distinct: int = 0
    unchanged: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-able form."""
        return dict(self.__dict__)


def source_query(source: str, *, stored: bool = False) -> sa.Select[Any]:
    """``connection, remote_id, text, occurred_at`` (as text), ``owner_id``, ``account_id``
    (attributed: module docstring) and ``nps_score`` of the live records of ``source``
    (``entity.field``) with a non-empty text; with ``stored``, also the fingerprint stored
    for the text (``stored``, NULL when it was never analysed)."""
    entity, field = source.split(".")
    t = SYNCED_TABLES[entity]
    text = t.c[field]
    when = sa.cast(t.c[_WHEN[entity]], sa.String).label("occurred_at")
    if entity == "feedback":
        c = SYNCED_TABLES["contacts"].alias("th_contact")
        a = SYNCED_TABLES["accounts"].alias("th_account")
        account_id: Any = sa.func.coalesce(t.c.account_id, c.c.account_id)
        frm: Any = (t.outerjoin(c, sa.and_(c.c.connection == t.c.connection,
                                           c.c.remote_id == t.c.contact_id,
                                           c.c.is_deleted == sa.false()))
                    .outerjoin(a, sa.and_(a.c.connection == t.c.connection,
                                          a.c.remote_id == account_id,
                                          a.c.is_deleted == sa.false())))
        owner: Any = sa.func.coalesce(t.c.owner_id, c.c.owner_id, a.c.owner_id)
        score: Any = sa.case((t.c.type == "nps", t.c.score), else_=sa.null())
    else:
        frm, owner, account_id = t, t.c.owner_id, t.c.account_id
        score = sa.cast(sa.null(), sa.Float)
    columns = [t.c.connection, t.c.remote_id, text.label("text"), when,
               owner.label("owner_id"), account_id.label("account_id"),
               score.label("nps_score")]
    if stored:
        tt = text_themes
        frm = frm.outerjoin(tt, sa.and_(tt.c.connection == t.c.connection,
                                        tt.c.entity == entity, tt.c.remote_id == t.c.remote_id,
                                        tt.c.field == field, tt.c.theme.is_(None)))
        columns.append(tt.c.fingerprint.label("stored"))
    query = (sa.select(*columns)
             .select_from(frm)
             .where(t.c.is_deleted == sa.false(), text.is_not(None),
                    sa.func.length(sa.func.trim(text)) > 0))
    if entity == "activities":
        query = query.where(t.c.type == "call")
    return query


def read_texts(conn: sa.Connection, sources: Sequence[str]) -> Iterator[SourceText]:
    """Every text of ``sources`` in the store."""
    for text, _ in _read(conn, sources, stored=False):
        yield text


def _read(conn: sa.Connection, sources: Sequence[str], *, stored: bool
          ) -> Iterator[tuple[SourceText, str | None]]:
    """Every text of ``sources`` with its stored fingerprint (``stored``; else None)."""
    for source in sources:
        entity, field = source.split(".")
        for row in conn.execute(source_query(source, stored=stored)).yield_per(5000):
            yield (SourceText((row[0], entity, row[1], field), source, str(row[2]).strip(),
                              row[3], row[4], row[5], row[6]),
                   row[7] if stored else None)


def fingerprint(analyser_fp: str, t: SourceText) -> str:
    """What a stored result depends on (module docstring)."""
    raw = "\x1f".join((analyser_fp, t.source, t.occurred_at or "", t.owner_id or "",
                       t.account_id or "", "" if t.nps_score is None else repr(t.nps_score),
                       t.text))
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()


def _gone(conn: sa.Connection, sources: Sequence[str]) -> list[Key]:
    """The analysed texts no longer in the store: record deleted, text emptied, or source
    no longer analysed (an anti-join, so nothing per text is held in memory)."""
    tt = text_themes
    keys = (tt.c.connection, tt.c.entity, tt.c.remote_id, tt.c.field)
    kept = [s.split(".") for s in sources]
    query = sa.select(*keys).where(tt.c.theme.is_(None), sa.not_(sa.or_(
        sa.false(), *(sa.and_(tt.c.entity == e, tt.c.field == f) for e, f in kept))))
    gone = [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]
    for source in sources:
        entity, field = source.split(".")
        live = source_query(source).subquery("live")
        query = sa.select(*keys).where(
            tt.c.theme.is_(None), tt.c.entity == entity, tt.c.field == field,
            ~sa.exists().where(live.c.connection == tt.c.connection,
                               live.c.remote_id == tt.c.remote_id))
        gone += [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]
    return gone


def _rows(t: SourceText, a: Analysis, analyser: str, fp: str, now: dt.datetime
          ) -> list[dict[str, Any]]:
    """The ``text_themes`` rows of one analysed text: the text's, then one per theme."""
    base = {"connection": t.key[0], "entity": t.key[1], "remote_id": t.key[2],
            "field": t.key[3], "sentiment": a.sentiment, "analyser": analyser,
            "fingerprint": fp, "occurred_at": t.moment, "owner_id": t.owner_id,
            "account_id": t.account_id, "nps_score": t.nps_score, "analysed_at": now}
    return [{**base, "theme": None, "matched": None},
            *({**base, "theme": theme[:64], "matched": (a.matched.get(theme) or "")[:255] or None}
              for theme in dict.fromkeys(a.themes))]


def _delete(conn: sa.Connection, keys: Sequence[Key]) -> None:
    t = text_themes
    if keys:
        conn.execute(t.delete().where(
            t.c.connection == sa.bindparam("k_connection"), t.c.entity == sa.bindparam("k_entity"),
            t.c.remote_id == sa.bindparam("k_remote_id"), t.c.field == sa.bindparam("k_field")),
            [{"k_connection": k[0], "k_entity": k[1], "k_remote_id": k[2], "k_field": k[3]}
             for k in keys])


def _analyse(analyser: TextAnalyser, batch: Sequence[SourceText]) -> list[Analysis]:
    """One analysis per text of ``batch``, each distinct (source, text) analysed once."""
    distinct = {(t.source, t.text): t for t in batch}
    given = [Text(key=t.key, source=t.source, text=t.text) for t in distinct.values()]
    results = analyser.analyse(given)
    if len(results) != len(given):
        raise ValueError(f"text analyser '{analyser.NAME}' returned {len(results)} results "
                         f"for {len(given)} texts")
    by_text = {(g.source, g.text): r for g, r in zip(given, results, strict=True)}
    return [by_text[(t.source, t.text)] for t in batch]


class _Writer:
    """Analyses and writes batches of changed texts (:data:`BATCH` a transaction)."""

    def __init__(self, store: Store, analyser: TextAnalyser, now: dt.datetime,
                 counts: AnalysisCounts, progress: Callable[[int], None] | None) -> None:
        self.store, self.analyser, self.now = store, analyser, now
        self.counts, self.progress = counts, progress

    def write(self, chunk: Sequence[tuple[SourceText, str, bool]],
              found: Sequence[Analysis] | None = None) -> None:
        """Analyse ``chunk`` (text, fingerprint, whether it has rows) unless ``found`` says
        what it holds, and replace its rows."""
        if not chunk:
            return
        found = found if found is not None else _analyse(self.analyser, [c[0] for c in chunk])
        rows = [r for (t, fp, _), a in zip(chunk, found, strict=True)
                for r in _rows(t, a, self.analyser.NAME, fp, self.now)]
        with self.store.engine.begin() as conn:
            _delete(conn, [t.key for t, _, had in chunk if had])
            conn.execute(text_themes.insert(), rows)
        self.counts.analysed += len(chunk)
        self.counts.distinct += len({(t.source, t.text) for t, _, _ in chunk})
        if self.progress is not None:
            self.progress(len(chunk))


def analyse_store(store: Store, analyser: TextAnalyser, sources: Sequence[str],
                  now: dt.datetime, *, full: bool = False,
                  progress: Callable[[int], None] | None = None) -> AnalysisCounts:
    """Analyse what is new or changed (module docstring); ``full`` analyses every text.

    An incremental analyser's texts are streamed: each text is read with its stored
    fingerprint (a join in the database), so only one batch of changed texts is held in
    memory, however many texts the store has. A non-incremental one is given every text at
    once when any changed."""
    afp = analyser.fingerprint
    counts = AnalysisCounts()
    writer = _Writer(store, analyser, now, counts, progress)
    if full:
        with store.engine.begin() as conn:
            conn.execute(text_themes.delete())
    with store.engine.connect() as conn:
        gone = [] if full else _gone(conn, sources)
    everything: list[tuple[SourceText, str, bool]] = []
    pending: list[tuple[SourceText, str, bool]] = []
    with store.engine.connect() as conn:
        for t, old in _read(conn, sources, stored=not full):
            counts.texts += 1
            fp = fingerprint(afp, t)
            item = (t, fp, old is not None)
            if not analyser.incremental:
                everything.append(item)
            if old != fp:
                pending.append(item)
                if analyser.incremental and len(pending) >= BATCH:
                    writer.write(pending)
                    pending = []
    if not analyser.incremental and (pending or gone):
        pending = everything  # the clusters depend on every text
        results = _analyse(analyser, [t for t, _, _ in pending])
        for i in range(0, len(pending), BATCH):
            writer.write(pending[i:i + BATCH], results[i:i + BATCH])
    elif analyser.incremental:
        writer.write(pending)
    with store.engine.begin() as conn:
        _delete(conn, gone)
    counts.removed = len(gone)
    counts.unchanged = counts.texts - counts.analysed
    return counts
