"""The updated profile: which attribute values convert better or worse than the base rate.

From the value counts of scoring.learned_from (every value of every attribute, numbers in
quintile bins: leads with a known outcome and wins): the conversion ratio with a Wilson 95%
interval, and its lift over the base rate. Each value is tested against all other leads
(two-proportion z-test); with hundreds of values some would look significant by chance, so
p-values are adjusted by Benjamini-Hochberg (false discovery rate 5%). A suggested profile gives
points to the significant values only: 25 x ln(lift), within +-25.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy.stats import false_discovery_control, norm

from leadflow.scoring.learned_from import UNKNOWN
from leadflow.settings import Criterion

Z95 = float(norm.ppf(0.975))


def wilson(
    won: np.ndarray[Any, Any], n: np.ndarray[Any, Any], z: float = Z95
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Wilson score interval for won / n, element-wise; NaN where n is 0 (no interval)."""
    n = n.astype(float)
    p = np.divide(won, n, out=np.zeros_like(n), where=n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


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
    """Profile criteria for the significant values: 25 x ln(lift) points, within +-25."""
    criteria: list[Criterion] = []
    for row in table.filter(pl.col("significant") & (pl.col("value") != UNKNOWN)).iter_rows(named=True):
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
