"""Storing a generated company in the ledger (`leadflow demo`), with a login of each role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.access.accounts import one_time_password
from leadflow.access.service import add_user, issue_token
from leadflow.db import bulk_insert, driver_rows, reserve_ids
from leadflow.intake.lead_frame import DATA, KEYS, with_keys
from leadflow.ledger.keys import name_key
from leadflow.ledger.write import insert_assignments, insert_leads, insert_stage_changes
from leadflow.models import Partner, PartnerReport, Product, Rep, Source, Team, Territory, rep_territories
from leadflow.scoring.service import score_leads
from leadflow.settings import Settings
from leadflow.simulate.channels import HEADQUARTERS_SHARE, PARTNER, PARTNER_MAX_EMPLOYEES
from leadflow.simulate.company import CompanySpec, end_of, generate_company
from leadflow.simulate.truth import COUNTRIES, PRODUCTS, SOURCES, TERRITORIES


def write_demo(session: Session, *, spec: CompanySpec, settings: Settings) -> pl.DataFrame:
    """Generate the company and store it (bulk inserts); return a short summary table."""
    started = datetime.now(UTC)
    company = generate_company(spec)
    teams: dict[str, Team] = {}
    territories: dict[str, Territory] = {}
    # Each territory takes its countries' leads; the first territory (the largest) is tried last
    # and takes every lead no other claims, so a lead posted without a country is routed too.
    for priority, (name, _country) in enumerate(TERRITORIES):
        rules = {"countries": COUNTRIES[name]} if priority else {}
        order = priority if priority else len(TERRITORIES)
        key = name.lower().replace(" ", "")
        territories[name] = Territory(name=name, key=key, rules=rules, priority=order)
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
    partner_id = (
        _write_partner(session, company.partner_reports) if company.leads["to_partner"].any() else None
    )
    leads = company.leads.with_columns(
        pl.Series("id", ids),
        pl.when(pl.col("to_partner"))
        .then(None)
        .otherwise(pl.Series(rep_ids[company.leads["owner"].to_numpy()]))
        .alias("owner_id"),
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
    leads = with_keys(leads)
    insert_leads(
        session, rows=leads, columns=["id", *DATA, *KEYS], was_opportunity=pl.Series(was_opportunity)
    )
    split = pl.col("credit_rep") >= 0
    assignments = leads.select(
        pl.col("id").alias("lead_id"),
        pl.col("owner_id").alias("rep_id"),
        pl.when(pl.col("to_partner")).then(pl.lit(partner_id, dtype=pl.Int64)).alias("partner_id"),
        pl.col("assigned_at").alias("at"),
        pl.when(pl.col("self_sourced"))
        .then(pl.lit("self-sourced"))
        .when(pl.col("to_partner"))
        .then(pl.lit("partner"))
        .otherwise(pl.lit("demo territory"))
        .alias("policy"),
        pl.when(pl.col("self_sourced"))
        .then(pl.lit("found by the rep"))
        .when(pl.col("to_partner"))
        .then(pl.lit(f"accounts under {PARTNER_MAX_EMPLOYEES} employees go to {PARTNER}"))
        .otherwise(pl.format("territory {}, weighted by capacity", pl.col("territory")))
        .alias("reason"),
        pl.when(split).then(1.0 - HEADQUARTERS_SHARE).otherwise(1.0).alias("credit_share"),
        pl.lit("owner").alias("role"),
        pl.lit("demo").alias("by"),
    )
    shared = leads.filter(split)
    credits = shared.select(
        pl.col("id").alias("lead_id"),
        pl.Series(rep_ids).gather(shared["credit_rep"]).alias("rep_id"),
        pl.lit(None, dtype=pl.Int64).alias("partner_id"),
        pl.col("assigned_at").alias("at"),
        pl.lit("split credit").alias("policy"),
        pl.lit(f"company headquarters in another territory: {HEADQUARTERS_SHARE:.0%} of the credit").alias(
            "reason"
        ),
        pl.lit(HEADQUARTERS_SHARE).alias("credit_share"),
        pl.lit("credit").alias("role"),
        pl.lit("demo").alias("by"),
    )
    insert_assignments(session, rows=pl.concat([assignments, credits]))
    stages = company.stages.select(
        pl.Series("lead_id", ids[company.stages["lead"].to_numpy()]),
        "from_stage",
        "to_stage",
        "at",
        pl.lit("demo").alias("by"),
    )
    insert_stage_changes(session, rows=stages)
    activities = company.activities.select(
        pl.Series("lead_id", ids[company.activities["lead"].to_numpy()]),
        pl.Series("rep_id", rep_ids[company.activities["rep"].to_numpy()]),
        "at",
        "kind",
        "outcome",
    )
    bulk_insert(session, "activities", activities.columns, driver_rows(session, activities))
    session.flush()
    score_leads(session, settings=settings, include_closed=True, now=end_of(spec))
    stage_counts = company.leads["stage"].value_counts()
    won = int((company.leads["stage"] == "won").sum())
    lost = int((company.leads["stage"] == "lost").sum())
    seconds = (datetime.now(UTC) - started).total_seconds()
    facts = [
        ("period", f"{end_of(spec) - timedelta(days=spec.days):%Y-%m-%d} to {end_of(spec):%Y-%m-%d %H:%M}"),
        ("reps", f"{spec.n_reps} in {len(teams)} teams"),
        ("sources", str(len(sources))),
        ("leads", f"{company.leads.height:,}"),
        *[(f"  {s}", f"{c:,}") for s, c in sorted(stage_counts.iter_rows())],
        ("win rate of closed", f"{won / max(won + lost, 1):.1%}"),
        ("activities", f"{company.activities.height:,}"),
        ("stage changes", f"{company.stages.height:,}"),
        ("revenue won", f"{company.leads['amount'].sum():,.0f}"),
        ("issued to the partner", f"{int(company.leads['to_partner'].sum()):,}"),
        ("split credit", f"{int((company.leads['credit_rep'] >= 0).sum()):,}"),
        ("generated and stored in", f"{seconds:.1f} s"),
    ]
    return pl.DataFrame(facts, schema=["what", "value"], orient="row")


def _write_partner(session: Session, reports: pl.DataFrame) -> int:
    """The distributor and its monthly reports; its id."""
    partner = Partner(name=PARTNER, key=name_key(PARTNER))
    session.add(partner)
    session.flush()
    rows = reports.select(
        pl.lit(partner.id).alias("partner_id"),
        "period_start",
        pl.col("period_start").dt.offset_by("1mo").alias("period_end"),
        "leads_worked",
        "won",
        "revenue",
    )
    session.add_all(PartnerReport(**row) for row in rows.to_dicts())
    session.flush()
    return partner.id


def add_demo_logins(session: Session) -> list[tuple[str, str, str, str]]:
    """An admin (sales operations), a manager of the first team and a rep user for its first rep,
    each with a fresh password and API token: (role, email, password, token), to print once."""
    rep = session.scalars(select(Rep).where(Rep.team_id.is_not(None)).order_by(Rep.id)).first()
    if rep is None:
        return []
    team = session.get(Team, rep.team_id)
    logins = []
    for role, email, name in (
        ("admin", "admin@demo.leadflow", "Sales operations"),
        ("manager", "manager@demo.leadflow", f"Manager of {team.name if team else 'the team'}"),
        ("rep", "rep@demo.leadflow", rep.name),
    ):
        password = one_time_password()
        user = add_user(
            session, email=email, name=name, role=role, password=password,
            rep=rep if role == "rep" else None, team=team if role == "manager" else None,
        )  # fmt: skip
        logins.append((role, email, password, issue_token(session, user=user, name="demo")[1]))
    return logins
