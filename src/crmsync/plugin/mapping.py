"""Turning mapping failures into rejects naming the field (docs/toolkit.md, "Mapping").

Builds on :meth:`crmsync.Batch.mapped`, which rejects a record whose mapping raises
:class:`~crmsync.RecordError`: :func:`record_errors` turns the usual failures of mapping
untrusted CRM data — a missing key, a value of the wrong type or form — into that error,
naming the field the mapping read last, and :func:`map_records` is ``Batch.mapped`` with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from crmsync.core.errors import RecordError
from crmsync.plugin.records import Batch, Deletion, Reject

__all__ = ["record_errors", "map_records"]

#: A raw record as the CRM gave it: a mapping (usually the ``dict`` of a JSON object).
Raw = TypeVar("Raw", bound=Mapping[str, Any])


class _Tracked(dict[str, Any]):
    """A raw record that remembers the last key read from it."""

    last: str | None = None

    def __getitem__(self, key: str) -> Any:
        self.last = key
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.last = key
        return super().get(key, default)


def _last(tracked: Mapping[str, Any]) -> str | None:
    return tracked.last if isinstance(tracked, _Tracked) else None


def record_errors(map_record: Callable[[Raw], Mapping[str, Any]], *, entity: str,
                  id_field: str = "id") -> Callable[[Raw], Mapping[str, Any]]:
    """``map_record`` raising :class:`~crmsync.RecordError` for a record it cannot map.

    A ``KeyError`` names the missing key; a ``ValueError`` (a :class:`~crmsync.TimestampError`
    too) or ``TypeError`` names the field the mapping read last before it failed; a
    ``RecordError`` without a remote id gets the record's. The remote id is the raw
    record's ``id_field``. Other exceptions propagate: they are bugs.
    """

    def mapped(raw: Raw) -> Mapping[str, Any]:
        tracked = cast(Raw, _Tracked(raw))  # a dict that remembers the keys read
        remote_id = raw.get(id_field)
        rid = None if remote_id is None else str(remote_id)
        try:
            return map_record(tracked)
        except RecordError as exc:
            if exc.remote_id is not None:
                raise
            raise RecordError(exc.reason, entity=exc.entity, remote_id=rid, field=exc.field,
                              source=exc.source) from exc
        except KeyError as exc:
            field = str(exc.args[0]) if exc.args else _last(tracked)
            raise RecordError(f"missing field {field!r}", entity=entity, remote_id=rid,
                              field=field) from exc
        except (ValueError, TypeError) as exc:
            raise RecordError(str(exc) or type(exc).__name__, entity=entity, remote_id=rid,
                              field=_last(tracked)) from exc

    return mapped


def map_records(raws: Iterable[Raw], map_record: Callable[[Raw], Mapping[str, Any]], *,
                entity: str, id_field: str = "id", cursor: Any = None,
                deleted: Sequence[Deletion] = (), rejects: Sequence[Reject] = (),
                sources: Sequence[str] | None = None) -> Batch:
    """A :class:`~crmsync.Batch` of ``map_record(raw)`` for each raw record, where a record
    whose mapping fails (see :func:`record_errors`) becomes a :class:`~crmsync.Reject` with
    its reason, field, remote id and raw payload, and the other records stay in the batch.
    """
    return Batch.mapped(raws, record_errors(map_record, entity=entity, id_field=id_field),
                        cursor=cursor, deleted=deleted, rejects=rejects, sources=sources)
