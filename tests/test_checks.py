"""The static checks docs/contributing.md lists run with the test suite, so the README's one
test command covers them: ruff (lint, import order, complexity ≤ 15) over src, plugins, tests
and bench, and mypy --strict over src and plugins, both configured in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """The tool installed next to this Python (the test extra installs both)."""
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


@pytest.mark.slow
def test_ruff_finds_nothing() -> None:
    result = subprocess.run([tool("ruff"), "check", "--output-format", "concise", "src",
                             "plugins", "tests", "bench"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_finds_nothing() -> None:
    result = subprocess.run([tool("mypy")], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


@pytest.mark.slow
def test_the_checks_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x):\n    return x\n", encoding="utf-8")
    lint = subprocess.run([tool("ruff"), "check", "--config", str(ROOT / "pyproject.toml"),
                           str(bad)], capture_output=True, text=True, timeout=300)
    assert lint.returncode != 0 and "F401" in lint.stdout
    types = subprocess.run([tool("mypy"), "--strict", "--no-incremental", str(bad)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert types.returncode != 0 and "no-untyped-def" in types.stdout
