"""The README's two set-up commands, tested end to end.

The first installs crmsync and runs ``crmsync demo``: its ``crmsync demo`` part runs here for
real, through the installed ``crmsync`` entry point in a subprocess with a fresh HOME and
working directory. The second installs the test extra and runs the suite: ``.ci/run`` must run
exactly that command (docs/contributing.md).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
CI = REPO / ".ci" / "run"

_SECTION = "## Set-up on a fresh machine"
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: KPIs the demo must print (names short enough never to be wrapped or abbreviated).
PRINTED = ("Win rate",)
#: KPIs the demo's HTML report must name.
REPORTED = ("Win rate", "Average deal size", "Sales cycle (median days)")


def setup_commands() -> list[str]:
    """The commands of the README's set-up section, one per ```sh block."""
    text = README.read_text(encoding="utf-8")
    start = text.index(_SECTION) + len(_SECTION)
    end = text.find("\n## ", start)
    section = text[start:end if end != -1 else len(text)]
    blocks = [body.strip() for body in _SH_BLOCK.findall(section)]
    assert all("\n" not in b for b in blocks), f"a set-up block holds more than one line: {blocks}"
    return blocks


def steps(command: str) -> list[str]:
    """The ``&&``-separated steps of a shell command line."""
    return [step.strip() for step in command.split("&&")]


def test_the_readme_has_exactly_two_setup_commands() -> None:
    commands = setup_commands()

    assert len(commands) == 2, commands
    assert steps(commands[0])[-1] == "crmsync demo"
    assert steps(commands[1])[-1] == "pytest"
    assert "pip install -e '.[test]'" in steps(commands[1])


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    test_command = setup_commands()[1]
    lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]

    assert commands[-1] == test_command, \
        f".ci/run ends with {commands[-1]!r}, the README's test command is {test_command!r}"
    assert sum(test_command in line for line in commands) == 1


def entry_point() -> Path:
    """The ``crmsync`` console script installed next to this interpreter."""
    script = Path(sys.executable).parent / "crmsync"
    assert script.is_file(), f"no installed crmsync entry point at {script}"
    return script


@pytest.mark.slow
def test_the_readmes_demo_command_runs_and_writes_its_report(tmp_path: Path) -> None:
    demo = steps(setup_commands()[0])[-1]
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path), "COLUMNS": "80"}
    for name in ("CRMSYNC_CONFIG", "CRMSYNC_DISABLE_PLUGINS"):
        env.pop(name, None)

    done = subprocess.run([str(entry_point()), *shlex.split(demo)[1:]], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"Synced [\d,]+ demo records", out), out
    assert "KPI" in out
    for kpi in PRINTED:
        assert kpi in out, f"the KPI table lacks {kpi!r}:\n{out}"
    paths = re.findall(r"(/\S+\.html)\s*$", out, re.MULTILINE)
    assert paths, f"no report path printed:\n{out}"
    report = Path(paths[-1])
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    for kpi in REPORTED:
        assert kpi in html, f"the HTML report lacks {kpi!r}"
    assert not list(work.iterdir()), "the demo left files in the working directory"
