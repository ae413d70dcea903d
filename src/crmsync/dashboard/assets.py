"""Static assets: plotly.js from the installed ``plotly`` package, and the dashboard's own
CSS and JavaScript (docs/dashboard.md). Nothing is fetched from a CDN."""

from __future__ import annotations

import base64
import gzip
from functools import cache, lru_cache
from importlib import resources

__all__ = ["plotly_js", "plotly_js_packed", "own_asset", "ASSETS"]

#: The dashboard's own files under ``crmsync/dashboard/static`` and their media types.
ASSETS = {"dashboard.css": "text/css; charset=utf-8",
          "dashboard.js": "text/javascript; charset=utf-8"}


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """``plotly.min.js`` as shipped inside the ``plotly`` Python package."""
    return resources.files("plotly").joinpath("package_data").joinpath("plotly.min.js").read_bytes()


@lru_cache(maxsize=1)
def plotly_js_packed() -> str:
    """plotly.min.js gzip-compressed and base64-encoded, for the self-contained report:
    1.9 MB instead of 4.8 MB; the report's loader inflates it with the browser's
    ``DecompressionStream`` (no request is made)."""
    return base64.b64encode(gzip.compress(plotly_js(), compresslevel=9, mtime=0)).decode()


@cache
def own_asset(name: str) -> bytes:
    """One of :data:`ASSETS`."""
    if name not in ASSETS:
        raise KeyError(name)
    return resources.files("crmsync.dashboard").joinpath("static").joinpath(name).read_bytes()
