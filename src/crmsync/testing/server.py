"""The toolkit test server: a small Pipedrive-shaped REST CRM on loopback, and a ready
:class:`~crmsync.testing.World` for connectors built on the connector toolkit
(docs/toolkit.md, "The test server").

::

    with CrmServer(token="t0ken") as crm:
        connector = MyConnector("test", {"base_url": crm.url, "api_token": "t0ken"})
        deal = crm.create("opportunities", name="Pilot")
        crm.advance(1)
        crm.fail_next(429, retry_after="30")

Its clock starts at 2026-01-05 09:00:00 UTC, stamps changes to the second and moves only on
:meth:`CrmServer.advance`; it is also the ``Date`` header of every answer.
"""

from __future__ import annotations

import datetime as dt
import select
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from crmsync.testing.server_data import ENDPOINTS, CrmData
from crmsync.testing.server_http import ApiFailure, Handler, route

__all__ = ["CrmServer"]

_Action = Callable[[], None]


class CrmServer:
    """A Pipedrive-shaped CRM served on ``127.0.0.1`` from a thread; a
    :class:`~crmsync.testing.World`.

    :param token: the bearer token the API accepts (``Authorization: Bearer <token>``).
    :param seed: start with two users, a pipeline with three stages, two organisations,
        two persons, three deals (one won) and two activities.
    :param rate_limit: the calls allowed per :meth:`advance`-free window, announced in
        ``X-RateLimit-Limit``/``X-RateLimit-Remaining``; past it, calls answer 429.
    :param daily_limit: calls allowed in all; past it, calls answer 429 with
        ``X-Daily-Requests-Left: 0`` (the day's budget is spent).
    :param port: the port to serve on (``0``: a free one).
    """

    #: Schema tables :meth:`create`, :meth:`update` and :meth:`delete` support.
    ENTITIES: tuple[str, ...] = ("accounts", "contacts", "opportunities", "activities")

    def __init__(self, *, token: str = "test-token", seed: bool = True,
                 rate_limit: int = 10_000, daily_limit: int | None = None, port: int = 0
                 ) -> None:
        self.token = token
        self.port = port
        self.data = CrmData()
        self.rate_limit = rate_limit
        self.daily_limit = daily_limit
        #: Every call answered: ``(method, path with query)``.
        self.calls: list[tuple[str, str]] = []
        self._window = 0
        self._failures: list[tuple[int, str | None]] = []
        self._actions: list[list[Any]] = []
        self._lock = threading.RLock()
        self._sockets: set[socket.socket] = set()
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if seed:
            self._seed()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> CrmServer:
        """Serve on a free loopback port from a daemon thread."""
        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._http.daemon_threads = True
        self._http.crm = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,),
                                        daemon=True, name="crmsync-test-crm")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> CrmServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API's base URL (``http://127.0.0.1:PORT/v1``)."""
        if self._http is None:
            raise RuntimeError("the test server is not started: use `with CrmServer() as crm`")
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    @property
    def now(self) -> dt.datetime:
        """The CRM's clock."""
        return self.data.now

    # -- the World protocol ------------------------------------------------------------------

    def create(self, entity: str, **fields: Any) -> str:
        """Create a record from schema columns (others get valid defaults); its id."""
        collection = ENDPOINTS[entity]
        with self._lock:
            values = {**self._defaults(collection), **self.data.crm_values(collection, fields)}
            return str(self.data.add(collection, values)["id"])

    def update(self, entity: str, remote_id: str, **fields: Any) -> Mapping[str, Any]:
        """Change a record (with no ``fields``, something the connector reads); the schema
        columns changed and their new values."""
        collection = ENDPOINTS[entity]
        with self._lock:
            if not fields:
                return self.data.bump(collection, int(remote_id))
            self.data.change(collection, int(remote_id),
                             self.data.crm_values(collection, fields))
            return dict(fields)

    def delete(self, entity: str, remote_id: str, *, hard: bool = False) -> None:
        """Archive a record (still listed, ``deleted: true``) or, ``hard``, remove it and
        list it in ``GET /deleted``."""
        with self._lock:
            self.data.remove(ENDPOINTS[entity], int(remote_id), hard=hard)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (and open a new rate-limit window)."""
        with self._lock:
            self.data.now += dt.timedelta(seconds=seconds)
            self._window = 0

    def fail_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls with ``status`` (and ``Retry-After``)."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def on_next_call(self, action: Callable[[], None], *, skip: int = 0) -> None:
        """Run ``action`` just before answering the call after the next ``skip`` calls."""
        with self._lock:
            self._actions.append([skip, action])

    def value(self, entity: str, remote_id: str, field: str) -> Any:
        """The current value of a CRM field (a custom field by its name or key)."""
        collection = ENDPOINTS[entity]
        with self._lock:
            record = self.data.records[collection][int(remote_id)]
            return record.get(self.data.field_key(collection, field))

    def open_connections(self) -> int:
        """Client connections open now: accepted, and not closed by the client (a peer that
        has closed its end is not counted, even before the server thread notices)."""
        with self._lock:
            sockets = list(self._sockets)
        return sum(1 for sock in sockets if _peer_open(sock))

    def connected(self, sock: socket.socket, is_open: bool) -> None:
        """Called by the handler when a client connection opens and closes."""
        with self._lock:
            if is_open:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    # -- answering --------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any,
               authorization: str | None) -> dict[str, Any]:
        """The JSON answer of one authorised call; raises :class:`ApiFailure` for an error
        answer."""
        with self._lock:
            self.calls.append((method, path + ("?" + "&".join(f"{k}={v}" for k, v in
                                                              sorted(query.items()))
                                               if query else "")))
            self._window += 1
            self._run_actions()
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": retry_after} if retry_after is not None else {}
                raise ApiFailure(status, f"injected HTTP {status}", headers)
            self._check_limits(authorization)
            data, extra = route(self, method, path, query, body)
        out: dict[str, Any] = {"success": True, "data": data}
        if extra is not None:
            out["additional_data"] = extra
        return out

    def quota_headers(self) -> dict[str, str]:
        """The rate-limit headers of every answer."""
        with self._lock:
            left = max(self.rate_limit - self._window, 0)
            return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(left)}

    def _run_actions(self) -> None:
        due = [a for a in self._actions if a[0] == 0]
        self._actions = [a for a in self._actions if a[0] != 0]
        for action in self._actions:
            action[0] -= 1
        for _, action in due:
            action()

    def _check_limits(self, authorization: str | None) -> None:
        if authorization != f"Bearer {self.token}":
            raise ApiFailure(401, "unauthorized access: the access token is invalid")
        if self.daily_limit is not None and len(self.calls) > self.daily_limit:
            raise ApiFailure(429, "the daily request limit is spent",
                             {"X-Daily-Requests-Left": "0"})
        if self._window > self.rate_limit:
            raise ApiFailure(429, "too many requests", {"Retry-After": "2"})

    # -- data ------------------------------------------------------------------------------------

    def _defaults(self, collection: str) -> dict[str, Any]:
        n = self.data.last_id + 1
        users = sorted(self.data.records["users"])
        stages = sorted(self.data.records["stages"])
        owner = users[0] if users else None
        stage = self.data.records["stages"][stages[0]] if stages else {}
        defaults: dict[str, dict[str, Any]] = {
            "organizations": {"name": f"Organisation {n}", "owner_id": owner},
            "persons": {"first_name": "Person", "last_name": str(n),
                        "email": [{"value": f"p{n}@example.com", "primary": True}],
                        "org_id": None, "owner_id": owner},
            "deals": {"title": f"Deal {n}", "value": 1000.0, "currency": "EUR",
                      "status": "open", "stage_id": stage.get("id"),
                      "pipeline_id": stage.get("pipeline_id"), "org_id": None,
                      "user_id": owner, "won_time": None, "lost_time": None,
                      "expected_close_date": None},
            "activities": {"type": "call", "subject": f"Call {n}",
                           "due_date": self.data.now.strftime("%Y-%m-%d"),
                           "due_time": self.data.now.strftime("%H:%M"), "done": False,
                           "user_id": owner, "deal_id": None, "person_id": None,
                           "org_id": None},
        }
        return defaults[collection]

    def _seed(self) -> None:
        from crmsync.testing.server_seed import seed

        seed(self)


def _peer_open(sock: socket.socket) -> bool:
    """Whether the client still holds its end of ``sock`` open (a readable socket that peeks
    no byte has been closed by the peer)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return not readable or sock.recv(1, socket.MSG_PEEK) != b""
    except (OSError, ValueError):  # closed on our side already
        return False
