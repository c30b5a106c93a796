"""A synthetic B2B company whose hidden truth is known, for the demo, tests and simulations.

:func:`generate_company` is pure (arrays in, arrays out, seeded); `simulate.demo.write_demo` stores one.
The truth is built so that every report has something real to find:

1. Each lead's attributes (source, industry, size, seniority, BANT) move its log-odds of winning
   by fixed effects; that is the part a scoring model can learn (``lead_logit``).
2. Each rep has a hidden skill (log-odds shift) and capacity; a few reps ("laggards") lose skill
   in the last three months.
3. The first touch comes after a delay that depends on the rep's diligence and load; each doubling
   of the delay past an hour lowers the log-odds (``touch_effect``). Some leads are never worked.
4. ``p_win`` = sigmoid(lead_logit + rep skill + touch effect); the outcome is drawn from it, and
   leads whose close would fall after the end are still open.

The company looks like one on the day it ends (by default now): leads whose first touch falls
after the end are waiting for it, and leads nobody worked are cleared once they are older than
``fresh_days`` (most closed as lost, the rest put in nurture), so that the open queue is recent.
With ``fit_capacity`` (the demo), capacities fit each rep's load but one rep's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from leadflow.simulate.channels import partner_leads, partner_reports, split_credit
from leadflow.simulate.history import lead_activities, stage_paths
from leadflow.simulate.names import FIRST, LAST, LOST_REASONS, NEVER_WORKED_REASON, SUFFIX, WORDS
from leadflow.simulate.truth import (
    BASE_LOGIT,
    COUNTRIES,
    INDUSTRIES,
    LEAD_TYPE_OF_SOURCE,
    NEEDS,
    PRODUCTS,
    SENIORITY,
    SOURCES,
    SOURCES_NAMES,
    TERRITORIES,
    TERRITORY_SHARE,
    TIMELINES,
    TITLES,
    first_touch,
    load_factor,
    touch_effect_of,
)
from leadflow.stats import Array
from leadflow.stats.links import expit


@dataclass(frozen=True)
class CompanySpec:
    """Size and seed of the synthetic company; the same spec gives the same company."""

    n_leads: int = 50_000
    n_reps: int = 24
    seed: int = 7
    # The moment the company's history stops: a date (its midnight) or a time (the demo: now).
    end: date = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0))
    days: int = 365
    n_laggards: int = 2
    never_worked_share: float = 0.08
    # Leads nobody worked stay open this many days before the team clears them (lost or nurture).
    fresh_days: int = 3
    # How much reps differ by kind of lead, nobody having said so: each rep's hidden log-odds
    # effect on each industry and each source is drawn with this standard deviation (0: none).
    specialism: float = 0.0
    # Other channels (channels.py): the share of small accounts issued to a distributor, and the
    # share of leads whose headquarters' territory shares the credit (0: none).
    partner_share: float = 0.0
    split_credit_share: float = 0.0
    # Capacities a manager set to each rep's load (70-90% used, one rep over), as in the demo;
    # else drawn apart from the load, so that some reps have room and others are over.
    fit_capacity: bool = False


@dataclass
class Company:
    """Generated reps, sources and leads with the hidden truth behind every outcome."""

    spec: CompanySpec
    reps: pl.DataFrame
    leads: pl.DataFrame
    activities: pl.DataFrame
    stages: pl.DataFrame
    truth: dict[str, Array]
    # the distributor's monthly totals (channels.partner_reports)
    partner_reports: pl.DataFrame = field(default_factory=pl.DataFrame)


def _pick(
    rng: np.random.Generator,
    n: int,
    effects: list[tuple[str, float]],
    probs: list[float] | None = None,
) -> tuple[Array, Array]:
    index = rng.choice(len(effects), size=n, p=probs)
    names = np.array([e[0] for e in effects], dtype=object)[index]
    return names, np.array([e[1] for e in effects])[index]


def generate_company(spec: CompanySpec) -> Company:
    """Draw a company's reps and a year of leads, first touches, activities, stages and outcomes."""
    rng = np.random.default_rng(spec.seed)
    end = end_of(spec)
    n, start = spec.n_leads, datetime.combine(end.date(), datetime.min.time()) - timedelta(days=spec.days)
    end64 = np.datetime64(end, "s")

    # Reps: territory, hidden skill, diligence (first-touch speed) and monthly capacity.
    rep_territory = np.array([TERRITORIES[i % len(TERRITORIES)][0] for i in range(spec.n_reps)], dtype=object)
    skill = rng.normal(0.0, 0.45, spec.n_reps)
    diligence = rng.lognormal(0.0, 0.6, spec.n_reps)
    # each rep's share of the territory's leads, and their monthly capacity unless fit_capacity
    share_weight = rng.integers(120, 360, spec.n_reps)
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
    # a company that ends during a day (the demo, now) has leads from that morning too
    day = rng.integers(0, spec.days + (end.time() != datetime.min.time()), n)
    weekday = (start + timedelta(days=1)).weekday()
    weekend = (day + weekday) % 7 >= 5
    day = np.where(weekend & (rng.random(n) < 0.7), np.maximum(day - 2, 0), day)
    created = np.datetime64(start, "s") + (day * 86400 + rng.integers(8 * 3600, 18 * 3600, n)).astype(
        "timedelta64[s]"
    )
    created = np.where(created >= end64, created - np.timedelta64(86400, "s"), created)  # not yet today
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

    # Owner: a rep of the lead's territory, chosen in proportion to their share weight.
    owner = np.empty(n, dtype=np.int64)
    for t_name in np.unique(territory):
        members = np.flatnonzero(rep_territory == t_name)
        in_t = np.flatnonzero(territory == t_name)
        weights = share_weight[members] / share_weight[members].sum()
        owner[in_t] = members[rng.choice(len(members), size=len(in_t), p=weights)]
    self_sourced = source == "Self-sourced"
    assigned = np.minimum(created + rng.integers(60, 1800, n).astype("timedelta64[s]"), end64)

    monthly_load = np.bincount(owner, minlength=spec.n_reps) / (spec.days / 30.4)
    capacity = fitted_capacity(spec, monthly_load, laggards) if spec.fit_capacity else share_weight
    reps = reps.with_columns(pl.Series("capacity", capacity)).select(
        "external_id", "name", "territory", "capacity", "skill", "diligence", "laggard", "email", "team"
    )

    # First touch: delay grows with the rep's load and shrinks with diligence; some never worked.
    overload = load_factor(monthly_load, capacity)
    delay_hours, worked = first_touch(rng, overload[owner], diligence[owner], spec.never_worked_share)
    delay_hours = np.where(self_sourced, 0.1, delay_hours)
    worked = worked | self_sourced
    first_touch_at = assigned + (delay_hours * 3600).astype("timedelta64[s]")
    touch_effect = touch_effect_of(delay_hours)
    late_period = created >= end64 - np.timedelta64(92 * 86400, "s")
    rep_industry, rep_source = specialisms(spec)
    industry_index = _index_of(industry, [i[0] for i in INDUSTRIES])
    rep_effect = (
        skill[owner]
        - np.where(np.isin(owner, laggards) & late_period, 1.0, 0.0)
        + rep_industry[owner, industry_index]
        + rep_source[owner, source_index]
    )
    p_win = np.where(worked, expit(lead_logit + rep_effect + touch_effect), 0.0)

    # Outcomes: decided by p_win; closed after a gamma-distributed time; open if past the end.
    won = rng.random(n) < p_win
    days_to_close = np.where(won, rng.gamma(2.5, 22.0, n), rng.gamma(1.8, 25.0, n)) + 3
    closed = created + (days_to_close * 86400).astype("timedelta64[s]")
    # a lead whose first touch falls after the end is waiting for it, and still open
    waiting = worked & (first_touch_at > end64)
    # the distributor's leads are no rep's: open in the ledger, their results reported in sums
    to_partner = partner_leads(spec.seed, spec.partner_share, employees, self_sourced)
    touched = worked & ~waiting & ~to_partner
    still_open = (closed > end64) | waiting | to_partner
    lost = ~won & ~still_open & worked
    won = won & ~still_open
    fresh = created > end64 - np.timedelta64(spec.fresh_days * 86400, "s")
    # leads nobody worked are cleared when they stop being fresh: most closed as lost, the rest
    # put in nurture for a later try
    stale = ~worked & ~fresh & ~to_partner
    never_lost = stale & (rng.random(n) < 0.7)
    nurtured = stale & ~never_lost
    cleared = np.where(stale, created + np.timedelta64(spec.fresh_days * 86400, "s"), end64)
    lost = lost | never_lost
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
                nurtured,
                "nurture",
                np.where(
                    ~touched,
                    "lead",
                    # an open lead has gone only as far as the days since its touch allow (history.py's steps)
                    np.where(
                        (progress < 0.35) | (first_touch_at > end64 - np.timedelta64(2 * 86400, "s")),
                        "lead",
                        np.where(
                            (progress < 0.65) | (first_touch_at > end64 - np.timedelta64(9 * 86400, "s")),
                            "qualified",
                            "opportunity",
                        ),
                    ),
                ),
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
    reasons = np.array(LOST_REASONS)[rng.integers(0, len(LOST_REASONS), n)]  # drawn last, as always
    lost_reason = np.where(never_lost, NEVER_WORKED_REASON, np.where(lost, reasons, ""))
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
                "to_partner": to_partner,
                "credit_rep": split_credit(
                    spec.seed, spec.split_credit_share, territory, rep_territory, ~self_sourced & ~to_partner
                ),
                "self_sourced": self_sourced,
                "assigned_at": assigned.astype("datetime64[us]"),
                "first_touch_at": np.where(touched, first_touch_at, np.datetime64("NaT")).astype(
                    "datetime64[us]"
                ),
                "stage": stage,
                "won_at": np.where(won, closed, np.datetime64("NaT")).astype("datetime64[us]"),
                "lost_at": np.where(lost, np.minimum(closed, cleared), np.datetime64("NaT")).astype(
                    "datetime64[us]"
                ),
                "amount": np.where(won, amount, np.nan),
                "product": np.where(won, np.array([p[0] for p in PRODUCTS])[product_index], "").tolist(),
                "lost_reason": lost_reason.tolist(),
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

    activities = lead_activities(rng, leads, touched, won, lost, closed, end64)
    stages = stage_paths(leads, touched, cleared_after_days=spec.fresh_days)
    p_lead = _lead_only_probability(spec.seed, territory, lead_logit, rep_effect + touch_effect, worked)
    truth = {
        "p_win": p_win,
        "p_lead": p_lead,
        "lead_logit": lead_logit,
        "rep_effect": rep_effect,
        "touch_effect": touch_effect,
        "worked": worked,
        "skill": skill,
        "laggards": np.sort(laggards),
        "rep_industry": rep_industry,
        "rep_source": rep_source,
    }
    reports = partner_reports(spec.seed, created, to_partner, p_lead, end)
    return Company(
        spec=spec, reps=reps, leads=leads, activities=activities, stages=stages, truth=truth,
        partner_reports=reports,
    )  # fmt: skip


