"""The sales dashboard and the self-contained HTML report (docs/dashboard.md).

:func:`create_app` builds the live, read-only dashboard (an ASGI app); :func:`write_report`
writes the same pages into one HTML file that works offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmsync.dashboard.app import create_app
    from crmsync.dashboard.report import write_report

__all__ = ["create_app", "write_report"]


def __getattr__(name: str) -> Any:
    # imported on use: the CLI and plugins need not load Starlette and Jinja2 to start
    if name == "create_app":
        from crmsync.dashboard.app import create_app

        return create_app
    if name == "write_report":
        from crmsync.dashboard.report import write_report

        return write_report
    raise AttributeError(name)
