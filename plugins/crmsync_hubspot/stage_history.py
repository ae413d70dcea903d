"""Deal stage history: from ``hs_v2_date_entered/exited_*`` when exact, else batch read.

**Exact without a call.** HubSpot keeps, per stage, when a deal last entered
(``hs_v2_date_entered_<stage>``) and last left it (``hs_v2_date_exited_<stage>``). When these
stays tile the deal's life without a hole — the first begins at ``createdate`` and each ends
when the next begins — they *are* its history (:func:`dated_history`). A stage visited twice
keeps only its latest stay, and the earlier stay leaves a hole in the tiling, so such deals (and
any with missing dates) are read with ``propertiesWithHistory=dealstage`` instead.

HubSpot returns a property's history newest first, as ``{value, timestamp, sourceType,
sourceId, updatedByUserId}``; with ``propertiesWithHistory`` a batch read takes at most 50
inputs (HubSpot caps it). History is read only for the deals the search returned, i.e. those
changed since the entity's cursor. A deal whose history is empty falls back to
``hs_v2_date_entered_<stage id>`` (the time it last entered each stage). A batch read may
answer a requested id with *another* record: the requested deal was merged into it, and its
history is the survivor's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from crmsync_hubspot.mapping import StageIndex, when

__all__ = ["HISTORY_BATCH", "history_records", "fallback_history", "dated_history",
           "read_histories", "read_results"]

#: Batch read's input limit when propertiesWithHistory is asked for.
HISTORY_BATCH = 50


def history_records(deal_id: str, entries: Iterable[Mapping[str, Any]]
                    ) -> list[dict[str, Any]]:
    """One ``opportunity_stage_history`` record per stage change, oldest first.

    ``exited_at`` is the next change's time; consecutive entries with the same stage (a
    re-save) are merged into one stay.
    """
    ordered = sorted((e for e in entries if e.get("value") and e.get("timestamp")),
                     key=lambda e: when(e, "timestamp") or 0)
    stays: list[dict[str, Any]] = []
    for entry in ordered:
        if stays and stays[-1]["stage_id"] == str(entry["value"]):
            continue
        entered = when(entry, "timestamp")
        if stays:
            stays[-1]["exited_at"] = entered
        assert entered is not None
        stays.append({
            "remote_id": f"{deal_id}:{int(entered.timestamp() * 1000)}",
            "opportunity_id": deal_id, "stage_id": str(entry["value"]),
            "entered_at": entered, "exited_at": None,
            "changed_by": str(entry["updatedByUserId"]) if entry.get("updatedByUserId")
            else None,
            "remote_created_at": entered, "remote_updated_at": entered,
        })
    return stays


#: Tolerance between createdate and the first stage's entry, and between one stay's exit and the
#: next entry (HubSpot writes them in one update, a few milliseconds apart at most).
TILE_TOLERANCE_MS = 1000


def dated_history(deal: Mapping[str, Any], stages: StageIndex) -> list[dict[str, Any]] | None:
    """The history from the date entered/exited properties, or ``None`` when they cannot be
    trusted (a hole, a missing date) and the full history must be read."""
    props = deal.get("properties") or {}
    created = when(props, "createdate")
    current = props.get("dealstage")
    stays = []
    for stage_id in stages.stages:
        entered = when(props, f"hs_v2_date_entered_{stage_id}")
        if entered is not None:
            stays.append((entered, when(props, f"hs_v2_date_exited_{stage_id}"), stage_id))
    if created is None or not stays or not current:
        return None
    stays.sort(key=lambda s: s[0])
    tolerance = TILE_TOLERANCE_MS / 1000
    if abs((stays[0][0] - created).total_seconds()) > tolerance or stays[-1][2] != current:
        return None
    for (_, exited, _), (next_entered, _, _) in itertools.pairwise(stays):
        if exited is None or abs((next_entered - exited).total_seconds()) > tolerance:
            return None
    deal_id = str(deal["id"])
    return [{"remote_id": f"{deal_id}:{int(entered.timestamp() * 1000)}",
             "opportunity_id": deal_id, "stage_id": stage_id, "entered_at": entered,
             "exited_at": stays[k + 1][0] if k + 1 < len(stays) else None, "changed_by": None,
             "remote_created_at": entered, "remote_updated_at": entered}
            for k, (entered, _, stage_id) in enumerate(stays)]


def fallback_history(deal: Mapping[str, Any], stages: StageIndex) -> list[dict[str, Any]]:
    """History from ``hs_v2_date_entered_<stage>`` properties when no history came back."""
    props = deal.get("properties") or {}
    entries = [{"value": stage_id, "timestamp": props[f"hs_v2_date_entered_{stage_id}"]}
               for stage_id in stages.stages
               if props.get(f"hs_v2_date_entered_{stage_id}")]
    return history_records(str(deal["id"]), entries)


def read_histories(batch_read: Callable[[list[str]], list[dict[str, Any]]],
                   deal_ids: Sequence[str]
                   ) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """``{requested id: (id answered, dealstage history entries)}``, 50 ids per call; the id
    answered differs from the requested one when the deal was merged into another.

    :param batch_read: one batch-read call with ``propertiesWithHistory=["dealstage"]``,
        returning its ``results``.
    """
    return {wanted: (rid, (result.get("propertiesWithHistory") or {}).get("dealstage") or [])
            for wanted, (rid, result) in read_results(batch_read, deal_ids).items()}


def read_results(batch_read: Callable[[list[str]], list[dict[str, Any]]],
                 deal_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{requested id: (id answered, result)}`` of batch reads, 50 ids per call (a merged id
    is answered by its survivor)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for start in range(0, len(deal_ids), HISTORY_BATCH):
        chunk = list(deal_ids[start:start + HISTORY_BATCH])
        for result in batch_read(chunk):
            rid = str(result["id"])
            props = result.get("properties") or {}
            merged = {m.strip() for m in str(props.get("hs_merged_object_ids") or "").split(";")}
            for wanted in chunk:  # a merged id is answered by its survivor
                if wanted == rid or wanted in merged:
                    out[wanted] = (rid, result)
    return out
