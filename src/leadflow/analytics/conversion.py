"""Conversion by any dimensions, with 95% Wilson intervals; split credit counted by share."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import ReportFilter, latest_date
from leadflow.analytics.query.states import count_by
from leadflow.scoring.service import usual_time_to_close
from leadflow.stats.rates import with_ratio


def conversion_dimensions(by: list[str]) -> list[str]:
    """A conversion report's columns for ``by``: the channel always, the lead type by its name."""
    by = ["lead_type" if d == "type" else d for d in by]  # design.md's name for it
    return by if "channel" in by else ["channel", *by]


def conversion_report(session: Session, *, by: list[str], filters: ReportFilter) -> pl.DataFrame:
    """Leads in, worked, won, lost, open and the ratio won / (won + lost) with its 95% interval,
    for each combination of ``by``; distributed and self-sourced leads always apart."""
    frame = with_ratio(count_by(session, by=conversion_dimensions(by), filters=filters))
    if "month" not in frame.columns:
        return frame
    return with_maturity(frame, as_of=latest_date(session), horizon_days=usual_time_to_close(session))


def rolled_up(conversion: pl.DataFrame, *, by: list[str]) -> pl.DataFrame:
    """A conversion report summed to fewer of its dimensions (``by``; the channel is always kept):
    the counts add up, the ratios are made again. For a page that shows both, one pass, not two."""
    dimensions = conversion_dimensions(by)
    counts = [c for c, t in conversion.schema.items() if t.is_numeric() and not c.startswith("conversion")]
    summed = conversion.group_by(dimensions).agg(pl.col(counts).sum()).sort(dimensions, nulls_last=True)
    return with_ratio(summed)


def with_maturity(conversion: pl.DataFrame, *, as_of: datetime, horizon_days: float) -> pl.DataFrame:
    """Mark monthly cohorts still ``maturing``: fewer than ``horizon_days`` (the usual time to
    close) have passed since their month ended, so their conversion counts only the quick
    outcomes and is not yet comparable with older months."""
    if "month" not in conversion.columns:
        return conversion
    month_end = pl.col("month").str.to_date("%Y-%m", strict=False).dt.offset_by("1mo")
    matured = month_end.cast(pl.Datetime("us")) + pl.duration(days=horizon_days) <= pl.lit(as_of)
    return conversion.with_columns((~matured).fill_null(False).alias("maturing"))
