"""The built-in KPIs are a plugin like any other: they import the host only through its public
plugin API, ``crmsync`` and ``crmsync.testing`` (docs/writing-a-metric.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import crmsync_kpis

PUBLIC = {"crmsync", "crmsync.testing"}


def _host_imports(source: str) -> list[str]:
    """The ``crmsync…`` modules ``source`` imports (``crmsync_kpis`` is the plugin)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [n for n in names if n == "crmsync" or n.startswith("crmsync.")]
    return found


def test_kpis_import_only_the_public_plugin_api() -> None:
    package = Path(crmsync_kpis.__file__).parent
    files = sorted(package.glob("*.py"))
    assert files
    leaks = {f"{f.name}: {name}" for f in files
             for name in _host_imports(f.read_text(encoding="utf-8")) if name not in PUBLIC}
    assert not leaks


def test_host_imports_are_found() -> None:
    """The check sees the forms an import of the host can take."""
    source = ("import crmsync.core.schema\nfrom crmsync.store import Store\n"
              "from crmsync import Metric\nfrom crmsync_kpis import deals\n"
              "def lazy():\n    from crmsync.metrics import engine\n")
    assert _host_imports(source) == ["crmsync.core.schema", "crmsync.store", "crmsync",
                                     "crmsync.metrics"]
