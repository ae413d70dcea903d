"""Benchmark: the dashboard (docs/dashboard.md) over the demo ``medium`` and ``large`` stores.

For each size it prints:

- **time to figures**: from navigation to the overview's KPI figures (``[data-metric]``) visible
  in headless chromium (Debian's ``/usr/bin/chromium`` via Playwright), and to every chart
  drawn; median and max of ``--runs`` cold page loads (a fresh browser context each). Goal:
  < 1 s on ``medium``, < 2 s on ``large``.
- **data requests under load**: ``--clients`` concurrent clients (threads, one ``httpx`` client
  each) request the dashboard's pages and ``/api/version`` in turn; p50, p95 and max latency and
  requests per second.
- **report**: ``crmsync report --html`` wall time and file size (goal < 5 MB on ``medium``).
- **server peak RSS**: ``crmsync dashboard`` runs as a child process; its ``VmHWM`` is read from
  ``/proc/<pid>/status`` after the load, before it is stopped.

The demo store is synced once into ``<workdir>/demo-<size>.db`` (as bench/metrics.py does, in a
directory of its own) and the metrics the dashboard reads are computed once into it (quarter
and month; organisation, team and owner), as of the demo dataset's "today". The per-stage and
per-pipeline splits ``crmsync demo`` also computes are not: the pipeline page shows without
its stage table.

Usage::

    python bench/dashboard.py                   # medium and large
    python bench/dashboard.py --sizes small     # smoke test
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from metrics import sqlite_store  # noqa: E402 (bench/ is the script dir)

CHROMIUM = os.environ.get("CRMSYNC_BENCH_CHROMIUM", "/usr/bin/chromium")
CRMSYNC = str(Path(sys.executable).parent / "crmsync")
PERIODS = ("quarter", "month")
DIMENSIONS = (None, "team", "owner")
#: Pages the load test requests in turn (each with the default filters).
LOAD_PATHS = ("/", "/leaderboard", "/trends", "/pipeline", "/funnel", "/activity",
              "/customers", "/data-quality", "/sync", "/api/version")
GOALS = {"medium": 1.0, "large": 2.0}
REPORT_GOAL_MB = {"medium": 5.0}


# -- the store -----------------------------------------------------------------------------------

def prepare(workdir: Path, size: str) -> tuple[str, Path]:
    """The demo store of ``size`` with the dashboard's metrics, and a crmsync.toml for it."""
    from crmsync import api
    from crmsync.core.config import Config
    from crmsync.plugin.registry import Registry

    url = sqlite_store(workdir, size)
    marker = workdir / f"demo-{size}.dashboard"
    config = Config(store_url=url)
    if not marker.exists():
        registry = Registry()
        as_of = dt.datetime.fromisoformat(registry.connector("demo").SETTINGS["as_of"].default)
        start = time.perf_counter()
        metrics = registry.metrics()
        for period in PERIODS:
            for dim in DIMENSIONS:
                names = [n for n, m in metrics.items()
                         if period in m.periods and (dim is None or dim in m.dimensions)]
                api.compute_metrics(config, registry, names, period=period, dimensions=(dim,),
                                    as_of=as_of, keep_values=False)
        snapshot = [n for n, m in metrics.items()
                    if "all" in m.periods and not set(PERIODS) & set(m.periods)]
        api.compute_metrics(config, registry, snapshot, period="all", as_of=as_of,
                            keep_values=False)
        marker.write_text(f"{time.perf_counter() - start:.1f}")
        print(f"computed the dashboard's metrics in {marker.read_text()} s")
    from crmsync.store import Store

    Store(url).dispose()  # a reused store gets this version's migrations (read-only never does)
    cfg = workdir / f"dashboard-{size}.toml"
    cfg.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    return url, cfg


# -- the server ----------------------------------------------------------------------------------

