"""docs/toolkit.md documents every public name of the connector toolkit, and the example
connector's size figure it quotes is the one bench/connector_loc.py measures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import crmsync
from crmsync.plugin import http, http_auth, http_errors, http_sdk, mapping, paging

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "toolkit.md").read_text(encoding="utf-8")
TOOLKIT = sorted({name for module in (http, http_auth, http_errors, http_sdk, mapping, paging)
                  for name in module.__all__ if name != "Key"})


@pytest.mark.parametrize("name", TOOLKIT)
def test_every_toolkit_name_is_exported_and_documented(name: str) -> None:
    assert name in crmsync.__all__
    assert f"`{name}" in DOC, f"docs/toolkit.md does not name {name}"


def test_the_quoted_line_count_is_measured() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "connector_loc.py")],
                          capture_output=True, text=True, check=True, timeout=60)
    measured = re.search(r"^(\d+) code lines with the toolkit", done.stdout, re.M)

    assert measured and f"in {measured.group(1)} code lines" in DOC
