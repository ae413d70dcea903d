"""Loading a vendor SDK that comes with an extra (docs/writing-a-connector.md, "An SDK as an
optional extra"; docs/toolkit.md, "Vendor SDKs").

A plugin must load (and ``crmsync plugins`` list it) without its SDK; only the code that
talks to the CRM imports it, and a missing SDK is one line saying what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from crmsync.core.errors import ConfigError

__all__ = ["load_sdk"]

T = TypeVar("T")


def load_sdk(load: Callable[[], T], *, packages: Collection[str], missing: str) -> T:
    """``load()`` (a function importing the module that uses the SDK and returning what the
    connector needs), turning an ``ImportError`` of one of ``packages`` (top-level package
    names) into :class:`~crmsync.ConfigError` ``missing``; any other ``ImportError`` is a
    bug and propagates."""
    try:
        return load()
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] in packages:
            raise ConfigError(missing) from None
        raise