def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_kib(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` figure in KiB (``VmHWM``: the peak RSS of that process)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for row in f:
            if row.startswith(key + ":"):
                return int(row.split()[1])
    return 0


def start_server(cfg: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``crmsync dashboard`` as a child process; wait until it answers."""
    import httpx

    port = free_port()
    # stderr to a file: an unread pipe fills up and blocks the server on its next log line
    log = cfg.with_suffix(".log")
    with open(log, "wb") as err:
        proc = subprocess.Popen([CRMSYNC, "--config", str(cfg), "dashboard", "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                                stderr=err)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"crmsync dashboard exited {proc.returncode}:\n"
                             f"{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(base + "/api/version", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("crmsync dashboard did not answer within 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child (SIGINT, as Ctrl-C; SIGKILL after 20 s)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- measurements --------------------------------------------------------------------------------

def time_to_figures(base: str, runs: int
                    ) -> tuple[float, list[float], list[float], list[float]]:
    """Seconds from navigation to the KPI figures visible: the first load after the server
    started (its caches cold), then ``runs`` loads to the HTML's first byte, to figures
    visible and to every chart drawn."""
    from playwright.sync_api import sync_playwright

    first, ttfb, figures, charts = 0.0, [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for i in range(runs + 1):  # the first load finds the server's caches cold: apart
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                start = time.perf_counter()
                page.goto(base + "/", wait_until="commit", timeout=600_000)
                page.wait_for_selector("[data-metric][data-value]", state="visible",
                                       timeout=600_000)
                seen = time.perf_counter() - start
                page.wait_for_load_state("load")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.js-plotly-plot')]"
                    ".every(e => e.querySelector('.main-svg'))", timeout=60_000)
                drawn = time.perf_counter() - start
                first_byte = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].responseStart") / 1000
                context.close()
                if i:
                    ttfb.append(first_byte)
                    figures.append(seen)
                    charts.append(drawn)
                else:
                    first = seen
        finally:
            browser.close()
    return first, ttfb, figures, charts


def load(base: str, clients: int, per_client: int
         ) -> tuple[list[tuple[str, float]], float, int]:
    """``clients`` threads each request ``per_client`` URLs in turn; ((path, latency)…, wall,
    errors)."""
    import httpx

    def client(n: int) -> tuple[list[tuple[str, float]], int]:
        times, errors = [], 0
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in range(per_client):
                path = LOAD_PATHS[(n + i) % len(LOAD_PATHS)]
                start = time.perf_counter()
                try:
                    failed = http.get(path).status_code >= 400
                except httpx.TransportError:  # counted, not fatal: the figure says how many
                    failed = True
                times.append((path, time.perf_counter() - start))
                errors += failed
        return times, errors

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    return [t for ts, _ in results for t in ts], wall, sum(e for _, e in results)


def report(cfg: Path, workdir: Path, size: str) -> tuple[float, int]:
    """``crmsync report --html``: (wall seconds, bytes)."""
    out = workdir / f"report-{size}.html"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.run([CRMSYNC, "--config", str(cfg), "report", "--html", str(out)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"crmsync report failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, out.stat().st_size


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def measure(workdir: Path, size: str, runs: int, clients: int, per_client: int) -> None:
    """Every figure for one demo size."""
    print(f"\n== demo '{size}'")
    _, cfg = prepare(workdir, size)
    proc, base = start_server(cfg)
    try:
        first, ttfb, seen, drawn = time_to_figures(base, runs)
        print(f"overview, first load after the server started: {first:.3f} s")
        print(f"overview, navigation → HTML's first byte: median {statistics.median(ttfb):.3f} s")
        goal, median = GOALS.get(size), statistics.median(seen)
        print(f"overview, navigation → figures visible: median {median:.3f} s, "
              f"max {max(seen):.3f} s over {runs} cold loads"
              + (f"   (goal < {goal:.0f} s: {'met' if median < goal else 'MISSED'})"
                 if goal else ""))
        print(f"overview, navigation → every chart drawn: median {statistics.median(drawn):.3f} s,"
              f" max {max(drawn):.3f} s")
        timed, wall, errors = load(base, clients, per_client)
        latencies = [t for _, t in timed]
        print(f"{clients} concurrent clients, {len(latencies)} requests over "
              f"{len(LOAD_PATHS)} URLs: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms, {len(latencies) / wall:.1f} req/s"
              + (f", {errors} ERROR responses" if errors else ""))
        by_path: dict[str, list[float]] = {}
        for path, seconds in timed:
            by_path.setdefault(path, []).append(seconds)
        print("  per URL, p95 ms: " + ", ".join(
            f"{path} {percentile(ts, 0.95) * 1000:.0f}" for path, ts in sorted(
                by_path.items(), key=lambda kv: -percentile(kv[1], 0.95))))
        peak = proc_kib(proc.pid, "VmHWM")
    finally:
        stop_server(proc)
    print(f"server peak RSS (VmHWM): {peak / 1024:.0f} MiB")
    seconds, size_bytes = report(cfg, workdir, size)
    mb = size_bytes / 1e6
    goal_mb = REPORT_GOAL_MB.get(size)
    print(f"crmsync report --html: {seconds:.1f} s, {mb:.2f} MB"
          + (f"   (goal < {goal_mb:.0f} MB: {'met' if mb < goal_mb else 'MISSED'})"
             if goal_mb else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="medium,large",
                        help="comma-separated demo sizes (small, medium, large)")
    parser.add_argument("--runs", type=int, default=7, help="cold page loads timed per size")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir())
                                                  / "crmsync-bench-dashboard"))
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"chromium is not at {CHROMIUM} (apt-get install -y chromium)")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"crmsync dashboard benchmark ({os.cpu_count()} CPUs)")
    for size in args.sizes.split(","):
        measure(workdir, size.strip(), args.runs, args.clients, args.requests)


if __name__ == "__main__":
    main()
