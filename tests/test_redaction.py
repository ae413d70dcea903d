"""Every secret of every configured connection stays out of everything crmsync writes: the
store (``sync_runs.error``, ``sync_rejects`` reasons and payloads, ``writeback_state.error``),
``status --json``, log lines, error messages and notification payloads — even when one CRM's
error echoes another connection's token."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from crmsync import (
    Batch,
    Connector,
    ConnectorError,
    FieldInfo,
    Reject,
    Setting,
    WriteResult,
    WriteUpdate,
    api,
    hookimpl,
)
from crmsync.api import load_config
from crmsync.cli import cli
from crmsync.core import logs
from crmsync.core.errors import MetricError
from crmsync.core.schema import metadata
from crmsync.orchestration import runs
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from writeback_support import NOW, put_values

FIELD = "crmsync_days_in_current_stage"


class EchoCrm(Connector):
    """A CRM whose every error and reject quotes its own token and the other connection's
    (``echo``): a reject on accounts, a failure on leads, a failed write on every record."""

    NAME = "echocrm"
    ENTITIES = ("accounts", "opportunities", "leads")
    SETTINGS: ClassVar[Mapping[str, Setting]] = {
        "token": Setting(str, "API token", secret=True),
        "echo": Setting(str, "a value to quote in errors", default="")}

    def _quote(self) -> str:
        return f"token={self.settings['token']} other {self.settings['echo']}"

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        if entity == "leads":
            raise ConnectorError(f"401 for {self._quote()}", connection=self.name,
                                 entity=entity)
        if entity == "accounts":
            yield Batch(rejects=[Reject(reason=f"bad name: {self._quote()}", remote_id="A1",
                                        field="name", payload={"note": self._quote()})],
                        cursor={"done": True})
            return
        yield Batch(records=[{"remote_id": rid, "status": "open"} for rid in ("O1", "O2")],
                    cursor={"done": True})

    def fields(self, entity: str) -> list[FieldInfo]:
        return [FieldInfo(name=FIELD, type="number", custom=True, writable=True)]

    def write(self, entity: str, updates: Iterable[WriteUpdate]) -> Iterator[WriteResult]:
        for u in updates:
            yield WriteResult(u.remote_id, ok=False, error=f"INVALID_SESSION_ID {self._quote()}",
                              error_code="INVALID_SESSION_ID", retryable=True)


class Receiver(BaseHTTPRequestHandler):
    """Keeps every POST body."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(body.decode())  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    srv.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Two tokens never seen before in this process (logging's registry is process-wide)."""
    own, other = (f"tok-{uuid.uuid4().hex}", f"tok-{uuid.uuid4().hex}")
    monkeypatch.setenv("CRM_TOKEN", own)
    monkeypatch.setenv("OTHER_TOKEN", other)
    monkeypatch.setenv("ECHO_OTHER", other)
    monkeypatch.setenv("ECHO_OWN", own)
    return own, other


@pytest.fixture
def registry() -> Registry:
    class Plugin:
        @hookimpl
        def crmsync_register_connectors(self) -> list[type[Connector]]:
            return [EchoCrm]

    pm = get_plugin_manager()
    pm.register(Plugin(), name="echocrm-test")
    return Registry(pm)


@pytest.fixture
def setup(tmp_path: Path, tokens: tuple[str, str], webhook: ThreadingHTTPServer,
          monkeypatch: pytest.MonkeyPatch) -> Path:
    """``crm`` echoes ``other``'s token (a value it was not given as a secret) and ``other``
    echoes ``crm``'s; ``crm`` has a write-back mapping; failures are notified."""
    monkeypatch.setenv("HOOK_URL", f"http://127.0.0.1:{webhook.server_address[1]}/hook")
    path = tmp_path / "crmsync.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n\n'
                    '[connections.crm]\ntype = "echocrm"\ntoken = "${CRM_TOKEN}"\n'
                    'echo = "${ECHO_OTHER}"\n\n'
                    '[connections.other]\ntype = "echocrm"\ntoken = "${OTHER_TOKEN}"\n'
                    'echo = "${ECHO_OWN}"\n\n'
                    '[[writeback]]\nmetric = "days_in_current_stage"\nconnection = "crm"\n'
                    'object = "opportunity"\n\n'
                    '[notify]\nwebhook_url = "${HOOK_URL}"\non = ["failure"]\n')
    return path


def invoke(path: Path, registry: Registry, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(path), *args], obj=registry)


