"""A real PostgreSQL for plugin tests: find (or start) the server, and give each test a fresh
schema dropped afterwards (docs/testing-plugins.md, "Fixtures").

The server is ``$CRMSYNC_TEST_PG`` (default :data:`DEFAULT_URL`: database ``test`` on
``127.0.0.1:5432``, trust authentication). When it is down and ``pg_ctlcluster`` is
installed, the local clusters are started, as crmsync's own test suite does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

__all__ = ["DEFAULT_URL", "server_url", "unreachable", "start_local_clusters", "reachable_server",
           "fresh_schema"]

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The PostgreSQL URL tests use: ``$CRMSYNC_TEST_PG`` or :data:`DEFAULT_URL`."""
    return os.environ.get("CRMSYNC_TEST_PG", DEFAULT_URL)


def unreachable(url: str) -> str | None:
    """Why ``url`` cannot be reached (the driver's first line), or ``None`` when it can."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return None
    except Exception as exc:  # any driver error means "not reachable"
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


def start_local_clusters() -> None:
    """Start the local Debian/Ubuntu PostgreSQL clusters, where ``pg_ctlcluster`` exists."""
    if not shutil.which("pg_ctlcluster"):
        return
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    for version in versions:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                       check=False, capture_output=True, timeout=60)


def reachable_server(url: str, *, wait: float = 30.0) -> str | None:
    """Reach ``url``, starting the local clusters when it is down; ``None`` when it is up,
    else why not."""
    error = unreachable(url)
    if error is None:
        return None
    start_local_clusters()
    deadline = time.monotonic() + wait
    while error is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        error = unreachable(url)
    return error


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL of ``url``'s database whose ``search_path`` is a new schema, dropped on exit."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield scoped.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()
