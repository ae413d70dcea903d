"""Testing support for plugin authors: what crmsync's own tests use.

* A pytest plugin (loaded automatically once crmsync is installed) with the fixtures
  ``crmsync_store`` (a migrated SQLite store in ``tmp_path``) and ``crmsync_sync`` (run the
  real sync engine on a connector instance).
* :func:`compute_metric`: run one metric through the real engine and get its values.
* :class:`ConnectorContract`: subclass it in your test module, provide the ``connector``
  fixture, and pytest runs the contract every connector must honour.
* :class:`CrmServer`: the connector toolkit's test server, a Pipedrive-shaped CRM on loopback
  that is also a :class:`~crmsync.testing.world.World` (docs/toolkit.md).
* :class:`LiveConnectorContract`: the contract suite that changes the world behind a connector
  between reads (:class:`World`, :class:`FakeClock`; docs/testing-plugins.md).
"""

from __future__ import annotations

from crmsync.testing.clock import FakeClock
from crmsync.testing.contract import ConnectorContract
from crmsync.testing.live_contract import LiveConnectorContract
from crmsync.testing.metrics import compute_metric
from crmsync.testing.server import CrmServer
from crmsync.testing.world import World

__all__ = ["ConnectorContract", "LiveConnectorContract", "World", "FakeClock", "CrmServer",
           "compute_metric"]
