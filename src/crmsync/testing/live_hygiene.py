"""Contract tests on what a connector leaves behind: no secret in an error, a reject, the
store or the log, and nothing open after ``close()`` (docs/testing-plugins.md, "Secrets and
close()")."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from crmsync.core.errors import ConnectorError
from crmsync.core.schema import sync_rejects, sync_runs
from crmsync.plugin.connector import Connector
from crmsync.testing.live_base import LiveContractBase, StoreFactory
from crmsync.testing.live_support import raised_by, read_all, texts_of
from crmsync.testing.world import World

__all__ = ["HygieneContract"]


def _secret_values(connector: Connector) -> list[str]:
    values = [str(connector.settings.get(k) or "") for k in connector.secret_settings()]
    return [v for v in values if v]


def _exception_texts(exc: BaseException | None) -> list[str]:
    if exc is None:
        return []
    return [str(exc), repr(exc), *texts_of(exc.args), *texts_of(vars(exc).values())]


class HygieneContract(LiveContractBase):
    """Secrets never leave the connector; ``close()`` releases what it opened."""

    def _failures(self, world: World, connector: Connector, entity: str
                  ) -> dict[str, list[str]]:
        """Texts of the errors ``check()`` and ``read()`` raise on 401, 403, 429 and 500."""
        texts: dict[str, list[str]] = {}
        for status in (401, 403, 429, 500):
            world.fail_next(status, retry_after="1" if status == 429 else None)
            texts[f"read() on HTTP {status}"] = _exception_texts(
                raised_by(lambda: read_all(connector, entity)))
            world.fail_next(status)
            texts[f"check() on HTTP {status}"] = _exception_texts(raised_by(connector.check))
        return texts

    def _stored(self, world: World, connector: Connector, entity: str,
                new_store: StoreFactory) -> dict[str, list[str]]:
        """Texts the engine stores (without a redactor) when syncs fail and reject."""
        store = new_store()
        world.fail_next(500, times=2)
        self.run_engine(store, connector, entity, attempts=2)
        world.fail_next(401)
        self.run_engine(store, connector, entity)
        self.run_engine(store, connector, entity)
        with store.engine.connect() as conn:
            runs = [str(r.error) for r in conn.execute(sa.select(sync_runs.c.error))]
            rejects = [json.dumps(dict(r._mapping), default=str)
                       for r in conn.execute(sa.select(sync_rejects))]
        return {"sync_runs.error": runs, "sync_rejects": rejects}

    def test_secrets_stay_out_of_errors_rejects_store_and_log(
            self, world: World, connector: Connector, entities: tuple[str, ...],
            new_store: StoreFactory, caplog: pytest.LogCaptureFixture) -> None:
        """No secret setting's value is in any error ``check()``/``read()`` raise, any
        reject, anything the engine stores or any log line (the host redacts what it knows,
        but an encoded or shortened secret slips past it)."""
        secrets = _secret_values(connector)
        if not secrets:
            pytest.skip("the connector has no secret settings")
        caplog.set_level("DEBUG")
        entity = self.first(entities)
        world.create(entity)
        self.settle(world)
        texts = self._failures(world, connector, entity)
        for name in entities:
            rejects = read_all(connector, name).rejects
            texts[f"{name} rejects"] = [json.dumps([r.reason, r.payload], default=str)
                                        for r in rejects]
        texts.update(self._stored(world, connector, entity, new_store))
        texts["log"] = [caplog.text]
        leaks = sorted({where for where, found in texts.items()
                        for text in found for secret in secrets if secret in text})
        assert not leaks, f"a secret setting's value appears in: {', '.join(leaks)}"

    def test_close_releases_the_connection(self, world: World, connector: Connector,
                                           entities: tuple[str, ...]) -> None:
        """After ``close()`` (twice: it is idempotent) the world sees no open connection
        where it can tell, and reading again either reopens and reads the same records or
        raises a ``ConnectorError`` — never another exception."""
        entity = self.first(entities)
        world.create(entity)
        self.settle(world)
        before = sorted(read_all(connector, entity).latest)
        connector.close()
        connector.close()
        open_connections: Any = getattr(world, "open_connections", None)
        if callable(open_connections):
            assert open_connections() == 0, (
                f"after close() the CRM still sees {open_connections()} open connections")
        try:
            after = sorted(read_all(connector, entity).latest)
        except ConnectorError:
            return  # fails cleanly
        except Exception as exc:
            raise AssertionError(f"reading after close() raised {type(exc).__name__}: {exc}; "
                                 f"reopen, or raise a ConnectorError") from exc
        finally:
            connector.close()
        assert after == before, "reading after close() returned other records than before"
