"""``crmsync report --html``, ``crmsync demo`` and ``crmsync dashboard`` from a shell: output
piped in an 80-column terminal, the files they write, the host binding rule.

Real child processes (the console script), as a person or a cron job runs them.
"""

from __future__ import annotations

import html
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dashboard_support import (
    CRMSYNC,
    DemoStore,
    cli_env,
    crmsync_cli,
    free_port,
    row_key,
    shown_rows,
    write_config_file,
)

pytest_plugins = ("dashboard_support",)

ANSI = re.compile(r"\x1b\[")
FIGURE = re.compile(r'data-metric="([^"]*)" data-period-start="([^"]*)" data-dimension="([^"]*)" '
                    r'data-dimension-value="([^"]*)" data-value="([^"]*)"')


@pytest.fixture(scope="module")
def env(dashboard_store: DemoStore, tmp_path_factory: pytest.TempPathFactory
        ) -> dict[str, str]:
    """``crmsync`` over the session's demo store, in an 80-column terminal."""
    return cli_env(write_config_file(dashboard_store, tmp_path_factory.mktemp("cli")))


def _fits(text: str, path: Path, columns: int = 80) -> None:
    """No colour codes; every line fits ``columns``, a file path counting as 6 (a path is
    never broken over lines, so only it may make a line wider)."""
    assert not ANSI.search(text), "colour codes in piped output"
    wide = [line for line in text.splitlines()
            if len(line.replace(str(path), "<path>")) > columns]
    assert not wide, f"lines wider than {columns} columns: {wide}"


def _loads_nothing(html: str) -> None:
    """No resource of the page is fetched: scripts and styles are inline."""
    assert not re.search(r"<script[^>]*\ssrc\s*=", html, re.I)
    assert not re.search(r"<link[^>]*\shref\s*=", html, re.I)
    assert not re.search(r"<(img|iframe|source|video|audio)[^>]*\ssrc\s*=\s*[\"']?(?!data:)",
                         html, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", html, re.I)


def test_report_html_writes_one_file_and_says_where_in_80_columns(env, tmp_path,
                                                                  dashboard_store):
    out = tmp_path / "sales report.html"
    result = crmsync_cli("report", "--html", str(out), "--today",
                         dashboard_store.as_of.date().isoformat(), env=env)
    assert result.returncode == 0, result.stderr
    _fits(result.stdout + result.stderr, out)
    assert str(out) in result.stdout
    assert out.stat().st_size > 0
    _loads_nothing(out.read_text(encoding="utf-8"))


def test_report_figures_equal_metrics_show_json(env, tmp_path, dashboard_store):
    out = tmp_path / "q.html"
    result = crmsync_cli("report", "--html", str(out), "--period", "quarter", "--today",
                         dashboard_store.as_of.date().isoformat(), env=env)
    assert result.returncode == 0, result.stderr
    shown = [dict(zip(("metric", "period_start", "dimension", "dimension_value", "value"),
                      (html.unescape(v) for v in m), strict=True))
             for m in FIGURE.findall(out.read_text(encoding="utf-8"))]
    stored: dict[tuple[str, str, str, str], set[str]] = {}
    for dimension in {f["dimension"] or None for f in shown}:
        for period in ("quarter", "all"):
            for row in shown_rows(dashboard_store.config, period=period, dimension=dimension):
                value = "" if row["value"] is None else repr(float(row["value"]))
                stored.setdefault(row_key(row), set()).add(value)
    assert len(shown) > 100
    wrong = [f for f in shown if f["value"] not in stored.get(row_key(f), set())]
    assert not wrong, f"{len(wrong)} of {len(shown)} figures differ from the store: {wrong[:5]}"


def test_report_html_for_one_team_holds_only_that_team(env, tmp_path, dashboard_store):
    team, other = dashboard_store.teams[0], dashboard_store.teams[1]
    out = tmp_path / "team.html"
    result = crmsync_cli("report", "--html", str(out), "--period", "quarter", "--team", team,
                         "--today", dashboard_store.as_of.date().isoformat(), env=env)
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    values = set(re.findall(r'data-dimension="team" data-dimension-value="([^"]*)"', html))
    assert values == {team.replace("&", "&amp;")}
    assert f'data-dimension-value="{other}"' not in html


def test_report_html_with_an_unknown_period_is_a_one_line_error(env, tmp_path):
    result = crmsync_cli("report", "--html", str(tmp_path / "r.html"), "--period", "decade",
                         env=env)
    assert result.returncode == 2
    assert "decade" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_demo_ends_by_writing_the_report_and_printing_its_path(tmp_path):
    report = tmp_path / "demo report.html"
    env = cli_env(tmp_path / "absent.toml")
    result = crmsync_cli("demo", "--report", str(report), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _fits(result.stdout, report)
    last = result.stdout.rstrip().splitlines()[-1]
    assert last.endswith(str(report)), last
    assert report.stat().st_size > 0
    _loads_nothing(report.read_text(encoding="utf-8"))


def test_dashboard_refuses_a_non_loopback_host_without_a_token(env):
    port = free_port()
    result = crmsync_cli("dashboard", "--host", "0.0.0.0", "--port", str(port), env=env,
                         timeout=60)
    assert result.returncode == 2
    assert "--auth-token" in result.stderr and "--no-auth" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with socket.socket() as sock:  # nothing listens there
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_dashboard_serves_the_configured_store_on_loopback(env, tmp_path):
    port = free_port()
    log = tmp_path / "dashboard.log"
    with log.open("w") as err:
        proc = subprocess.Popen([CRMSYNC, "dashboard", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        version = None
        for _ in range(600):
            if proc.poll() is not None:
                break
            try:
                version = httpx.get(f"http://127.0.0.1:{port}/api/version", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert version is not None, log.read_text()
        assert version.status_code == 200
        assert version.json()["computed_at"] is not None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
