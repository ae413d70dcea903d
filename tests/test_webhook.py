"""The crmsync_webhook notifier against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import make_config
from crmsync import Batch, Connector, CrmsyncError, Setting, api, hookimpl
from crmsync.api import load_config
from crmsync.core.config import Config
from crmsync.core.errors import ConfigError, ConnectorError, QuotaExhausted
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync_webhook.settings import NOTIFY, NotifyConfig

TOKEN = "tok-s3cr3t-value-123"
HOOK_PATH = "/services/T000/B000/hook-credential-xyz"


class Receiver(BaseHTTPRequestHandler):
    """Records every POST body; answers 200 (or the server's ``status``)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"],  # type: ignore
                                     json.loads(body)))
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    srv.received = []  # type: ignore[attr-defined]
    srv.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def hook_url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{HOOK_PATH}"


class Scripted(Connector):
    """Fails, stops on the quota or succeeds as its ``mode`` says; its error quotes its token."""

    NAME = "scripted"
    ENTITIES = ("accounts",)
    SETTINGS: ClassVar[dict[str, Setting]] = {
        "token": Setting(str, "API token", secret=True),
        "mode": Setting(str, "ok, fail or quota", default="ok")}

    def read(self, entity: str, cursor: Any) -> Iterator[Batch]:
        mode = self.settings["mode"]
        if mode == "fail":
            raise ConnectorError(f"token {self.settings['token']} was rejected",
                                 connection=self.name, entity=entity)
        if mode == "quota":
            raise QuotaExhausted("daily API budget spent", connection=self.name, entity=entity)
        yield Batch(records=[{"remote_id": "a1", "name": "Acme"}], cursor={"done": True})


class ScriptedPlugin:
    @hookimpl
    def crmsync_register_connectors(self) -> list[type[Connector]]:
        return [Scripted]


