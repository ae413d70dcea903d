"""Human and JSON log lines, secrets always redacted (crmsync.core.logs)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from crmsync.core import logs


def record(msg: str, *args: object, level: int = logging.WARNING, **extra: object
           ) -> logging.LogRecord:
    rec = logging.LogRecord("crmsync.test", level, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_human_lines_name_level_and_logger() -> None:
    line = logs.HumanFormatter().format(record("synced %d rows", 5))

    assert line == "WARNING crmsync.test: synced 5 rows"


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    data = json.loads(logs.JsonFormatter().format(record("synced %d rows", 5, job="nightly")))

    assert data["level"] == "WARNING"
    assert data["logger"] == "crmsync.test"
    assert data["message"] == "synced 5 rows"
    assert data["job"] == "nightly"
    assert data["time"].endswith("+00:00")


@pytest.mark.parametrize("formatter", [logs.HumanFormatter(), logs.JsonFormatter()])
def test_registered_secrets_are_redacted(formatter: logging.Formatter) -> None:
    logs.register_secrets(["hunter2-registered-secret"])

    line = formatter.format(record("login with %s failed", "hunter2-registered-secret"))

    assert "hunter2-registered-secret" not in line
    assert "login with *** failed" in line


@pytest.mark.parametrize("formatter", [logs.HumanFormatter(), logs.JsonFormatter()])
def test_passwords_in_urls_are_redacted(formatter: logging.Formatter) -> None:
    line = formatter.format(record("broker redis://worker:pa55word@10.0.0.5:6379/0 down"))

    assert "pa55word" not in line
    assert "redis://worker:***@10.0.0.5:6379/0" in line


def test_secret_key_value_pairs_are_redacted() -> None:
    line = logs.redact("retrying with access_token=abc.def.ghi and page=3")

    assert line == "retrying with access_token=*** and page=3"


def test_an_authorization_header_loses_its_scheme_and_token() -> None:
    line = logs.redact("sent Authorization: Bearer eyJhbGciOi.payload.sig to /query")

    assert line == "sent Authorization: *** to /query"


def test_prose_about_passing_is_left_alone() -> None:
    assert logs.redact("3 checks passed: ok") == "3 checks passed: ok"


def test_secret_extras_are_redacted_in_json() -> None:
    data = json.loads(logs.JsonFormatter().format(record("auth", api_key="k-123456")))

    assert data["api_key"] == "***"


def test_tracebacks_are_redacted() -> None:
    logs.register_secrets(["traceback-secret-777"])
    try:
        raise RuntimeError("bad credential traceback-secret-777")
    except RuntimeError:
        rec = logging.LogRecord("crmsync.test", logging.ERROR, __file__, 1, "boom", (),
                                sys.exc_info())

    assert "traceback-secret-777" not in logs.JsonFormatter().format(rec)
    assert "traceback-secret-777" not in logs.HumanFormatter().format(rec)


def test_cli_log_format_json_writes_one_json_object_per_line(tmp_path: Path) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "accounts.csv").write_text("remote_id,name,created_at\na1,Acme,not-a-date\n",
                                         encoding="utf-8")
    toml = tmp_path / "crmsync.toml"
    toml.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[connections.crm]\n'
                    f'type = "files"\npath = "{folder}"\n', encoding="utf-8")

    proc = subprocess.run(
        [sys.executable, "-c", "from crmsync.cli import main; main()", "--config", str(toml),
         "--log-format", "json", "sync", "crm", "--entity", "accounts"],
        capture_output=True, text=True, timeout=120)

    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert lines, proc.stderr
    assert len(lines) == len([x for x in proc.stderr.splitlines() if x.strip()
                              and not x.startswith(("error:", "some records"))])
    assert any(x["level"] == "WARNING" and "rejected crm/accounts record a1" in x["message"]
               for x in lines)
