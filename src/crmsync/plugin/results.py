"""What a finished run left in the store, as the ``crmsync_after_run`` hook sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["RunResults"]


class RunResults(Protocol):
    """Read-only answers about the store after a run (the host implements it)."""

    def below_target(self) -> list[dict[str, Any]]:
        """The latest metric values below their targets, as ``crmsync metrics show
        --below-target --json`` prints them (``metric``, ``dimension``, ``dimension_value``,
        ``value``, ``target``, names and ``n``…)."""
        ...

    def alerts(self, run_ids: Sequence[str],
               kinds: Sequence[str] = ("below_target", "anomaly")) -> list[dict[str, Any]]:
        """The alerts of the metric runs ``run_ids`` (a metrics report's ``details[*].run_id``)
        not sent yet: for each metric, period kind and dimension of those runs, the values of
        the latest ended period below their target (``kind`` ``below_target``) or outside
        their baseline band (``anomaly``), each with ``metric``, ``title``, ``unit``,
        ``period_label``, ``dimension``, ``label`` (the rep or team by name), ``value``,
        ``target`` (the trailing median for an anomaly), ``band_low``, ``band_high``, ``n``
        and ``key`` (docs/trends.md, "Notifications").

        .. versionadded:: 0.1
        """
        ...

    def mark_sent(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Remember that ``alerts`` were sent: :meth:`alerts` leaves them out until their
        value or target changes.

        .. versionadded:: 0.1
        """
        ...
