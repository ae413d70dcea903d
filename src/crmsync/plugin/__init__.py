"""The plugin API: connector and metric interfaces, hook specs and the plugin registry.
See docs/architecture.md."""
