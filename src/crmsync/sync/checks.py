"""What a connector's ``read()`` yields, checked before the engine touches it.

Connectors are plugins: their code may fail, and what they yield may not be what
docs/writing-a-connector.md says a :class:`~crmsync.Batch` holds. The engine reads through
:func:`checked_read`, so that (docs/plugins.md, "Blast radius"):

- an exception of the connector's own code that is not a :class:`~crmsync.CrmsyncError` (a bug:
  ``ZeroDivisionError``, ``KeyError``…) fails the entity with one line naming the connection,
  entity, connector type, plugin and exception — the traceback goes to the debug log — and the
  other entities and connections still sync;
- a bad value for one record (a record that is not a mapping, a ``Deletion`` whose
  ``remote_id`` is not text or whose ``deleted_at`` is not a time) becomes a reject naming the
  record and field, and the rest of the batch is stored; a deletion time given as ISO 8601 text
  is parsed (:func:`crmsync.parse_datetime`);
- a page that cannot be stored at all (not a ``Batch``, records that are not a list, a cursor
  that is not JSON) fails the entity with one :class:`ConnectorFault`, never a traceback from
  the engine's internals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from crmsync.core.errors import CrmsyncError, PluginError
from crmsync.core.timeparse import TimestampError, parse_datetime
from crmsync.plugin.connector import Batch, Connector, Deletion, Reject, RowRecords
from crmsync.plugin.manager import ENTRY_POINT_GROUP, one_line

__all__ = ["ConnectorFault", "checked_read", "checked_batch", "plugin_label"]

log = logging.getLogger(__name__)

#: What every fault tells the user to do.
_BUG = ("a bug in the plugin, not in your configuration: report it to its authors "
        "(traceback: crmsync -vv)")


class ConnectorFault(PluginError):
    """A connector's code failed, or it yielded something crmsync cannot store.

    Names the connection and entity (:attr:`connection`, :attr:`entity`), the connector type
    (:attr:`connector_type`) and the plugin (:attr:`plugin`, when known).
    """

    def __init__(self, message: str, *, connection: str, entity: str, connector_type: str,
                 plugin: str | None) -> None:
        self.connection = connection
        self.entity = entity
        self.connector_type = connector_type
        super().__init__(f"{connection}/{entity}: {message}", plugin=plugin)


def plugin_label(cls: type) -> str | None:
    """The entry-point name of the installed plugin ``cls`` comes from: the entry point whose
    module is ``cls``'s module or one of its packages, else one of the same top-level package;
    ``None`` for a class no installed plugin holds (registered by hand, in tests)."""
    module = cls.__module__
    entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    for ep in entry_points:
        if module == ep.module or module.startswith(ep.module + "."):
            return ep.name
    top = module.split(".")[0]
    return next((ep.name for ep in entry_points if ep.module.split(".")[0] == top), None)


def _fault(connector: Connector, entity: str, what: str) -> ConnectorFault:
    cls = type(connector)
    plugin = plugin_label(cls)
    owner = f"plugin '{plugin}'" if plugin else f"{cls.__module__}.{cls.__qualname__}"
    return ConnectorFault(f"connector '{connector.NAME}' ({owner}) {what}",
                          connection=connector.name, entity=entity,
                          connector_type=connector.NAME, plugin=plugin)


def checked_read(connector: Connector, entity: str, cursor: Any) -> Iterator[Batch]:
    """``connector.read(entity, cursor)``, each batch through :func:`checked_batch`; an
    exception of the connector's code that is not a :class:`~crmsync.CrmsyncError` becomes a
    :class:`ConnectorFault` (its traceback logged at debug level)."""
    try:
        batches = iter(connector.read(entity, cursor))
    except CrmsyncError:
        raise
    except Exception as exc:
        raise _bug(connector, entity, exc) from exc
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except CrmsyncError:
                raise
            except Exception as exc:
                raise _bug(connector, entity, exc) from exc
            yield checked_batch(connector, entity, batch)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _bug(connector: Connector, entity: str, exc: Exception) -> ConnectorFault:
    log.debug("%s/%s: connector '%s' raised", connector.name, entity, connector.NAME,
              exc_info=exc)
    return _fault(connector, entity, f"failed reading {entity}: {one_line(exc)}; {_BUG}")


def checked_batch(connector: Connector, entity: str, batch: Any) -> Batch:
    """``batch`` as the engine can store it: records that are not mappings and deletions with
    bad values turned into rejects, deletion times parsed; a :class:`ConnectorFault` when the
    page as a whole cannot be stored. Returns ``batch`` itself when all is well."""
    if not isinstance(batch, Batch):
        raise _fault(connector, entity, f"yielded a {type(batch).__name__} from read(), not a "
                                        f"crmsync.Batch; {_BUG}")
    records = _records(connector, entity, batch)
    _check_cursor(connector, entity, batch.cursor)
    extra: list[Reject] = []
    sources = batch.sources
    if type(records) is not RowRecords and not all(type(r) is dict for r in records):
        records, sources = _mappings(records, sources, extra)
    deleted = batch.deleted
    if deleted and not all(_good_deletion(d) for d in deleted):
        deleted = _deletions(entity, deleted, extra)
    given = batch.rejects
    if not all(type(r) is Reject and type(r.reason) is str for r in given):
        given = [_reject(r) for r in given]
    if (not extra and records is batch.records and deleted is batch.deleted
            and given is batch.rejects):
        return batch
    return dataclasses.replace(batch, records=records, sources=sources, deleted=deleted,
                               rejects=[*given, *extra])


def _records(connector: Connector, entity: str, batch: Batch) -> Sequence[Any]:
    """The batch's records as a sequence (an iterator of them is made a list)."""
    raw: object = batch.records
    records: Sequence[Any]
    if isinstance(raw, (list, tuple, RowRecords)):  # RowRecords: dicts, made on demand
        records = raw
    elif isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        raise _fault(connector, entity, f"yielded a Batch whose records are a "
                                        f"{type(raw).__name__}, not a list of records; {_BUG}")
    else:
        records = list(raw)
    if type(records) is RowRecords:
        _check_rows(connector, entity, records)
    if batch.sources is not None and len(batch.sources) != len(records):
        raise _fault(connector, entity, f"yielded a Batch with {len(batch.sources)} sources for "
                                        f"{len(records)} records (they must be parallel); {_BUG}")
    return records


