"""``crmsync new connector NAME`` and ``crmsync new metric NAME``: write a ready plugin package
(docs/cli.md, "crmsync new"; docs/tutorial-first-connector.md).

The package is rendered from the templates under ``crmsync/cli/templates/<kind>/`` (shipped
as package data): a pyproject with the ``crmsync`` entry point, the plugin module, tests that
pass out of the box, and a README. Placeholders are ``@NAME@`` (the connector type or metric
name), ``@PACKAGE@``, ``@DIST@``, ``@CLASS@``, ``@TITLE@`` and ``@ENV@``.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # importlib.resources.abc from Python 3.11 on
    from importlib.abc import Traversable

__all__ = ["new", "scaffold", "KINDS"]

#: What ``crmsync new`` can write, and the class-name suffix of each.
KINDS = {"connector": "Connector", "metric": ""}
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_MAX_NAME = 40


def _check_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > _MAX_NAME or keyword.iskeyword(name):
        raise click.BadParameter(
            f"{name!r} is not a plugin name: use lower-case letters, digits and single "
            f"underscores, starting with a letter (at most {_MAX_NAME} characters), "
            f"e.g. acme_crm", param_hint="NAME")
    return name


def placeholders(kind: str, name: str) -> dict[str, str]:
    """The values the templates of ``kind`` are rendered with for ``name``."""
    words = name.split("_")
    return {
        "@NAME@": name,
        "@PACKAGE@": f"crmsync_{name}",
        "@DIST@": f"crmsync-{name.replace('_', '-')}",
        "@CLASS@": "".join(w.capitalize() for w in words) + KINDS[kind],
        "@TITLE@": " ".join(words).capitalize(),
        "@ENV@": name.upper(),
    }


def _render(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def _write_tree(source: Traversable, target: Path, values: dict[str, str]) -> list[Path]:
    written: list[Path] = []
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.name == "__pycache__":
            continue
        name = values["@PACKAGE@"] if item.name == "package" else item.name
        if item.is_dir():
            written += _write_tree(item, target / name, values)
            continue
        path = target / name.removesuffix(".tmpl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(item.read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(path)
    return written


def scaffold(kind: str, name: str, parent: Path) -> tuple[Path, list[Path]]:
    """Write the ``kind`` package for ``name`` under ``parent``; its folder and files.

    :raises click.BadParameter: ``name`` is no valid plugin name.
    :raises click.UsageError: the package's folder exists already.
    """
    values = placeholders(kind, _check_name(name))
    target = parent / values["@DIST@"]
    if target.exists():
        raise click.UsageError(f"{target} already exists: choose another NAME or "
                               f"--directory, or remove it")
    source = resources.files("crmsync.cli") / "templates" / kind
    return target, _write_tree(source, target, values)


@click.group()
def new() -> None:
    """Write a ready plugin package: a connector or a metric."""


def _make(kind: str, name: str, directory: str) -> None:
    target, files = scaffold(kind, name, Path(directory))
    click.echo(f"wrote {target} ({len(files)} files); next:\n"
               f"  cd {target} && pip install -e '.[test]' && pytest")


@new.command()
@click.argument("name")
@click.option("--directory", "-d", default=".", show_default=True,
              type=click.Path(file_okay=False), help="Where to create the package's folder.")
def connector(name: str, directory: str) -> None:
    """A connector package NAME on the connector toolkit, with its tests."""
    _make("connector", name, directory)


@new.command()
@click.argument("name")
@click.option("--directory", "-d", default=".", show_default=True,
              type=click.Path(file_okay=False), help="Where to create the package's folder.")
def metric(name: str, directory: str) -> None:
    """A metric package NAME, with its tests."""
    _make("metric", name, directory)
