"""The fake portal's data and the operations tests script on it (``fake_hubspot.portal``).

All mutations take the portal lock; the HTTP handlers read under it too, so a test thread
changing records while a sync runs sees consistent pages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from fakes import hs_inputs, hs_products, hs_web
from fakes.hs_data import ENGAGEMENTS, Dataset, Generator, iso
from fakes.hs_limits import Faults, RateLimits
from fakes.hs_objects import LIVE, SINGULAR, ObjectTable
from fakes.hs_schema import default_groups, owners, property_catalogue

__all__ = ["Portal", "ASSOCIATION_TYPES"]

#: (from, to) → (unlabelled typeId, primary typeId or None): HubSpot-defined association types.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("deals", "companies"): (341, 5), ("companies", "deals"): (342, 6),
    ("contacts", "companies"): (279, 1), ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None), ("contacts", "deals"): (4, None),
    ("leads", "contacts"): (578, None), ("contacts", "leads"): (579, None),
    ("line_items", "deals"): (20, None), ("deals", "line_items"): (19, None),
    **hs_inputs.ASSOCIATION_TYPES,
}
_ENGAGEMENT_TYPE_IDS = {"calls": (194, 182, 206), "emails": (198, 186, 210),
                        "meetings": (200, 188, 212), "tasks": (204, 192, 216),
                        "notes": (202, 190, 214)}
for _t, _ids in _ENGAGEMENT_TYPE_IDS.items():  # e.g. call→contact 194, contact→call 193
    for _other, _id in zip(("contacts", "companies", "deals"), _ids, strict=True):
        ASSOCIATION_TYPES[(_t, _other)] = (_id, None)
        ASSOCIATION_TYPES[(_other, _t)] = (_id - 1, None)
#: (from, to) pairs whose links the generator defines; the reverse ones are derived.
FORWARD = {("deals", "companies"), ("deals", "contacts"), ("contacts", "companies"),
           ("leads", "contacts"), ("line_items", "deals"), ("feedback_submissions", "contacts"),
           *((t, o) for t in ENGAGEMENTS
                                    for o in ("contacts", "companies", "deals"))}


class Portal:
    """The in-memory portal: records, properties, owners, tokens, limits and faults.

    :param dataset: what to generate.
    :param portal_id: the hub id (appears in 429 group names).
    """

    def __init__(self, dataset: Dataset | None = None, portal_id: int = 4_242_424) -> None:
        self.dataset = dataset or Dataset()
        self.portal_id = portal_id
        self.gen = Generator(self.dataset)
        self.lock = threading.RLock()
        types = [t for t in ("companies", "contacts", "deals", *ENGAGEMENTS, *hs_products.TYPES,
                             *hs_inputs.TYPES)]
        if self.dataset.leads:
            types.append("leads")
        self.tables = {t: ObjectTable(t, self.gen, self.dataset.count(t)) for t in types}
        self.properties = {t: property_catalogue(t) for t in types}
        self.groups = {t: default_groups(t) for t in types}
        self.owners = owners(self.dataset)
        self.limits = RateLimits()
        self.faults = Faults()
        #: endpoint → the most records one page answers, whatever ``limit`` asked, with
        #: ``paging.next`` when more follows (real endpoints' caps differ and change): keys
        #: ``objects`` (list), ``search``, ``owners``, ``associations`` (v4 rows and pages)
        self.page_caps: dict[str, int] = {}
        #: scopes granted to the app; remove ``crm.schemas.<type>.write`` for a 403
        self.scopes = ({f"crm.schemas.{t}.write" for t in types} | {hs_products.SCOPE}
                       | set(hs_inputs.SCOPES.values()) | {hs_web.SCOPE})
        #: marketing campaigns (not CRM objects: fakes.hs_inputs.Campaigns)
        self.campaigns = hs_inputs.Campaigns(self.dataset, self.now_ms)
        #: website analytics (the sources report, fakes.hs_web)
        self.web = hs_web.WebTraffic(self.dataset.seed)
        #: type → id → message: batch updates of these records fail (207 errors)
        self.write_rejections: dict[str, dict[str, str]] = {}
        self.access_tokens: dict[str, float] = {}
        self.expired_tokens: set[str] = set()
        self.client_id = "fake-client-id"
        self.client_secret = "fake-client-secret"
        self.refresh_token = "fake-refresh-token"
        self.token_lifetime = 1800
        self.token_counter = 0
        self._reverse: dict[tuple[str, str], dict[int, list[int]]] = {}
        self._clock = 0

    # -- time and tokens ----------------------------------------------------------------------

    def now_ms(self) -> int:
        """The portal's clock: wall time in ms, strictly increasing between changes."""
        with self.lock:
            self._clock = max(int(time.time() * 1000), self._clock + 1)
            return self._clock

    def issue_token(self, lifetime: float | None = None) -> str:
        """A new valid access token (what a private app or an OAuth refresh gets)."""
        with self.lock:
            self.token_counter += 1
            token = f"pat-fake-{self.portal_id}-{self.token_counter:04d}"
            self.access_tokens[token] = time.time() + (lifetime or self.token_lifetime)
            return token

    def expire_tokens(self) -> None:
        """Every access token issued so far now answers 401 EXPIRED_AUTHENTICATION."""
        with self.lock:
            self.expired_tokens.update(self.access_tokens)
            self.access_tokens.clear()

    def token_state(self, token: str) -> str:
        """``valid``, ``expired`` or ``unknown``."""
        with self.lock:
            deadline = self.access_tokens.get(token)
            if deadline is not None and deadline > time.time():
                return "valid"
            return "expired" if deadline is not None or token in self.expired_tokens else "unknown"

    # -- records: what tests script -------------------------------------------------------------

    def table(self, object_type: str) -> ObjectTable:
        """The records of ``object_type`` (KeyError for types the portal lacks)."""
        return self.tables[object_type]

    def _index(self, object_type: str, record_id: Any) -> int:
        i = self.table(object_type).index_of(record_id)
        if i is None:
            raise KeyError(f"no {object_type} record {record_id}")
        return i

    def ids(self, object_type: str, *, archived: bool = False) -> list[str]:
        """Ids of the live (or archived) records, in id order."""
        t = self.table(object_type)
        with self.lock:
            return [t.id_of(i) for i in t.scan(0, 1 if archived else LIVE)]

    def record(self, object_type: str, record_id: Any) -> dict[str, str | None]:
        """All current properties of a record (follows merges)."""
        t = self.table(object_type)
        with self.lock:
            return t.properties(t.resolve(self._index(object_type, record_id)))

    def create(self, object_type: str, properties: dict[str, str | None], *,
               at_ms: int | None = None, associations: dict[str, Iterable[Any]] | None = None
               ) -> str:
        """Create a record; ``associations`` maps to-type → ids. Returns the new id."""
        t = self.table(object_type)
        with self.lock:
            i = t.append(properties, at_ms or self.now_ms())
            for to_type, ids in (associations or {}).items():
                targets = [self._index(to_type, x) for x in ids]
                t.extra_links.setdefault(to_type, {})[i] = targets
                self._reverse.pop((to_type, object_type), None)
            return t.id_of(i)

    def update(self, object_type: str, record_id: Any, properties: dict[str, str | None], *,
               at_ms: int | None = None, source: str = "CRM_UI") -> None:
        """Change properties of a record now (or at ``at_ms``): history kept, moves in search."""
        with self.lock:
            self.table(object_type).update(self._index(object_type, record_id), properties,
                                           at_ms or self.now_ms(), source)

    def touch(self, object_type: str, record_ids: Iterable[Any], *, at_ms: int | None = None
              ) -> None:
        """Bump the modification time of records (same ``at_ms`` for all when given)."""
        with self.lock:
            t = self.table(object_type)
            for rid in record_ids:
                t.touch(self._index(object_type, rid), at_ms or self.now_ms())

    def archive(self, object_type: str, record_id: Any, *, at_ms: int | None = None) -> None:
        """Archive a record (what deleting it in HubSpot does)."""
        with self.lock:
            self.table(object_type).archive(self._index(object_type, record_id),
                                            at_ms or self.now_ms())

    def merge(self, object_type: str, primary_id: Any, merged_id: Any, *,
              at_ms: int | None = None) -> None:
        """Merge ``merged_id`` into ``primary_id`` (the primary survives)."""
        with self.lock:
            self.table(object_type).merge(self._index(object_type, primary_id),
                                          self._index(object_type, merged_id),
                                          at_ms or self.now_ms())

    def reject_writes(self, object_type: str, record_id: Any,
                      message: str = "Record is locked by an approval process") -> None:
        """Make batch updates of this record fail with a per-record error (HTTP 207)."""
        with self.lock:
            self.write_rejections.setdefault(object_type, {})[str(record_id)] = message

    # -- associations ---------------------------------------------------------------------------

    def links(self, object_type: str, to_type: str, i: int) -> list[int]:
        """Live indexes of ``to_type`` associated with record ``i`` (merges followed)."""
        t = self.table(object_type)
        if to_type not in self.tables or (object_type, to_type) not in ASSOCIATION_TYPES:
            return []
        raw: list[int] = []
        if (object_type, to_type) in FORWARD:
            if i < t.generated:
                raw = self.gen.associations(object_type, to_type, i)
            raw = raw + t.extra_links.get(to_type, {}).get(i, [])
            # a merged-away record's links belong to its survivor
            for j in t.absorbed.get(i, []):
                if j < t.generated:
                    raw += self.gen.associations(object_type, to_type, j)
        elif (to_type, object_type) in FORWARD:
            raw = list(self._reverse_index(to_type, object_type).get(i, []))
            for j in t.absorbed.get(i, []):
                raw += self._reverse_index(to_type, object_type).get(j, [])
        return self.tables[to_type].live(raw)

    def _reverse_index(self, from_type: str, to_type: str) -> dict[int, list[int]]:
        key = (from_type, to_type)
        if key not in self._reverse:
            src = self.tables[from_type]
            rev: dict[int, list[int]] = {}
            for i in range(len(src)):
                fwd = self.gen.associations(from_type, to_type, i) if i < src.generated else []
                for j in fwd + src.extra_links.get(to_type, {}).get(i, []):
                    rev.setdefault(j, []).append(i)
            self._reverse[key] = rev
        return self._reverse[key]

    def inline_associations(self, object_type: str, i: int, to_types: Iterable[str]
                            ) -> dict[str, Any]:
        """v3 inline associations: BOTH the labelled and the unlabelled entry for primary
        links (HubSpot's duplicate-id quirk)."""
        out: dict[str, Any] = {}
        for to_type in to_types:
            targets = self.links(object_type, to_type, i)
            if not targets:
                continue
            name = f"{SINGULAR[object_type]}_to_{SINGULAR[to_type]}"
            _, primary = ASSOCIATION_TYPES[(object_type, to_type)]
            to = self.tables[to_type]
            results = []
            for j in targets:
                if primary is not None:
                    results.append({"id": to.id_of(j), "type": name})
                    results.append({"id": to.id_of(j), "type": f"{name}_unlabeled"})
                else:
                    results.append({"id": to.id_of(j), "type": name})
            out[to_type] = {"results": results}
        return out

    # -- rendering ------------------------------------------------------------------------------

    def render(self, object_type: str, i: int, properties: Iterable[str] | None,
               *, history: Iterable[str] = (), associations: Iterable[str] = ()) -> dict[str, Any]:
        """One record as the objects API returns it (only known properties, all strings)."""
        t = self.table(object_type)
        props = t.properties(i)
        if object_type == "contacts" and "associatedcompanyid" not in props:
            company = self.links("contacts", "companies", i)
            props["associatedcompanyid"] = (self.tables["companies"].id_of(company[0])
                                            if company else None)
        known = self.properties[object_type]
        wanted = (properties if properties is not None else
                  _defaults(object_type, t.ts_prop))
        selected = {name: props.get(name) for name in wanted if name in known}
        for name in ("hs_object_id", "createdate", t.ts_prop):
            selected[name] = props[name]
        body: dict[str, Any] = {"id": t.id_of(i), "properties": selected,
                                "createdAt": iso(t.created[i]), "updatedAt": iso(t.updated[i]),
                                "archived": t.status[i] != LIVE}
        if t.status[i] != LIVE and i in t.archived_at:
            body["archivedAt"] = iso(t.archived_at[i])
        hist = [h for h in history if h in known]
        if hist:
            body["propertiesWithHistory"] = {h: t.history_of(i, h) for h in hist}
        if associations:
            assoc = self.inline_associations(object_type, i, associations)
            if assoc:
                body["associations"] = assoc
        return body


def _defaults(object_type: str, ts_prop: str) -> tuple[str, ...]:
    from fakes.hs_schema import DEFAULT_PROPERTIES

    return DEFAULT_PROPERTIES.get(object_type, ("hs_object_id", "hs_createdate", ts_prop))