def _check_rows(connector: Connector, entity: str, records: RowRecords) -> None:
    """Rows of cells under distinct names, each as long as the names."""
    names, width = records.names, len(records.names)
    if len(set(names)) != width or not all(type(n) is str for n in names):
        raise _fault(connector, entity, f"yielded RowRecords whose names {list(names)!r} are not "
                                        f"distinct column names; {_BUG}")
    short = next((i for i, row in enumerate(records.rows) if len(row) != width), None)
    if short is not None:
        raise _fault(connector, entity, f"yielded RowRecords whose row #{short + 1} has "
                                        f"{len(records.rows[short])} cells for {width} names; "
                                        f"{_BUG}")


def _check_cursor(connector: Connector, entity: str, cursor: Any) -> None:
    """The cursor must be JSON (``sync_state.cursor``), without NaN or infinities."""
    if cursor is None or isinstance(cursor, (str, int)):
        return
    try:
        json.dumps(cursor, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fault(connector, entity, f"yielded a cursor crmsync cannot save: {one_line(exc)}"
                                        f" (a cursor is JSON: text, numbers, true/false, null, "
                                        f"lists and objects of them); {_BUG}") from None


def _mappings(records: Sequence[Any], sources: Sequence[str] | None, rejects: list[Reject]
              ) -> tuple[list[Mapping[str, Any]], list[str] | None]:
    """The records that are mappings (and their sources); the others become rejects."""
    kept: list[Mapping[str, Any]] = []
    kept_sources: list[str] | None = None if sources is None else []
    for i, record in enumerate(records):
        source = sources[i] if sources is not None else None
        if isinstance(record, Mapping):
            kept.append(record)
            if kept_sources is not None and source is not None:
                kept_sources.append(source)
            continue
        rejects.append(Reject(f"record #{i + 1} of its page is a {type(record).__name__}, not "
                              "a mapping of schema columns to values", source=source))
    return kept, kept_sources


def _good_deletion(d: Any) -> bool:
    return (type(d) is Deletion and type(d.remote_id) is str and bool(d.remote_id)
            and (d.deleted_at is None or type(d.deleted_at) is dt.datetime)
            and (d.merged_into is None or type(d.merged_into) is str))


def _deletions(entity: str, deleted: Sequence[Any], rejects: list[Reject]) -> list[Deletion]:
    """The deletions as the engine stores them; one that cannot be becomes a reject."""
    kept = []
    for i, d in enumerate(deleted):
        try:
            kept.append(_deletion(entity, d))
        except _BadDeletion as bad:
            rejects.append(Reject(bad.reason, remote_id=bad.remote_id, field=bad.field,
                                  source=f"deleted #{i + 1} of its page"))
    return kept


class _BadDeletion(Exception):
    def __init__(self, reason: str, field: str | None, remote_id: str | None) -> None:
        super().__init__(reason)
        self.reason, self.field, self.remote_id = reason, field, remote_id


def _identifier(value: Any) -> str | None:
    """A remote id as text: text as is, an integer as its digits (as for records)."""
    if type(value) is str and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _deletion(entity: str, d: Any) -> Deletion:
    if not isinstance(d, Deletion):
        rid = _identifier(d)
        raise _BadDeletion(f"a deleted {entity} record given as a {type(d).__name__}, not a "
                           "crmsync.Deletion", None, rid)
    rid = _identifier(d.remote_id)
    if rid is None:
        raise _BadDeletion(f"Deletion.remote_id must be text, got {type(d.remote_id).__name__} "
                           f"{_shown(d.remote_id)}", "remote_id", None)
    at = d.deleted_at
    if at is not None and type(at) is not dt.datetime:
        try:
            at = parse_datetime(at)
        except TimestampError as exc:
            raise _BadDeletion(f"Deletion.deleted_at: {exc}", "deleted_at", rid) from None
    merged = d.merged_into
    if merged is not None:
        merged = _identifier(merged)
        if merged is None:
            raise _BadDeletion(f"Deletion.merged_into must be text, got "
                               f"{type(d.merged_into).__name__} {_shown(d.merged_into)}",
                               "merged_into", rid)
    return Deletion(remote_id=rid, deleted_at=at, merged_into=merged)


def _reject(r: Any) -> Reject:
    """A connector's reject as the engine stores it."""
    if not isinstance(r, Reject):
        return Reject(f"the connector reported a reject that is a {type(r).__name__}, not a "
                      "crmsync.Reject")
    return Reject(str(r.reason), remote_id=_identifier(r.remote_id),
                  field=None if r.field is None else str(r.field),
                  source=None if r.source is None else str(r.source),
                  payload=r.payload if isinstance(r.payload, Mapping) else None)


def _shown(value: Any) -> str:
    """A short repr of an untrusted value for a reason text."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
