"""Browser-test support for the dashboard (docs/dashboard.md): a demo store, the app served by
uvicorn on loopback, and Debian's chromium driven by Playwright.

Loaded as a pytest plugin by the dashboard test modules (``pytest_plugins``). Fixtures:

- ``dashboard_store``: a demo store (SQLite, ``small``) built once per session by
  ``crmsync demo`` (quarter values for the organisation, teams, reps and stages, weekly
  activity, snapshots) plus month values (organisation, team, owner), as of the demo dataset's
  "today", and CRM-sourced names set to :data:`XSS` on one rep, account and deal.
- ``dashboard_server``: the app over that store, served on ``127.0.0.1:<free port>``.
- ``browser``: one headless chromium for the session (``/usr/bin/chromium``; a missing binary
  fails, never skips, the tests).
- ``page``: a fresh browser context and page per test, watched by :class:`PageWatch`: console
  errors, page errors, dialogs and every request URL are recorded; a request whose host is not
  127.0.0.1 is aborted, recorded and fails the test. A failing test leaves a screenshot of its
  page in ``test-artifacts/``.

Its assertions carry their own messages (PYTEST_DONT_REWRITE: the test modules import it before
pytest loads it as a plugin).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from crmsync import api
from crmsync.core.config import Config, ConnectionConfig
from crmsync.plugin.registry import Registry

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("CRMSYNC_TEST_CHROMIUM", "/usr/bin/chromium"))
LOOPBACK = "127.0.0.1"
#: This interpreter's ``crmsync`` console script.
CRMSYNC = str(Path(sys.executable).parent / "crmsync")
#: The name given to one rep, one account and one deal of the demo store: it must render as text.
XSS = "<script>alert(1)</script>"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Every page of the served dashboard (the rep and team pages are added per store).
PAGES = ("/", "/trends", "/leaderboard", "/funnel", "/pipeline", "/activity", "/customers",
         "/data-quality", "/sync")
#: The periods and dimensions computed into the test store (None: the whole organisation).
PERIODS = ("quarter", "month")
DIMENSIONS: tuple[str | None, ...] = (None, "team", "owner")


# -- the store ----------------------------------------------------------------------------------

@dataclass
class DemoStore:
    """A demo store ready for the dashboard."""

    config: Config
    path: Path
    as_of: dt.datetime
    #: The rep, account and deal renamed to :data:`XSS` (remote ids).
    xss_rep: str = ""
    xss_account: str = ""
    xss_deal: str = ""
    #: Team names of the store's users.
    teams: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The store URL."""
        return self.config.store_url


def demo_config(url: str, size: str = "small") -> Config:
    """A configuration with the demo connection over ``url``."""
    return Config(store_url=url, connections={
        "demo": ConnectionConfig(name="demo", type="demo", raw={"type": "demo", "size": size})})


def demo_as_of(registry: Registry) -> dt.datetime:
    """The demo dataset's own "today" (the demo connector's ``as_of`` setting)."""
    return dt.datetime.fromisoformat(registry.connector("demo").SETTINGS["as_of"].default)


def compute_dashboard_metrics(config: Config, registry: Registry, as_of: dt.datetime,
                              periods: tuple[str, ...] = PERIODS,
                              dimensions: tuple[str | None, ...] = DIMENSIONS, *,
                              snapshot: bool = True) -> None:
    """Compute every registered metric the way the dashboard reads them: each period × dimension
    the metric supports, and (``snapshot``) the snapshot metrics (period ``all``) for the
    organisation."""
    metrics = registry.metrics()
    for period in periods:
        for dim in dimensions:
            names = [n for n, m in metrics.items()
                     if period in m.periods and (dim is None or dim in m.dimensions)]
            if names:
                api.compute_metrics(config, registry, names, period=period, dimensions=(dim,),
                                    as_of=as_of, keep_values=False)
    names = [n for n, m in metrics.items()
             if "all" in m.periods and not set(periods) & set(m.periods)]
    if snapshot and names:
        api.compute_metrics(config, registry, names, period="all", as_of=as_of,
                            keep_values=False)


def _top_rep(conn: sa.Connection) -> str:
    """The owner of the most won deals: a rep every leaderboard shows."""
    return conn.execute(sa.text(
        "select owner_id from opportunities where status = 'won' and owner_id is not null "
        "group by owner_id order by count(*) desc, owner_id limit 1")).scalar_one()


def name_records_xss(store: DemoStore) -> None:
    """Rename the top rep, one of that rep's open deals past its close date (listed on the
    rep page as needing attention) and that deal's account to :data:`XSS`."""
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            rep = _top_rep(conn)
            deal, account = conn.execute(sa.text(
                "select remote_id, account_id from opportunities where owner_id = :rep "
                "and status = 'open' and account_id is not null "
                "and expected_close_date < :today "
                "order by expected_close_date, remote_id limit 1"),
                {"rep": rep, "today": store.as_of.date()}).one()
            for table, remote_id in (("users", rep), ("accounts", account),
                                     ("opportunities", deal)):
                conn.execute(sa.text(f"update {table} set name = :name "
                                     "where remote_id = :id"), {"name": XSS, "id": remote_id})
            store.xss_rep, store.xss_account, store.xss_deal = rep, account, deal
            store.teams = sorted(t for (t,) in conn.execute(sa.text(
                "select distinct team from users where team is not null")))
    finally:
        engine.dispose()


