"""The Salesforce connector (``type = "salesforce"``), built on simple-salesforce.

Modules, one job each: :mod:`.client` (auth, session, call counting, quota check),
:mod:`.errors` (errorCode → crmsync errors), :mod:`.soql` (incremental queries),
:mod:`.describe` (readable fields, key prefixes), :mod:`.mapping` (objects → schema),
:mod:`.stage_history` (OpportunityHistory → stage entries), :mod:`.reader` (cursors, REST vs
Bulk, QUERY_TIMEOUT windows, getDeleted), :mod:`.bulk` (Bulk API 2.0), :mod:`.write`
(write-back), :mod:`.lookups` (stage ids, currency rates), :mod:`.quota` (the run's API
budget). See docs/connectors/salesforce.md.
"""

from __future__ import annotations

from crmsync import hookimpl

from crmsync_salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector", "crmsync_register_connectors"]


@hookimpl
def crmsync_register_connectors() -> list[type[SalesforceConnector]]:
    """Register the Salesforce connector."""
    return [SalesforceConnector]
