"""Installed-looking third-party plugins for the isolation tests (docs/plugins.md, "Blast
radius"): each is a dist-info with a ``crmsync`` entry point plus its module, written into a
folder that goes on ``sys.path`` (in-process) or ``PYTHONPATH`` (``crmsync`` subprocesses), so
they load exactly as an installed plugin does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CRMSYNC = [sys.executable, "-c", "from crmsync.cli import main; main()"]

#: A healthy plugin: connector ``good`` (users, accounts) and metric ``good_accounts``.
GOOD = """
    import sqlalchemy as sa
    from crmsync import Batch, Connector, Metric, hookimpl

    class Good(Connector):
        NAME = "good"
        ENTITIES = ("users", "accounts")

        def check(self):
            return "good CRM reached"

        def read(self, entity, cursor):
            record = ({"remote_id": "U1", "name": "Ann"} if entity == "users"
                      else {"remote_id": "A1", "name": "Acme"})
            yield Batch(records=[record], cursor={"done": True})

    class GoodAccounts(Metric):
        NAME = "good_accounts"
        title = "Accounts"
        unit = "count"

        def query(self, ctx):
            a = ctx.table("accounts")
            n = sa.func.count()
            return sa.select(sa.null().label("subject_id"), sa.null().label("dimension_value"),
                             sa.null().label("period_start"), n.label("value"),
                             sa.null().label("numerator"), n.label("denominator")
                             ).select_from(a).where(ctx.live(a))

    @hookimpl
    def crmsync_register_connectors():
        return [Good]

    @hookimpl
    def crmsync_register_metrics():
        return [GoodAccounts()]
"""

#: A plugin whose import fails (its vendor SDK is not installed).
IMPORT_FAILS = "import vendor_sdk_that_is_not_installed\n"

#: A plugin whose registration hooks raise.
HOOKS_RAISE = """
    from crmsync import hookimpl

    @hookimpl
    def crmsync_register_connectors():
        raise RuntimeError("vendor SDK missing")

    @hookimpl
    def crmsync_register_metrics():
        raise RuntimeError("metric table missing")
"""

#: A plugin whose connector has bugs: ``check()`` divides by zero, and so does ``read()``
#: for accounts after its first page; its users sync.
BUGGY = """
    from crmsync import Batch, Connector, hookimpl

    class Buggy(Connector):
        NAME = "buggy"
        ENTITIES = ("users", "accounts")

        def check(self):
            return str(1 / 0)

        def read(self, entity, cursor):
            if entity == "users":
                yield Batch(records=[{"remote_id": "U9", "name": "Bob"}], cursor={"p": 1})
                return
            yield Batch(records=[{"remote_id": "A9", "name": "Page one"}], cursor={"p": 1})
            yield Batch(records=[{"remote_id": "A10", "name": str(1 / 0)}])

    @hookimpl
    def crmsync_register_connectors():
        return [Buggy]
"""


def install(site: Path, name: str, source: str) -> str:
    """Write plugin ``name`` (module ``thirdparty_<name>``, distribution
    ``thirdparty-<name>`` 1.0, entry point ``name = thirdparty_<name>``) under ``site``;
    returns the module name."""
    module = f"thirdparty_{name}"
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: thirdparty-{name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[crmsync]\n{name} = {module}\n",
                                           encoding="utf-8")
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return module


def write_config(folder: Path, connections: dict[str, str], extra: str = "") -> Path:
    """A crmsync.toml with a SQLite store in ``folder`` and ``connections`` (name → type),
    in that order."""
    path = folder / "crmsync.toml"
    tables = "".join(f'\n[connections.{n}]\ntype = "{t}"\n' for n, t in connections.items())
    path.write_text(f'[store]\nurl = "sqlite:///store.db"\n{tables}{extra}', encoding="utf-8")
    return path


def crmsync(config: Path, site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the crmsync CLI in a subprocess with ``site`` first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CRMSYNC_CONFIG", "CRMSYNC_DISABLE_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(site), os.environ.get("PYTHONPATH"))))
    env["COLUMNS"] = "200"
    return subprocess.run([*CRMSYNC, "--config", str(config), *args], capture_output=True,
                          text=True, env=env, cwd=config.parent, timeout=300)
