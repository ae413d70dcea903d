"""The ``date_format`` setting: dates and timestamps a spreadsheet wrote its own way.

A file whose dates read ``03/15/2025`` sets ``date_format = "%m/%d/%Y"`` (a
:func:`~datetime.datetime.strptime` format). For each date and timestamp column of the table,
a value that is not ISO 8601 is parsed with that format and passed on in ISO 8601; a value
that is neither is rejected naming the field, the format and an example of it
(``docs/connectors/files.md#dates``).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from crmsync import SYNCED_TABLES
from crmsync_files.row_readers import SourceRow

__all__ = ["DateColumns"]

_EXAMPLE = dt.datetime(2025, 3, 15, 13, 45)


class DateColumns:
    """Converts the date and timestamp cells of one table's rows (see the module docstring).

    :param table: the synced table.
    :param date_format: the strptime format of the file's non-ISO dates.
    """

    def __init__(self, table: str, date_format: str) -> None:
        self.date_format = date_format
        self.example = _EXAMPLE.strftime(date_format)
        columns = SYNCED_TABLES[table].columns
        #: column name -> True for a date column, False for a timestamp column
        self.columns = {c.name: not isinstance(c.type, sa.DateTime) for c in columns
                        if isinstance(c.type, (sa.Date, sa.DateTime))}

    def convert(self, row: SourceRow) -> SourceRow:
        """``row`` with its non-ISO dates in ISO 8601, or a reject naming the first field
        that is in neither form."""
        values = row.values
        changed: dict[str, str] | None = None
        for name, is_date in self.columns.items():
            value = values.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            try:
                dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                continue  # ISO 8601 already
            except ValueError:
                pass
            try:
                parsed = dt.datetime.strptime(value.strip(), self.date_format)
            except ValueError:
                return row._replace(raw=values, field=name, problem=(
                    f"{value!r} is neither ISO 8601 (e.g. 2025-03-15) nor in the file's "
                    f"date_format {self.date_format!r} (e.g. {self.example})"))
            changed = changed or {}
            changed[name] = parsed.date().isoformat() if is_date else parsed.isoformat()
        if changed is None:
            return row
        return row._replace(values={**values, **changed})
