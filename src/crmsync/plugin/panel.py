"""The dashboard panel interface: what ``crmsync_dashboard_panels`` returns (docs/plugins.md).

A panel is a title, the page it appears on and a callable returning rows. The dashboard
renders the rows as a table, every cell escaped: a panel never writes HTML, so a CRM string
in it cannot inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crmsync.core.config import Config
    from crmsync.store import Store

__all__ = ["DashboardPanel", "PanelContext", "PANEL_PAGES"]

#: The built-in pages a panel may join; any other ``page`` becomes a page of its own.
PANEL_PAGES = ("overview", "trends", "leaderboard", "rep", "team", "funnel", "pipeline",
               "activity", "customers", "data-quality", "sync")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class PanelContext:
    """What a panel's ``rows`` callable receives.

    :param config: the configuration (secrets are never to be shown).
    :param store: the store, read-only: run queries on ``store.engine``.
    :param filters: the page's filters as query parameters (``period``, ``team``, ``rep``…).
    :param report_rows: ``report_rows(period, dimension)``: the stored values as the rows
        ``crmsync metrics show --json`` prints.
    :param subject: the rep's id on a rep page, the team on a team page, else ``None``.
    """

    config: Config
    store: Store
    filters: Mapping[str, str]
    report_rows: Callable[[str, str | None], list[dict[str, Any]]]
    subject: str | None = None


@dataclass(frozen=True)
class DashboardPanel:
    """A plugin's panel.

    :param name: unique id (lower-case letters, digits, ``-``).
    :param title: the heading shown.
    :param page: a page of :data:`PANEL_PAGES`, or a new page's slug (listed in the nav).
    :param rows: ``rows(context)`` → a list of mappings (column → value); values are shown
        as text, escaped.
    :param description: one line shown under the title.
    """

    name: str
    title: str
    page: str
    rows: Callable[[PanelContext], Sequence[Mapping[str, Any]]]
    description: str = ""

    def __post_init__(self) -> None:
        for field_name in ("name", "page"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not _SLUG.fullmatch(value):
                raise ValueError(f"dashboard panel {field_name} must be lower-case letters, "
                                 f"digits and '-': {value!r}")
        if not callable(self.rows):
            raise ValueError(f"dashboard panel '{self.name}': rows must be callable")
