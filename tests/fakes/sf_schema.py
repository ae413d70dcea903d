"""Object and field definitions of the fake Salesforce org, and describe results built from them.

Describe shapes follow a real org's ``/sobjects/Opportunity/describe/`` (see
``reference/salesforce/describe_opportunity_prettyprint.json``): every field carries the same
keys, with type-dependent ``length``/``precision``/``scale``/``soapType``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Field", "ObjectSpec", "F", "describe_field", "describe_object", "global_entry"]

_SOAP = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "string": "xsd:string",
         "textarea": "xsd:string", "picklist": "xsd:string", "email": "xsd:string",
         "phone": "xsd:string", "url": "xsd:string", "currency": "xsd:double",
         "percent": "xsd:double", "double": "xsd:double", "int": "xsd:int", "date": "xsd:date",
         "datetime": "xsd:dateTime", "anyType": "xsd:anyType"}


@dataclass
class Field:
    """One field of an object (what describe says about it)."""

    name: str
    type: str
    label: str = ""
    updateable: bool = True
    custom: bool = False
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    picklist: tuple[str, ...] = ()
    calculated: bool = False


def F(name: str, type_: str, **kw: Any) -> Field:
    """A field; system fields (Id, dates, IsDeleted…) are made read-only automatically."""
    system = name in ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                      "CreatedById", "LastModifiedById")
    kw.setdefault("updateable", not system)
    kw.setdefault("nillable", name not in ("Id", "IsDeleted", "CreatedDate", "SystemModstamp",
                                           "LastModifiedDate"))
    kw.setdefault("custom", name.endswith("__c"))
    kw.setdefault("label", name.replace("__c", "").replace("_", " "))
    if type_ in ("id", "reference"):
        kw.setdefault("length", 18)
    elif type_ in ("string", "picklist", "email", "phone", "url", "anyType"):
        kw.setdefault("length", 255)
    elif type_ == "textarea":
        kw.setdefault("length", 32000)
    elif type_ in ("currency", "double"):
        kw.setdefault("precision", 18)
        kw.setdefault("scale", 2)
    elif type_ == "percent":
        kw.setdefault("precision", 3)
    elif type_ == "int":
        kw.setdefault("precision", 9)
    if type_ == "reference" and "relationship" not in kw and name.endswith("Id"):
        kw["relationship"] = name[:-2]
    return Field(name, type_, **kw)


@dataclass
class ObjectSpec:
    """An sObject: its key prefix, fields, base record count and record generator.

    ``make(i)`` returns base record ``i`` as a dict of API name → JSON-ready value (datetimes
    as ``2024-01-02T03:04:05.000+0000``); ``stamp(i)`` its SystemModstamp in epoch seconds.
    ``lookups`` maps a reference field to ``parent_id -> base indices`` for ``IN`` queries.
    """

    name: str
    prefix: str
    label: str
    plural: str
    fields: list[Field]
    count: int
    make: Callable[[int], dict[str, Any]]
    stamp: Callable[[int], int]
    lookups: dict[str, Callable[[str], list[int]]] = field(default_factory=dict)

    def field_map(self) -> dict[str, Field]:
        """Lower-cased name → field."""
        return {f.name.lower(): f for f in self.fields}


def describe_field(f: Field) -> dict[str, Any]:
    """A field as describe returns it."""
    numeric = f.type in ("currency", "double", "percent", "int")
    opaque = f.type in ("textarea", "anyType")  # neither filtered nor grouped on
    return {
        "aggregatable": not opaque, "aiPredictionField": False,
        "autoNumber": False, "byteLength": f.length * 3 if f.length and f.type != "id" else
        f.length, "calculated": f.calculated, "calculatedFormula": None, "cascadeDelete": False,
        "caseSensitive": False, "compoundFieldName": None, "controllerName": None,
        "createable": f.updateable, "custom": f.custom, "defaultValue": False
        if f.type == "boolean" else None, "defaultValueFormula": None,
        "defaultedOnCreate": f.type == "boolean" or f.name in ("Id", "OwnerId"),
        "dependentPicklist": False, "deprecatedAndHidden": False,
        "digits": f.precision if f.type == "int" else 0, "displayLocationInDecimal": False,
        "encrypted": False, "externalId": False, "extraTypeInfo": None,
        "filterable": not opaque, "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False, "groupable": not numeric and not opaque,
        "highScaleNumber": False, "htmlFormatted": False, "idLookup": f.type == "id",
        "inlineHelpText": None, "label": f.label, "length": 0 if numeric else f.length,
        "mask": None, "maskType": None, "name": f.name, "nameField": f.name == "Name",
        "namePointing": False, "nillable": f.nillable, "permissionable": f.nillable and
        f.updateable, "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in f.picklist],
        "polymorphicForeignKey": len(f.reference_to) > 1, "precision": f.precision if
        f.type != "int" else 0, "queryByDistance": False, "referenceTargetField": None,
        "referenceTo": list(f.reference_to), "relationshipName": f.relationship,
        "relationshipOrder": None, "restrictedDelete": False, "restrictedPicklist": False,
        "scale": f.scale, "searchPrefilterable": False, "soapType": _SOAP[f.type],
        "sortable": f.type != "textarea", "type": f.type, "unique": False,
        "updateable": f.updateable, "writeRequiresMasterRead": False,
    }


def _urls(name: str, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
            "approvalLayouts": f"{base}/describe/approvalLayouts", "defaultValues":
            f"{base}/defaultValues?recordTypeId&fields", "describe": f"{base}/describe",
            "quickActions": f"{base}/quickActions", "layouts": f"{base}/describe/layouts",
            "sobject": base}


def global_entry(spec: ObjectSpec, version: str) -> dict[str, Any]:
    """An object's entry in the global describe (``/sobjects/``)."""
    history = spec.name.endswith("History")
    return {"activateable": False, "associateEntityType": "History" if history else None,
            "associateParentEntity": "Opportunity" if history else None,
            "createable": not history, "custom": spec.name.endswith("__c"),
            "customSetting": False, "deepCloneable": False, "deletable": not history,
            "deprecatedAndHidden": False, "feedEnabled": False, "hasSubtypes": False,
            "isInterface": False, "isSubtype": False, "keyPrefix": spec.prefix,
            "label": spec.label, "labelPlural": spec.plural, "layoutable": not history,
            "mergeable": False, "mruEnabled": False, "name": spec.name, "queryable": True,
            "replicateable": True, "retrieveable": True, "searchable": not history,
            "triggerable": not history, "undeletable": not history, "updateable": not history,
            "urls": _urls(spec.name, version)}


