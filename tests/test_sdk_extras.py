"""Without the ``salesforce`` or ``hubspot`` extra the plugin still loads, using it says what
to install in one line, and the CSV and demo connectors still sync (docs/deploying.md#install).

The SDK is hidden in a subprocess by putting ``None`` in ``sys.modules`` for its packages,
which makes importing them raise ``ImportError`` as if they were not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crmsync_hubspot.sdk
import crmsync_salesforce.sdk

pytestmark = pytest.mark.slow

#: Runs the crmsync CLI with the named packages hidden.
SCRIPT = """\
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from crmsync.cli import main
main(sys.argv[2:])
"""


def crmsync_without(hidden: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``crmsync --config <tmp_path>/crmsync.toml ARGS`` with the ``hidden`` packages missing."""
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, hidden, "--config", str(tmp_path / "crmsync.toml"),
         *args], capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "CRM_SECRET": "not-used"})


def write_config(tmp_path: Path, connection: str) -> None:
    """A store, a folder of CSV files, the demo CRM and ``connection`` (a TOML table body)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "accounts.csv").write_text("remote_id,name\na1,Acme\n")
    (tmp_path / "crmsync.toml").write_text(
        '[store]\nurl = "sqlite:///s.db"\n'
        '[connections.sheet]\ntype = "files"\npath = "in"\n'
        '[connections.demo]\ntype = "demo"\n'
        f"[connections.crm]\n{connection}\n")


class Extra:
    """One optional SDK: the connector, its packages, a connection table, the message."""

    def __init__(self, name: str, packages: list[str], table: str, message: str,
                 missing: str) -> None:
        self.name, self.packages, self.table = name, packages, table
        self.message, self.missing = message, missing


EXTRAS = [
    Extra("salesforce", ["simple_salesforce", "requests", "jwt"],
          'type = "salesforce"\nusername = "u"\npassword = "${CRM_SECRET}"',
          crmsync_salesforce.sdk.MISSING,
          "the salesforce connector needs simple-salesforce: pip install 'crmsync[salesforce]'"),
    Extra("hubspot", ["hubspot", "urllib3"], 'type = "hubspot"\naccess_token = "${CRM_SECRET}"',
          crmsync_hubspot.sdk.MISSING,
          "the hubspot connector needs hubspot-api-client: pip install 'crmsync[hubspot]'"),
]


@pytest.fixture(params=EXTRAS, ids=lambda e: e.name)
def extra(request: pytest.FixtureRequest, tmp_path: Path) -> Extra:
    chosen: Extra = request.param
    write_config(tmp_path, chosen.table)
    return chosen


@pytest.mark.parametrize("which", ["sdk", "dependency", "all"])
def test_the_plugin_loads_without_the_sdk(extra: Extra, tmp_path: Path, which: str) -> None:
    hidden = {"sdk": extra.packages[:1], "dependency": extra.packages[1:2],
              "all": extra.packages}[which]
    result = crmsync_without(",".join(hidden), tmp_path, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins[extra.name]["status"] == "ok"
    assert plugins[extra.name]["connectors"] == [extra.name]


def test_syncing_without_the_sdk_names_the_extra_and_the_others_still_sync(
        extra: Extra, tmp_path: Path) -> None:
    result = crmsync_without(",".join(extra.packages), tmp_path,
                             "sync", "--entity", "accounts", "--json")
    report = json.loads(result.stdout)
    runs = {d["connection"]: d for d in report["details"]}
    assert runs["crm"]["status"] == "failed"
    assert runs["crm"]["error"] == extra.message == extra.missing
    assert (runs["sheet"]["status"], runs["sheet"]["rows_upserted"]) == ("success", 1)
    assert (runs["demo"]["status"], runs["demo"]["rows_upserted"]) == ("success", 300)


def test_check_without_the_sdk_says_what_to_install_in_one_line(
        extra: Extra, tmp_path: Path) -> None:
    result = crmsync_without(extra.packages[0], tmp_path, "check", "crm")
    assert result.returncode != 0
    assert [line for line in result.stdout.splitlines() if extra.message in line] == \
        [f"FAIL crm ({extra.name}): {extra.message}"]
