"""What a finished run left in the store, as the ``crmsync_after_run`` hook sees it."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["RunResults"]


class RunResults(Protocol):
    """Read-only answers about the store after a run (the host implements it)."""

    def below_target(self) -> list[dict[str, Any]]:
        """The latest metric values below their targets, as ``crmsync metrics show
        --below-target --json`` prints them (``metric``, ``dimension``, ``dimension_value``,
        ``value``, ``target``, names and ``n``…)."""
        ...
