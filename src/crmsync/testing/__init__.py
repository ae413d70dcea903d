"""Testing support for plugin authors: what crmsync's own tests use.

* A pytest plugin (loaded automatically once crmsync is installed) with the fixtures
  ``crmsync_store`` (a migrated SQLite store in ``tmp_path``) and ``crmsync_sync`` (run the
  real sync engine on a connector instance).
* :func:`compute_metric`: run one metric through the real engine and get its values.
* :class:`ConnectorContract`: subclass it in your test module, provide the ``connector``
  fixture, and pytest runs the contract every connector must honour.
* :class:`CrmServer`: the connector toolkit's test server, a Pipedrive-shaped CRM on loopback
  that is also a :class:`~crmsync.testing.world.World` (docs/toolkit.md).
"""

from __future__ import annotations

from crmsync.testing.contract import ConnectorContract
from crmsync.testing.metrics import compute_metric
from crmsync.testing.server import CrmServer

__all__ = ["ConnectorContract", "compute_metric", "CrmServer"]
