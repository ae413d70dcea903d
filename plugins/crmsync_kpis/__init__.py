"""crmsync_kpis plugin."""
