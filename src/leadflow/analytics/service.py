"""Report services the CLI, API and dashboard share; each returns frames, never renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy.orm import Session

from leadflow.analytics.ledger import ReportFilter, count_by
from leadflow.analytics.profile import attribute_lift, binned, suggest_criteria
from leadflow.analytics.rates import with_ratio
from leadflow.scoring.model import feature_frame
from leadflow.scoring.service import labelled_leads
from leadflow.settings import Criterion


@dataclass
class ProfileReport:
    """What converts: one row per attribute value, the base rate, and a suggested profile."""

    table: pl.DataFrame
    base_rate: float
    leads: int
    horizon_days: float
    suggested: list[Criterion]


def profile_report(session: Session, *, now: datetime | None = None) -> ProfileReport:
    """Conversion and lift of every attribute value over leads with a known outcome."""
    labelled, horizon, _ = labelled_leads(session, now=now)
    if labelled.is_empty():
        return ProfileReport(pl.DataFrame(), 0.0, 0, horizon, [])
    features, categorical, numeric = feature_frame(labelled)
    frame = binned(features.with_columns(labelled["label"]), numeric)
    frame = frame.with_columns(pl.col(c).replace("(missing)", None) for c in categorical)
    known = [a for a in categorical + numeric if frame[a].drop_nulls().len() > 0]
    table = attribute_lift(frame, known)
    return ProfileReport(
        table=table,
        base_rate=float(labelled["label"].mean()),  # type: ignore[arg-type]
        leads=labelled.height,
        horizon_days=horizon,
        suggested=suggest_criteria(table, numeric),
    )


def conversion_report(session: Session, *, by: list[str], filters: ReportFilter) -> pl.DataFrame:
    """Leads in, worked, won, lost, open and the ratio won / (won + lost) with its 95% interval,
    for each combination of ``by``; distributed and self-sourced leads always apart."""
    dimensions = by if "channel" in by else ["channel", *by]
    return with_ratio(count_by(session, by=dimensions, filters=filters))
