"""``crmsync new connector|metric NAME`` writes a package that installs, is found through the
``crmsync`` entry points, and passes its own tests out of the box."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmsync.cli.main import cli
from test_example_plugins import _can_build_without_isolation

CRMSYNC = [sys.executable, "-c", "from crmsync.cli import main; main()"]


def new(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["new", *args, "--directory", str(tmp_path)])
    return result.exit_code, result.output


def env_with(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CRMSYNC_CONFIG", "CRMSYNC_DISABLE_PLUGINS")}
    return {**env, "PYTHONPATH": str(site)}


def install(package: Path, site: Path) -> None:
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", *isolation, "--quiet",
         "--disable-pip-version-check", "--no-input", "--target", str(site), str(package)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_new_connector_writes_the_package(tmp_path: Path) -> None:
    code, output = new(tmp_path, "connector", "acme_crm")

    package = tmp_path / "crmsync-acme-crm"
    assert code == 0, output
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == [
        "README.md", "crmsync_acme_crm/__init__.py", "pyproject.toml",
        "tests/test_connector.py"]
    assert 'acme_crm = "crmsync_acme_crm"' in (package / "pyproject.toml").read_text()
    assert "class AcmeCrmConnector(Connector):" in \
        (package / "crmsync_acme_crm" / "__init__.py").read_text()


@pytest.mark.parametrize("name", ["Acme", "acme-crm", "9lives", "a__b", "class", "x" * 41])
def test_an_invalid_name_is_refused(tmp_path: Path, name: str) -> None:
    code, output = new(tmp_path, "connector", name)

    assert code == 2 and "is not a plugin name" in output
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "crmsync-acme").mkdir()
    (tmp_path / "crmsync-acme" / "mine.txt").write_text("keep")

    code, output = new(tmp_path, "metric", "acme")

    assert code == 2 and "already exists" in output
    assert [p.name for p in (tmp_path / "crmsync-acme").iterdir()] == ["mine.txt"]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "name", "registers"), [
    ("connector", "acme_crm", ("connectors", ["acme_crm"])),
    ("metric", "won_deals", ("metrics", ["won_deals"])),
])
def test_the_generated_package_installs_lists_and_passes_its_own_tests(
        tmp_path: Path, kind: str, name: str, registers: tuple[str, list[str]]) -> None:
    code, output = new(tmp_path, kind, name)
    assert code == 0, output
    package = tmp_path / f"crmsync-{name.replace('_', '-')}"
    site = tmp_path / "site"
    install(package, site)

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(package), str(package / "tests")],
        capture_output=True, text=True, env=env_with(site), cwd=tmp_path, timeout=300)
    plugins = subprocess.run([*CRMSYNC, "plugins", "--json"], capture_output=True, text=True,
                             env=env_with(site), cwd=tmp_path, timeout=300)

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
    # The live contract runs on the scaffold; only its write-back tests skip (the scaffold
    # reads; write-back is the author's to add).
    skips = [line for line in tests.stdout.splitlines() if line.startswith("SKIPPED")]
    assert all("does not write back" in line for line in skips), skips
    if kind == "connector":
        assert "class TestLiveContract(LiveConnectorContract)" in (
            package / "tests" / "test_connector.py").read_text()
        assert "TestLiveContract" in subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
             "--rootdir", str(package), str(package / "tests")], capture_output=True,
            text=True, env=env_with(site), cwd=tmp_path, timeout=300).stdout
    assert plugins.returncode == 0, plugins.stderr
    plugin = {p["name"]: p for p in json.loads(plugins.stdout)}[name]
    assert (plugin["status"], plugin[registers[0]]) == ("ok", registers[1])
