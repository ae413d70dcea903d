"""Testing support for plugin authors: what crmsync's own tests use.

* A pytest plugin (loaded automatically once crmsync is installed) with the fixtures
  ``crmsync_store`` (a migrated SQLite store in ``tmp_path``) and ``crmsync_sync`` (run the
  real sync engine on a connector instance).
* :func:`compute_metric`: run one metric through the real engine and get its values.
* :class:`ConnectorContract`: subclass it in your test module, provide the ``connector``
  fixture, and pytest runs the contract every connector must honour.
"""

from __future__ import annotations

from crmsync.testing.contract import ConnectorContract
from crmsync.testing.metrics import compute_metric

__all__ = ["ConnectorContract", "compute_metric"]

# The live contract suite (docs/testing-plugins.md): a `world` the suite changes between reads.
from crmsync.testing.clock import FakeClock
from crmsync.testing.live_contract import LiveConnectorContract
from crmsync.testing.world import World

__all__ += ["LiveConnectorContract", "World", "FakeClock"]
