"""docs/cli.md at 80 columns: every line of its example blocks fits, and the commands it
shows print, run for real on the demo store at 80 columns and piped, no line longer than 80
and no cut word (``…``)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmsync.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"
WIDTH = 80
#: Documented commands that serve until stopped, or need a CRM to write to.
NOT_RUN = ("scheduler", "dashboard", "worker", "writeback apply", "run")
#: Documented commands that show an error, and their exit code.
FAILING = {"sync hubspt": 2, "metrics show --metric win_rat": 2}


def blocks(text: str) -> list[list[str]]:
    """The fenced code blocks of a Markdown text, as lists of lines."""
    found, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                found.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return found


def documented_commands() -> list[str]:
    """The ``$ crmsync …`` lines of docs/cli.md's examples (human output, not ``--json``)."""
    commands = []
    for block in blocks(DOC.read_text(encoding="utf-8")):
        for line in block:
            m = re.match(r"\$ crmsync (.*)", line)
            if m and "--json" not in m.group(1) and m.group(1).split()[-1:] != ["-h"]:
                args = [a for a in shlex.split(m.group(1)) if a != "-v"]
                if not any(" ".join(args).startswith(n) for n in NOT_RUN):
                    commands.append(m.group(1))
    return list(dict.fromkeys(commands))


def test_every_example_line_of_the_cli_doc_fits_80_columns() -> None:
    long = [(i, line) for block in blocks(DOC.read_text(encoding="utf-8"))
            for i, line in enumerate(block) if len(line) > WIDTH]
    assert not long, long


def test_the_doc_shows_the_main_commands() -> None:
    shown = " ".join(documented_commands())
    for command in ("demo", "init", "check", "sync", "status", "export", "metrics list",
                    "metrics compute", "metrics show", "plugins", "writeback plan",
                    "config show"):
        assert command in shown, command


@pytest.fixture(scope="module")
def demo_workdir(tmp_path_factory):
    """A folder with a crmsync.toml over a demo store (``crmsync demo --store``) with the
    values as of 2026-06-30 the ``report --as-of`` example reads."""
    folder = tmp_path_factory.mktemp("docs80")
    url = "sqlite:///crmsync.db"  # relative: the commands run in ``folder``
    (folder / "crmsync.toml").write_text(
        f'[store]\nurl = "{url}"\n[connections.demo]\ntype = "demo"\n'
        '[metrics]\nperiod = "quarter"\n', encoding="utf-8")
    result = run_in(folder, ["demo", "--store", url, "--report", "r.html"])
    assert result.exit_code == 0, result.output
    as_of = run_in(folder, ["metrics", "compute", "--as-of", "2026-06-30"])
    assert as_of.exit_code == 0, as_of.output
    return folder, result


def run_in(folder: Path, args: list[str]):
    import os

    here = Path.cwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(cli, args, env={"COLUMNS": str(WIDTH),
                                                  "CRMSYNC_CONFIG": str(folder / "crmsync.toml")})
    finally:
        os.chdir(here)


def assert_fits(command: str, stdout: str, stderr: str) -> None:
    long = [line for line in (stdout + stderr).splitlines() if len(line.rstrip()) > WIDTH]
    assert not long, (command, long)
    assert "…" not in stdout, (command, stdout)


@pytest.mark.parametrize("command", documented_commands())
def test_each_documented_command_prints_within_80_columns(command: str, demo_workdir) -> None:
    folder, demo = demo_workdir
    if command.split()[0] == "demo":
        result = demo
    else:
        args = shlex.split(command)
        if args[0] == "init":
            args = [*args, str(folder / "new.toml")]
        result = run_in(folder, args)
        assert result.exit_code == FAILING.get(command, 0), (command, result.output)
    assert_fits(command, result.stdout, result.stderr)
