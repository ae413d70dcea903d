"""Running the dashboard with uvicorn, and the bind-address rule (docs/dashboard.md)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import webbrowser

from crmsync.core.config import Config
from crmsync.core.errors import ConfigError
from crmsync.plugin.registry import Registry

__all__ = ["serve", "is_loopback", "check_bind"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, auth_token: str | None, no_auth: bool) -> None:
    """Refuse a non-loopback ``host`` without a token or an explicit ``no_auth``."""
    if auth_token is not None and no_auth:
        raise ConfigError("give either --auth-token or --no-auth, not both")
    if auth_token is not None and not auth_token.strip():
        raise ConfigError("--auth-token must not be empty")
    if not is_loopback(host) and auth_token is None and not no_auth:
        raise ConfigError(f"refusing to serve the dashboard on {host} without "
                          "authentication: anyone who can reach it would see every figure. "
                          "Pass --auth-token TOKEN (requests then need 'Authorization: "
                          "Bearer TOKEN' or ?token=TOKEN), or --no-auth if the network is "
                          "trusted, or bind 127.0.0.1")


def serve(config: Config, registry: Registry, *, host: str = "127.0.0.1", port: int = 8050,
          auth_token: str | None = None, no_auth: bool = False, open_browser: bool = False,
          as_of: dt.date | None = None) -> None:
    """Serve :func:`crmsync.dashboard.create_app` with uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    from crmsync.dashboard.app import create_app

    check_bind(host, auth_token, no_auth)
    app = create_app(config, registry, auth_token=auth_token, as_of=as_of)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"crmsync dashboard on {url} (Ctrl+C to stop)", flush=True)
    if open_browser:
        target = url + (f"?token={auth_token}" if auth_token else "")
        threading.Timer(1.0, webbrowser.open, args=(target,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
