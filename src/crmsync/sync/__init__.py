"""The sync engine: connector batches → validated rows → store, one transaction per batch."""

from __future__ import annotations

from crmsync.sync.engine import SyncEngine, sync_entity

__all__ = ["SyncEngine", "sync_entity"]
