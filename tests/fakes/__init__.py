"""Local fake CRM servers for tests and benchmarks (HubSpot portal, Salesforce org)."""
