"""Write-back (docs/writeback.md): computed KPIs into CRM custom fields, only what changed.

* :mod:`~crmsync.writeback.mapping`: the ``[[writeback]]`` configuration.
* :mod:`~crmsync.writeback.formatting`: metric values as field values (kinds, rounding, hashes).
* :mod:`~crmsync.writeback.validate`: the checks a mapping passes before it is planned.
* :mod:`~crmsync.writeback.values`: the metric values (and records) a plan reads.
* :mod:`~crmsync.writeback.plan`: what would be created, sent and skipped.
* :mod:`~crmsync.writeback.apply`: creating fields, sending, splitting failed batches, recording.
* :mod:`~crmsync.writeback.state`: the ``writeback_state`` table and the retry schedule.
* :mod:`~crmsync.orchestration.writeback`: plan/apply/run as :mod:`crmsync.api` offers them.
* :mod:`~crmsync.writeback.status`: the write-back part of ``crmsync status``.
"""

from __future__ import annotations

from crmsync.writeback.mapping import WritebackMapping

__all__ = ["WritebackMapping"]
