"""Score leads in bulk and explain one lead's score; the fit numbers come from fit.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from leadflow.db import bulk_update, driver_rows
from leadflow.models import CLOSED_STAGES, Activity, Lead, Source, utcnow
from leadflow.scoring.fit import ENGAGEMENT, check_profile, engagement, factors, fit_breakdown, grade
from leadflow.settings import Settings

# Lead attributes a profile criterion may name (plus extra.NAME).
ATTRIBUTES = [
    "title",
    "company",
    "industry",
    "company_size",
    "annual_revenue",
    "country",
    "region",
    "city",
    "lead_type",
    "budget",
    "authority",
    "need",
    "timeline",
    "self_sourced",
]


def score_frame(leads: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """``id``, ``fit_score`` and ``grade`` for leads given as a frame (attributes, ``source``,
    ``extra`` as JSON text, and ``engagement`` where known)."""
    check_profile(settings.profile, [*leads.columns, "source"])
    if ENGAGEMENT not in leads.columns:
        leads = leads.with_columns(pl.lit(0.0).alias(ENGAGEMENT))
    scores = fit_breakdown(leads, settings.profile).select("id", "fit_score")
    return scores.with_columns(grade(pl.col("fit_score"), settings.grades).alias("grade"))


def _lead_frame(session: Session, lead_ids: list[int] | None, *, open_only: bool) -> pl.DataFrame:
    query = (
        select(Lead.id, *[getattr(Lead, a) for a in ATTRIBUTES], Source.name, cast(Lead.extra, Text))
        .outerjoin(Source, Lead.source_id == Source.id)
        .order_by(Lead.id)
    )
    if open_only:
        query = query.where(Lead.stage.not_in(CLOSED_STAGES))
    if lead_ids is not None:
        query = query.where(Lead.id.in_(lead_ids))
    schema = ["id", *ATTRIBUTES, "source", "extra"]
    return pl.DataFrame(session.execute(query).all(), schema=schema, orient="row", infer_schema_length=None)


def _engagement(
    session: Session, lead_ids: list[int] | None, settings: Settings, now: datetime
) -> pl.DataFrame:
    query = select(Activity.lead_id, Activity.at, Activity.outcome).where(
        Activity.outcome.in_(settings.profile.behaviour.positive_outcomes)
    )
    if lead_ids is not None:
        query = query.where(Activity.lead_id.in_(lead_ids))
    rows = session.execute(query).all()
    frame = pl.DataFrame(
        rows, schema={"lead_id": pl.Int64, "at": pl.Datetime("us"), "outcome": pl.String}, orient="row"
    )
    return engagement(frame, settings.profile.behaviour, now=now)


def _with_engagement(
    session: Session, leads: pl.DataFrame, settings: Settings, now: datetime, ids: list[int] | None
) -> pl.DataFrame:
    engaged = _engagement(session, ids, settings, now).rename({"lead_id": "id"})
    return leads.join(engaged, on="id", how="left", maintain_order="left")


def score_leads(
    session: Session,
    *,
    settings: Settings,
    lead_ids: list[int] | None = None,
    include_closed: bool = False,
    now: datetime | None = None,
) -> int:
    """Recompute the fit score and grade of every open lead (or all, or the given ones); how many."""
    now = now or utcnow()
    total = 0
    chunks = (
        [lead_ids[i : i + 5000] for i in range(0, len(lead_ids), 5000)] if lead_ids is not None else [None]
    )
    for chunk in chunks:
        leads = _lead_frame(session, chunk, open_only=chunk is None and not include_closed)
        if leads.is_empty():
            continue
        scored = score_frame(_with_engagement(session, leads, settings, now, chunk), settings)
        bulk_update(
            session,
            "leads",
            ["fit_score", "grade"],
            driver_rows(session, scored.select("fit_score", "grade", "id")),
        )
        total += scored.height
    return total


@dataclass(frozen=True)
class FitExplanation:
    """One lead's fit score, grade, points per criterion, and the top factors for and against."""

    fit_score: float
    grade: str
    points: dict[str, float]
    for_: list[str]
    against: list[str]


def explain_fit(
    session: Session, *, lead_id: int, settings: Settings, now: datetime | None = None
) -> FitExplanation:
    """Why a lead has its fit score: the points of each criterion and of engagement."""
    now = now or utcnow()
    leads = _with_engagement(
        session, _lead_frame(session, [lead_id], open_only=False), settings, now, [lead_id]
    )
    check_profile(settings.profile, [*leads.columns, "source"])
    breakdown = fit_breakdown(leads, settings.profile).row(0, named=True)
    score = float(breakdown.pop("fit_score"))
    breakdown.pop("id")
    for_, against = factors(breakdown, settings.profile)
    letter = pl.select(grade(pl.lit(score), settings.grades)).item()
    return FitExplanation(fit_score=score, grade=letter, points=breakdown, for_=for_, against=against)


def grade_counts(session: Session) -> pl.DataFrame:
    """How many open leads have each grade (and none yet), with their mean fit score."""
    rows = session.execute(
        select(Lead.grade, func.count(), func.avg(Lead.fit_score))
        .where(Lead.stage.not_in(CLOSED_STAGES))
        .group_by(Lead.grade)
        .order_by(Lead.grade)
    ).all()
    return pl.DataFrame(
        [(g or "none", n, round(float(m), 1) if m is not None else None) for g, n, m in rows],
        schema={"grade": pl.String, "leads": pl.Int64, "mean_fit": pl.Float64},
        orient="row",
    )