def describe_object(spec: ObjectSpec, fields: list[Field], version: str,
                    children: list[tuple[str, str, str | None]],
                    record_types: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``/sobjects/{name}/describe/``: the global entry plus fields, record types (the Master
    one unless ``record_types`` lists them) and child relationships (``children``: (child
    object, field, relationship name))."""
    out = global_entry(spec, version)
    out.update({
        "actionOverrides": [], "compactLayoutable": True, "defaultImplementation": None,
        "extendedBy": None, "extendsInterfaces": None, "implementedBy": None,
        "implementsInterfaces": None, "listviewable": None, "lookupLayoutable": None,
        "namedLayoutInfos": [], "networkScopeFieldName": None, "searchLayoutable": True,
        "sobjectDescribeOption": "FULL", "supportedScopes": [
            {"label": "All opportunities", "name": "everything"}],
        "childRelationships": [
            {"cascadeDelete": False, "childSObject": child, "deprecatedAndHidden": False,
             "field": fld, "junctionIdListNames": [], "junctionReferenceTo": [],
             "relationshipName": rel, "restrictedDelete": False}
            for child, fld, rel in children],
        "fields": [describe_field(f) for f in fields],
        "recordTypeInfos": record_types or [{
            "active": True, "available": True, "defaultRecordTypeMapping": True,
            "developerName": "Master", "master": True, "name": "Master",
            "recordTypeId": "012000000000000AAA",
            "urls": {"layout": f"/services/data/v{version}/sobjects/{spec.name}/describe/"
                               "layouts/012000000000000AAA"}}],
    })
    return out
