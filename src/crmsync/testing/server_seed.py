"""The seed dataset of the toolkit test server (docs/toolkit.md, "The test server")."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmsync.testing.server import CrmServer

__all__ = ["seed"]


def seed(crm: CrmServer) -> None:
    """Two users, a pipeline with three stages, a custom deal field (``Region``, keyed by 40
    hex digits), two organisations, two persons, three deals and two activities."""
    data = crm.data
    ada = data.add("users", {"name": "Ada Lovelace", "email": "ada@example.com",
                             "active_flag": True})["id"]
    grace = data.add("users", {"name": "Grace Hopper", "email": "grace@example.com",
                               "active_flag": True})["id"]
    pipeline = data.add("pipelines", {"name": "Sales", "order_nr": 1, "active": True})["id"]
    stages = [data.add("stages", {"name": name, "pipeline_id": pipeline, "order_nr": i,
                                  "deal_probability": p})["id"]
              for i, (name, p) in enumerate([("Qualified", 10), ("Proposal", 50),
                                             ("Negotiation", 80)], start=1)]
    data.fields["deals"] = [
        {"key": "title", "name": "Title", "field_type": "varchar", "edit_flag": False},
        {"key": "value", "name": "Value", "field_type": "monetary", "edit_flag": False},
    ]
    region = data.add_field("deals", "Region", "varchar")["key"]
    acme = crm.create("accounts", name="Acme", owner_id=ada)
    globex = crm.create("accounts", name="Globex", owner_id=grace)
    alice = crm.create("contacts", first_name="Alice", last_name="Archer",
                       email="alice@acme.example", account_id=acme)
    crm.create("contacts", first_name="Bob", last_name="Baker", email="bob@globex.example",
               account_id=globex, owner_id=grace)
    pilot = crm.create("opportunities", name="Acme pilot", amount=12000.0, account_id=acme,
                       stage_id=stages[1])
    won = crm.create("opportunities", name="Globex rollout", amount=50000.0,
                     account_id=globex, owner_id=grace, stage_id=stages[2])
    data.change("deals", int(won), {"status": "won", "won_time": data.stamp()})
    crm.create("opportunities", name="Acme expansion", amount=8000.0, account_id=acme)
    for deal in data.records["deals"].values():
        deal[region] = "EMEA" if deal["org_id"] == int(acme) else "AMER"
    crm.create("activities", type="meeting", subject="Kick-off", opportunity_id=pilot,
               contact_id=alice, account_id=acme)
    crm.create("activities", subject="Follow-up call", owner_id=grace)
