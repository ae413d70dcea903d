"""Meta-tests: the documentation in ``docs/`` keeps up with the code.

Every hook, schema table and column, built-in metric, CLI command and built-in connector setting
must be documented where users look for it, and every relative link between pages must resolve.
The examples cannot drift either: every ```toml block parses and, when it is crmsync
configuration, loads (connections resolved against their connector's settings); every
``crmsync …`` command line names real commands and options. A fence preceded by
``<!-- docs-test: skip -->`` is not checked, one preceded by ``<!-- docs-test: parse-only -->``
is only parsed (docs/contributing.md#documentation). Code comments cite repo docs only.
"""

from __future__ import annotations

import inspect
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from crmsync import api
from crmsync.cli import cli
from crmsync.core.schema import metadata
from crmsync.plugin import hookspecs
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync_kpis import BUILTIN_METRICS, FAMILIES

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
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


# -- examples: TOML -------------------------------------------------------------------------------

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: A fenced block, indented or not: (indent, fence, info string, body).
_BLOCK = re.compile(r"^([ \t]*)(```|~~~)([^\n]*)\n(.*?)^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
_MARK = re.compile(r"<!--\s*docs-test:\s*([\w-]+)\s*-->\s*$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CONFIG_SECTIONS = {"store", "connections", "metrics", "targets", "writeback", "schedule", "notify",
                   "sync", "celery", "coach", "trends", "themes"}
DOC_FILES = [*sorted(DOCS.rglob("*.md")), REPO / "README.md"]


class Block:
    """One fenced block of a docs page."""

    def __init__(self, page: Path, line: int, lang: str, body: str, mark: str | None) -> None:
        self.page, self.line, self.lang, self.body, self.mark = page, line, lang, body, mark

    def __repr__(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """Every fenced block of ``page``, with the docs-test mark on the line before it."""
    text = page.read_text(encoding="utf-8")
    for m in _BLOCK.finditer(text):
        indent = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        body = "\n".join(row[len(indent):] if row.startswith(indent) else row
                         for row in m.group(4).splitlines())
        yield Block(page, line, m.group(3).strip().split(" ")[0], body,
                    mark.group(1) if mark else None)


TOML_BLOCKS = [b for page in DOC_FILES for b in blocks(page)
               if b.lang == "toml" and b.mark != "skip"]


def test_toml_examples_are_found() -> None:
    assert len(TOML_BLOCKS) >= 15
    assert any("max_row_lines" not in b.body and "connect_timeout" in b.body
               for b in TOML_BLOCKS), "the indented [connections.sf] example is not found"


def with_named_connections(data: dict[str, object]) -> str:
    """For a fragment without ``[connections]``: a demo connection for every connection its
    ``[[writeback]]`` mappings name, so the fragment loads on its own."""
    if "connections" in data or not isinstance(data.get("writeback"), list):
        return ""
    names = {m["connection"] for m in data["writeback"]
             if isinstance(m, dict) and isinstance(m.get("connection"), str)}
    return "".join(f'\n[connections.{name}]\ntype = "demo"\n' for name in sorted(names))


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=repr)
def test_toml_example_parses_and_loads(block: Block, registry: Registry, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        data = tomllib.loads(block.body)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{block}: not valid TOML: {exc}")
    if block.mark == "parse-only":
        return
    unknown = set(data) - CONFIG_SECTIONS
    assert not unknown, (f"{block}: {sorted(unknown)} is not crmsync configuration; mark the "
                         "block <!-- docs-test: parse-only --> if it is not meant to load")
    for name in _ENV.findall(block.body):
        monkeypatch.setenv(name, "https://hooks.example.com/T0/B0" if name.endswith("URL")
                           else f"example-{name.lower()}")
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "crmsync.toml"
    path.write_text(block.body + with_named_connections(data), encoding="utf-8")

    config = api.load_config(path)

    for connection in config.connections.values():
        assert connection.type in registry.connectors(), \
            f"{block}: no connector of type {connection.type!r}"
        connection.resolve(registry.connector(connection.type))


# -- examples: command lines ----------------------------------------------------------------------

_INLINE = re.compile(r"`(crmsync\s[^`]+)`")
_SHELL = ("sh", "shell", "bash", "console")
_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")


def command_lines(page: Path) -> Iterator[tuple[str, str]]:
    """``(where, command)`` for every ``crmsync …`` command a page shows: lines of shell blocks
    and ``$ crmsync …`` lines of output blocks, and inline code spans in the prose."""
    text = page.read_text(encoding="utf-8")
    for block in blocks(page):
        if block.mark == "skip":
            continue
        for offset, row in enumerate(block.body.splitlines(), start=1):
            row = row.strip()
            if block.lang not in _SHELL and not row.startswith("$ "):
                continue
            for part in _SEPARATORS.split(row.removeprefix("$ ")):
                part = re.split(r"\s#", part)[0].strip()
                if part.startswith("crmsync "):
                    yield f"{block.page.relative_to(REPO)}:{block.line + offset}", part
    prose = _BLOCK.sub("", text)
    for m in _INLINE.finditer(prose):
        yield f"{page.relative_to(REPO)}: `{m.group(1)}`", " ".join(m.group(1).split())


def _option(command: click.Command, name: str) -> click.Parameter | None:
    if name in ("--help", "-h"):
        return click.Option(["--help"], is_flag=True)
    return next((p for p in command.params if isinstance(p, click.Option)
                 and name in (*p.opts, *p.secondary_opts)), None)


def command_error(line: str) -> str | None:
    """Why ``line`` does not name real commands and options (None when it does). Words in
    CAPITALS are placeholders; ``…`` ends the check."""
    words = shlex.split(line)[1:]
    if words and not re.match(r"[a-z-]", words[0]):
        return None  # not a command: `crmsync HOST:PID:…` names a lock holder
    command: click.Command = cli
    path = ["crmsync"]
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("…", "...") or word.startswith("["):
            return None
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            option = _option(command, name)
            if option is None:
                return f"`{' '.join(path)}` has no option {name}"
            takes_value = not (isinstance(option, click.Option) and (option.is_flag
                                                                     or option.count))
            i += 2 if takes_value and "=" not in word else 1
            continue
        if isinstance(command, click.Group):
            sub = command.commands.get(word)
            if sub is None:
                return f"`{' '.join(path)}` has no command {word!r}"
            command = sub
            path.append(word)
        i += 1
    return None


COMMAND_LINES = [c for page in DOC_FILES for c in command_lines(page)]


def test_command_lines_are_found() -> None:
    found = {line for _, line in COMMAND_LINES}
    assert "crmsync demo" in found
    assert "crmsync metrics compute --period quarter --by team" in found
    assert command_error("crmsync metrics compute --perod quarter") is not None
    assert command_error("crmsync metrix show") is not None


@pytest.mark.parametrize(("where", "line"), COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_documented_command_line_names_real_commands_and_options(where: str, line: str) -> None:
    error = command_error(line)

    assert error is None, f"{where}: {line}: {error}"


# -- rationale in the repo ------------------------------------------------------------------------

#: Citations of documents a contributor who clones the repo cannot see (spelt so that this
#: file does not match itself).
_OUTSIDE = re.compile("|".join([r"design\.md", "vendor-notes", r"house\s+style", r"\.\./shared",
                                r"/tmp/briefs"]), re.IGNORECASE)


def test_code_cites_only_docs_in_the_repo() -> None:
    found = []
    for folder in ("src", "plugins", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == Path(__file__).resolve():
                continue
            for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if _OUTSIDE.search(row):
                    found.append(f"{path.relative_to(REPO)}:{n}: {row.strip()}")
    assert not found, ("cite a docs/*.md page (or state the reason) instead of documents outside "
                       "the repo:\n" + "\n".join(found))
