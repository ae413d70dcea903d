"""The example plugins of docs/examples are real packages: install them and use them.

Both are pip-installed into a temporary folder (never into the running environment) and put on
``PYTHONPATH`` of ``crmsync`` subprocesses, which find them through the ``crmsync`` entry-point
group exactly as they would find any third-party plugin.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
CONNECTOR = EXAMPLES / "crmsync-example-connector"
METRIC = EXAMPLES / "crmsync-example-metric"
CRMSYNC = [sys.executable, "-c", "from crmsync.cli import main; main()"]


def _can_build_without_isolation() -> bool:
    """True when this environment can build the examples' setuptools wheels offline.

    setuptools older than 70.1 needs the separate ``wheel`` package to build wheels.
    """
    if importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    version = tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())
    return version >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding both example plugins, installed with pip (not into the venv)."""
    target = tmp_path_factory.mktemp("example-plugins")
    # Build from copies: setuptools writes build/ and *.egg-info next to the sources.
    sources = tmp_path_factory.mktemp("example-sources")
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    copies = [shutil.copytree(example, sources / example.name, ignore=ignore)
              for example in (CONNECTOR, METRIC)]
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", *isolation, "--quiet",
         "--disable-pip-version-check", "--no-input", "--target", str(target),
         *map(str, copies)],
        capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"pip could not install the examples:\n{done.stdout}\n{done.stderr}")
    return target


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A crmsync.toml with a SQLite store in ``tmp_path`` and one example connection."""
    path = tmp_path / "crmsync.toml"
    path.write_text('[store]\nurl = "sqlite:///store.db"\n\n'
                    '[connections.ex]\ntype = "example_crm"\n\n'
                    '[sync]\nmax_reject_ratio = 0.5\n', encoding="utf-8")
    return path


def crmsync(config: Path, *args: str, site: Path | None) -> subprocess.CompletedProcess[str]:
    """Run the crmsync CLI in a subprocess; ``site`` goes on PYTHONPATH when given."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CRMSYNC_CONFIG", "CRMSYNC_DISABLE_PLUGINS")}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([*CRMSYNC, "--config", str(config), *args], capture_output=True,
                          text=True, env=env, cwd=config.parent, timeout=300)


def ok_json(done: subprocess.CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rows(config: Path, query: str) -> list[tuple]:
    engine = sa.create_engine(f"sqlite:///{config.parent / 'store.db'}")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(query).all()]
    finally:
        engine.dispose()


def by_name(plugins: Sequence[dict]) -> dict[str, dict]:
    return {p["name"]: p for p in plugins}


def test_plugins_lists_both_examples_with_what_they_register(site: Path, config: Path) -> None:
    plugins = by_name(ok_json(crmsync(config, "plugins", "--json", site=site)))

    connector, metric = plugins["example_connector"], plugins["example_metric"]
    assert (connector["status"], connector["distribution"], connector["connectors"],
            connector["hooks"]) == ("ok", "crmsync-example-connector", ["example_crm"],
                                    ["crmsync_register_connectors"])
    assert (metric["status"], metric["distribution"], metric["metrics"], metric["hooks"]) == (
        "ok", "crmsync-example-metric", ["open_pipeline_count"], ["crmsync_register_metrics"])


def test_sync_stores_the_example_crms_records(site: Path, config: Path) -> None:
    report = ok_json(crmsync(config, "sync", "--json", site=site))

    assert report["status"] == "success"
    assert {d["entity"]: d["rows_upserted"] for d in report["details"]} == {
        "users": 2, "accounts": 2, "opportunities": 4}
    assert rows(config, "SELECT remote_id, name FROM users ORDER BY remote_id") == [
        ("u1", "Ada Lovelace"), ("u2", "Grace Hopper")]
    assert rows(config, "SELECT remote_id, status, is_deleted FROM opportunities "
                        "ORDER BY remote_id") == [
        ("d1", "open", 0), ("d2", "won", 0), ("d3", "open", 0), ("d4", "open", 1)]


def test_sync_records_the_unmappable_deal_as_a_reject(site: Path, config: Path) -> None:
    ok_json(crmsync(config, "sync", "--json", site=site))

    assert rows(config, "SELECT connection, entity, remote_id, field FROM sync_rejects") == [
        ("ex", "opportunities", "d5", "stage")]


def test_metric_counts_open_live_opportunities(site: Path, config: Path) -> None:
    ok_json(crmsync(config, "sync", "--json", site=site))
    done = crmsync(config, "metrics", "compute", "--metric", "open_pipeline_count",
                   "--period", "all", site=site)
    assert done.returncode == 0, done.stderr

    values = ok_json(crmsync(config, "metrics", "show", "--metric", "open_pipeline_count",
                             "--period", "all", "--json", site=site))

    assert [(v["metric"], v["period_start"], v["value"], v["denominator"]) for v in values] == [
        ("open_pipeline_count", None, 2.0, 2.0)]


def test_without_the_plugin_the_type_is_unknown(config: Path) -> None:
    done = crmsync(config, "sync", site=None)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "example_crm" in lines[0], \
        done.stderr


@pytest.mark.parametrize("example", [CONNECTOR, METRIC], ids=lambda p: p.name)
def test_the_examples_own_tests_pass(site: Path, tmp_path: Path, example: Path) -> None:
    tests = shutil.copytree(example / "tests", tmp_path / "tests",
                            ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "CRMSYNC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tests)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
