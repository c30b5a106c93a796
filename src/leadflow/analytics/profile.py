"""The updated profile: which attribute values convert better or worse than the base rate.

From the value counts of scoring.learned_from (every value of every attribute, numbers in
quintile bins: leads with a known outcome and wins): the conversion ratio with a Wilson 95%
interval, and its lift over the base rate. Each value is tested against all other leads
(two-proportion z-test); with hundreds of values some would look significant by chance, so
p-values are adjusted by Benjamini-Hochberg (false discovery rate 5%). A suggested profile gives
points to the significant values only: 25 x ln(lift), within +-25."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from scipy.stats import false_discovery_control, norm
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.models import (
    ScoreModel,
)
from leadflow.scoring.learned_from import UNKNOWN, learned_from
from leadflow.scoring.service import labelled_leads
from leadflow.settings import Criterion
from leadflow.stats.intervals import wilson


@dataclass
class ProfileReport:
    """What converts: one row per attribute value, the base rate, and a suggested profile; counted
    when model ``model_id`` was trained, or now from the ledger (``model_id`` None)."""

    table: pl.DataFrame
    base_rate: float
    leads: int
    horizon_days: float
    suggested: list[Criterion]
    as_of: datetime
    model_id: int | None


def profile_report(session: Session, *, fresh: bool = False, now: datetime | None = None) -> ProfileReport:
    """Conversion and lift of every attribute value over leads with a known outcome: those the
    latest model learned from, or with ``fresh`` (or a ``now``) those the ledger holds now."""
    model = None
    if not fresh and now is None:
        model = session.execute(
            select(ScoreModel.id, ScoreModel.trained_at, ScoreModel.horizon_days, ScoreModel.learned_from)
            .order_by(ScoreModel.id.desc())
            .limit(1)
        ).first()
    if model is not None and model.learned_from is not None:
        counts, model_id = model.learned_from, model.id
        horizon, now = model.horizon_days, model.trained_at
    else:
        labelled, horizon, now = labelled_leads(session, now=now)
        counts = learned_from(labelled) if labelled.height else None
        model_id = None
    if counts is None:
        return ProfileReport(pl.DataFrame(), 0.0, 0, horizon, [], now, model_id)
    table = lift_table(pl.DataFrame(counts["values"]), leads=counts["leads"], won=counts["won"])
    return ProfileReport(
        table=table,
        base_rate=counts["won"] / counts["leads"],
        leads=counts["leads"],
        horizon_days=horizon,
        suggested=suggest_criteria(table, counts["numeric"]),
        as_of=now,
        model_id=model_id,
    )


def lift_table(counts: pl.DataFrame, *, leads: int, won: int) -> pl.DataFrame:
    """From value counts (attribute, value, leads, won) over ``leads`` leads of which ``won`` won:
    each value's conversion with interval, lift, and p and q values, best lift first."""
    base = won / leads
    n, wins = counts["leads"].to_numpy(), counts["won"].to_numpy().astype(float)
    low, high = wilson(wins, n)
    rest_n, rest_won = leads - n, won - wins
    se = np.sqrt(base * (1 - base) * (1 / n + 1 / np.maximum(rest_n, 1)))
    ratio = wins / n
    rest_ratio = np.divide(rest_won, rest_n, out=np.full_like(ratio, base), where=rest_n > 0)
    z = np.divide(ratio - rest_ratio, se, out=np.zeros_like(ratio), where=se > 0)
    p = 2 * norm.sf(np.abs(z))
    p = np.where(rest_n > 0, p, 1.0)
    q = false_discovery_control(p, method="bh")
    return (
        counts.with_columns(
            pl.Series("conversion", ratio),
            pl.Series("conversion_low", low),
            pl.Series("conversion_high", high),
            pl.Series("lift", ratio / base),
            pl.Series("lift_low", low / base),
            pl.Series("lift_high", high / base),
            pl.Series("p_value", p),
            pl.Series("q_value", q),
        )
        .with_columns((pl.col("q_value") < 0.05).alias("significant"))
        .sort("attribute", "lift", descending=[False, True])
    )


def suggest_criteria(table: pl.DataFrame, numeric: list[str]) -> list[Criterion]:
    """Profile criteria for the significant values: 25 x ln(lift) points, within +-25. A value
    that holds exactly the same leads as one already suggested (a title and the seniority it
    implies, a source and its lead type) is the same group: it is not counted twice."""
    criteria: list[Criterion] = []
    groups: dict[tuple[int, int], str] = {}  # (leads, wins) of a suggested value: its attribute
    significant = table.filter(pl.col("significant") & (pl.col("value") != UNKNOWN)).sort(
        pl.col("lift").log().abs(), "attribute", descending=[True, False]
    )
    for row in significant.iter_rows(named=True):
        group = (int(row["leads"]), int(row["won"]))
        if groups.get(group, row["attribute"]) != row["attribute"]:  # one attribute's values are disjoint
            continue
        groups[group] = row["attribute"]
        points = float(np.clip(round(25 * np.log(row["lift"])), -25, 25)) if row["lift"] > 0 else -25.0
        if points == 0:
            continue
        name = f"{row['attribute']} {row['value']}"
        if row["attribute"] in numeric:
            low, high = (float(x.replace(",", "")) for x in row["value"].split(" to "))
            criteria.append(
                Criterion(name=name, field=row["attribute"], op="between", value=[low, high], points=points)
            )
        else:
            criteria.append(
                Criterion(name=name, field=row["attribute"], op="eq", value=row["value"], points=points)
            )
    return criteria
