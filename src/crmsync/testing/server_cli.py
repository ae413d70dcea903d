"""``python -m crmsync.testing.server_cli``: serve the toolkit test CRM until interrupted, to
try a connector with the ``crmsync`` command (docs/tutorial-first-connector.md)."""

from __future__ import annotations

import argparse
import contextlib
import threading

from crmsync.testing.server import CrmServer

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Serve :class:`~crmsync.testing.CrmServer` on ``127.0.0.1:--port`` with ``--token``."""
    parser = argparse.ArgumentParser(prog="python -m crmsync.testing.server_cli",
                                     description="Serve crmsync's toolkit test CRM.")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1")
    parser.add_argument("--token", default="test-token", help="the bearer token it accepts")
    args = parser.parse_args(argv)
    with CrmServer(token=args.token, port=args.port) as crm:
        print(f"serving a test CRM at {crm.url} (token {args.token}); Ctrl-C stops it",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
