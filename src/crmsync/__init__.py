"""crmsync: sync CRMs into one schema, compute sales KPIs on it, write them back.

Plugin authors import only from this module and :mod:`crmsync.testing`.
"""

from __future__ import annotations

from crmsync.core.config import Config, Section, SectionContext
from crmsync.core.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    CrmsyncError,
    DuplicateNameError,
    MetricError,
    PluginError,
    QuotaExhausted,
    RateLimited,
    RecordError,
    StoreError,
    TransientError,
    WritebackError,
)
from crmsync.core.formatting import format_value
from crmsync.core.logs import redact, register_secrets
from crmsync.core.redact import Redactor
from crmsync.core.reports import LOCKED, PARTIAL, STOPPED_QUOTA, EntityResult, RunReport
from crmsync.core.retry import parse_retry_after

# the unified schema, for connectors (docs/writing-a-connector.md)
from crmsync.core.schema import (
    BILLING_FREQUENCIES,
    BILLING_MONTHS,
    BOOK_KEEPING_COLUMNS,
    ENTITIES,
    HISTORY_FIELDS,
    HISTORY_SOURCES,
    SYNCED_TABLES,
)
from crmsync.core.timeparse import TimestampError, parse_date, parse_datetime
from crmsync.plugin.analyser import Analysis, Taxonomy, Text, TextAnalyser, Theme  # themes
from crmsync.plugin.connector import (
    FIELD_PREFIX,
    FIELD_TYPES,
    FLAGS_KEY,
    ApiCallCounter,
    Batch,
    Connector,
    Deletion,
    FieldInfo,
    FieldSpec,
    Quota,
    Reject,
    RowRecords,
    Setting,
    StandingRejects,
    WriteResult,
    WriteUpdate,
)
from crmsync.plugin.context import DIMENSIONS, METRIC_OPTIONS  # schema and metric inputs
from crmsync.plugin.dimensions import Dimension
from crmsync.plugin.history import (
    deal_states,
    field_changes_at,
    fields_at,
    opportunities_as_of,
    owner_at_close,
    table_as_of,
)
from crmsync.plugin.http import ApiClient
from crmsync.plugin.http_auth import Auth, BearerAuth, HeaderAuth, QueryAuth, RefreshingAuth
from crmsync.plugin.http_errors import (
    HttpStatusError,
    endpoint_label,
    error_for_status,
    transport_error,
    vendor_message,
)
from crmsync.plugin.http_sdk import load_sdk
from crmsync.plugin.manager import hookimpl
from crmsync.plugin.mapping import map_records, record_errors
from crmsync.plugin.metric import DIRECTIONS as METRIC_DIRECTIONS  # schema and metric inputs
from crmsync.plugin.metric import UNITS as METRIC_UNITS  # schema and metric inputs
from crmsync.plugin.metric import Metric, MetricContext, MetricSelect
from crmsync.plugin.paging import (
    SETTLE_SECONDS,
    Page,
    changed_since,
    cursor_key,
    offset_pages,
    token_pages,
)
from crmsync.plugin.panel import DashboardPanel, PanelContext
from crmsync.plugin.results import RunResults
from crmsync.plugin.slippage import close_date_pushes

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "hookimpl",
    # interfaces
    "Connector",
    "Setting",
    "Batch",
    "Deletion",
    "Reject",
    "RowRecords",
    "StandingRejects",
    "FieldInfo",
    "FieldSpec",
    "WriteUpdate",
    "WriteResult",
    "ApiCallCounter",
    "Quota",
    "FIELD_TYPES",
    "FIELD_PREFIX",
    "FLAGS_KEY",
    "Metric",
    "MetricContext",
    "DashboardPanel",
    "PanelContext",
    "RunReport",
    "EntityResult",
    "parse_retry_after",
    "parse_datetime",
    "parse_date",
    "TimestampError",
    "MetricSelect",
    # configuration, run reports and secrets
    "Config",
    "Section",
    "SectionContext",
    "RunResults",
    "format_value",
    "LOCKED",
    "PARTIAL",
    "STOPPED_QUOTA",
    "Redactor",
    "redact",
    "register_secrets",
    # schema and metric inputs
    "DIMENSIONS",
    "METRIC_OPTIONS",
    "METRIC_UNITS",
    "METRIC_DIRECTIONS",
    "Dimension",
    # the unified schema, for connectors (docs/writing-a-connector.md)
    "SYNCED_TABLES",
    "HISTORY_FIELDS",
    "HISTORY_SOURCES",
    "BILLING_FREQUENCIES",
    "BILLING_MONTHS",
    "opportunities_as_of",
    "table_as_of",
    "field_changes_at",
    "fields_at",
    "deal_states",
    "close_date_pushes",
    "owner_at_close",
    "ENTITIES",
    "BOOK_KEEPING_COLUMNS",
    # errors
    "CrmsyncError",
    "ConfigError",
    "PluginError",
    "DuplicateNameError",
    "ConnectorError",
    "AuthError",
    "RateLimited",
    "TransientError",
    "QuotaExhausted",
    "RecordError",
    "StoreError",
    "MetricError",
    "WritebackError",
    # the connector toolkit (docs/toolkit.md)
    "ApiClient",
    "Auth",
    "BearerAuth",
    "HeaderAuth",
    "QueryAuth",
    "RefreshingAuth",
    "HttpStatusError",
    "error_for_status",
    "transport_error",
    "vendor_message",
    "endpoint_label",
    "load_sdk",
    "Page",
    "changed_since",
    "token_pages",
    "offset_pages",
    "cursor_key",
    "SETTLE_SECONDS",
    "map_records",
    "record_errors",
    # text analysers (docs/themes.md)
    "TextAnalyser",
    "Text",
    "Theme",
    "Taxonomy",
    "Analysis",
]
