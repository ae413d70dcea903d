"""crmsync_files plugin."""
