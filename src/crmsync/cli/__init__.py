"""The command line (``crmsync``). See docs/cli.md."""

from crmsync.cli.main import cli, main

__all__ = ["cli", "main"]
