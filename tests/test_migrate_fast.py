"""Opening a store at head reads the revision without Alembic; any other store still goes
through Alembic exactly as before (docs/performance.md, "Start-up")."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from crmsync.store import Store
from crmsync.store.migrate import _read_head, alembic_config, head


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    alembics = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert _read_head() == alembics
    assert head() == alembics


def test_opening_a_store_at_head_does_not_import_alembic(empty_store_url: str) -> None:
    Store(empty_store_url).dispose()
    code = ("import sys\nfrom crmsync.store import Store\n"
            f"s = Store({empty_store_url!r})\nprint(s.upgrade(), s.current_revision(), "
            "'alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["[]", head(), "False"]


def test_an_outdated_store_is_migrated_to_head(empty_store_url: str) -> None:
    with Store(empty_store_url, upgrade=False) as store:
        store.upgrade("0009")
        assert store.current_revision() == "0009"
    with Store(empty_store_url, upgrade=False) as store:
        applied = store.upgrade()
        assert applied[0] == "0010" and applied[-1] == head()
        assert store.current_revision() == head()
        assert store.upgrade() == []


def test_a_store_at_an_unknown_revision_is_refused(empty_store_url: str) -> None:
    Store(empty_store_url).dispose()
    with Store(empty_store_url, upgrade=False) as store:
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zz99'"))
        with pytest.raises(CommandError, match="zz99"):
            store.upgrade()
        assert store.current_revision() == "zz99"
