"""Every ```python block of the plugin guides runs, and what it defines is exercised.

The blocks of one page run in order in one module (a later block may use an earlier one's
names), in a scratch working directory. Then:

- every ``Metric`` subclass the page defines is computed with ``crmsync.testing.compute_metric``
  on a store holding the demo CRM, for the whole organisation (which must give values) and by
  each dimension it offers;
- every ``Connector`` subclass is created the way the host does, from ``validate_settings`` of
  sample settings;
- the page's hook implementations are registered next to the installed plugins and called
  through the registry; a declared dimension that ``applies_to`` metrics is computed for them.

A block that cannot run says why on the line before its fence (docs/contributing.md,
"Documentation"):

- ``<!-- docs-test: excerpt PATH -->``: the block quotes the file ``PATH`` (repo-relative);
  its lines, but for ``...`` lines, must appear there in order and indented alike, so the
  excerpt cannot drift from code the test suite runs;
- ``<!-- docs-test: no-run — REASON -->``: not run, for the reason given (keep these rare).
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from crmsync import Connector, Dimension, Metric, api
from crmsync.core import config as config_module
from crmsync.core.config import Config, ConnectionConfig, MetricsConfig
from crmsync.metrics import compute
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync.store import Store
from crmsync.testing import compute_metric
from test_docs import DOCS, REPO, Block, blocks

#: The plugin guides whose Python blocks run. More pages are appended here as they are written
#: (toolkit.md, testing-plugins.md, tutorial-first-connector.md).
PAGES = ["writing-a-connector.md", "writing-a-metric.md", "plugins.md", "toolkit.md",
         "testing-plugins.md", "tutorial-first-connector.md"]

_EXCERPT = re.compile(r"<!--\s*docs-test:\s*excerpt\s+(\S+)\s*-->\s*$")
_NO_RUN = re.compile(r"<!--\s*docs-test:\s*no-run\b\s*[—:-]?\s*(.*?)\s*-->\s*$")
_SAMPLE = {str: "example", int: 1, float: 1.0, bool: True, list: [], dict: {}}


def _mark(block: Block) -> str:
    """The line before the block's fence."""
    lines = block.page.read_text(encoding="utf-8").splitlines()
    return lines[block.line - 2] if block.line >= 2 else ""


def python_blocks(page: str) -> list[Block]:
    """The ```python blocks of a docs page."""
    return [b for b in blocks(DOCS / page) if b.lang == "python"]


def runnable(page: str) -> list[Block]:
    return [b for b in python_blocks(page)
            if not (_EXCERPT.search(_mark(b)) or _NO_RUN.search(_mark(b)))]


EXCERPTS = [b for page in PAGES for b in python_blocks(page) if _EXCERPT.search(_mark(b))]
NO_RUN = [b for page in PAGES for b in python_blocks(page) if _NO_RUN.search(_mark(b))]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store holding the small demo CRM."""
    url = f"sqlite:///{tmp_path_factory.mktemp('docs-code') / 'demo.db'}"
    config = Config(store_url=url, connections={"demo": ConnectionConfig(
        name="demo", type="demo", raw={"type": "demo", "size": "small"})})
    report = api.sync(config, Registry())
    assert report.status == "success", report.error
    store = api.open_store(config)
    yield store
    store.dispose()


def run_page(page: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> types.ModuleType:
    """Run the page's runnable blocks in order in one module; a failure names the block."""
    module = types.ModuleType(f"docs_{Path(page).stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    # a page may define a configuration section: forget it afterwards
    monkeypatch.setattr(config_module, "_REGISTRY", dict(config_module._REGISTRY))
    monkeypatch.chdir(tmp_path)
    for block in runnable(page):
        code = compile(block.body, repr(block), "exec")
        try:
            exec(code, module.__dict__)  # the docs' own examples
        except Exception as exc:
            pytest.fail(f"{block!r}: {type(exc).__name__}: {exc}")
    return module


def defined(module: types.ModuleType, base: type) -> list[Any]:
    """The subclasses of ``base`` the page defines (not imported ones)."""
    return [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, base)
            and v is not base and v.__module__ == module.__name__]


