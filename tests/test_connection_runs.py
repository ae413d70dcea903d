"""Every connection is reported, and one connection is synced by one run at a time
(SQLite and PostgreSQL; docs/cli.md, "Exit codes and errors"; docs/deploying.md, "Run locks")."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import make_config
from crmsync import AuthError, Batch, Connector, api
from crmsync.cli import cli
from crmsync.cli.state import EXIT_LOCKED, EXIT_PARTIAL
from crmsync.core.redact import Redactor
from crmsync.core.reports import LOCKED, PARTIAL, WHOLE_CONNECTION
from crmsync.core.schema import sync_runs
from crmsync.orchestration import runs
from crmsync.store import Store
from crmsync.store.locks import connection_lock_name
from crmsync.sync import SyncEngine

ENTITIES = ("users", "accounts", "opportunities")


def write_files(folder: Path, rows: int = 3) -> Path:
    """A files connection's folder with ``rows`` rows in each of three tables."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.csv").write_text(
        "remote_id,name\n" + "".join(f"U{i},User {i}\n" for i in range(rows)), encoding="utf-8")
    (folder / "accounts.csv").write_text(
        "remote_id,name\n" + "".join(f"A{i},Acc {i}\n" for i in range(rows)), encoding="utf-8")
    (folder / "opportunities.csv").write_text(
        "remote_id,name,amount,status\n"
        + "".join(f"D{i},Deal {i},{i},open\n" for i in range(rows)),
        encoding="utf-8")
    return folder


def write_toml(tmp_path: Path, store_url: str, connections: dict[str, str]) -> Path:
    """A crmsync.toml with files connections (name → path setting as written)."""
    text = f'[store]\nurl = "{store_url}"\n'
    for name, path in connections.items():
        text += f'[connections.{name}]\ntype = "files"\npath = "{path}"\n'
    toml = tmp_path / "crmsync.toml"
    toml.write_text(text, encoding="utf-8")
    return toml


@pytest.fixture
def two_connections(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``good`` (a folder) and ``broken`` (its path names an environment variable not set)."""
    monkeypatch.delenv("CRMSYNC_TEST_UNSET_PATH", raising=False)
    good = write_files(tmp_path / "good")
    return write_toml(tmp_path, store.url, {"broken": "${CRMSYNC_TEST_UNSET_PATH}",
                                            "good": str(good)})


# -- several connections: every one is reported ----------------------------------------------


def test_a_misconfigured_connection_is_reported_and_the_others_sync(
        store: Store, two_connections: Path, registry: Any) -> None:
    config = api.load_config(two_connections)
    report = api.sync(config, registry, store=store)
    assert report.status == PARTIAL
    rows = {(d.connection, d.entity): d.status for d in report.details}
    assert rows[("broken", WHOLE_CONNECTION)] == "failed"
    assert {e: rows[("good", e)] for e in ENTITIES} == dict.fromkeys(ENTITIES, "success")
    assert "CRMSYNC_TEST_UNSET_PATH is not set" in report.error


def test_cli_sync_json_reports_every_connection_and_exits_partial(
        two_connections: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(two_connections), "sync", "--json"])
    assert result.exit_code == EXIT_PARTIAL, result.output
    report = json.loads(result.output)
    assert report["status"] == PARTIAL
    assert {d["connection"] for d in report["details"]} == {"broken", "good"}


def test_cli_check_reports_every_connection_and_exits_partial(two_connections: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(two_connections), "check", "--json"])
    assert result.exit_code == EXIT_PARTIAL, result.output
    checks = {c["connection"]: c for c in json.loads(result.output)}
    assert checks["good"]["ok"] is True
    assert checks["broken"]["ok"] is False
    assert "CRMSYNC_TEST_UNSET_PATH is not set" in checks["broken"]["message"]


def test_cli_run_syncs_the_others_and_exits_partial(two_connections: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(two_connections), "run", "--json"])
    assert result.exit_code == EXIT_PARTIAL, result.output
    sync = json.loads(result.output)["sync"]
    assert sync["status"] == PARTIAL
    assert {(d["connection"], d["status"]) for d in sync["details"]} == {
        ("broken", "failed"), ("good", "success")}


def test_one_misconfigured_connection_alone_is_still_a_configuration_error(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMSYNC_TEST_UNSET_PATH", raising=False)
    toml = write_toml(tmp_path, store.url, {"broken": "${CRMSYNC_TEST_UNSET_PATH}"})
    result = CliRunner().invoke(cli, ["--config", str(toml), "sync", "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["status"] == "failed"


# -- an authentication error mid-run ----------------------------------------------------------


class ExpiringToken(Connector):
    """Reads its first entity, then the CRM refuses its credentials."""

    NAME = "expiring"
    ENTITIES = ENTITIES

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        if entity != ENTITIES[0]:
            raise AuthError("401: the token has expired", connection=self.name, entity=entity)
        yield Batch(records=[{"remote_id": "U1", "name": "Ann"}], cursor={"done": True})


def test_an_auth_error_mid_run_reports_the_entities_it_kept_from_syncing(store: Store) -> None:
    engine = SyncEngine(store, ExpiringToken("crm", {}))
    with pytest.raises(AuthError):
        engine.run()
    assert [(r.entity, r.status) for r in engine.results] == [
        ("users", "success"), ("accounts", "failed"), ("opportunities", "failed")]
    assert "token has expired" in engine.results[1].error
    assert engine.results[2].error == ("not started: the connection's authentication failed "
                                       "on accounts")


def test_an_auth_error_in_one_connection_leaves_the_others_synced(
        store: Store, tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(store.url, expiring={"type": "files", "path": str(tmp_path)},
                         good={"type": "files", "path": str(write_files(tmp_path / "g"))})
    real_connect = api.connect

    def connect(config: Any, name: str, registry: Any) -> tuple[Connector, Redactor]:
        if name == "expiring":
            return ExpiringToken(name, {}), Redactor()
        return real_connect(config, name, registry)

    monkeypatch.setattr(runs, "connect", connect)
    report = api.sync(config, registry, store=store)
    assert report.status == PARTIAL
    expiring = [(d.entity, d.status) for d in report.details if d.connection == "expiring"]
    assert expiring == [("users", "success"), ("accounts", "failed"),
                        ("opportunities", "failed")]
    assert isinstance(report.connection_errors["expiring"], AuthError)


# -- one sync per connection --------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from crmsync.store.locks import run_lock
    from crmsync.store import Store
    store = Store(sys.argv[1])
    with run_lock(store, sys.argv[2], owner="other-sync:4242:abcd"):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
""")


