"""What the connector does for survey responses, territories and revenue schedules, besides
the plain object read: the page preparation they need before mapping
(:mod:`crmsync_salesforce.surveys`, :mod:`crmsync_salesforce.territories`,
:mod:`crmsync_salesforce.line_items`) and the accounts read again when their territory
assignments changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crmsync import Batch
from crmsync_salesforce import inputs, line_items, mapping, soql, surveys, territories
from crmsync_salesforce.mapping import MappingContext
from crmsync_salesforce.reader import Page
from crmsync_salesforce.survey_subjects import SUBJECTS, Subjects

if TYPE_CHECKING:  # the connector needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.connector import SalesforceConnector

__all__ = ["Extras", "MAPPERS", "STANDARD_FIELDS", "ALL_MAPPERS", "ALL_STANDARD",
           "ALL_OPTIONAL"]

#: The mappers these features add or replace (an account's mapping adds its territory).
MAPPERS: Mapping[str, Callable[[Mapping[str, Any], MappingContext], dict[str, Any]]] = {
    **surveys.MAPPERS, "Account": territories.account_with_territory,
}
STANDARD_FIELDS: Mapping[str, tuple[str, ...]] = surveys.STANDARD_FIELDS

#: Every object's mapper and fields, for the connector: mapping's, products and line items',
#: quotas and spend's, and survey responses' and territories'.
ALL_MAPPERS = {**mapping.MAPPERS, **line_items.MAPPERS, **inputs.MAPPERS, **MAPPERS}
ALL_STANDARD = {**mapping.STANDARD_FIELDS, **line_items.STANDARD_FIELDS, **inputs.STANDARD_FIELDS,
                **STANDARD_FIELDS}
ALL_OPTIONAL = {**mapping.OPTIONAL_FIELDS, **line_items.OPTIONAL_FIELDS, **inputs.OPTIONAL_FIELDS}


class Extras:
    """Survey and territory handling of one connector (and run)."""

    def __init__(self, connector: SalesforceConnector) -> None:
        self.connector = connector
        self.survey_types = surveys.check_survey_types(
            connector.settings.get("survey_types") or {})
        self.territories = territories.Territories(
            lambda: connector.client, connector.describe, lambda: connector.clock(),
            connector._object_reader)
        self.subjects = Subjects(lambda: connector.catalog.known_count(SUBJECTS))

    def expect(self, obj: str, expected: int | None) -> None:
        """A read of ``obj`` starts; ``expected``: the rows a full read expects (``None``: an
        incremental read)."""
        if obj == surveys.OBJECT:
            self.subjects.expect(expected)

    def prepare(self, obj: str, rows: list[dict[str, Any]]) -> None:
        """Before a page of ``obj`` is mapped: keep the answers that are feedback, find
        survey subjects; put each account's territory in its row; attach line items'
        revenue schedules."""
        c = self.connector
        if obj == surveys.OBJECT:
            surveys.prepare(c.client, rows, self.survey_types, c.describe, self.subjects)
        elif obj == "Account":
            self.territories.prepare(rows)
        elif obj == "OpportunityLineItem" and c.describe(line_items.SCHEDULE) is not None:
            line_items.attach_schedules(c.client, rows)

    def territory_changes(self, state: dict[str, Any], cursor: Any) -> Iterator[Batch]:
        """After the accounts' own read from ``cursor``: the accounts whose territory
        assignments changed, read again (every account when the active model changed, or when
        accounts were read before without territories), then the cursor."""
        c = self.connector
        describe = c.describe("Account")
        if describe is None:
            return
        lookback = dt.timedelta(seconds=int(c.settings["lookback_seconds"]))
        before = dict(cursor or {})
        for ids, after in self.territories.rereads(before, lookback):
            if ids is None:  # a new active model, or territories new: every account again
                state.pop("Account", None)
                yield from c._read_object("accounts", describe, state)
            else:
                fields = c._select_fields(describe)
                ctx = c._context("Account", describe, c.field_map.get("Account", {}))
                for start in range(0, len(ids), soql.IDS_PER_QUERY):
                    where = soql.in_ids("Id", ids[start:start + soql.IDS_PER_QUERY])
                    for rows, source in c._object_reader().rows(describe, fields, where,
                                                                ("Id",)):
                        page = Page(rows=rows, cursor=dict(state), source=source)
                        yield c._batch("Account", page, ctx, dict(state))
            state[territories.CURSOR] = after[territories.CURSOR]
            yield Batch(cursor=dict(state))
