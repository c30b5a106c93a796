"""The synthetic company's hidden truth: territories, sources and their quality and cost, the
attributes' effects on a lead's log-odds of winning, products, and how the delay of a first touch
depends on a rep's load and lowers the odds."""

from __future__ import annotations

import numpy as np

from leadflow.stats import Array

TERRITORIES = [("North America", "US"), ("EMEA", "DE"), ("APAC", "SG"), ("LATAM", "BR")]

TERRITORY_SHARE = [0.45, 0.3, 0.15, 0.1]

COUNTRIES = {
    "North America": ["US", "CA"],
    "EMEA": ["DE", "GB", "FR", "NL", "SE"],
    "APAC": ["SG", "AU", "JP", "IN"],
    "LATAM": ["BR", "MX", "CL"],
}

# name, channel, log-odds effect, cost per lead, monthly spend, share of leads
SOURCES = [
    ("Referral", "partner", 0.9, 0.0, 2000.0, 0.08),
    ("Inbound call", "inbound", 0.6, None, 3000.0, 0.07),
    ("Web form", "inbound", 0.25, 35.0, None, 0.25),
    ("Trade show", "event", 0.1, None, 15000.0, 0.1),
    ("Paid search", "paid", -0.05, 55.0, None, 0.2),
    ("Purchased list", "outbound", -0.9, 4.0, None, 0.18),
    ("Cold calling", "outbound", -0.6, None, 6000.0, 0.07),
    ("Self-sourced", "self", 0.4, 0.0, None, 0.05),
]

LEAD_TYPE_OF_SOURCE = {
    "Referral": "referral",
    "Inbound call": "inbound call",
    "Web form": "web form",
    "Trade show": "event",
    "Paid search": "web form",
    "Purchased list": "list",
    "Cold calling": "cold call",
    "Self-sourced": "self-sourced",
}

INDUSTRIES = [
    ("software", 0.5),
    ("finance", 0.3),
    ("healthcare", 0.1),
    ("manufacturing", 0.0),
    ("retail", -0.2),
    ("education", -0.5),
    ("government", -0.6),
    ("media", -0.1),
]

SENIORITY = [
    ("C-level", 0.5),
    ("VP", 0.4),
    ("Director", 0.2),
    ("Manager", 0.0),
    ("Individual", -0.4),
]

TITLES = {
    "C-level": "Chief Operating Officer",
    "VP": "VP Sales",
    "Director": "Director of IT",
    "Manager": "IT Manager",
    "Individual": "Analyst",
}

NEEDS = [("high", 0.5), ("medium", 0.0), ("low", -0.6)]

TIMELINES = [("this quarter", 0.4), ("next quarter", 0.1), ("this year", -0.1), ("unknown", -0.3)]

PRODUCTS = [
    ("Core", "platform", 4800.0),
    ("Pro", "platform", 12500.0),
    ("Enterprise", "platform", 42000.0),
]

BASE_LOGIT = -1.9

TOUCH_SLOPE = -0.22  # log-odds per doubling of the first-touch delay beyond one hour


def load_factor(leads_per_month: Array, capacity: Array) -> Array:
    """How loaded each rep is (leads a month over capacity), never below half: an idle rep is
    not infinitely fast."""
    return np.maximum(np.asarray(leads_per_month, dtype=float) / capacity, 0.5)


def first_touch(
    rng: np.random.Generator,
    overload: Array,
    diligence: Array,
    never_worked_share: float,
) -> tuple[Array, Array]:
    """Hours from assignment to first touch of each lead, and whether it is worked at all: the
    more loaded and the less diligent the rep, the later, and the likelier never."""
    delay_hours = rng.lognormal(np.log(3.0 * overload / diligence), 1.1)
    worked = rng.random(overload.size) >= never_worked_share * overload
    return delay_hours, worked


def touch_effect_of(delay_hours: Array) -> Array:
    """Log-odds a late first touch costs: TOUCH_SLOPE per doubling of the delay past an hour."""
    return TOUCH_SLOPE * np.log2(np.maximum(delay_hours, 1.0))


SOURCES_NAMES = [s[0] for s in SOURCES]
