"""The example Pipedrive-shaped connector on the connector toolkit
(docs/examples/crmsync-example-pipedrive) is a real package: pip-installed into a temporary
folder, found through the ``crmsync`` entry points, syncing from the toolkit test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crmsync.testing import CrmServer
from test_example_plugins import _can_build_without_isolation

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / \
    "crmsync-example-pipedrive"
CRMSYNC = [sys.executable, "-c", "from crmsync.cli import main; main()"]
TOKEN = "pd-cli-token-0042"


def pip_install(source: Path, target: Path) -> None:
    """Install ``source`` (a copy of it: setuptools writes build/ next to the sources) into
    ``target`` with pip, never into the running environment."""
    copy = shutil.copytree(source, target.parent / f"src-{source.name}",
                           ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", *isolation, "--quiet",
         "--disable-pip-version-check", "--no-input", "--target", str(target), str(copy)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def env_with(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CRMSYNC_CONFIG", "CRMSYNC_DISABLE_PLUGINS")}
    return {**env, "PYTHONPATH": str(site), **extra}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("pipedrive") / "site"
    pip_install(EXAMPLE, target)
    return target


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    with CrmServer(token=TOKEN) as server:
        yield server


def test_the_examples_own_tests_pass(site: Path, tmp_path: Path) -> None:
    tests = shutil.copytree(EXAMPLE / "tests", tmp_path / "tests",
                            ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(tmp_path), str(tests)],
        capture_output=True, text=True, env=env_with(site), cwd=tmp_path, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "skipped" not in done.stdout


def test_crmsync_syncs_from_the_test_server(site: Path, tmp_path: Path, crm: CrmServer
                                            ) -> None:
    config = tmp_path / "crmsync.toml"
    config.write_text('[store]\nurl = "sqlite:///store.db"\n\n[connections.pd]\n'
                      f'type = "example_pipedrive"\nbase_url = "{crm.url}"\n'
                      'api_token = "${PD_TOKEN}"\n', encoding="utf-8")
    crm.fail_next(429, retry_after="0")  # retried by the engine, not the connector

    done = subprocess.run([*CRMSYNC, "--config", str(config), "sync", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env=env_with(site, PD_TOKEN=TOKEN))

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {d["entity"]: d["rows_upserted"] for d in report["details"]} == {
        "users": 2, "pipelines": 1, "stages": 3, "accounts": 2, "contacts": 2,
        "opportunities": 3, "activities": 2}
    assert TOKEN not in done.stdout + done.stderr


def test_plugins_lists_it(site: Path, tmp_path: Path) -> None:
    done = subprocess.run([*CRMSYNC, "plugins", "--json"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env=env_with(site))

    assert done.returncode == 0, done.stderr
    plugin = {p["name"]: p for p in json.loads(done.stdout)}["example_pipedrive"]
    assert (plugin["status"], plugin["connectors"]) == ("ok", ["example_pipedrive"])
