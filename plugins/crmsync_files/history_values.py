"""The values of an ``opportunity_field_history`` file, in the history's one text encoding.

``old_value`` and ``new_value`` are text in the store whatever the field (docs/history.md):
amounts and probabilities as Python float text (``12500.0``). A file may write a number as
a JSON number (``12500``) or as CSV text without the ``.0``; both become ``12500.0`` here, so
the history compares equal to what crmsync writes itself. A value that is not a plain number
is passed on as written, for the reader of the history to judge.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

from crmsync import Batch

__all__ = ["NUMERIC_FIELDS", "history_text", "normalised_history"]

#: The tracked fields whose values are numbers.
NUMERIC_FIELDS = frozenset({"amount", "probability"})


def history_text(value: Any, numeric: bool) -> Any:
    """``value`` of a numeric field as float text when it is a plain number, else as is."""
    if not numeric or value is None or isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return repr(number) if math.isfinite(number) else value


def _normalised(record: Mapping[str, Any]) -> Mapping[str, Any]:
    if record.get("field") not in NUMERIC_FIELDS:
        return record
    return {**record, **{key: history_text(record[key], True)
                         for key in ("old_value", "new_value") if key in record}}


def normalised_history(batches: Iterator[Batch]) -> Iterator[Batch]:
    """``batches`` of history records, their numeric values in float text."""
    for batch in batches:
        yield dataclasses.replace(batch, records=[_normalised(r) for r in batch.records])
