"""The starter ``crmsync.toml`` written by ``crmsync init``."""

from __future__ import annotations

__all__ = ["TEMPLATE"]

TEMPLATE = '''\
# crmsync configuration. Reference: docs/configuration.md
# Secrets are never written here: use ${ENV_VAR} references.

[store]
# SQLite by default (a file next to this one); PostgreSQL for production:
#   url = "postgresql://crmsync@db.example.com/crmsync"
url = "sqlite:///crmsync.db"

# One table per CRM connection. "type" picks the connector plugin (crmsync plugins).
# No connection is active yet: add yours below, then run `crmsync check && crmsync sync`.

# The demo CRM: 2,000 made-up deals, reps and activities. To try crmsync on it, remove the
# "# " in front of the next three lines. Keep it off in a store with your real CRM's data:
# its fake deals would be counted in your KPIs. (`crmsync demo` needs no configuration.)
# [connections.demo]
# type = "demo"        # a deterministic demo CRM
# size = "small"       # small | medium | large

# [connections.sheets]
# type = "files"       # CSV/JSONL folder, one file per schema table
# path = "exports/"

# [connections.salesforce]
# type = "salesforce"
# username = "ops@example.com"
# password = "${SF_PASSWORD}"
# security_token = "${SF_TOKEN}"

[metrics]
period = "month"                # day | week | month | quarter | year | all
timezone = "UTC"
base_currency = "USD"
fiscal_year_start_month = 1

# Write computed KPIs into CRM custom fields (docs/writeback.md):
# [[writeback]]
# metric = "days_in_current_stage"   # a per-record KPI (crmsync metrics list)
# connection = "salesforce"
# object = "opportunity"
# create_field = true                # creates Crmsync_... / crmsync_... if missing
'''