def build_demo_store(directory: Path, size: str = "small", *, xss: bool = True) -> DemoStore:
    """``crmsync demo --store`` into ``directory/dashboard.db`` (the quarter values the demo
    computes for the dashboard), plus the month values (:data:`PERIODS`, :data:`DIMENSIONS`):
    the configured ``[metrics] period`` the dashboard opens with."""
    path = directory / "dashboard.db"
    config = demo_config(f"sqlite:///{path}", size)
    registry = Registry()
    demo = api.demo(registry, store_url=config.store_url, size=size, period="quarter")
    store = DemoStore(config=config, path=path, as_of=demo.as_of)
    if xss:
        name_records_xss(store)
    compute_dashboard_metrics(config, registry, demo.as_of,
                              periods=tuple(p for p in PERIODS if p != "quarter"),
                              snapshot=False)
    return store


def copy_store(store: DemoStore, directory: Path) -> DemoStore:
    """A copy of ``store`` in ``directory`` (for tests that change the data)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / store.path.name
    shutil.copyfile(store.path, path)
    return DemoStore(config=demo_config(f"sqlite:///{path}"), path=path, as_of=store.as_of,
                     xss_rep=store.xss_rep, xss_account=store.xss_account,
                     xss_deal=store.xss_deal, teams=list(store.teams))


def shown_rows(config: Config, **filters: Any) -> list[dict[str, Any]]:
    """The rows ``crmsync metrics show --json`` prints (``crmsync.api.metric_report``)."""
    return api.metric_report(config, Registry(), **filters)


def cli_env(config_file: Path, columns: int = 80) -> dict[str, str]:
    """An environment for ``crmsync`` child processes: this config, a terminal ``columns`` wide."""
    env = dict(os.environ, CRMSYNC_CONFIG=str(config_file), COLUMNS=str(columns),
               LINES="50", TERM="dumb")
    env.pop("FORCE_COLOR", None)
    return env


def write_config_file(store: DemoStore, directory: Path) -> Path:
    """A crmsync.toml naming the store and the demo connection."""
    path = directory / "crmsync.toml"
    path.write_text(f'[store]\nurl = "{store.url}"\n\n[connections.demo]\ntype = "demo"\n',
                    encoding="utf-8")
    return path


def crmsync_cli(*args: str, env: dict[str, str], timeout: float = 300,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``crmsync`` (this interpreter's) with ``args``, output piped."""
    return subprocess.run([CRMSYNC, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


# -- the server ---------------------------------------------------------------------------------

def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class ServedApp:
    """An ASGI app served by uvicorn in a background thread on ``127.0.0.1:<free port>``."""

    def __init__(self, app: Any, host: str = LOOPBACK) -> None:
        import uvicorn

        self.port = free_port()
        self.base = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port,
                                                    log_level="warning", lifespan="auto"))
        self.thread = threading.Thread(target=self.server.run, name="dashboard-server",
                                       daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {self.base}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path``."""
        return self.base + path


def serve_dashboard(store: DemoStore, *, auth_token: str | None = None) -> ServedApp:
    """The dashboard app over ``store``, its "today" the demo's (not started: use it as a
    context manager)."""
    from crmsync.dashboard.app import create_app

    return ServedApp(create_app(store.config, Registry(), auth_token=auth_token,
                                as_of=store.as_of.date()))


# -- the browser --------------------------------------------------------------------------------

def install_chromium() -> None:
    """Install Debian's chromium when it is missing and this is root with apt-get, as the
    suite starts a local PostgreSQL that is down: the README's test command sets up what the
    tests need. One test process installs; the others (pytest-xdist workers) wait for it."""
    if CHROMIUM.exists() or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    import fcntl

    with open("/tmp/crmsync-test-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True,
                       env=env, timeout=900)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False,
                       capture_output=True, env=env, timeout=1200)


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """Debian's chromium, headless, through Playwright (never a downloaded browser)."""
    install_chromium()
    if not CHROMIUM.exists():
        pytest.fail(f"chromium is not installed at {CHROMIUM}: the dashboard's browser tests "
                    "need Debian's chromium (apt-get install -y chromium; .ci/run installs it)",
                    pytrace=False)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, **kwargs)


def _allowed(url: str, files: set[str]) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    if parts.scheme == "file":
        return parts.path in files
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname == LOOPBACK


