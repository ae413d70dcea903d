"""The SDK the connector talks to Salesforce with, loaded on first use.

simple-salesforce (with requests and PyJWT) comes with the ``salesforce`` extra
(``pip install 'crmsync[salesforce]'``, see docs/deploying.md), so the plugin itself must load
without it: only :mod:`crmsync_salesforce.client` imports the SDK at module level, and the
connector reaches that module through :func:`client_class` alone (:func:`crmsync.load_sdk`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmsync import load_sdk

if TYPE_CHECKING:
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["MISSING", "client_class"]

#: The one line a user sees when the extra is not installed.
MISSING = "the salesforce connector needs simple-salesforce: pip install 'crmsync[salesforce]'"
#: The top-level packages of the ``salesforce`` extra.
_SDK_PACKAGES = frozenset({"simple_salesforce", "requests", "jwt", "cryptography"})


def client_class() -> type[SalesforceClient]:
    """:class:`~crmsync_salesforce.client.SalesforceClient`, importing the SDK.

    :raises crmsync.ConfigError: :data:`MISSING`, when the ``salesforce`` extra is not installed.
    """

    def load() -> type[SalesforceClient]:
        from crmsync_salesforce.client import SalesforceClient

        return SalesforceClient

    return load_sdk(load, packages=_SDK_PACKAGES, missing=MISSING)
