"""The dashboard's overview: conversion by month, in total, and the funnel, from one set of passes."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy.orm import Session

from leadflow.analytics.conversion import conversion_dimensions, rolled_up, with_maturity
from leadflow.analytics.funnel import NEVER_WORKED_AFTER, FunnelReport, funnel_from_leads, funnel_leads
from leadflow.analytics.query.filters import ReportFilter, latest_date, name_dimensions
from leadflow.analytics.query.states import OUTCOMES
from leadflow.scoring.service import usual_time_to_close
from leadflow.stats.rates import with_ratio


@dataclass
class Overview:
    """The dashboard's first page: conversion by channel and month, the same in total, the funnel."""

    months: pl.DataFrame
    totals: pl.DataFrame
    funnel: FunnelReport


def overview_report(session: Session, *, filters: ReportFilter) -> Overview:
    """Conversion by month and in total, and the funnel as of the ledger's date: all from the
    funnel's one pass over the leads, which counts what conversion by month counts."""
    as_of = latest_date(session)
    cutoff = as_of - NEVER_WORKED_AFTER
    leads = funnel_leads(session, filters=filters, assigned_before=cutoff)
    by = conversion_dimensions(["month"])
    months = with_ratio(name_dimensions(session, leads, by, list(OUTCOMES)))
    return Overview(
        with_maturity(months, as_of=as_of, horizon_days=usual_time_to_close(session)),
        rolled_up(months, by=[]),
        funnel_from_leads(session, leads=leads, filters=filters, as_of=as_of),
    )
