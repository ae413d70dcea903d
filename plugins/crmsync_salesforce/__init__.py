"""The Salesforce connector (``type = "salesforce"``), built on simple-salesforce.

Modules, one job each: :mod:`.client` (auth, session, call counting, quota check),
:mod:`.errors` (errorCode → crmsync errors), :mod:`.soql` (incremental queries),
:mod:`.describe` (readable fields, key prefixes), :mod:`.catalog` (the run's describes and
record counts), :mod:`.composite` (many GETs in one API call), :mod:`.mapping` (objects →
schema), :mod:`.pipelines` (record types and sales processes → pipelines and stages),
:mod:`.stage_history` (history rows → stage entries), :mod:`.history_reader` (reading
OpportunityHistory and OpportunityFieldHistory), :mod:`.reader` (cursors, REST vs Bulk,
QUERY_TIMEOUT windows, getDeleted), :mod:`.bulk` (Bulk API 2.0), :mod:`.write` (write-back),
:mod:`.lookups` (stages, currency rates, sales processes), :mod:`.quota` (the run's API
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