@pytest.fixture
def notifying(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry of the built-in plugins (the webhook included) plus the scripted CRM."""
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    pm = get_plugin_manager()
    pm.register(ScriptedPlugin(), name="scripted")
    return Registry(pm)


def config_for(store_url: str, srv: ThreadingHTTPServer, mode: str,
               on: tuple[str, ...] = ("failure", "quota", "below_target")) -> Config:
    cfg = make_config(store_url, crm={"type": "scripted", "token": "${CRM_TOKEN}",
                                      "mode": mode})
    cfg.sections["notify"] = NotifyConfig(webhook_url=hook_url(srv), on=on)
    return cfg


def test_a_failed_sync_posts_a_slack_style_payload(sqlite_store: Any, server: Any,
                                                   notifying: Registry) -> None:
    api.sync(config_for(sqlite_store.url, server, "fail"), notifying, store=sqlite_store)

    [(path, ctype, payload)] = server.received
    assert path == HOOK_PATH
    assert ctype == "application/json"
    assert payload["events"] == ["failure"]
    assert payload["text"].startswith(":x: crmsync sync: failed")
    assert "crm/accounts: failed" in payload["text"]


def test_the_payload_never_holds_a_secret_or_the_webhook_url(sqlite_store: Any, server: Any,
                                                            notifying: Registry) -> None:
    api.sync(config_for(sqlite_store.url, server, "fail"), notifying, store=sqlite_store)

    raw = json.dumps(server.received[0][2])
    assert TOKEN not in raw
    assert "hook-credential-xyz" not in raw
    assert "token *** was rejected" in raw


def test_a_quota_stop_posts_a_quota_event(sqlite_store: Any, server: Any,
                                          notifying: Registry) -> None:
    api.sync(config_for(sqlite_store.url, server, "quota"), notifying, store=sqlite_store)

    [(_, _, payload)] = server.received
    assert payload["events"] == ["quota"]
    assert payload["status"] == "stopped: api quota"


def test_a_successful_sync_posts_nothing_by_default(sqlite_store: Any, server: Any,
                                                   notifying: Registry) -> None:
    api.sync(config_for(sqlite_store.url, server, "ok"), notifying, store=sqlite_store)

    assert server.received == []


def test_success_is_posted_when_asked_for(sqlite_store: Any, server: Any,
                                          notifying: Registry) -> None:
    api.sync(config_for(sqlite_store.url, server, "ok", on=("success",)), notifying,
             store=sqlite_store)

    assert [p["events"] for _, _, p in server.received] == [["success"]]


def test_an_unreachable_webhook_is_logged_without_its_url_and_the_run_goes_on(
        sqlite_store: Any, notifying: Registry, caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config(sqlite_store.url, crm={"type": "scripted", "token": "${CRM_TOKEN}",
                                             "mode": "fail"})
    cfg.sections["notify"] = NotifyConfig(webhook_url=f"http://127.0.0.1:9{HOOK_PATH}", timeout=2)

    report = api.sync(cfg, notifying, store=sqlite_store)

    assert report.status == "failed"
    assert "notification webhook unreachable" in caplog.text
    assert "hook-credential-xyz" not in caplog.text


def test_an_http_error_answer_is_logged(sqlite_store: Any, server: Any, notifying: Registry,
                                        caplog: pytest.LogCaptureFixture) -> None:
    server.status = 500

    api.sync(config_for(sqlite_store.url, server, "fail"), notifying, store=sqlite_store)

    assert "notification webhook answered HTTP 500" in caplog.text


# -- [notify] ---------------------------------------------------------------------------------


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "crmsync.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_notify_reads_the_url_from_the_environment(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example.com/x")
    path = write(tmp_path, '[notify]\nwebhook_url = "${SLACK_WEBHOOK_URL}"\non = ["failure"]\n')

    notify = NOTIFY.get(load_config(path))

    assert notify == NotifyConfig(webhook_url="https://hooks.example.com/x", on=("failure",))
    assert "hooks.example.com" not in repr(notify)


@pytest.mark.parametrize(("body", "key"), [
    ('[notify]\nwebhook_url = "https://hooks.example.com/x"\n', "webhook_url"),
    ('[notify]\nwebhook_url = "${SLACK_WEBHOOK_URL}"\non = ["fire"]\n', "on"),
    ('[notify]\nwebhook_url = "${SLACK_WEBHOOK_URL}"\ntimeout = 0\n', "timeout"),
    ('[notify]\nwebhook_url = "${SLACK_WEBHOOK_URL}"\nchannel = "#x"\n', "channel"),
])
def test_a_bad_notify_table_is_an_error_naming_the_key(tmp_path: Path, body: str, key: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example.com/x")
    path = write(tmp_path, body)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}, [notify], key '{key}'")


def test_a_failed_write_back_posts_a_failure(sqlite_store: Any, server: Any,
                                             notifying: Registry) -> None:
    from crmsync.writeback.mapping import WritebackMapping

    cfg = config_for(sqlite_store.url, server, "ok")
    cfg.sections["writeback"] = [WritebackMapping(number=1, metric="no_such_metric",
                                                  connection="crm", object="opportunity")]
    with pytest.raises(CrmsyncError):
        api.writeback_apply(cfg, notifying, store=sqlite_store)

    [(_, _, payload)] = server.received
    assert payload["events"] == ["failure"]
    assert payload["text"].startswith(":x: crmsync write-back: failed")
    assert "unknown metric 'no_such_metric'" in payload["text"]


# -- every kind of report: sync, metrics, write-back and the three of ``crmsync run`` ---------


@pytest.fixture
def memcrm() -> Any:
    """The in-memory write-back CRM (tests/writeback_support.py) with five opportunities."""
    from writeback_support import Crm

    crm = Crm()
    crm.records["opportunities"] = {rid: {} for rid in ("O1", "O2", "O3", "O4", "O5")}
    return crm


@pytest.fixture
def wb_registry(memcrm: Any) -> Registry:
    """The built-in plugins (the webhook included) plus the in-memory write-back CRM."""
    from writeback_support import connector_class, registry_with

    return registry_with(connector_class(memcrm))


def writeback_config(store: Any, srv: ThreadingHTTPServer, on: tuple[str, ...]) -> Config:
    from writeback_support import config_with

    cfg = config_with(store, {"metric": "days_in_current_stage", "object": "opportunity",
                              "create_field": True})
    cfg.sections["notify"] = NotifyConfig(webhook_url=hook_url(srv), on=on)
    return cfg


@pytest.fixture
def opps(sqlite_store: Any) -> Any:
    from writeback_support import put_records, put_values

    put_records(sqlite_store, "opportunities", ["O1", "O2", "O3", "O4", "O5"])
    put_values(sqlite_store, "days_in_current_stage",
               {"O1": 1.0, "O2": 2.0, "O3": 3.0, "O4": 4.0, "O5": 5.0})
    return sqlite_store


def test_a_successful_write_back_posts_what_it_sent(opps: Any, server: Any,
                                                    wb_registry: Registry) -> None:
    from writeback_support import NOW

    api.writeback_apply(writeback_config(opps, server, ("success",)), wb_registry,
                        store=opps, now=NOW, sleep=lambda s: None)

    [(_, _, payload)] = server.received
    assert payload["events"] == ["success"]
    assert payload["text"].splitlines() == [
        ":white_check_mark: crmsync write-back: success",
        "1 mappings: 5 values sent, 0 failed, 0 parked, 0 missing in the CRM"]
    assert payload["summary"] == {"writeback": {"mappings": 1, "sent": 5, "failed": 0,
                                                "parked": 0, "missing": 0}}


def test_a_write_back_with_failed_values_posts_each_mapping_and_error_code(
        opps: Any, server: Any, wb_registry: Registry, memcrm: Any) -> None:
    from writeback_support import NOW

    memcrm.fail["O2"] = ("UNABLE_TO_LOCK_ROW", True)
    del memcrm.records["opportunities"]["O3"]

    report = api.writeback_apply(writeback_config(opps, server, ("failure",)), wb_registry,
                                 store=opps, now=NOW, sleep=lambda s: None)

    assert report.status == "failed"
    [(_, _, payload)] = server.received
    assert payload["events"] == ["failure"]
    assert payload["text"].splitlines()[2:] == [
        "1 mappings: 3 values sent, 1 failed, 0 parked, 1 missing in the CRM",
        "• crm/opportunity.crmsync_days_in_current_stage (days_in_current_stage): "
        "1 failed, 1 missing — ENTITY_IS_DELETED ×1, UNABLE_TO_LOCK_ROW ×1"]


def test_a_metrics_run_posts_the_values_it_stored(sqlite_store: Any, server: Any,
                                                  notifying: Registry) -> None:
    api.compute_metrics(config_for(sqlite_store.url, server, "ok", on=("success",)), notifying,
                        ["win_rate"], store=sqlite_store)

    [(_, _, payload)] = server.received
    assert payload["kind"] == "metrics"
    assert payload["text"].splitlines()[0] == ":white_check_mark: crmsync metrics computation: " \
        "success"
    stored = payload["details"][0]["values"]
    assert payload["summary"] == {"metrics": {"values": stored, "skipped": 0}}
    assert payload["text"].splitlines()[1] == f"{stored} metric values stored"


def test_a_sync_payload_sums_what_every_entity_did(sqlite_store: Any, server: Any,
                                                   notifying: Registry) -> None:
    api.sync(config_for(sqlite_store.url, server, "ok", on=("success",)), notifying,
             store=sqlite_store)

    [(_, _, payload)] = server.received
    assert payload["summary"] == {"sync": {"entities": 1, "rows_read": 1, "rows_upserted": 1,
                                           "rows_deleted": 0, "rejects": 0}}
    assert "1 entities: 1 rows read, 1 stored, 0 deleted, 0 rejected" in payload["text"]


def test_crmsync_run_posts_its_sync_metrics_and_write_back_reports(
        opps: Any, server: Any, wb_registry: Registry) -> None:
    from writeback_support import NOW

    result = api.run(writeback_config(opps, server, ("success",)), wb_registry, store=opps,
                     now=NOW)

    assert result.ok
    kinds = [p["kind"] for _, _, p in server.received]
    assert kinds == ["sync", "metrics", "writeback"]
    assert all(p["events"] == ["success"] for _, _, p in server.received)
    assert "1 mappings: " in server.received[2][2]["text"]
