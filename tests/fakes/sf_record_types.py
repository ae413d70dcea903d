"""Record types and business processes of the fake Salesforce org, and describe layouts.

Behind ``Dataset(record_types=True)``; the objects RecordType (``012``) and BusinessProcess
(``019``) exist in every org, as in Salesforce, with no rows when the option is off (and then
nothing else changes: Opportunity has no RecordTypeId and describe lists the Master record type
only).

On: two sales processes, "Enterprise Sales" (every stage) and "Renewals" (Qualification,
Proposal/Price Quote, Negotiation/Review, Closed Won, Closed Lost); Opportunity record types
"New Business" (the default) and "Upsell" (Enterprise Sales) and "Renewal" (Renewals), and an
Account record type "Partner" (no process). Opportunity and Account get ``RecordTypeId``
(accounts keep null: the Master record type); opportunity ``j`` has null when ``j % 10 == 0``,
else one of the three by hash, and its stages — StageName and its OpportunityHistory rows —
stay within its process (a Renewal's open steps map onto the process's open stages).

``describe/layouts/`` answers Salesforce's DescribeLayoutResult: one minimal layout, a
``recordTypeMappings`` entry per record type plus Master with the picklist values each allows
(``picklistsForRecordType``), and ``recordTypeSelectorRequired``.
"""

from __future__ import annotations

import threading
from typing import Any

from .sf_data_sales import STAGES, standard_fields
from .sf_ids import DAY, make_id, parse_id
from .sf_query import ApiError
from .sf_schema import F, Field, ObjectSpec, describe_field

__all__ = ["RecordTypeObjects", "RecordTypeDescribe", "PROCESSES", "RECORD_TYPES",
           "MASTER_ID", "record_type_infos"]

MASTER_ID = "012000000000000AAA"
#: (Name, Description, stage indexes into STAGES).
PROCESSES = [("Enterprise Sales", "New business and upsell deals", tuple(range(len(STAGES)))),
             ("Renewals", "Contract renewals", (1, 6, 7, 8, 9))]
#: (Name, DeveloperName, SobjectType, business process index or None, default).
RECORD_TYPES = [("New Business", "New_Business", "Opportunity", 0, True),
                ("Upsell", "Upsell", "Opportunity", 0, False),
                ("Renewal", "Renewal", "Opportunity", 1, False),
                ("Partner", "Partner", "Account", None, True)]
_OPPORTUNITY_TYPES = (0, 1, 2)