class PageWatch:
    """A page with everything it did recorded; off-host requests are aborted."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.off_host: list[str] = []
        self.failed: list[str] = []
        #: ``file://`` paths the page may load (the static report).
        self.files: set[str] = set()
        context.route("**/*", self._route)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("requestfailed", lambda request: self.failed.append(
            f"{request.url}: {request.failure}"))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if _allowed(url, self.files):
            route.continue_()
        else:
            self.off_host.append(url)
            route.abort("blockedbyclient")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            location = message.location or {}
            self.console_errors.append(f"{message.text} ({location.get('url', '')})")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def goto(self, url: str, **kwargs: Any) -> Any:
        """Navigate and wait for the load event; fail on an HTTP error status."""
        response = self.page.goto(url, wait_until="load", **kwargs)
        if response is not None and response.status >= 400:
            pytest.fail(f"{url} answered {response.status}", pytrace=False)
        return response

    def problems(self) -> list[str]:
        """Console errors, page errors, dialogs and off-host requests so far."""
        return ([f"console error: {e}" for e in self.console_errors]
                + [f"page error: {e}" for e in self.page_errors]
                + [f"dialog: {d}" for d in self.dialogs]
                + [f"request off {LOOPBACK}: {u}" for u in self.off_host])

    def assert_clean(self) -> None:
        """No console error, no page error, no dialog, no request off 127.0.0.1."""
        problems = self.problems()
        assert not problems, "\n".join(problems)


def artefact_name(nodeid: str) -> str:
    """A file name for a test's artefacts."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


def figures(page: Any, selector: str = "[data-metric]") -> list[dict[str, str]]:
    """The KPI figures a page shows: each element's ``data-*`` keys and its visible text."""
    return page.eval_on_selector_all(selector, """els => els.map(e => ({
        metric: e.dataset.metric ?? null, period_start: e.dataset.periodStart ?? null,
        dimension: e.dataset.dimension ?? null,
        dimension_value: e.dataset.dimensionValue ?? null,
        value: e.dataset.value ?? null, text: e.innerText,
        visible: !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length)}))""")


def row_key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """A figure's or a ``metrics show --json`` row's identity, as the data attributes spell it."""
    return (row["metric"], row["period_start"] or "", row["dimension"] or "",
            row["dimension_value"] or "")


# -- fixtures (pytest plugin) -------------------------------------------------------------------

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the item (``item.rep_call``) for the screenshot fixture."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DemoStore:
    """The session's demo store (see the module docstring). Under xdist the first worker to
    ask builds it once for the run, under a lock; each worker gets its own copy."""
    if worker_id == "master":
        return build_demo_store(tmp_path_factory.mktemp("dashboard-store"))
    shared = tmp_path_factory.getbasetemp().parent / "dashboard-store"  # the run's
    shared.mkdir(exist_ok=True)
    described = shared / "store.json"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not described.exists():
            built = build_demo_store(shared)
            described.write_text(json.dumps({
                "as_of": built.as_of.isoformat(), "xss_rep": built.xss_rep,
                "xss_account": built.xss_account, "xss_deal": built.xss_deal,
                "teams": built.teams}), encoding="utf-8")
    known = json.loads(described.read_text(encoding="utf-8"))
    path = shared / "dashboard.db"
    store = DemoStore(config=demo_config(f"sqlite:///{path}"), path=path,
                      as_of=dt.datetime.fromisoformat(known.pop("as_of")), **known)
    return copy_store(store, tmp_path_factory.mktemp("dashboard-store"))


@pytest.fixture(scope="session")
def dashboard_server(dashboard_store: DemoStore) -> Iterator[ServedApp]:
    """The dashboard over the session's store, on loopback, without a token."""
    with serve_dashboard(dashboard_store) as served:
        yield served


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Any]:
    """Playwright's sync API for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Any) -> Iterator[Any]:
    """Headless Debian chromium for the session."""
    browser = launch_chromium(playwright_session)
    yield browser
    browser.close()


def _watched(browser: Any, request: pytest.FixtureRequest,
             viewport: dict[str, int]) -> Iterator[PageWatch]:
    context = browser.new_context(viewport=viewport, service_workers="block")
    context.set_default_timeout(60_000)
    watch = PageWatch(context)
    yield watch
    call = getattr(request.node, "rep_call", None)
    try:
        if call is not None and call.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = artefact_name(request.node.nodeid)
            watch.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.json").write_text(json.dumps({
                "url": watch.page.url, "problems": watch.problems(),
                "requests": watch.requests, "failed": watch.failed}, indent=1))
    finally:
        context.close()
    if watch.off_host:
        pytest.fail("requests left 127.0.0.1:\n" + "\n".join(watch.off_host), pytrace=False)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[PageWatch]:
    """A watched page at 1280×800 (see :class:`PageWatch`)."""
    yield from _watched(browser, request, DESKTOP)


@pytest.fixture
def phone_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[PageWatch]:
    """A watched page at a phone's 390×844."""
    yield from _watched(browser, request, PHONE)
