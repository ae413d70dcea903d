"""Enterprise Territory Management → ``accounts.territory`` (docs/connectors/salesforce.md,
"Territories").

Where the org has ``Territory2Model``, ``Territory2`` and ``ObjectTerritory2Association`` and
a model is ``Active``, an account's ``territory`` is the name of its territory in that model.
When accounts are read, the run reads the active model (one query) and its territories (one
query per 2,000), then the assignments: every account association once (``queryAll``: pages
of 2,000, or a Bulk API 2.0 job after the first page when more than ``bulk_threshold``
remain) as soon as a page holds more than :data:`LOOKUP_MAX` accounts (a full read's pages
do); for smaller pages (an incremental read's), the assignments of the page's accounts (one
query per 150). An org without the objects, or without an active model, is skipped with one
log line and ``territory`` is left as before (a ``field_map`` target may fill it).

* **Several territories.** An account can be in several territories of the model. The
  ``territory`` is the one assigned by hand (``AssociationCause = Territory2Manual``) before
  one assigned by a rule, then the most recently assigned (latest ``SystemModstamp``), then the
  first by name.
* **Incremental.** An assignment changes neither the account nor its ``SystemModstamp``, so
  after the accounts' own incremental read the accounts whose assignments changed since the
  last run (an association added, changed or deleted — ``queryAll`` of the associations whose
  ``SystemModstamp`` is since the cursor, deleted ones included: Salesforce keeps them
  queryable for about 12 hours and never puts them in the recycle bin — or its territory
  renamed) are read again by Id (one query per 150). The cursor keeps the active model's
  territory names, so a territory edited without a new name (its ``SystemModstamp`` moves on
  any edit) reads none of its accounts again. A different active model re-reads every
  account, and so does the first read with territories of accounts read before without them.
  An association deleted more than about 12 hours before the next run is no longer visible:
  its account keeps the old territory until the account changes or a ``--full`` sync.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from crmsync_salesforce import soql
from crmsync_salesforce.describe import ObjectDescription
from crmsync_salesforce.mapping import MappingContext, account

if TYPE_CHECKING:  # the client needs the SDK (crmsync_salesforce.sdk)
    from crmsync_salesforce.client import SalesforceClient
    from crmsync_salesforce.reader import ObjectReader

__all__ = ["Territories", "OBJECTS", "KEY", "account_with_territory", "pick"]

log = logging.getLogger(__name__)

OBJECTS = ("Territory2Model", "Territory2", "ObjectTerritory2Association")
#: Where :meth:`Territories.prepare` puts an account's territory in its raw row.
KEY = "_crmsync_territory"
#: The accounts cursor's key for the assignments read.
CURSOR = "ObjectTerritory2Association"
#: The most accounts whose assignments are read by account (a query per 150 of them); a page
#: of more (a full read's) or more accounts to read again read every assignment once.
LOOKUP_MAX = 600


def pick(rows: list[tuple[str, str, str]]) -> str:
    """The territory of an account in several: ``(cause, stamp, name)`` rows, manual first,
    then the latest, then the first name."""
    manual = [r for r in rows if r[0] == "Territory2Manual"] or rows
    latest = max(r[1] for r in manual)
    return min(r[2] for r in manual if r[1] == latest)


def account_with_territory(raw: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    """Account → accounts, with the territory :meth:`Territories.prepare` found."""
    record = account(raw, ctx)
    if KEY in raw:
        record.setdefault("territory", raw[KEY])  # a field_map target wins
    return record


class Territories:
    """The run's territory assignments (read on first use).

    :param client: returns the logged-in client.
    :param describe: an object's describe, ``None`` when the org lacks it.
    :param now: the connector's clock.
    :param reader: returns the connector's reader (REST pages or Bulk, by count).
    """

    def __init__(self, client: Callable[[], SalesforceClient],
                 describe: Callable[[str], ObjectDescription | None],
                 now: Callable[[], dt.datetime], reader: Callable[[], ObjectReader]) -> None:
        self._client = client
        self._reader = reader
        self._describe = describe
        self._now = now
        self._loaded = False
        self.model: str | None = None
        #: Account Id → its territory's name, once every assignment is read (None before).
        self.names: dict[str, str] | None = None
        #: (account Id, association SystemModstamp, territory Id) of every association read.
        self._rows: list[tuple[str, str, str]] = []
        self._renamed: dict[str, str] = {}  # territory Id → its SystemModstamp
        self._territories: dict[str, str] = {}  # territory Id → its name
        self.started = ""

    def _load(self) -> bool:
        """Read the active model and its territories once; ``False`` where the org has no
        active model."""
        if self._loaded:
            return self.model is not None
        self._loaded = True
        client = self._client()
        if any(self._describe(o) is None for o in OBJECTS):
            log.info("%s: this org has no Enterprise Territory Management; skipping "
                     "territories", client.connection)
            return False
        self.started = soql.datetime_literal(self._now())
        models = self._query(client, "Territory2Model", ["Id"], "State = 'Active'")
        if not models:
            log.info("%s: no active territory model; skipping territories", client.connection)
            return False
        self.model = str(models[0]["Id"])
        territories = self._query(client, "Territory2", ["Id", "Name", "SystemModstamp"],
                                  f"Territory2ModelId = {soql.quote(self.model)}")
        self._territories = {str(t["Id"]): str(t["Name"]) for t in territories}
        self._renamed = {str(t["Id"]): str(t["SystemModstamp"]) for t in territories}
        return True

    def _all(self) -> dict[str, str]:
        """Every account's territory, reading every assignment the first time."""
        if self.names is None:
            found: dict[str, list[tuple[str, str, str]]] = {}
            for a in self._associations("SobjectType = 'Account'"):
                territory = self._territories.get(str(a["Territory2Id"]))
                if territory is None:  # another model's
                    continue
                self._rows.append((str(a["ObjectId"]), str(a["SystemModstamp"]),
                                   str(a["Territory2Id"])))
                if not a.get("IsDeleted"):
                    found.setdefault(str(a["ObjectId"]), []).append(
                        (str(a["AssociationCause"]), str(a["SystemModstamp"]), territory))
            self.names = {acc: pick(rows) for acc, rows in found.items()}
        return self.names

    def _of(self, accounts: list[str]) -> dict[str, str]:
        """The territories of ``accounts`` from their live assignments (a query per 150)."""
        found: dict[str, list[tuple[str, str, str]]] = {}
        client = self._client()
        for start in range(0, len(accounts), soql.IDS_PER_QUERY):
            ids = soql.in_ids("ObjectId", accounts[start:start + soql.IDS_PER_QUERY])
            for a in self._query(client, CURSOR, ["Id", "ObjectId", "Territory2Id",
                                                  "AssociationCause", "SystemModstamp"],
                                 f"SobjectType = 'Account' AND {ids}"):
                territory = self._territories.get(str(a["Territory2Id"]))
                if territory is not None:
                    found.setdefault(str(a["ObjectId"]), []).append(
                        (str(a["AssociationCause"]), str(a["SystemModstamp"]), territory))
        return {acc: pick(rows) for acc, rows in found.items()}

    @staticmethod
    def _query(client: SalesforceClient, obj: str, fields: list[str], where: str
               ) -> list[dict[str, Any]]:
        text = soql.select(obj, fields, where=where, order_by=("Id",))
        return [r for page in client.query_pages(text, what=f"query {obj}",
                                                 include_deleted=False) for r in page]

    def _associations(self, where: str) -> Iterator[dict[str, Any]]:
        """The account assignments matching ``where``, deleted ones too (``queryAll``): all
        of them are as many as the accounts, so a large org's go through Bulk API 2.0 after
        the first page."""
        describe = self._describe(CURSOR)
        assert describe is not None  # _load checked
        fields = ["Id", "ObjectId", "Territory2Id", "AssociationCause", "SystemModstamp",
                  "IsDeleted"]
        for rows, _ in self._reader().rows(describe, fields, where, ("Id",)):
            yield from rows

    def prepare(self, rows: list[dict[str, Any]]) -> None:
        """Put each account's territory (``None``: in no territory) under :data:`KEY`: from
        every assignment, read once, for a page of more than :data:`LOOKUP_MAX` accounts (a
        full read's); until then, from the assignments of the page's accounts."""
        if not self._load():
            return
        ids = [str(row.get("Id")) for row in rows]
        if self.names is None and len(ids) > LOOKUP_MAX:
            self._all()
        names = self.names if self.names is not None else self._of(ids)
        for row, acc in zip(rows, ids, strict=True):
            row[KEY] = names.get(acc)

    def changed(self, cursor: Mapping[str, Any] | None, lookback: dt.timedelta, *,
                accounts_read: bool = False) -> list[str] | None:
        """The accounts whose assignments changed since ``cursor`` (``None``: every account
        — the active model changed, or ``accounts_read`` before without territories)."""
        if not self._load():
            return []
        if not cursor or not cursor.get("ts"):
            return None if accounts_read else []
        if cursor.get("model") != self.model:
            return None
        since = soql.datetime_literal(soql.parse_datetime(cursor["ts"]) - lookback)
        before = cursor.get("names")
        if isinstance(before, dict):  # a territory edited but not renamed changes no account
            renamed = {t for t, name in self._territories.items() if before.get(t) != name}
        else:  # a cursor from before the names were kept: every territory edited since
            renamed = {t for t, stamp in self._renamed.items() if _after(stamp, since)}
        if self.names is not None:  # every assignment read already
            return sorted({acc for acc, stamp, territory in self._rows
                           if _after(stamp, since) or territory in renamed})
        accounts = self._changed_since(since, sorted(renamed))
        if len(accounts) > LOOKUP_MAX:
            self._all()  # the accounts read again take their territories from it
        return accounts

    def _changed_since(self, since: str, renamed: list[str]) -> list[str]:
        """The accounts with an assignment in the model added, changed or deleted since
        ``since``, or in a territory of ``renamed``."""
        accounts = {str(a["ObjectId"]) for a in self._associations(
            f"SobjectType = 'Account' AND SystemModstamp >= {since}")
            if str(a["Territory2Id"]) in self._territories}
        client = self._client()
        for start in range(0, len(renamed), soql.IDS_PER_QUERY):
            ids = soql.in_ids("Territory2Id", renamed[start:start + soql.IDS_PER_QUERY])
            accounts.update(str(a["ObjectId"]) for a in self._query(
                client, CURSOR, ["Id", "ObjectId"], f"SobjectType = 'Account' AND {ids}"))
        return sorted(accounts)

    def cursor(self) -> dict[str, Any]:
        """What the accounts cursor keeps of this run's read."""
        return {"ts": self.started, "model": self.model, "names": dict(self._territories)} \
            if self._load() else {}

    def rereads(self, before: Mapping[str, Any], lookback: dt.timedelta
                ) -> Iterator[tuple[list[str] | None, dict[str, Any]]]:
        """``(accounts to read again or None for all, the cursor after them)``, from the
        accounts cursor ``before`` this read."""
        if not self._load():
            return
        ids = self.changed(before.get(CURSOR), lookback, accounts_read=bool(before.get("Account")))
        yield ids, {**before, CURSOR: self.cursor()}


def _after(stamp: str, since: str) -> bool:
    return soql.parse_datetime(stamp) >= soql.parse_datetime(since)
