"""The SDK the connector talks to Salesforce with, loaded on first use.

simple-salesforce (with requests and PyJWT) comes with the ``salesforce`` extra
(``pip install 'crmsync[salesforce]'``, see docs/deploying.md), so the plugin itself must load
without it: only :mod:`crmsync_salesforce.client` imports the SDK at module level, and the
connector reaches that module through :func:`client_class` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmsync import ConfigError

if TYPE_CHECKING:
    from crmsync_salesforce.client import SalesforceClient

__all__ = ["MISSING", "client_class"]

#: The one line a user sees when the extra is not installed.
MISSING = "the salesforce connector needs simple-salesforce: pip install 'crmsync[salesforce]'"
#: The top-level packages of the ``salesforce`` extra.
_SDK_PACKAGES = frozenset({"simple_salesforce", "requests", "jwt", "cryptography"})


def client_class() -> type[SalesforceClient]:
    """:class:`~crmsync_salesforce.client.SalesforceClient`, importing the SDK.

    :raises ConfigError: :data:`MISSING`, when the ``salesforce`` extra is not installed.
    """
    try:
        from crmsync_salesforce.client import SalesforceClient
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] in _SDK_PACKAGES:
            raise ConfigError(MISSING) from None
        raise
    return SalesforceClient
