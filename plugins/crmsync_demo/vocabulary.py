"""The words and market parameters the demo CRM is made of.

Everything here is static data: names, the seller's market (regions, territories, currencies,
segments), lead sources and the phrases reps type into a CRM. Weights are relative.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FIRST_NAMES",
    "LAST_NAMES",
    "COMPANY_PREFIXES",
    "COMPANY_ROOTS",
    "COMPANY_SUFFIXES",
    "INDUSTRIES",
    "Territory",
    "TERRITORIES",
    "REGION_TZ",
    "Segment",
    "SEGMENTS",
    "FX_BASE_RATES",
    "LEAD_SOURCES",
    "DEAL_SOURCES",
    "TITLES",
    "LIFECYCLE_STAGES",
    "PRODUCT_LINES",
    "WON_REASONS",
    "LOST_REASONS",
    "CONTACT_ROLES",
    "SELLER_DOMAIN",
]

#: The selling company's e-mail domain (reserved ``.example`` top-level domain).
SELLER_DOMAIN = "northwind-analytics.example"

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "James",
    "Mia", "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn", "Henry", "Abigail",
    "Alexander", "Emily", "Daniel", "Ella", "Matthew", "Sofia", "Samuel", "Camila", "David",
    "Aria", "Joseph", "Chloe", "Carter", "Layla", "Owen", "Priya", "Arjun", "Mei", "Hiroshi",
    "Yuki", "Lukas", "Lena", "Mateo", "Valentina", "Chen", "Fatima", "Omar", "Ingrid", "Sven",
    "Chiara", "Marco", "Aisha", "Kwame", "Nadia", "Tomás", "Zoe", "Ethan", "Grace", "Ryan",
    "Hannah", "Leo",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Green", "Adams",
    "Baker", "Nelson", "Patel", "Shah", "Kim", "Tanaka", "Sato", "Müller", "Schmidt", "Rossi",
    "Dubois", "Silva", "Santos", "Larsen", "Novak", "Kowalski", "O'Brien", "Murphy", "Cohen",
    "Singh", "Wang", "Chen", "Ito", "Fischer",
)

COMPANY_PREFIXES = (
    "Blue", "North", "Silver", "Red", "Bright", "Iron", "Clear", "Stone", "Swift", "Green",
    "Golden", "High", "Deep", "Prime", "True", "Open", "Summit", "River", "Cedar", "Maple",
    "Oak", "Pine", "Harbor", "Falcon", "Eagle", "Polar", "Solar", "Lunar", "Atlas", "Nova",
    "Vertex", "Apex", "Crest", "Echo", "Quantum", "Vector", "Pioneer", "Beacon", "Granite",
    "Coral", "Amber", "Cobalt", "Crimson", "Emerald", "Horizon", "Meridian", "Orbit", "Zenith",
)

COMPANY_ROOTS = (
    "peak", "field", "bridge", "stone", "wave", "point", "gate", "line", "works", "path",
    "star", "ridge", "view", "way", "light", "spring", "forge", "haven", "wood", "mark",
    "port", "dale", "crest", "rock", "mont", "shore", "brook", "vale", "core", "scape",
    "grid", "loop", "dock", "mill", "well", "hub", "stack", "link", "cast", "flow",
)

#: Company suffixes, each with the industry it implies ("" when it implies none).
COMPANY_SUFFIXES = (
    ("Systems", ""), ("Labs", "Software"), ("Group", ""), ("Holdings", "Financial Services"),
    ("Technologies", "Software"), ("Logistics", "Logistics"), ("Health", "Healthcare"),
    ("Foods", "Retail"), ("Energy", "Energy"), ("Capital", "Financial Services"),
    ("Manufacturing", "Manufacturing"), ("Media", "Media"),
)

INDUSTRIES = (
    ("Software", 22), ("Financial Services", 14), ("Healthcare", 11), ("Manufacturing", 11),
    ("Retail", 10), ("Logistics", 7), ("Education", 5), ("Media", 5), ("Telecommunications", 5),
    ("Energy", 4), ("Professional Services", 6),
)


@dataclass(frozen=True)
class Territory:
    """A sales territory: where an account is, the currency it buys in."""

    region: str
    name: str
    currency: str
    weight: float


#: Territories; weights are shares of all accounts.
TERRITORIES = (
    Territory("NA", "US East", "USD", 19.0),
    Territory("NA", "US Central", "USD", 11.0),
    Territory("NA", "US West", "USD", 15.0),
    Territory("NA", "Canada", "USD", 5.0),
    Territory("EMEA", "UK & Ireland", "GBP", 8.5),
    Territory("EMEA", "DACH", "EUR", 7.0),
    Territory("EMEA", "France", "EUR", 4.0),
    Territory("EMEA", "Benelux", "EUR", 3.0),
    Territory("EMEA", "Nordics", "EUR", 2.5),
    Territory("EMEA", "Southern Europe", "EUR", 3.0),
    Territory("APAC", "ANZ", "AUD", 5.0),
    Territory("APAC", "Japan", "JPY", 3.5),
    Territory("APAC", "Singapore", "USD", 3.0),
    Territory("APAC", "India", "USD", 2.5),
    Territory("LATAM", "Brazil", "USD", 4.0),
    Territory("LATAM", "Mexico", "USD", 2.5),
    Territory("LATAM", "Southern Cone", "USD", 1.5),
)

#: Local offset from UTC of each region's working hours, in seconds (daylight time ignored).
REGION_TZ = {"NA": -5 * 3600, "EMEA": 1 * 3600, "APAC": 8 * 3600, "LATAM": -3 * 3600}


@dataclass(frozen=True)
class Segment:
    """A customer segment and how deals in it behave."""

    name: str
    weight: float
    min_employees: int
    max_employees: int
    #: Median first-year deal size in USD.
    median_deal: float
    #: Typical days from opportunity creation to close.
    cycle_days: float
    #: Win rate of closed new-business deals.
    new_business_win_rate: float
    #: Contacts per account (low, high).
    contacts: tuple[int, int]
    #: Activities logged per week on an open deal.
    touches_per_week: float


SEGMENTS = (
    Segment("SMB", 55.0, 10, 200, 11_000.0, 32.0, 0.27, (2, 5), 1.7),
    Segment("Mid-Market", 30.0, 200, 2_000, 42_000.0, 70.0, 0.21, (4, 9), 1.3),
    Segment("Enterprise", 15.0, 2_000, 80_000, 150_000.0, 150.0, 0.16, (7, 16), 1.0),
)

#: USD per unit of each non-USD currency at the start of the window.
FX_BASE_RATES = {"EUR": 1.08, "GBP": 1.27, "AUD": 0.66, "JPY": 0.0067}

#: Lead sources: (name, share of leads, share of those leads that convert).
LEAD_SOURCES = (
    ("Web", 34.0, 0.25),
    ("Outbound", 22.0, 0.17),
    ("Event", 12.0, 0.30),
    ("Referral", 10.0, 0.55),
    ("Partner", 10.0, 0.42),
    ("Webinar", 8.0, 0.22),
    ("Paid Social", 4.0, 0.15),
)

#: Sources of new-business deals that did not come through a lead.
DEAL_SOURCES = (("Outbound", 45.0), ("Referral", 15.0), ("Partner", 20.0), ("Event", 10.0),
                ("Web", 10.0))

#: Job titles by seniority, most senior first.
TITLES = (
    ("Chief Data Officer", "CFO", "CTO", "VP Finance", "VP Operations"),
    ("Head of Analytics", "Director of IT", "Director of Finance", "Director of Operations"),
    ("Analytics Manager", "BI Manager", "IT Manager", "Finance Manager", "Procurement Manager"),
    ("Data Analyst", "Data Engineer", "Financial Analyst", "Operations Analyst", "Developer"),
)

#: HubSpot-style lifecycle stages of contacts at prospect and at customer accounts.
LIFECYCLE_STAGES = {
    False: (("lead", 35.0), ("marketingqualifiedlead", 25.0), ("salesqualifiedlead", 15.0),
            ("opportunity", 20.0), ("other", 5.0)),
    True: (("customer", 80.0), ("evangelist", 10.0), ("opportunity", 10.0)),
}

PRODUCT_LINES = (("Analytics", 45.0), ("Data Platform", 30.0), ("Embedded", 15.0),
                 ("Services", 10.0))

WON_REASONS = (("Product fit", 35.0), ("Ease of use", 20.0), ("Price", 15.0),
               ("Existing relationship", 15.0), ("Time to value", 15.0))

LOST_REASONS = (("No decision", 30.0), ("Lost to competitor", 25.0), ("Budget", 18.0),
                ("Timing", 12.0), ("Price", 10.0), ("Built in-house", 5.0))

CONTACT_ROLES = ("Decision Maker", "Economic Buyer", "Champion", "Technical Evaluator",
                 "Influencer", "End User")