def sample_settings(cls: type[Connector]) -> dict[str, Any]:
    """A value for every required setting: its first choice, or one of its type."""
    out: dict[str, Any] = {}
    for name, spec in cls.SETTINGS.items():
        if spec.required:
            kind = spec.type[0] if isinstance(spec.type, tuple) else spec.type
            out[name] = spec.choices[0] if spec.choices else _SAMPLE[kind]
    return out


def exercise_metric(store: Store, metric: Metric, declared: dict[str, Dimension]) -> None:
    """Compute ``metric`` for the organisation (values wanted) and by every dimension it
    offers (none skipped)."""
    period = "all" if "all" in metric.periods else metric.periods[0]
    assert compute_metric(store, metric, period=period), \
        f"{metric.NAME}: no value for the organisation over the demo CRM"
    offered = [d for d in metric.dimensions if d != "custom"]
    offered += [d.name for d in metric.declared_dimensions]
    result = compute(store, [metric], MetricsConfig(), period=period, dimensions=offered,
                     declared=declared)
    assert not result.skipped, f"{metric.NAME}: {result.skipped}"


@pytest.mark.parametrize("page", PAGES)
def test_the_python_blocks_of_the_page_run(page: str, demo_store: Store,
                                           monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    module = run_page(page, monkeypatch, tmp_path)
    pm = get_plugin_manager()
    if any(name.startswith("crmsync_") for name in vars(module)):
        pm.register(module, name=module.__name__)
        pm.check_pending()  # a misspelled hook or argument fails here
    registry = Registry(pm)
    declared = registry.dimensions()
    for metric_cls in defined(module, Metric):
        exercise_metric(demo_store, metric_cls(), declared)
    for connector_cls in defined(module, Connector):
        settings = connector_cls.validate_settings(sample_settings(connector_cls))
        connector = connector_cls("docs", settings)
        assert connector.name == "docs" and set(settings) == set(connector_cls.SETTINGS)
    registry.connectors()  # the page's registration hooks run and their results check out
    registry.dashboard_panels()
    registry.register_commands(click.Group())
    for dim in declared.values():
        for name in dim.applies_to:
            metric = registry.metric(name)
            period = "all" if "all" in metric.periods else "year"  # revenue_growth: no "all"
            result = compute(demo_store, [metric], MetricsConfig(),
                             period=period, dimensions=(dim.name,), declared=declared)
            assert result.values and not result.skipped, f"{name} by {dim.name}: {result}"


def test_every_guide_has_python_blocks_that_run() -> None:
    for page in PAGES:
        assert runnable(page), f"docs/{page}: no ```python block runs"


@pytest.mark.parametrize("block", NO_RUN, ids=repr)
def test_a_block_that_does_not_run_says_why(block: Block) -> None:
    match = _NO_RUN.search(_mark(block))
    assert match and len(match.group(1).split()) >= 3, \
        f"{block!r}: <!-- docs-test: no-run — REASON --> needs a reason"


@pytest.mark.parametrize("block", EXCERPTS, ids=repr)
def test_an_excerpt_matches_the_file_it_quotes(block: Block) -> None:
    match = _EXCERPT.search(_mark(block))
    assert match
    source = REPO / match.group(1)
    assert source.is_file(), f"{block!r}: no file {match.group(1)}"
    quoted = [row for row in block.body.splitlines()
              if row.strip() and not row.strip().startswith("...")]
    lines = source.read_text(encoding="utf-8").splitlines()
    position, indent = 0, None
    for row in quoted:
        for i in range(position, len(lines)):
            shift = len(lines[i]) - len(lines[i].lstrip()) - (len(row) - len(row.lstrip()))
            if lines[i].strip() == row.strip() and (indent is None or shift == indent):
                position, indent = i + 1, shift
                break
        else:
            pytest.fail(f"{block!r}: {row.strip()!r} is not in {match.group(1)} (in this "
                        "order and indentation): update the excerpt")


@pytest.mark.parametrize("page, base", [("writing-a-connector.md", Connector),
                                        ("writing-a-metric.md", Metric)])
def test_the_guides_define_what_is_exercised(page: str, base: type,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    assert defined(run_page(page, monkeypatch, tmp_path), base)