class RecordTypeObjects:
    """The RecordType and BusinessProcess specs and the opportunities' record types (a mixin
    of the dataset builder; expects ``ds``, ``start``, ``rnd``, ``ref`` and ``dates``)."""

    ds: Any
    start: int
    rnd: Any
    ref: Any
    dates: Any

    def opp_record_type(self, j: int) -> int | None:
        """Index into RECORD_TYPES of opportunity ``j``'s record type (None: Master)."""
        if not self.ds.record_types or j % 10 == 0:
            return None
        return _OPPORTUNITY_TYPES[self.rnd(9, j) % len(_OPPORTUNITY_TYPES)]

    def process_stages(self, j: int, stages: list[int]) -> list[int]:
        """``stages`` (indexes into STAGES) kept within opportunity ``j``'s sales process."""
        rt = self.opp_record_type(j)
        process = RECORD_TYPES[rt][3] if rt is not None else None
        if process is None or process == 0:
            return stages
        allowed = PROCESSES[process][2]
        open_ = [s for s in allowed if not STAGES[s][2]]
        return [s if STAGES[s][2] else open_[min(s, len(open_) - 1)] for s in stages]

    def record_type_field(self) -> list[Field]:
        """``[RecordTypeId]`` with the option on, else nothing."""
        return [F("RecordTypeId", "reference", reference_to=("RecordType",))] \
            if self.ds.record_types else []

    def _setup_stamp(self, i: int) -> int:
        return self.start - 80 * DAY + i * 60

    def business_process(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, description, _ = PROCESSES[i]
            stamp = self._setup_stamp(i)
            return {"Id": self.ref("BusinessProcess", i), "Name": name,
                    "Description": description, "IsActive": True,
                    "TableEnumOrId": "Opportunity", **self.dates(stamp, stamp)}
        fields = standard_fields(F("Name", "string"), F("Description", "string"),
                                 F("IsActive", "boolean"),
                                 F("TableEnumOrId", "picklist", picklist=("Opportunity",)),
                                 deleted=False)
        return ObjectSpec("BusinessProcess", "019", "Business Process", "Business Processes",
                          fields, len(PROCESSES) if self.ds.record_types else 0, make,
                          self._setup_stamp)

    def record_type(self) -> ObjectSpec:
        def make(i: int) -> dict[str, Any]:
            name, developer, obj, process, _ = RECORD_TYPES[i]
            stamp = self._setup_stamp(len(PROCESSES) + i)
            return {"Id": self.ref("RecordType", i), "Name": name, "DeveloperName": developer,
                    "Description": None, "SobjectType": obj,
                    "BusinessProcessId": None if process is None else
                    self.ref("BusinessProcess", process), "IsActive": True,
                    **self.dates(stamp, stamp)}
        fields = standard_fields(
            F("Name", "string"), F("DeveloperName", "string"), F("Description", "string"),
            F("SobjectType", "picklist", picklist=("Account", "Opportunity")),
            F("BusinessProcessId", "reference", reference_to=("BusinessProcess",)),
            F("IsActive", "boolean"), deleted=False)
        return ObjectSpec("RecordType", "012", "Record Type", "Record Types", fields,
                          len(RECORD_TYPES) if self.ds.record_types else 0, make,
                          lambda i: self._setup_stamp(len(PROCESSES) + i))


def _layout_url(obj: str, rtid: str, version: str) -> dict[str, str]:
    return {"layout": f"/services/data/v{version}/sobjects/{obj}/describe/layouts/{rtid}"}


def _record_types(org: Any, obj: str) -> list[dict[str, Any]]:
    table = org.tables.get("RecordType")
    if table is None:
        return []
    return sorted((r for _, ref in table.scan(None, None)
                   if (r := table.record(ref))["SobjectType"] == obj),
                  key=lambda r: r["Name"])


def record_type_infos(org: Any, obj: str, version: str) -> list[dict[str, Any]]:
    """describe's ``recordTypeInfos`` of ``obj``: its record types by name, then Master."""
    rows = _record_types(org, obj)
    defaults = {name for name, _, o, _, default in RECORD_TYPES if o == obj and default}
    infos = [{"active": bool(r["IsActive"]), "available": bool(r["IsActive"]),
              "defaultRecordTypeMapping": r["Name"] in defaults and bool(r["IsActive"]),
              "developerName": r["DeveloperName"], "master": False, "name": r["Name"],
              "recordTypeId": r["Id"], "urls": _layout_url(obj, r["Id"], version)}
             for r in rows]
    infos.append({"active": True, "available": True,
                  "defaultRecordTypeMapping": not any(i["defaultRecordTypeMapping"]
                                                      for i in infos),
                  "developerName": "Master", "master": True, "name": "Master",
                  "recordTypeId": MASTER_ID, "urls": _layout_url(obj, MASTER_ID, version)})
    return infos


class RecordTypeDescribe:
    """``/sobjects/{obj}/describe/layouts/`` of :class:`~fakes.sf_org.Org` (a mixin)."""

    lock: threading.RLock
    tables: dict[str, Any]
    table: Any
    visible_fields: Any

    def _stage_values(self, record_type: dict[str, Any] | None) -> tuple[str, ...] | None:
        if record_type is None or not record_type.get("BusinessProcessId"):
            return None
        parsed = parse_id(record_type["BusinessProcessId"])
        if parsed is None or parsed[1] >= len(PROCESSES):
            return None
        return tuple(STAGES[s][0] for s in PROCESSES[parsed[1]][2])

    def _layout(self, obj: str, fields: list[Field], layout_id: str) -> dict[str, Any]:
        shown = [f for f in fields if f.name in ("Name", "StageName", "OwnerId",
                                                   "RecordTypeId")] or fields[:1]
        rows = [{"layoutItems": [{
            "editableForNew": f.updateable, "editableForUpdate": f.updateable,
            "label": f.label, "layoutComponents": [{
                "details": describe_field(f), "displayLines": 1, "tabOrder": k + 1,
                "type": "Field", "value": f.name}],
            "placeholder": False, "required": not f.nillable}], "numItems": 1}
            for k, f in enumerate(shown)]
        section = {"collapsed": False, "columns": 1, "heading": f"{obj} Information",
                   "layoutRows": rows, "layoutSectionId": make_id("01B", 1),
                   "parentLayoutId": layout_id, "rows": len(rows), "tabOrder": "TopToBottom",
                   "useCollapsibleSection": False, "useHeading": True}
        return {"buttonLayoutSection": {"detailButtons": []},
                "detailLayoutSections": [section], "editLayoutSections": [section],
                "feedView": None, "highlightsPanelLayoutSection": None, "id": layout_id,
                "multirowEditLayoutSections": [], "offlineLinks": [],
                "quickActionList": {"quickActionListItems": []}, "relatedContent": None,
                "relatedLists": [], "saveOptions": []}

    def describe_layouts(self, obj: str, version: str,
                         record_type_id: str | None = None) -> dict[str, Any]:
        """``describe/layouts/`` (DescribeLayoutResult), or with ``record_type_id`` that
        record type's layout (404 for a record type ``obj`` does not have)."""
        table = self.table(obj)
        name = table.spec.name
        fields = self.visible_fields(table)
        layout_id = make_id("00h", list(self.tables).index(name))
        layout = self._layout(name, fields, layout_id)
        rows = {r["Id"]: r for r in _record_types(self, name)}
        infos = record_type_infos(self, name, version)
        if record_type_id is not None:
            if record_type_id[:15] not in {i["recordTypeId"][:15] for i in infos}:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            return layout
        mappings = []
        for info in infos:
            stages = self._stage_values(rows.get(info["recordTypeId"]))
            picklists = [{"picklistName": f.name, "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None,
                 "value": v} for v in (stages if f.name == "StageName" and stages else
                                       f.picklist)]}
                for f in fields if f.type == "picklist" and f.picklist]
            mappings.append({**{k: v for k, v in info.items() if k != "urls"},
                             "layoutId": layout_id, "picklistsForRecordType": picklists,
                             "urls": info["urls"]})
        selectable = [i for i in infos if i["available"] and not i["master"]]
        return {"layouts": [layout], "recordTypeMappings": mappings,
                "recordTypeSelectorRequired": [len(selectable) > 1]}

