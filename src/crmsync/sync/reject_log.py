"""The log lines of one entity's rejects: the first few in full, then counts.

A file with 10,000 bad rows must not print 10,000 warnings: :class:`RejectLog` logs the first
:data:`FULL_REJECTS` rejects of a sync one line each and, when the sync ends, one summary line
counting all of them by field and reason (``docs/concepts.md#rejects``). Every reject is still
stored in ``sync_rejects``.
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from crmsync.sync.value_rules import bound_text

__all__ = ["RejectLog", "FULL_REJECTS", "describe_reject", "too_many_rejects"]

#: Rejects of one sync logged one line each; the rest are counted.
FULL_REJECTS = 5
#: Kinds of problems named in the summary line; the rest are counted as "other".
SUMMARY_KINDS = 8
_LINE = 300
_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?")


def describe_reject(r: Mapping[str, Any]) -> str:
    """One line naming the connection, entity, record, source, field and reason."""
    where = f"{r['connection']}/{r['entity']} record {r['remote_id'] or '?'}"
    if r.get("source"):
        where += f" ({r['source']})"
    if r.get("field"):
        where += f", field '{r['field']}'"
    return f"rejected {where}: {r['reason']}"


def _kind(r: Mapping[str, Any]) -> str:
    """The field and the reason without the value it quotes (``amount: not a number``)."""
    reason = _VALUES.sub("…", str(r["reason"])[:_LINE]).split(" (", 1)[0]
    return f"{r.get('field') or 'record'}: {reason}"


class RejectLog:
    """Logs the rejects of one sync of one entity (see the module docstring)."""

    def __init__(self, logger: logging.Logger, label: str) -> None:
        self.logger = logger
        self.label = label
        self.count = 0
        self.kinds: collections.Counter[str] = collections.Counter()

    def add(self, rejects: Iterable[Mapping[str, Any]]) -> None:
        """Log the first rejects in full (each line cut to a few hundred characters) and count
        every one."""
        for r in rejects:
            self.count += 1
            self.kinds[_kind(r)] += 1
            if self.count <= FULL_REJECTS:
                self.logger.warning("%s", bound_text(describe_reject(r), _LINE))

    def close(self) -> None:
        """Log the summary line, when more rejects were counted than logged."""
        if self.count <= FULL_REJECTS:
            return
        common = self.kinds.most_common(SUMMARY_KINDS)
        parts = [f"{kind} ×{n}" for kind, n in common]
        other = self.count - sum(n for _, n in common)
        if other:
            parts.append(f"other ×{other}")
        self.logger.warning("%s: %d rejects (%d more than shown); by field and reason: %s; "
                            "see `crmsync status` (table sync_rejects)", self.label, self.count,
                            self.count - FULL_REJECTS, ", ".join(parts))


def too_many_rejects(connection: str, entity: str, rejects: int, seen: int,
                     max_ratio: float | None) -> str | None:
    """The error of a sync whose share of rejected records (``rejects`` of the ``seen`` it
    read) passes ``max_ratio`` (``[sync] max_reject_ratio`` in ``docs/configuration.md``), or
    ``None``."""
    if max_ratio is None or not seen or not rejects:
        return None
    ratio = rejects / seen
    if ratio <= max_ratio:
        return None
    return (f"{connection}/{entity}: {rejects} of {seen} records rejected ({ratio:.0%}), more "
            f"than [sync] max_reject_ratio = {max_ratio:g} allows; the good ones are stored, "
            f"see `crmsync status` for the rejects")
