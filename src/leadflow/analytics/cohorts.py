"""Time to close: monthly cohorts' share won within months of creation, open leads censored and
lost ones a competing outcome (Aalen-Johansen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import ReportFilter, days_between, latest_date, lead_query, month_label
from leadflow.analytics.query.packed_keys import Bounded
from leadflow.analytics.query.states import MONTHS, coroutine, grouped, packed_grouping, unpacked
from leadflow.analytics.reps import DAYS_PER_MONTH
from leadflow.models import (
    Lead,
)
from leadflow.stats.survival import aalen_johansen

CLOSING_OUTCOMES = ("won", "lost", "open")  # closing_times' outcomes, by their code in its key

CLOSING_BOUND = 2**24  # its key: three times any whole days between two dates before the year 10,000


def closing_times(session: Session, *, filters: ReportFilter, as_of: datetime) -> pl.DataFrame:
    """Leads counted by creation month, outcome (won, lost, open) and whole days from creation
    to the outcome, or to ``as_of`` for open leads (censored there). Disqualified leads are left
    out: they were never a sale that could close."""
    q = lead_query(session, by=["month"], filters=filters)
    outcome = case((Lead.stage == "won", 0), (Lead.stage == "lost", 1), else_=2)
    ended = case(
        (Lead.stage == "won", Lead.won_at),
        (Lead.stage == "lost", Lead.lost_at),
        else_=literal(as_of),
    )
    # a closed lead's days are kept as a number (closed_days); only open leads' are counted here
    days = func.coalesce(Lead.closed_days, days_between(session, Lead.created_at, literal(as_of)))
    # days and outcome as one key, one sort column fewer on SQLite
    key = days * len(CLOSING_OUTCOMES) + outcome
    grouping, packing = packed_grouping(
        session,
        {"cohort": q.keys["month"], "key": key},
        bounds=[Bounded("cohort", None, 0, MONTHS)],
        high=("key", CLOSING_BOUND),
    )
    leads = select(*(c.label(k) for k, c in grouping.items())).select_from(q.select_from)
    rows = coroutine(
        session,
        leads.where(
            *q.where,
            Lead.created_at.is_not(None),
            Lead.created_at <= as_of,
            Lead.stage != "disqualified",
            ended.is_not(None),
        ),
    )
    group = [rows.c[k] for k in grouping]
    counted = select(*group, func.count()).group_by(*group)
    frame = unpacked(grouped(session, counted, [*grouping, "leads"]), packing)
    key_column = pl.col("key").cast(pl.Int64)
    return frame.select(
        month_label(pl.col("cohort").cast(pl.Int64)).alias("cohort"),
        (key_column % len(CLOSING_OUTCOMES))
        .replace_strict(dict(enumerate(CLOSING_OUTCOMES)), return_dtype=pl.String)
        .alias("outcome"),
        (key_column // len(CLOSING_OUTCOMES)).cast(pl.Float64).alias("days"),
        pl.col("leads").cast(pl.Float64),
    )


HORIZONS_MONTHS = (1, 2, 3, 6, 9, 12)


@dataclass
class CohortReport:
    """Per monthly cohort and overall ("all"): counts and the share won (and lost) within each
    horizon, open leads as censored and loss as a competing outcome; null beyond follow-up."""

    table: pl.DataFrame
    as_of: datetime
    horizons: tuple[int, ...]

    def sentence(self, cohort: str = "all") -> str:
        """'10% within 3 months, 26% within 6, 45% within 12' for one cohort."""
        row = self.table.filter(pl.col("cohort") == cohort).row(0, named=True)
        parts = [
            (h, row[f"won_{h}m"]) for h in self.horizons if h in (3, 6, 12) and row[f"won_{h}m"] is not None
        ]
        if not parts:
            return "too early to tell: no cohort has been followed for 3 months yet"
        text = [f"{share:.0%} within {h} months" if i == 0 else f"{share:.0%} within {h}"
                for i, (h, share) in enumerate(parts)]  # fmt: skip
        return ", ".join(text)


def cohorts_report(
    session: Session,
    *,
    filters: ReportFilter,
    as_of: datetime | None = None,
    horizons: tuple[int, ...] = HORIZONS_MONTHS,
) -> CohortReport:
    """Time to close: for each monthly cohort and all leads together, the cumulative share won
    (and lost) by months since creation (Aalen-Johansen)."""
    as_of = as_of or latest_date(session)
    times = closing_times(session, filters=filters, as_of=as_of)
    days = [round(h * DAYS_PER_MONTH) for h in horizons]
    rows = []
    cohorts = sorted(times["cohort"].unique().to_list()) if not times.is_empty() else []
    for cohort in [*cohorts, "all"]:
        part = times if cohort == "all" else times.filter(pl.col("cohort") == cohort)
        if part.is_empty():
            continue
        count = {o: part.filter(pl.col("outcome") == o) for o in ("won", "lost", "open")}
        time = part["days"].to_numpy()
        weight = part["leads"].to_numpy()
        outcome = part["outcome"].to_numpy()
        curve = aalen_johansen(
            time, weight * (outcome == "won"), weight * (outcome == "lost"), weight * (outcome == "open")
        )
        won_at, lost_at = curve.at(np.array(days, dtype=float))
        row: dict[str, object] = {
            "cohort": cohort,
            "leads": float(part["leads"].sum()),
            **{o: float(count[o]["leads"].sum()) for o in ("won", "lost", "open")},
            "follow_up_days": curve.follow_up,
        }
        for h, w, lost in zip(horizons, won_at, lost_at, strict=True):
            row[f"won_{h}m"] = None if np.isnan(w) else float(w)
            row[f"lost_{h}m"] = None if np.isnan(lost) else float(lost)
        rows.append(row)
    schema = {"cohort": pl.String, "leads": pl.Float64, "won": pl.Float64, "lost": pl.Float64,
              "open": pl.Float64, "follow_up_days": pl.Float64,
              **{f"{o}_{h}m": pl.Float64 for h in horizons for o in ("won", "lost")}}  # fmt: skip
    return CohortReport(pl.DataFrame(rows, schema=schema), as_of, horizons)