def store_text(path: Path) -> str:
    """Every row of every table, as text."""
    store = Store(load_config(path).store_url)
    try:
        with store.engine.connect() as conn:
            return "\n".join(str(tuple(row)) for table in metadata.sorted_tables
                             for row in conn.execute(sa.select(table)))
    finally:
        store.dispose()


def sync_and_write_back(path: Path, registry: Registry, *connections: str) -> list[Result]:
    """``crmsync sync [connections]``, metric values for O1 and O2, then ``crmsync writeback
    apply`` (which fails on every record)."""
    results = [invoke(path, registry, "sync", *connections)]
    store = Store(load_config(path).store_url)
    put_values(store, "days_in_current_stage", {"O1": 1.0, "O2": 2.0})
    store.dispose()
    results.append(CliRunner().invoke(cli, ["--config", str(path), "writeback", "apply",
                                            "--yes"], obj=registry))
    return results


def test_the_echoing_crm_really_stored_rejects_errors_and_write_failures(
        setup: Path, registry: Registry) -> None:
    sync_and_write_back(setup, registry)

    text = store_text(setup)
    assert "bad name: token=*** other ***" in text
    assert "401 for token=*** other ***" in text
    assert "INVALID_SESSION_ID token=*** other ***" in text


@pytest.mark.parametrize("connections", [(), ("crm",)])
def test_no_token_of_any_connection_reaches_the_store(setup: Path, registry: Registry,
                                                      tokens: tuple[str, str],
                                                      connections: tuple[str, ...]) -> None:
    sync_and_write_back(setup, registry, *connections)

    text = store_text(setup)
    assert not [t for t in tokens if t in text]


def test_no_token_reaches_the_command_output_or_status_json(
        setup: Path, registry: Registry, tokens: tuple[str, str]) -> None:
    outputs = [r.output + (r.stderr if r.stderr_bytes is not None else "")
               for r in sync_and_write_back(setup, registry)]
    status = invoke(setup, registry, "status", "--json")

    data = json.loads(status.output)
    assert data["writeback"]["failures"] and data["recent_rejects"]
    assert not [t for t in tokens for out in [*outputs, status.output] if t in out]


def test_no_token_reaches_the_log_lines(setup: Path, registry: Registry,
                                        tokens: tuple[str, str],
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sync_and_write_back(setup, registry, "crm")  # "other" is never used, its token echoed

    lines = "\n".join(logs.HumanFormatter().format(r) for r in caplog.records)
    assert "401 for" in lines
    assert not [t for t in tokens if t in lines]


def test_no_token_reaches_a_notification(setup: Path, registry: Registry,
                                         tokens: tuple[str, str],
                                         webhook: ThreadingHTTPServer) -> None:
    sync_and_write_back(setup, registry, "crm")  # "other" is never used, its token echoed

    bodies = webhook.received  # type: ignore[attr-defined]
    assert [json.loads(b)["kind"] for b in bodies] == ["sync", "writeback"]
    assert not [t for t in tokens for b in bodies if t in b]


def test_status_hides_secrets_in_rows_stored_before_they_were_known(
        setup: Path, registry: Registry, tokens: tuple[str, str]) -> None:
    invoke(setup, registry, "sync")
    config = load_config(setup)
    store = Store(config.store_url)
    with store.engine.begin() as conn:  # as an older crmsync stored them
        conn.execute(sa.text("UPDATE sync_runs SET error = :e"), {"e": f"echo {tokens[0]}"})
        conn.execute(sa.text("UPDATE sync_rejects SET reason = :e"), {"e": f"echo {tokens[1]}"})
    store.dispose()

    data = api.status(config, registry=registry, now=NOW)

    assert {r["error"] for r in data["runs"]} == {"echo ***"}
    assert {r["reason"] for r in data["recent_rejects"]} == {"echo ***"}


@pytest.mark.parametrize("compute", ["compute_metrics", "compute_standard_metrics"])
def test_a_failed_metrics_run_notifies_its_error_without_tokens(
        setup: Path, registry: Registry, tokens: tuple[str, str],
        webhook: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, compute: str) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise MetricError(f"the metric SQL failed near '{tokens[1]}'")

    monkeypatch.setattr(runs.metric_engine, "compute", fail)
    monkeypatch.setattr(runs, "compute_standard", fail)
    with pytest.raises(MetricError):
        getattr(api, compute)(load_config(setup), registry)

    [body] = webhook.received  # type: ignore[attr-defined]
    assert json.loads(body)["status"] == "failed"
    assert "the metric SQL failed near '***'" in body
    assert tokens[1] not in body
