"""Sales processes → pipelines, and the stages of each.

In Salesforce an opportunity's pipeline is its **sales process** (``BusinessProcess``), chosen
by its **record type**: each Opportunity record type names one process, and a process allows a
subset of the stage picklist (Setup → Sales Processes). An org without Opportunity record types
has one process, the master one — every stage, every opportunity — which is crmsync's one
pipeline, ``default``.

With record types:

* **pipelines**: one per sales process (``remote_id`` = the BusinessProcess Id, ``label`` = its
  name), plus ``default`` for opportunities without a record type (``RecordTypeId`` null: made
  before record types existed, or by a profile with the master record type only);
* **stages**: the ``default`` pipeline's stages keep their OpportunityStage Id; a process's stage
  is ``{BusinessProcess Id}:{OpportunityStage Id}`` in that process's pipeline (a stage used by
  two processes is two rows, as a stage of two pipelines is in other CRMs, so stage metrics stay
  per pipeline);
* **opportunities** and their **stage history** take pipeline and stage from the opportunity's
  record type.

Which stages a process allows comes from describe layouts (``/sobjects/Opportunity/describe/
layouts/``: each record type mapping's ``picklistsForRecordType`` values of ``StageName``); the
record types' processes from ``RecordType.BusinessProcessId``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmsync_salesforce import soql

__all__ = ["Pipelines", "DEFAULT_PIPELINE_ID", "RECORD_TYPE_QUERY", "PROCESS_QUERY",
           "LAYOUTS_PATH"]

#: The master process's pipeline: every stage; opportunities without a record type.
DEFAULT_PIPELINE_ID = "default"
DEFAULT_PIPELINE_LABEL = "Opportunities"

RECORD_TYPE_QUERY = soql.select(
    "RecordType", ["Id", "Name", "BusinessProcessId", "IsActive"],
    where="SobjectType = 'Opportunity'", order_by=("Id",))
PROCESS_QUERY = soql.select(
    "BusinessProcess", ["Id", "Name", "IsActive", "CreatedDate", "SystemModstamp"],
    where="TableEnumOrId = 'Opportunity'", order_by=("Name", "Id"))
LAYOUTS_PATH = "sobjects/Opportunity/describe/layouts"


def _stage_values(mapping: Mapping[str, Any]) -> list[str] | None:
    for picklist in mapping.get("picklistsForRecordType") or ():
        if picklist.get("picklistName") == "StageName":
            return [str(v["value"]) for v in picklist.get("picklistValues") or ()
                    if v.get("active", True)]
    return None


@dataclass
class Pipelines:
    """The org's pipelines and how an opportunity's record type and stage name map onto them.

    :param stage_ids: ``StageName`` (ApiName or label) → OpportunityStage Id.
    :param processes: BusinessProcess rows (``Id``, ``Name``, …), pipelines in this order.
    :param process_of: Opportunity record type Id → its BusinessProcess Id.
    :param stages_of: BusinessProcess Id → the stage names it allows (``None``: unknown, all).
    :param default_process: the process of the default record type, if any.
    """

    stage_ids: Mapping[str, str]
    processes: Sequence[Mapping[str, Any]] = ()
    process_of: Mapping[str, str] = field(default_factory=dict)
    stages_of: Mapping[str, Sequence[str] | None] = field(default_factory=dict)
    default_process: str | None = None

    @classmethod
    def from_org(cls, stage_ids: Mapping[str, str], record_types: Iterable[Mapping[str, Any]],
                 processes: Sequence[Mapping[str, Any]], layouts: Mapping[str, Any] | None
                 ) -> Pipelines:
        """From the RecordType and BusinessProcess rows and describe layouts (``None`` when
        they could not be read: every process then allows every stage)."""
        process_of = {str(r["Id"]): str(r["BusinessProcessId"]) for r in record_types
                      if r.get("BusinessProcessId")}
        by_record_type = {str(m.get("recordTypeId"))[:15]: m
                          for m in (layouts or {}).get("recordTypeMappings") or ()}
        known: dict[str, list[str]] = {}
        default = None
        for record_type, process in process_of.items():
            mapping = by_record_type.get(record_type[:15])  # 15- or 18-character Ids
            if mapping is None:
                continue
            values = _stage_values(mapping)
            if values is not None:  # record types of one process allow the same stages
                known[process] = list(dict.fromkeys([*known.get(process, []), *values]))
            if mapping.get("defaultRecordTypeMapping"):
                default = process
        used = set(process_of.values())  # a process no record type uses holds no deals
        return cls(stage_ids=stage_ids,
                   processes=[p for p in processes if str(p["Id"]) in used],
                   process_of=process_of,
                   stages_of={p: known.get(p) for p in process_of.values()},
                   default_process=default)

    def pipeline_id(self, record_type_id: str | None) -> str:
        """The pipeline of an opportunity with this record type."""
        if record_type_id:
            process = self.process_of.get(str(record_type_id))
            if process is not None:
                return process
        return DEFAULT_PIPELINE_ID

    def stage_id(self, record_type_id: str | None, stage_name: str | None) -> str | None:
        """The stage ``remote_id`` of ``stage_name`` in this record type's pipeline (the name
        itself when no OpportunityStage has it)."""
        if not stage_name:
            return None
        stage = self.stage_ids.get(stage_name, stage_name)
        pipeline = self.pipeline_id(record_type_id)
        return stage if pipeline == DEFAULT_PIPELINE_ID else f"{pipeline}:{stage}"

    def pipeline_records(self) -> list[dict[str, Any]]:
        """The ``pipelines`` rows: ``default`` first, then the sales processes by name."""
        out = [{"remote_id": DEFAULT_PIPELINE_ID, "label": DEFAULT_PIPELINE_LABEL,
                "display_order": 0, "is_default": self.default_process is None}]
        for n, process in enumerate(self.processes, start=1):
            out.append({"remote_id": str(process["Id"]), "label": process.get("Name"),
                        "display_order": n,
                        "is_default": str(process["Id"]) == self.default_process,
                        "remote_created_at": process.get("CreatedDate"),
                        "remote_updated_at": process.get("SystemModstamp")})
        return out

    def stage_records(self, rows: Sequence[Mapping[str, Any]],
                      mapper: Callable[[Mapping[str, Any]], dict[str, Any] | None]
                      ) -> list[dict[str, Any]]:
        """The ``stages`` rows: each OpportunityStage row mapped (``mapper``: the default
        pipeline's stage, ``None`` for a row it rejected), and a copy in every process that
        allows it."""
        out = []
        for row in rows:
            stage = mapper(row)
            if stage is None:
                continue
            out.append(stage)
            names = {row.get("ApiName"), row.get("MasterLabel")}
            for process in self.processes:
                pid = str(process["Id"])
                allowed = self.stages_of.get(pid)
                if allowed is None or names & set(allowed):
                    out.append({**stage, "remote_id": f"{pid}:{stage['remote_id']}",
                                "pipeline_id": pid})
        return out
