"""A synthetic B2B company whose hidden truth is known, for the demo, tests and simulations.

:func:`generate_company` is pure (arrays in, arrays out, seeded); :func:`write_demo` stores one.
The truth is built so that every report has something real to find:

1. Each lead's attributes (source, industry, size, seniority, BANT) move its log-odds of winning
   by fixed effects; that is the part a scoring model can learn (``lead_logit``).
2. Each rep has a hidden skill (log-odds shift) and capacity; a few reps ("laggards") lose skill
   in the last three months.
3. The first touch comes after a delay that depends on the rep's diligence and load; each doubling
   of the delay past an hour lowers the log-odds (``touch_effect``). Some leads are never worked.
4. ``p_win`` = sigmoid(lead_logit + rep skill + touch effect); the outcome is drawn from it, and
   leads whose close would fall after the end of the year are still open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.access.service import add_user, issue_token
from leadflow.db import bulk_insert, driver_rows, reserve_ids
from leadflow.intake.leads import DATA, KEYS, with_keys
from leadflow.lead_numbers import NUMBERS, numbers
from leadflow.models import Product, Rep, Source, Team, Territory, rep_territories
from leadflow.pipeline.assignments import record_issued
from leadflow.scoring.service import score_leads
from leadflow.settings import Settings

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
FIRST = [
    "Ann",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Fatima",
    "Goran",
    "Hana",
    "Ivo",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Viktor",
    "Wen",
    "Yusuf",
]
LAST = [
    "Adams",
    "Berg",
    "Costa",
    "Diaz",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Sato",
    "Tanaka",
]
WORDS = [
    "Acme",
    "Blue",
    "Cedar",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kite",
    "Lumen",
    "Maple",
    "Nova",
    "Orbit",
    "Pine",
    "Quartz",
    "River",
    "Summit",
    "Terra",
]
SUFFIX = ["Systems", "Labs", "Group", "Works", "Holdings", "Analytics", "Logistics", "Health"]
LOST_REASONS = ["no budget", "chose competitor", "no decision", "timing", "not a fit"]
BASE_LOGIT = -1.9
TOUCH_SLOPE = -0.22  # log-odds per doubling of the first-touch delay beyond one hour


@dataclass(frozen=True)
class CompanySpec:
    """Size and seed of the synthetic company; the same spec gives the same company."""

    n_leads: int = 50_000
    n_reps: int = 24
    seed: int = 7
    end: date = field(default_factory=lambda: datetime.now(UTC).date().replace(day=1))
    days: int = 365
    n_laggards: int = 2
    never_worked_share: float = 0.08


@dataclass
class Company:
    """Generated reps, sources and leads with the hidden truth behind every outcome."""

    spec: CompanySpec
    reps: pl.DataFrame
    leads: pl.DataFrame
    activities: pl.DataFrame
    stages: pl.DataFrame
    truth: dict[str, np.ndarray[Any, Any]]


def _sigmoid(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return 1.0 / (1.0 + np.exp(-x))


def load_factor(
    leads_per_month: np.ndarray[Any, Any], capacity: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """How loaded each rep is (leads a month over capacity), never below half: an idle rep is
    not infinitely fast."""
    return np.maximum(np.asarray(leads_per_month, dtype=float) / capacity, 0.5)


def first_touch(
    rng: np.random.Generator,
    overload: np.ndarray[Any, Any],
    diligence: np.ndarray[Any, Any],
    never_worked_share: float,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Hours from assignment to first touch of each lead, and whether it is worked at all: the
    more loaded and the less diligent the rep, the later, and the likelier never."""
    delay_hours = rng.lognormal(np.log(3.0 * overload / diligence), 1.1)
    worked = rng.random(overload.size) >= never_worked_share * overload
    return delay_hours, worked


