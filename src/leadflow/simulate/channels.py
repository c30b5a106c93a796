"""The generated company's other channels and shared deals: small accounts issued to a
distributor who reports only monthly totals, and leads whose company headquarters sits in another
territory, whose credit the owner shares with a rep there.

Drawn from their own seeds, so that a company with them is the same company otherwise.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from leadflow.stats import Array

PARTNER = "Northwind Distribution"
PARTNER_MAX_EMPLOYEES = 50  # the accounts the distributor takes
PARTNER_WORKS = 0.8  # the share of its leads the distributor works
HEADQUARTERS_SHARE = 0.5  # the headquarters' rep's share of a split deal (routing's default)
# `leadflow demo`'s channels: a third of the small accounts to the distributor, 3% of deals split
DEMO_PARTNER_SHARE = 0.3
DEMO_SPLIT_SHARE = 0.03


def partner_leads(seed: int, share: float, employees: Array, self_sourced: Array) -> Array:
    """Which leads went to the distributor: ``share`` of the small accounts nobody found themselves."""
    if not share:
        return np.zeros(employees.size, dtype=bool)
    rng = np.random.default_rng(seed + 31_337)
    small = (employees < PARTNER_MAX_EMPLOYEES) & ~self_sourced
    return small & (rng.random(employees.size) < share)


def partner_reports(seed: int, created: Array, issued: Array, p_lead: Array, end: datetime) -> pl.DataFrame:
    """The distributor's monthly totals for each whole month before ``end``: leads worked, won
    (each worked lead won with its own true probability) and revenue at the platform's price."""
    schema: dict[str, pl.DataType] = {
        "period_start": pl.Datetime("us"),
        "leads_worked": pl.Int64(),
        "won": pl.Int64(),
        "revenue": pl.Float64(),
    }
    if not issued.any():
        return pl.DataFrame(schema=schema)
    rng = np.random.default_rng(seed + 27_182)
    worked = issued & (rng.random(issued.size) < PARTNER_WORKS)
    won = worked & (rng.random(issued.size) < p_lead)
    revenue = np.where(won, np.round(4800.0 * rng.lognormal(0.0, 0.25, issued.size)), 0.0)
    frame = pl.DataFrame(
        {
            "created_at": created.astype("datetime64[us]"),
            "issued": issued,
            "worked": worked,
            "won": won,
            "revenue": revenue,
        }
    )
    this_month = datetime(end.year, end.month, 1)
    return (
        frame.filter("issued", pl.col("created_at") < this_month)
        .group_by(pl.col("created_at").dt.truncate("1mo").alias("period_start"))
        .agg(
            pl.col("worked").sum().cast(pl.Int64).alias("leads_worked"),
            pl.col("won").sum().cast(pl.Int64).alias("won"),
            pl.col("revenue").sum().alias("revenue"),
        )
        .sort("period_start")
        .cast(pl.Schema(schema))
    )


def split_credit(seed: int, share: float, territory: Array, rep_territory: Array, eligible: Array) -> Array:
    """For ``share`` of the eligible leads, a rep of another territory (the company
    headquarters') who shares the credit; -1 for the rest."""
    credit = np.full(territory.size, -1, dtype=np.int64)
    if not share:
        return credit
    rng = np.random.default_rng(seed + 16_180)
    chosen = eligible & (rng.random(territory.size) < share)
    for name in np.unique(territory[chosen]).tolist():
        here = np.flatnonzero(chosen & (territory == name))
        others = np.flatnonzero(rep_territory != name)
        if others.size:
            credit[here] = others[rng.integers(others.size, size=here.size)]
    return credit
