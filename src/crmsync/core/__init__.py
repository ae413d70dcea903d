"""Core: errors, the schema, configuration, reports and time helpers (the lowest layer;
imports nothing else from crmsync). See docs/architecture.md."""
