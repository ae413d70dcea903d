"""The demo connector: a deterministic, realistic B2B CRM for ``crmsync demo`` and benchmarks.

Settings: ``size`` (small, medium, large), ``seed``, ``as_of`` (the dataset's today) and
``batch_size``. See :class:`crmsync_demo.connector.DemoConnector`.
"""

from __future__ import annotations

from crmsync import Connector, hookimpl
from crmsync_demo.connector import DemoConnector

__all__ = ["DemoConnector", "crmsync_register_connectors"]


@hookimpl
def crmsync_register_connectors() -> list[type[Connector]]:
    """Register the ``demo`` connector."""
    return [DemoConnector]