def fitted_capacity(spec: CompanySpec, monthly_load: Array, laggards: Array) -> Array:
    """Monthly capacities sized to each rep's load with some room (70-90% used), except one rep
    (not a laggard) given more than they can work. Drawn from their own seed."""
    rng = np.random.default_rng(spec.seed + 8_191)
    used = rng.uniform(0.7, 0.9, spec.n_reps)
    others = np.setdiff1d(np.arange(spec.n_reps), laggards)
    if others.size:
        used[rng.choice(others)] = 1.25
    return np.maximum(np.round(monthly_load / used), 1).astype(np.int64)


def end_of(spec: CompanySpec) -> datetime:
    """When the company's history stops: ``spec.end`` itself if a time, else that date's midnight."""
    if isinstance(spec.end, datetime):
        return spec.end
    return datetime.combine(spec.end, datetime.min.time())


def specialisms(spec: CompanySpec) -> tuple[Array, Array]:
    """Each rep's hidden effect on each industry and each source (n_reps, values); zeros unless
    ``spec.specialism``. Drawn apart from the rest of the company, so that a company with
    specialists is the same company otherwise."""
    shape_i, shape_s = (spec.n_reps, len(INDUSTRIES)), (spec.n_reps, len(SOURCES))
    if not spec.specialism:
        return np.zeros(shape_i), np.zeros(shape_s)
    rng = np.random.default_rng(spec.seed + 424_242)
    return rng.normal(0.0, spec.specialism, shape_i), rng.normal(0.0, spec.specialism, shape_s)


def _index_of(values: Array, names: list[str]) -> Array:
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[v] for v in values.tolist()], dtype=np.int64)


def _lead_only_probability(
    seed: int,
    territory: Array,
    lead_logit: Array,
    handling: Array,
    worked: Array,
    draws: int = 128,
) -> Array:
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
            chance = expit(lead_logit[block, None] + handling[None, peers]) * worked[None, peers]
            p[block] = chance.mean(axis=1)
    return p
