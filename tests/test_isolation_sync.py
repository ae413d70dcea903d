"""Each connection's sync and check is isolated: a bug in one connector is reported for its
connection, the others still run, the summary and ``--json`` still print, and the exit code
says partial failure (docs/plugins.md, "Blast radius"; docs/cli.md, "Exit codes and errors").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import make_config
from crmsync import Batch, Connector, api, hookimpl
from crmsync.core.reports import PARTIAL, WHOLE_CONNECTION
from crmsync.core.schema import sync_runs
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from isolation_plugins import BUGGY, GOOD, crmsync, install, write_config


class Good(Connector):
    NAME = "good"
    ENTITIES = ("users", "accounts")

    def check(self) -> str:
        return "reached"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        yield Batch(records=[{"remote_id": f"{entity}-1", "name": "Ann"}], cursor={"done": 1})


class ReadBug(Good):
    """``read()`` of accounts raises a bug; users sync."""

    NAME = "readbug"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        if entity == "accounts":
            raise ZeroDivisionError("division by zero")
        yield from super().read(entity, cursor)


class StartBug(Good):
    """The connector cannot even be created."""

    NAME = "startbug"

    def __init__(self, name: str, settings: Any) -> None:
        raise KeyError("api_base")


class CheckBug(Good):
    NAME = "checkbug"

    def check(self) -> str:
        raise TypeError("'NoneType' object is not subscriptable")


class HostBug(Good):
    """Fails outside ``read()``: in a method the engine calls before reading."""

    NAME = "hostbug"

    def retry_rejects(self, entity: str, standing: Any) -> None:
        raise LookupError("stale index")


class CloseBug(Good):
    NAME = "closebug"

    def close(self) -> None:
        raise OSError("socket already closed")


class Plugin:
    @hookimpl
    def crmsync_register_connectors(self) -> list[type[Connector]]:
        return [Good, ReadBug, StartBug, CheckBug, HostBug, CloseBug]


@pytest.fixture
def registry() -> Registry:
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Plugin(), name="vendor")
    return Registry(pm)


def statuses(report: Any) -> dict[tuple[str, str], str]:
    return {(d.connection, d.entity): d.status for d in report.details}


def test_a_bug_in_one_connectors_read_fails_that_entity_and_the_rest_syncs(
        store: Store, registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(store.url, first={"type": "readbug"}, second={"type": "good"})
    with caplog.at_level(logging.DEBUG):
        report = api.sync(config, registry, store=store)
    assert statuses(report) == {
        ("first", "users"): "success", ("first", "accounts"): "failed",
        ("second", "users"): "success", ("second", "accounts"): "success"}
    assert report.status == PARTIAL
    [error] = [d.error for d in report.details if d.status == "failed"]
    assert error.startswith("first/accounts: connector 'readbug'")
    assert "ZeroDivisionError: division by zero" in error and "\n" not in error
    assert "Traceback" in caplog.text  # in the debug log, not in the error


def test_a_connector_that_cannot_be_created_is_its_connections_failure(
        store: Store, registry: Registry) -> None:
    config = make_config(store.url, first={"type": "startbug"}, second={"type": "good"})
    report = api.sync(config, registry, store=store)
    assert statuses(report)[("first", WHOLE_CONNECTION)] == "failed"
    assert statuses(report)[("second", "accounts")] == "success"
    assert report.status == PARTIAL
    [error] = [d.error for d in report.details if d.status == "failed"]
    assert error == ("connection 'first': connector 'startbug' (plugin 'vendor') failed to "
                     "start: KeyError: 'api_base'; a bug in the plugin, not in your "
                     "configuration: report it to its authors (traceback: crmsync -vv)")


def test_a_bug_outside_read_stops_its_connection_only(store: Store, registry: Registry
                                                       ) -> None:
    config = make_config(store.url, first={"type": "hostbug"}, second={"type": "good"})
    report = api.sync(config, registry, store=store)
    assert statuses(report)[("first", WHOLE_CONNECTION)] == "failed"
    assert statuses(report)[("second", "users")] == "success"
    assert report.status == PARTIAL
    assert "connector 'hostbug' (plugin 'vendor') failed: LookupError: stale index" in report.error
    with store.engine.connect() as conn:  # no run row is left "running" for ever
        runs = conn.execute(sa.select(sync_runs.c.status, sync_runs.c.error)
                            .where(sync_runs.c.connection == "first")).all()
    assert [(status, "stale index" in error) for status, error in runs] == [("failed", True)]


def test_a_connector_failing_to_close_does_not_change_the_outcome(
        store: Store, registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(store.url, only={"type": "closebug"})
    report = api.sync(config, registry, store=store)
    assert report.status == "success"
    assert "closing its connector failed" in caplog.text


def test_every_connection_failing_by_a_bug_is_a_failed_run(store: Store, registry: Registry
                                                           ) -> None:
    config = make_config(store.url, a={"type": "startbug"}, b={"type": "hostbug"})
    assert api.sync(config, registry, store=store).status == "failed"


def test_check_reports_a_connectors_bug_as_its_failed_check(sqlite_store: Store,
                                                           registry: Registry) -> None:
    config = make_config(sqlite_store.url, a={"type": "checkbug"}, b={"type": "startbug"},
                         c={"type": "good"})
    results = {r.connection: r for r in api.check(config, registry)}
    assert [results[n].ok for n in "abc"] == [False, False, True]
    assert ("connector 'checkbug' (plugin 'vendor') failed its check: TypeError: 'NoneType' "
            "object is not subscriptable") in results["a"].message
    assert "failed to start: KeyError: 'api_base'" in results["b"].message


# -- the command line, with a real entry point ---------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install(site, "good", GOOD)
    install(site, "buggy", BUGGY)
    return site


@pytest.mark.slow
def test_sync_prints_every_connection_and_exits_partial_when_a_read_has_a_bug(
        tmp_path: Path, site: Path) -> None:
    config = write_config(tmp_path, {"vendor": "buggy", "crm": "good"})
    done = crmsync(config, site, "sync")
    assert done.returncode == 5, done.stderr
    rows = [line.split()[:3] for line in done.stdout.splitlines()]
    assert ["vendor", "accounts", "failed"] in rows
    assert ["vendor", "users", "success"] in rows
    assert ["crm", "accounts", "success"] in rows
    assert "Traceback" not in done.stderr
    error = ("vendor/accounts: connector 'buggy' (plugin 'buggy') failed reading accounts: "
             "ZeroDivisionError: division by zero")
    assert error in done.stdout  # under the table
    assert f"partial failure (the other connections synced): {error}" in done.stderr


@pytest.mark.slow
def test_sync_json_reports_the_failure_and_the_debug_log_has_the_traceback(
        tmp_path: Path, site: Path) -> None:
    config = write_config(tmp_path, {"vendor": "buggy", "crm": "good"})
    done = crmsync(config, site, "-vv", "sync", "--json")
    assert done.returncode == 5, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "partial"
    failed = [d for d in report["details"] if d["status"] == "failed"]
    assert [(d["connection"], d["entity"], d["rows_upserted"]) for d in failed] == [
        ("vendor", "accounts", 1)]  # the page before the bug is kept
    assert "Traceback" in done.stderr and "thirdparty_buggy.py" in done.stderr


@pytest.mark.slow
def test_a_single_connection_whose_read_has_a_bug_exits_1(tmp_path: Path, site: Path) -> None:
    config = write_config(tmp_path, {"vendor": "buggy"})
    done = crmsync(config, site, "sync", "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"] == "failed"


@pytest.mark.slow
def test_check_exits_partial_when_a_connectors_check_has_a_bug(tmp_path: Path, site: Path
                                                               ) -> None:
    config = write_config(tmp_path, {"vendor": "buggy", "crm": "good"})
    done = crmsync(config, site, "check", "--json")
    assert done.returncode == 5, done.stderr
    results = {r["connection"]: r for r in json.loads(done.stdout)}
    assert results["crm"]["ok"] is True
    assert results["vendor"]["ok"] is False
    assert ("connector 'buggy' (plugin 'buggy') failed its check: ZeroDivisionError: division "
            "by zero") in results["vendor"]["message"]
    assert "Traceback" not in done.stderr
