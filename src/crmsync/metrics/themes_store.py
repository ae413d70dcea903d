"""Analysing the store's texts incrementally into ``text_themes`` (docs/themes.md,
"Incremental analysis").

The texts are the live records' non-empty values of the sources asked for
(:data:`~crmsync.metrics.themes_config.SOURCES`; call outcomes and subjects of calls only).
Each text's *fingerprint* hashes the analyser's fingerprint (name, version, options,
taxonomy), the source, the text and its time. A run:

* analyses the texts whose fingerprint is not stored (new, edited, re-dated, or analysed
  under another analyser or taxonomy) — every text when the analyser is not incremental and
  anything changed — each distinct (source, text) once;
* replaces their rows (one per theme, or one with ``theme`` NULL), one transaction per batch;
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
    """One text of the store with its record's key and time."""

    key: Key
    source: str
    text: str
    occurred_at: dt.datetime | None


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


def source_query(source: str) -> sa.Select[Any]:
    """``connection, remote_id, text, occurred_at`` of the live records of ``source``
    (``entity.field``) with a non-empty text."""
    entity, field = source.split(".")
    t = SYNCED_TABLES[entity]
    text = t.c[field]
    query = (sa.select(t.c.connection, t.c.remote_id, text.label("text"),
                       t.c[_WHEN[entity]].label("occurred_at"))
             .where(t.c.is_deleted == sa.false(), text.is_not(None),
                    sa.func.length(sa.func.trim(text)) > 0))
    if entity == "activities":
        query = query.where(t.c.type == "call")
    return query


def read_texts(conn: sa.Connection, sources: Sequence[str]) -> Iterator[SourceText]:
    """Every text of ``sources`` in the store."""
    for source in sources:
        entity, field = source.split(".")
        for row in conn.execute(source_query(source)).yield_per(5000):
            yield SourceText((row.connection, entity, row.remote_id, field), source,
                             str(row.text).strip(), row.occurred_at)


def fingerprint(analyser_fp: str, t: SourceText) -> str:
    """What a stored result depends on (module docstring)."""
    when = t.occurred_at.isoformat() if t.occurred_at is not None else ""
    raw = "\x1f".join((analyser_fp, t.source, when, t.text))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _stored(conn: sa.Connection) -> dict[Key, str]:
    """The fingerprint of each analysed text."""
    t = text_themes
    rows = conn.execute(sa.select(t.c.connection, t.c.entity, t.c.remote_id, t.c.field,
                                  t.c.fingerprint).distinct())
    return {(r[0], r[1], r[2], r[3]): r[4] for r in rows}


def _rows(t: SourceText, a: Analysis, analyser: str, fp: str, now: dt.datetime
          ) -> list[dict[str, Any]]:
    """The ``text_themes`` rows of one analysed text."""
    base = {"connection": t.key[0], "entity": t.key[1], "remote_id": t.key[2],
            "field": t.key[3], "sentiment": a.sentiment, "analyser": analyser,
            "fingerprint": fp, "occurred_at": t.occurred_at, "analysed_at": now}
    if not a.themes:
        return [{**base, "theme": None, "matched": None}]
    return [{**base, "theme": theme[:64], "matched": (a.matched.get(theme) or "")[:255] or None}
            for theme in dict.fromkeys(a.themes)]


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


def analyse_store(store: Store, analyser: TextAnalyser, sources: Sequence[str],
                  now: dt.datetime, *, full: bool = False,
                  progress: Callable[[int], None] | None = None) -> AnalysisCounts:
    """Analyse what is new or changed (module docstring); ``full`` analyses every text."""
    afp = analyser.fingerprint
    with store.engine.connect() as conn:
        stored = {} if full else _stored(conn)
        current = [(t, fingerprint(afp, t)) for t in read_texts(conn, sources)]
    counts = AnalysisCounts(texts=len(current))
    keys = {t.key for t, _ in current}
    changed = [(t, fp) for t, fp in current if stored.get(t.key) != fp]
    gone = [k for k in stored if k not in keys]
    if changed and not analyser.incremental:
        changed = current
    counts.unchanged = len(current) - len(changed)
    with store.engine.begin() as conn:
        if full:
            conn.execute(text_themes.delete())
        _delete(conn, gone)
    counts.removed = len(gone)
    # A non-incremental analyser sees every text at once; the others a batch at a time.
    results = (_analyse(analyser, [t for t, _ in changed])
               if changed and not analyser.incremental else None)
    batches: list[tuple[list[tuple[SourceText, str]], list[Analysis] | None]] = [
        (changed[i:i + BATCH], results[i:i + BATCH] if results is not None else None)
        for i in range(0, len(changed), BATCH)]
    for chunk, given in batches:
        found = given if given is not None else _analyse(analyser, [t for t, _ in chunk])
        rows = [r for (t, fp), a in zip(chunk, found, strict=True)
                for r in _rows(t, a, analyser.NAME, fp, now)]
        with store.engine.begin() as conn:
            _delete(conn, [t.key for t, _ in chunk if t.key in stored])
            conn.execute(text_themes.insert(), rows)
        counts.analysed += len(chunk)
        counts.distinct += len({(t.source, t.text) for t, _ in chunk})
        if progress is not None:
            progress(len(chunk))
    return counts