def touch_effect_of(delay_hours: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Log-odds a late first touch costs: TOUCH_SLOPE per doubling of the delay past an hour."""
    return TOUCH_SLOPE * np.log2(np.maximum(delay_hours, 1.0))


def _pick(
    rng: np.random.Generator,
    n: int,
    effects: list[tuple[str, float]],
    probs: list[float] | None = None,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    index = rng.choice(len(effects), size=n, p=probs)
    names = np.array([e[0] for e in effects], dtype=object)[index]
    return names, np.array([e[1] for e in effects])[index]


def generate_company(spec: CompanySpec) -> Company:
    """Draw a company's reps and a year of leads, first touches, activities, stages and outcomes."""
    rng = np.random.default_rng(spec.seed)
    n, start = (
        spec.n_leads,
        datetime.combine(spec.end, datetime.min.time()) - timedelta(days=spec.days),
    )

    # Reps: territory, hidden skill, diligence (first-touch speed) and monthly capacity.
    rep_territory = np.array([TERRITORIES[i % len(TERRITORIES)][0] for i in range(spec.n_reps)], dtype=object)
    skill = rng.normal(0.0, 0.45, spec.n_reps)
    diligence = rng.lognormal(0.0, 0.6, spec.n_reps)
    capacity = rng.integers(120, 360, spec.n_reps)
    laggards = rng.choice(spec.n_reps, size=min(spec.n_laggards, spec.n_reps), replace=False)
    reps = pl.DataFrame(
        {
            "external_id": [f"rep-{i + 1:03d}" for i in range(spec.n_reps)],
            "name": [
                f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
                + (f" {i // 24 + 1}" if i >= 24 else "")
                for i in range(spec.n_reps)
            ],
            "territory": rep_territory,
            "capacity": capacity,
            "skill": skill,
            "diligence": diligence,
            "laggard": np.isin(np.arange(spec.n_reps), laggards),
        }
    )
    reps = reps.with_columns(
        pl.format("{}@demo.leadflow", pl.col("name").str.to_lowercase().str.replace_all(" ", ".")).alias(
            "email"
        ),
        pl.format("{} team", pl.col("territory")).alias("team"),
    )

    # Leads: arrival time (weekdays busier), territory, source and firmographics.
    day = rng.integers(0, spec.days, n)
    weekday = (start + timedelta(days=1)).weekday()
    weekend = (day + weekday) % 7 >= 5
    day = np.where(weekend & (rng.random(n) < 0.7), np.maximum(day - 2, 0), day)
    created = np.datetime64(start, "s") + (day * 86400 + rng.integers(8 * 3600, 18 * 3600, n)).astype(
        "timedelta64[s]"
    )
    territory_index = rng.choice(len(TERRITORIES), size=n, p=TERRITORY_SHARE)
    territory = np.array([t[0] for t in TERRITORIES], dtype=object)[territory_index]
    source_index = rng.choice(len(SOURCES), size=n, p=[s[5] for s in SOURCES])
    source = np.array([s[0] for s in SOURCES], dtype=object)[source_index]
    source_effect = np.array([s[2] for s in SOURCES])[source_index]
    industry, industry_effect = _pick(rng, n, INDUSTRIES)
    employees = np.round(rng.lognormal(5.0, 1.4, n)).astype(np.int64) + 5
    size_effect = 0.35 - 0.18 * (np.log10(employees) - 2.7) ** 2  # mid-market buys most
    seniority, seniority_effect = _pick(rng, n, SENIORITY, [0.08, 0.15, 0.25, 0.3, 0.22])
    need, need_effect = _pick(rng, n, NEEDS, [0.3, 0.45, 0.25])
    timeline, timeline_effect = _pick(rng, n, TIMELINES, [0.2, 0.25, 0.3, 0.25])
    authority = rng.random(n) < np.where(np.isin(seniority, ["C-level", "VP"]), 0.85, 0.3)
    budget = np.round(rng.lognormal(10.0, 0.9, n), -2)
    lead_logit = (
        BASE_LOGIT
        + source_effect
        + industry_effect
        + size_effect
        + seniority_effect
        + need_effect
        + timeline_effect
        + 0.3 * authority
        + 0.15 * (np.log(budget) - 10.0)
    )

    # Owner: a rep of the lead's territory, chosen in proportion to capacity.
    owner = np.empty(n, dtype=np.int64)
    for t_name in np.unique(territory):
        members = np.flatnonzero(rep_territory == t_name)
        in_t = np.flatnonzero(territory == t_name)
        weights = capacity[members] / capacity[members].sum()
        owner[in_t] = members[rng.choice(len(members), size=len(in_t), p=weights)]
    self_sourced = source == "Self-sourced"
    assigned = created + rng.integers(60, 1800, n).astype("timedelta64[s]")

    # First touch: delay grows with the rep's load and shrinks with diligence; some never worked.
    monthly_load = np.bincount(owner, minlength=spec.n_reps) / (spec.days / 30.4)
    overload = load_factor(monthly_load, capacity)
    delay_hours, worked = first_touch(rng, overload[owner], diligence[owner], spec.never_worked_share)
    delay_hours = np.where(self_sourced, 0.1, delay_hours)
    worked = worked | self_sourced
    first_touch_at = assigned + (delay_hours * 3600).astype("timedelta64[s]")
    touch_effect = touch_effect_of(delay_hours)
    late_period = created >= np.datetime64(spec.end - timedelta(days=92))
    rep_effect = skill[owner] - np.where(np.isin(owner, laggards) & late_period, 1.0, 0.0)
    p_win = np.where(worked, _sigmoid(lead_logit + rep_effect + touch_effect), 0.0)

    # Outcomes: decided by p_win; closed after a gamma-distributed time; open if past the end.
    won = rng.random(n) < p_win
    days_to_close = np.where(won, rng.gamma(2.5, 22.0, n), rng.gamma(1.8, 25.0, n)) + 3
    closed = created + (days_to_close * 86400).astype("timedelta64[s]")
    end64 = np.datetime64(datetime.combine(spec.end, datetime.min.time()), "s")
    still_open = closed > end64
    lost = ~won & ~still_open & worked
    won = won & ~still_open
    never = ~worked & ~still_open
    lost = lost | (never & (rng.random(n) < 0.7))
    product_index = rng.choice(len(PRODUCTS), size=n, p=[0.55, 0.35, 0.1])
    amount = np.round(np.array([p[2] for p in PRODUCTS])[product_index] * rng.lognormal(0.0, 0.25, n), 0)
    progress = rng.random(n)
    stage = np.where(
        won,
        "won",
        np.where(
            lost,
            "lost",
            np.where(
                ~worked,
                "lead",
                np.where(progress < 0.35, "lead", np.where(progress < 0.65, "qualified", "opportunity")),
            ),
        ),
    )

    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    company_no = rng.integers(0, max(6000, n // 8), n)
    company = [
        f"{WORDS[c % 20]} {WORDS[(c // 20) % 20]} {SUFFIX[(c // 400) % 8]}"
        + (f" {c // 3200}" if c >= 3200 else "")
        for c in company_no.tolist()
    ]
    leads = (
        pl.DataFrame(
            {
                "external_id": [f"D{spec.seed}-{i:07d}" for i in range(n)],
                "created_at": created.astype("datetime64[us]"),
                "first_name": first,
                "last_name": last,
                "company": company,
                "phone": ((np.arange(n, dtype=np.int64) * 7919 + 104_729) % 10**9).astype(str),
                "industry": industry,
                "company_size": employees,
                "country": [
                    COUNTRIES[t][i % len(COUNTRIES[t])]
                    for t, i in zip(territory.tolist(), company_no.tolist(), strict=True)
                ],
                "territory": territory,
                "source": source,
                "lead_type": np.array([LEAD_TYPE_OF_SOURCE[s] for s in SOURCES_NAMES], dtype=object)[
                    source_index
                ],
                "title": np.array([TITLES[s] for s in seniority.tolist()], dtype=object),
                "seniority": seniority,
                "budget": budget,
                "authority": authority,
                "need": need,
                "timeline": timeline,
                "owner": owner,
                "self_sourced": self_sourced,
                "assigned_at": assigned.astype("datetime64[us]"),
                "first_touch_at": np.where(worked, first_touch_at, np.datetime64("NaT")).astype(
                    "datetime64[us]"
                ),
                "stage": stage,
                "won_at": np.where(won, closed, np.datetime64("NaT")).astype("datetime64[us]"),
                "lost_at": np.where(lost, np.minimum(closed, end64), np.datetime64("NaT")).astype(
                    "datetime64[us]"
                ),
                "amount": np.where(won, amount, np.nan),
                "product": np.where(won, np.array([p[0] for p in PRODUCTS])[product_index], "").tolist(),
                "lost_reason": np.where(lost, np.array(LOST_REASONS)[rng.integers(0, 5, n)], "").tolist(),
            }
        )
        .with_columns(
            pl.format(
                "{}.{}@{}.example",
                pl.col("first_name").str.to_lowercase(),
                pl.col("last_name").str.to_lowercase(),
                pl.col("company").str.to_lowercase().str.replace_all(" ", ""),
            ).alias("email"),
            pl.col("amount").fill_nan(None),
            pl.when(pl.col("product") != "").then("product").alias("product"),
            pl.when(pl.col("lost_reason") != "").then("lost_reason").alias("lost_reason"),
        )
        .with_columns(pl.col("email").str.split("@").list.last().alias("domain"))
    )
    # Two leads with one name at one company would be one person: number the namesakes apart.
    namesake = pl.col("email").cum_count().over("email") - 1
    leads = leads.with_columns(
        pl.when(namesake > 0)
        .then(pl.format("{}-{}", "last_name", namesake))
        .otherwise("last_name")
        .alias("last_name"),
        pl.when(namesake > 0)
        .then(pl.col("email").str.replace("@", pl.format("{}@", namesake), literal=True))
        .otherwise("email")
        .alias("email"),
        pl.format("+1 {}", pl.col("phone").str.pad_start(9, "0")).alias("phone"),
    )

    activities = _activities(rng, leads, worked, won, lost, closed, end64)
    stages = _stage_path(leads, worked)
    truth = {
        "p_win": p_win,
        "p_lead": _lead_only_probability(spec.seed, territory, lead_logit, rep_effect + touch_effect, worked),
        "lead_logit": lead_logit,
        "rep_effect": rep_effect,
        "touch_effect": touch_effect,
        "worked": worked,
        "skill": skill,
        "laggards": np.sort(laggards),
    }
    return Company(spec=spec, reps=reps, leads=leads, activities=activities, stages=stages, truth=truth)


SOURCES_NAMES = [s[0] for s in SOURCES]


def _lead_only_probability(
    seed: int,
    territory: np.ndarray[Any, Any],
    lead_logit: np.ndarray[Any, Any],
    handling: np.ndarray[Any, Any],
    worked: np.ndarray[Any, Any],
    draws: int = 128,
) -> np.ndarray[Any, Any]:
    """P(win | the lead's own attributes): the true probability averaged over who handles it.

    A scoring model sees the lead, not the rep it will get nor how fast it will be touched; its
    best possible answer averages ``sigmoid(lead_logit + handling)`` over the handling (rep
    effect and first-touch effect, or never worked) that leads of the same territory received.
    """
    rng = np.random.default_rng(seed + 1_000_003)
    p = np.zeros(lead_logit.size)
    for name in np.unique(territory):
        members = np.flatnonzero(territory == name)
        peers = rng.choice(members, size=draws)
        for start in range(0, members.size, 20_000):
            block = members[start : start + 20_000]
            chance = _sigmoid(lead_logit[block, None] + handling[None, peers]) * worked[None, peers]
            p[block] = chance.mean(axis=1)
    return p


def _activities(
    rng: np.random.Generator,
    leads: pl.DataFrame,
    worked: np.ndarray[Any, Any],
    won: np.ndarray[Any, Any],
    lost: np.ndarray[Any, Any],
    closed: np.ndarray[Any, Any],
    end64: np.datetime64,
) -> pl.DataFrame:
    """Contacts per worked lead: the first at its first touch, the rest until it closes."""
    count = np.where(worked, 1 + rng.poisson(np.where(won, 4.0, 1.5)), 0)
    lead_index = np.repeat(np.arange(leads.height), count)
    first_touch = leads["first_touch_at"].to_numpy().astype("datetime64[s]")
    until = np.minimum(np.where(won | lost, closed, end64), end64)
    span = np.maximum((until - first_touch).astype("timedelta64[s]").astype(np.int64), 3600)
    offset_in_lead = np.arange(lead_index.size) - np.repeat(np.cumsum(count) - count, count)
    fraction = np.where(offset_in_lead == 0, 0.0, rng.random(lead_index.size))
    at = first_touch[lead_index] + (fraction * span[lead_index]).astype("timedelta64[s]")
    kind = np.where(
        offset_in_lead == 0,
        "call",
        rng.choice(["call", "email", "meeting"], size=lead_index.size, p=[0.5, 0.35, 0.15]),
    )
    outcome = np.where(
        kind == "meeting",
        "completed",
        np.where(
            kind == "email",
            rng.choice(["replied", "no answer"], size=lead_index.size),
            rng.choice(
                ["connected", "no answer", "voicemail", "meeting set"],
                size=lead_index.size,
                p=[0.35, 0.3, 0.25, 0.1],
            ),
        ),
    )
    return pl.DataFrame(
        {
            "lead": lead_index,
            "rep": leads["owner"].to_numpy()[lead_index],
            "at": at.astype("datetime64[us]"),
            "kind": kind,
            "outcome": outcome,
        }
    )


def _stage_path(leads: pl.DataFrame, worked: np.ndarray[Any, Any]) -> pl.DataFrame:
    """Stage changes from inquiry to each lead's final stage, at plausible times."""
    frame = leads.select(
        pl.int_range(0, pl.len()).alias("lead"),
        "stage",
        "created_at",
        "assigned_at",
        "first_touch_at",
        "won_at",
        "lost_at",
    ).with_columns(pl.Series("worked", worked))
    final_at = pl.coalesce("won_at", "lost_at")
    depth = (
        pl.when(pl.col("stage").is_in(["won"]))
        .then(3)
        .when(pl.col("stage") == "lost")
        .then(pl.when(pl.col("worked")).then(2).otherwise(1))
        .when(pl.col("stage") == "opportunity")
        .then(3)
        .when(pl.col("stage") == "qualified")
        .then(2)
        .otherwise(1)
    )
    frame = frame.with_columns(depth.alias("depth"))
    touch = pl.coalesce("first_touch_at", "assigned_at")
    parts = [
        frame.select(
            "lead",
            pl.lit(None, dtype=pl.String).alias("from_stage"),
            pl.lit("inquiry").alias("to_stage"),
            pl.col("created_at").alias("at"),
        ),
        frame.select(
            "lead",
            pl.lit("inquiry").alias("from_stage"),
            pl.lit("lead").alias("to_stage"),
            pl.col("assigned_at").alias("at"),
        ),
        frame.filter(pl.col("depth") >= 2).select(
            "lead",
            pl.lit("lead").alias("from_stage"),
            pl.lit("qualified").alias("to_stage"),
            (touch + pl.duration(days=2)).alias("at"),
        ),
        frame.filter(pl.col("depth") >= 3).select(
            "lead",
            pl.lit("qualified").alias("from_stage"),
            pl.lit("opportunity").alias("to_stage"),
            (touch + pl.duration(days=9)).alias("at"),
        ),
        frame.filter(pl.col("stage").is_in(["won", "lost"])).select(
            "lead",
            pl.col("depth")
            .replace_strict({1: "lead", 2: "qualified", 3: "opportunity"}, return_dtype=pl.String)
            .alias("from_stage"),
            pl.col("stage").alias("to_stage"),
            final_at.alias("at"),
        ),
    ]
    stages = pl.concat(parts)
    # A close can come sooner than the generic step times: never let a step follow the close.
    return (
        stages.join(frame.select("lead", final_at.alias("_end")), on="lead")
        .with_columns(
            pl.when(pl.col("_end").is_not_null() & (pl.col("at") > pl.col("_end")))
            .then("_end")
            .otherwise("at")
            .alias("at")
        )
        .drop("_end")
        .sort("lead", "at")
    )


def write_demo(session: Session, *, spec: CompanySpec, settings: Settings) -> pl.DataFrame:
    """Generate the company and store it (bulk inserts); return a short summary table."""
    started = datetime.now(UTC)
    company = generate_company(spec)
    teams: dict[str, Team] = {}
    territories: dict[str, Territory] = {}
    for name, _country in TERRITORIES:
        territories[name] = Territory(name=name, key=name.lower().replace(" ", ""), rules={"regions": [name]})
        teams[name] = Team(name=f"{name} team", manager=f"{name} manager", policy="round_robin")
    session.add_all([*territories.values(), *teams.values()])
    session.flush()
    rep_rows = []
    for row in company.reps.iter_rows(named=True):
        rep_rows.append(
            Rep(
                external_id=row["external_id"],
                name=row["name"],
                name_key=row["name"].lower().replace(" ", ""),
                email=row["email"],
                team_id=teams[row["territory"]].id,
                manager=teams[row["territory"]].manager,
                capacity=int(row["capacity"]),
                active=True,
            )
        )
    session.add_all(rep_rows)
    sources = [
        Source(
            name=name,
            key=name.lower().replace(" ", "").replace("-", ""),
            channel=channel,
            cost_per_lead=cpl,
            monthly_spend=spend,
        )
        for name, channel, _effect, cpl, spend, _share in SOURCES
    ]
    products = [
        Product(name=name, key=name.lower(), series=series, price=price) for name, series, price in PRODUCTS
    ]
    session.add_all([*sources, *products])
    session.flush()
    session.execute(
        rep_territories.insert(),
        [
            {"rep_id": r.id, "territory_id": territories[t].id}
            for r, t in zip(rep_rows, company.reps["territory"], strict=True)
        ],
    )
    rep_ids = np.array([r.id for r in rep_rows])
    ids = np.array(reserve_ids(session, "leads", company.leads.height))
    leads = company.leads.with_columns(
        pl.Series("id", ids),
        pl.Series("owner_id", rep_ids[company.leads["owner"].to_numpy()]),
        pl.col("source")
        .replace_strict({s.name: s.id for s in sources}, return_dtype=pl.Int64)
        .alias("source_id"),
        pl.col("territory")
        .replace_strict({k: t.id for k, t in territories.items()}, return_dtype=pl.Int64)
        .alias("territory_id"),
        pl.col("product").replace({p.name: str(p.id) for p in products}).cast(pl.Int64).alias("product_id"),
        pl.format('{{"seniority": "{}"}}', pl.col("seniority")).alias("extra"),
        pl.col("territory").alias("region"),
        pl.col("lead_type"),
    )
    # was_opportunity as the stage changes below will set it, so their trigger writes no lead twice
    became = company.stages.filter(pl.col("to_stage") == "opportunity")["lead"].unique().to_numpy()
    was_opportunity = np.zeros(leads.height, dtype=bool)
    was_opportunity[became] = True
    leads = with_keys(leads).with_columns(*numbers(), pl.Series("was_opportunity", was_opportunity))
    columns = [c for c in ["id", *DATA, *KEYS, *NUMBERS, "was_opportunity"] if c in leads.columns]
    bulk_insert(session, "leads", columns, driver_rows(session, leads.select(columns)))
    assignments = leads.select(
        pl.col("id").alias("lead_id"),
        pl.col("owner_id").alias("rep_id"),
        pl.col("assigned_at").alias("at"),
        pl.when(pl.col("self_sourced"))
        .then(pl.lit("self-sourced"))
        .otherwise(pl.lit("demo territory"))
        .alias("policy"),
        pl.when(pl.col("self_sourced"))
        .then(pl.lit("found by the rep"))
        .otherwise(pl.format("territory {}, weighted by capacity", pl.col("territory")))
        .alias("reason"),
        pl.lit(1.0).alias("credit_share"),
        pl.lit("demo").alias("by"),
    )
    bulk_insert(session, "assignments", assignments.columns, driver_rows(session, assignments))
    record_issued(session, issued=assignments.select("rep_id", "at"))
    stages = company.stages.select(
        pl.Series("lead_id", ids[company.stages["lead"].to_numpy()]),
        "from_stage",
        "to_stage",
        "at",
        pl.lit("demo").alias("by"),
    )
    bulk_insert(session, "stage_changes", stages.columns, driver_rows(session, stages))
    activities = company.activities.select(
        pl.Series("lead_id", ids[company.activities["lead"].to_numpy()]),
        pl.Series("rep_id", rep_ids[company.activities["rep"].to_numpy()]),
        "at",
        "kind",
        "outcome",
    )
    bulk_insert(session, "activities", activities.columns, driver_rows(session, activities))
    session.flush()
    score_leads(
        session, settings=settings, include_closed=True, now=datetime.combine(spec.end, datetime.min.time())
    )
    stage_counts = company.leads["stage"].value_counts()
    won = int((company.leads["stage"] == "won").sum())
    lost = int((company.leads["stage"] == "lost").sum())
    seconds = (datetime.now(UTC) - started).total_seconds()
    facts = [
        ("period", f"{spec.end - timedelta(days=spec.days):%Y-%m-%d} to {spec.end:%Y-%m-%d}"),
        ("reps", f"{spec.n_reps} in {len(teams)} teams"),
        ("sources", str(len(sources))),
        ("leads", f"{company.leads.height:,}"),
        *[(f"  {s}", f"{c:,}") for s, c in sorted(stage_counts.iter_rows())],
        ("win rate of closed", f"{won / max(won + lost, 1):.1%}"),
        ("activities", f"{company.activities.height:,}"),
        ("stage changes", f"{company.stages.height:,}"),
        ("revenue won", f"{company.leads['amount'].sum():,.0f}"),
        ("generated and stored in", f"{seconds:.1f} s"),
    ]
    return pl.DataFrame(facts, schema=["what", "value"], orient="row")


def add_demo_logins(session: Session) -> list[tuple[str, str, str, str]]:
    """A manager of the first team and a rep user for its first rep, each with a fresh password
    and API token: (role, email, password, token), to print once."""
    rep = session.scalars(select(Rep).where(Rep.team_id.is_not(None)).order_by(Rep.id)).first()
    if rep is None:
        return []
    team = session.get(Team, rep.team_id)
    logins = []
    for role, email, name in (
        ("manager", "manager@demo.leadflow", f"Manager of {team.name if team else 'the team'}"),
        ("rep", "rep@demo.leadflow", rep.name),
    ):
        password = secrets.token_urlsafe(12)
        user = add_user(
            session, email=email, name=name, role=role, password=password,
            rep=rep if role == "rep" else None, team=team if role == "manager" else None,
        )  # fmt: skip
        logins.append((role, email, password, issue_token(session, user=user, name="demo")[1]))
    return logins
