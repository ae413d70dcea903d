"""Meta-tests: the documentation in ``docs/`` keeps up with the code.

Every hook, schema table and column, built-in metric, CLI command and built-in connector setting
must be documented where users look for it, and every relative link between pages must resolve.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest

from crmsync.cli import cli
from crmsync.core.schema import metadata
from crmsync.plugin import hookspecs
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync_kpis import BUILTIN_METRICS, FAMILIES

DOCS = Path(__file__).resolve().parent.parent / "docs"
BUILTIN_CONNECTORS = ("files", "demo", "hubspot", "salesforce")

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
_ROW_NAME = re.compile(r"^\|\s*`([^`]+)`\s*\|", re.MULTILINE)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def read_doc(name: str) -> str:
    """A docs page's Markdown without its fenced code blocks."""
    return _FENCE.sub("", (DOCS / name).read_text(encoding="utf-8"))


def sections(text: str, level: int) -> dict[str, str]:
    """The body of every heading of ``level`` (up to the next heading of that level or higher)."""
    found = [(m.start(), m.end(), len(m.group(1)), m.group(2)) for m in _HEADING.finditer(text)]
    out: dict[str, str] = {}
    for i, (_, end, depth, title) in enumerate(found):
        if depth != level:
            continue
        stop = next((s for s, _, d, _ in found[i + 1:] if d <= level), len(text))
        out[title] = text[end:stop]
    return out


def headings(text: str, levels: tuple[int, ...] = (1, 2, 3, 4, 5, 6)) -> list[str]:
    """The titles of the headings of ``levels`` in ``text``."""
    return [m.group(2) for m in _HEADING.finditer(text) if len(m.group(1)) in levels]


def row_names(body: str) -> set[str]:
    """Names in backticks in the first cell of the Markdown table rows of ``body``."""
    return set(_ROW_NAME.findall(body))


# -- hooks ----------------------------------------------------------------------------------------

HOOKSPECS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("crmsync_")]


def hook_signature(name: str) -> str:
    """``name(param: annotation, …) -> annotation`` as written in hookspecs.py."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = []
    for p in sig.parameters.values():
        text = p.name
        if p.annotation is not inspect.Parameter.empty:
            text += f": {p.annotation}"
        if p.default is not inspect.Parameter.empty:
            text += f" = {p.default!r}"
        params.append(text)
    ret = "" if sig.return_annotation is inspect.Signature.empty else \
        f" -> {sig.return_annotation}"
    return f"{name}({', '.join(params)}){ret}"


def rst_to_markdown(text: str) -> str:
    """Docstring inline markup as the docs write it: ``x`` and :class:`x` become `x`."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def test_hookspecs_are_found() -> None:
    assert "crmsync_register_connectors" in HOOKSPECS


@pytest.mark.parametrize("hook", HOOKSPECS)
def test_hook_is_documented_under_its_exact_signature(hook: str) -> None:
    documented = sections(read_doc("plugins.md"), 3)
    heading = f"`{hook_signature(hook)}`"

    assert heading in documented, f"docs/plugins.md needs a heading: ### {heading}"
    summary = rst_to_markdown(inspect.getdoc(getattr(hookspecs, hook)).splitlines()[0])
    assert summary in documented[heading], \
        f"docs/plugins.md: the section of {hook} should start from its docstring: {summary!r}"


# -- schema ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_table_and_every_column_are_documented(table: str) -> None:
    documented = sections(read_doc("schema.md"), 2)

    assert table in documented, f"docs/schema.md needs a heading: ## {table}"
    columns = {c.name for c in metadata.tables[table].columns}
    missing = columns - row_names(documented[table])
    assert not missing, f"docs/schema.md, ## {table}: document columns {sorted(missing)}"


@pytest.mark.parametrize("table", sorted(metadata.tables))
def test_schema_doc_lists_no_column_the_table_lacks(table: str) -> None:
    documented = sections(read_doc("schema.md"), 2)
    columns = {c.name for c in metadata.tables[table].columns}

    extra = row_names(documented.get(table, "")) - columns
    assert not extra, f"docs/schema.md, ## {table}: no such columns {sorted(extra)}"


# -- metrics --------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", [cls.NAME for cls in BUILTIN_METRICS])
def test_builtin_metric_has_a_section(metric: str) -> None:
    family = next(f.__name__.rsplit(".", 1)[1] for f in FAMILIES
                  if any(metric == cls.NAME for cls in f.METRICS))
    titles = headings(read_doc(f"metrics/{family}.md"), levels=(2, 3))

    assert metric in titles, f"docs/metrics/{family}.md needs a heading: ## {metric}"


@pytest.mark.parametrize("metric", [m.NAME for m in BUILTIN_METRICS])
def test_builtin_metric_has_a_test(metric: str) -> None:
    tests = [p for p in Path(__file__).parent.glob("test_*.py")
             if p.name not in ("test_docs.py",)]
    assert any(f'"{metric}"' in p.read_text() for p in tests), \
        f"no test module names the built-in metric {metric!r}"


def test_every_metric_family_has_a_page_linked_from_the_index() -> None:
    index = read_doc("metrics.md")
    for family in FAMILIES:
        name = family.__name__.rsplit(".", 1)[1]
        assert f"(metrics/{name}.md)" in index


# -- CLI ------------------------------------------------------------------------------------------

def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    """``crmsync <path>`` of every command under ``group``, groups included."""
    out = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        out.append(" ".join(("crmsync", *path)))
        if isinstance(command, click.Group):
            out.extend(command_paths(command, path))
    return out


COMMANDS = command_paths(cli)


def test_commands_are_found() -> None:
    assert {"crmsync sync", "crmsync metrics show", "crmsync db upgrade"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_a_section(command: str) -> None:
    titles = headings(read_doc("cli.md"), levels=(3,))

    assert command in titles, f"docs/cli.md needs a heading: ### {command}"


# -- built-in connectors --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(get_plugin_manager())


@pytest.mark.parametrize("connector_type", BUILTIN_CONNECTORS)
def test_builtin_connector_settings_are_documented(registry: Registry,
                                                    connector_type: str) -> None:
    assert connector_type in registry.connectors(), \
        f"no built-in connector '{connector_type}' is registered"
    cls = registry.connector(connector_type)
    page = f"connectors/{connector_type}.md"
    documented = row_names(read_doc(page))

    missing = set(cls.SETTINGS) - documented
    assert not missing, f"docs/{page}: document settings {sorted(missing)} in the settings table"


# -- links ----------------------------------------------------------------------------------------

def slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for title in headings(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


PAGES = sorted(DOCS.rglob("*.md"))


def test_pages_are_found() -> None:
    assert DOCS / "index.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"docs/{page.relative_to(DOCS)}: broken links {broken}"
