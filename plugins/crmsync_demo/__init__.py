"""crmsync_demo plugin."""
