"""crmsync_files: read the unified schema from a folder of CSV or JSON Lines files.

The folder holds one ``<table>.csv`` or ``<table>.jsonl`` per schema table, in the format
``crmsync.orchestration.export.export_store`` writes, so exports, imports and test fixtures
share one format.
"""

from __future__ import annotations

from crmsync import Connector, hookimpl
from crmsync_files.connector import ALLOWED_COLUMNS, FilesConnector

__all__ = ["FilesConnector", "ALLOWED_COLUMNS", "crmsync_register_connectors"]


@hookimpl
def crmsync_register_connectors() -> list[type[Connector]]:
    """Register :class:`FilesConnector` as connector type ``files``."""
    return [FilesConnector]
