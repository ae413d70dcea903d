"""Coaching findings written as text onto each rep's user record in a CRM that allows it
(``crmsync coach --write-back CONNECTION``; docs/coaching.md, "Write-back").

The text of a rep is their open findings as the store holds them, most severe first:
``high · Lead handling: Lead response SLA missed; low · Negotiation: …``, cut at
:data:`MAX_TEXT` characters (a text field's usual limit). A rep of the connection without
open findings gets the field cleared. The field is the connector's default name for
``coaching`` (``crmsync_coaching`` in the CRM's style), created when missing.

What was last written to each rep is kept in ``writeback_state`` (object ``user``, metric
``coaching``), like metric write-back: a rep whose text has not changed since it was last
written is not sent again, so a weekly run touches only the reps whose findings moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.core.schema import SYNCED_TABLES
from crmsync.metrics.coaching_store import stored_findings
from crmsync.orchestration.connections import connect, open_store
from crmsync.plugin.connector import FieldSpec, WriteResult, WriteUpdate
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.writeback.formatting import value_hash
from crmsync.writeback.state import FAILED, SENT, Outcome, load_state, save_rows

__all__ = ["MAX_TEXT", "FIELD", "coaching_text", "write_coaching"]

#: The longest text written (Salesforce and HubSpot single-line text hold 255).
MAX_TEXT = 255
#: The name the field is created under (the connector's default name for it).
FIELD = "coaching"
_RANK = {"high": 0, "medium": 1, "low": 2}


def coaching_text(findings: Iterable[Mapping[str, Any]]) -> str | None:
    """One rep's open findings as one line (``None`` for none), at most :data:`MAX_TEXT`."""
    ordered = sorted(findings, key=lambda f: (_RANK.get(f["severity"], 3), f["rule_id"]))
    if not ordered:
        return None
    text = "; ".join(f"{f['severity']} · {f['area']}: {f['title']}" for f in ordered)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1].rstrip() + "…"


def _reps(store: Store, connection: str) -> list[str]:
    """The live reps (remote ids) the store holds for ``connection``."""
    users = SYNCED_TABLES["users"]
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(users.c.remote_id)
                                 .where(users.c.connection == connection,
                                        users.c.is_deleted == sa.false())
                                 .order_by(users.c.remote_id)).scalars())


def write_coaching(config: Config, registry: Registry, connection: str, *,
                   store: Store | None = None) -> dict[str, Any]:
    """Write each rep's open findings (:func:`coaching_text`) onto their user record.

    :returns: ``{"connection", "field", "written", "cleared", "unchanged", "failed":
        [{"rep_id", "error_code", "error"}]}``; ``unchanged`` counts the reps whose text was
        already written and not sent again.
    :raises ConfigError: when the connection's connector cannot write (no write-back).
    """
    own = store is None
    store = store or open_store(config)
    try:
        reps = _reps(store, connection)
        by_rep: dict[str, list[dict[str, Any]]] = {}
        for f in stored_findings(store, reps=set(reps)):
            by_rep.setdefault(f["rep_id"], []).append(f)
        texts = {rep: coaching_text(by_rep.get(rep, ())) for rep in reps}
        connector, scrub = connect(config, connection, registry)
        try:
            try:
                info = connector.ensure_field("users", FieldSpec(
                    name=connector.default_field_name(FIELD), type="string",
                    label="crmsync coaching", description="Open coaching findings (crmsync)"))
            except NotImplementedError:
                raise ConfigError(f"connection '{connection}' cannot take coaching text: its "
                                  "connector does not write to the CRM") from None
            with store.engine.connect() as conn:
                state = load_state(conn, connection, _OBJECT, info.name)
            todo = {rep: text for rep, text in texts.items()
                    if rep not in state or state[rep].status != SENT
                    or state[rep].sent_hash != value_hash(text)}
            results = list(connector.write("users", [WriteUpdate(rep, {info.name: text})
                                                     for rep, text in todo.items()]))
        finally:
            connector.close()
        _save(store, connection, info.name, todo, results, scrub.text)
    finally:
        if own:
            store.dispose()
    failed = [{"rep_id": r.remote_id, "error_code": r.error_code,
               "error": scrub.text(r.error or "")} for r in results if not r.ok]
    ok = {r.remote_id for r in results if r.ok}
    return {"connection": connection, "field": info.name,
            "written": sum(1 for rep in ok if todo.get(rep)),
            "cleared": sum(1 for rep in ok if not todo.get(rep)),
            "unchanged": len(texts) - len(todo), "failed": failed}


_OBJECT = "user"


def _save(store: Store, connection: str, field: str, todo: Mapping[str, str | None],
          results: Iterable[WriteResult], scrub: Callable[[str], str]) -> None:
    """Record what each rep was sent (or why it failed) in ``writeback_state``."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    outcomes = [Outcome(connection, _OBJECT, field, r.remote_id, FIELD,
                        SENT if r.ok else FAILED, todo.get(r.remote_id),
                        value_hash(todo.get(r.remote_id)),
                        attempts=0 if r.ok else 1, error_code=r.error_code,
                        error=None if r.ok else scrub(r.error or ""))
                for r in results if r.remote_id in todo]
    with store.engine.begin() as conn:
        save_rows(conn, outcomes, now)
