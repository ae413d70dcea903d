"""Testing support for plugin authors: what crmsync's own tests use.

* A pytest plugin (loaded automatically once crmsync is installed) with the fixtures
  ``crmsync_store`` (a migrated SQLite store in ``tmp_path``) and ``crmsync_sync`` (run the
  real sync engine on a connector instance).
* :class:`ConnectorContract`: subclass it in your test module, provide the ``connector``
  fixture, and pytest runs the contract every connector must honour.
"""

from __future__ import annotations

from crmsync.testing.contract import ConnectorContract

__all__ = ["ConnectorContract"]