@pytest.fixture
def holder(store: Store) -> Iterator[Any]:
    """Starts a process holding a lock (name, seconds); killed after the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(name: str, seconds: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, store.url, name, str(seconds)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=30)


def test_a_sync_of_a_held_connection_refuses_as_a_whole_naming_the_holder(
        store: Store, tmp_path: Path, holder: Any) -> None:
    toml = write_toml(tmp_path, store.url, {"crm": str(write_files(tmp_path / "crm"))})
    holder(connection_lock_name("crm"), 600)
    result = CliRunner().invoke(cli, ["--config", str(toml), "sync", "--json"])
    assert result.exit_code == EXIT_LOCKED, result.output
    report = json.loads(result.output)
    assert [(d["entity"], d["status"]) for d in report["details"]] == [
        (WHOLE_CONNECTION, LOCKED)]
    assert report["error"].startswith("sync:crm is locked by other-sync:4242:abcd")
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar() == 0


def test_sync_wait_without_seconds_waits_until_the_connection_is_free(
        store: Store, tmp_path: Path, holder: Any) -> None:
    toml = write_toml(tmp_path, store.url, {"crm": str(write_files(tmp_path / "crm"))})
    holder(connection_lock_name("crm"), 2)
    result = CliRunner().invoke(cli, ["--config", str(toml), "sync", "crm", "--wait"])
    assert result.exit_code == 0, result.output


def test_two_syncs_of_one_connection_never_both_fail_on_each_others_entities(
        store: Store, tmp_path: Path) -> None:
    toml = write_toml(tmp_path, store.url,
                      {"crm": str(write_files(tmp_path / "crm", rows=3000))})
    command = [sys.executable, "-c", "from crmsync.cli import main; main()", "--config",
               str(toml), "sync", "--json"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        outcomes.append((proc.returncode, json.loads(out) if out.strip() else err))
    codes = sorted(code for code, _ in outcomes)
    assert codes in ([0, 0], [0, EXIT_LOCKED]), outcomes
    for code, report in outcomes:
        if code == EXIT_LOCKED:  # refused as a whole, before syncing any entity
            assert [d["entity"] for d in report["details"]] == [WHOLE_CONNECTION]
