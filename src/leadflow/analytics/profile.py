"""The updated profile: which attribute values convert better or worse than the base rate.

For every value of every attribute (numbers in quintile bins): leads with a known outcome, wins,
the conversion ratio with a Wilson 95% interval, and its lift over the base rate. Each value is
tested against all other leads (two-proportion z-test); with hundreds of values some would look
significant by chance, so p-values are adjusted by Benjamini-Hochberg (false discovery rate 5%).
A suggested profile gives points to the significant values only: 25 x ln(lift), within +-25.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy.stats import false_discovery_control, norm

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


def binned(frame: pl.DataFrame, numeric: list[str], *, bins: int = 5) -> pl.DataFrame:
    """Numeric attributes replaced by their quantile bin, labelled with its range."""
    out: list[pl.Expr] = []
    for column in numeric:
        values = frame[column].cast(pl.Float64)
        known = values.drop_nulls()
        if known.n_unique() < 2:
            out.append(pl.lit(None, dtype=pl.String).alias(column))
            continue
        edges = np.unique(np.quantile(known.to_numpy(), np.linspace(0, 1, bins + 1)))
        index = np.clip(
            np.searchsorted(edges, values.fill_null(np.nan).to_numpy(), side="right") - 1, 0, len(edges) - 2
        )
        labels = np.array(
            [f"{edges[i]:,.0f} to {edges[i + 1]:,.0f}" for i in range(len(edges) - 1)], dtype=object
        )
        named = pl.Series(column, labels[index].tolist(), dtype=pl.String)
        out.append(pl.when(pl.lit(values.is_null())).then(None).otherwise(pl.lit(named)).alias(column))
    return frame.with_columns(out)


def attribute_lift(frame: pl.DataFrame, attributes: list[str], *, label: str = "label") -> pl.DataFrame:
    """One row per (attribute, value): leads, won, conversion with interval, lift, p and q values.

    ``frame`` holds the attributes (as text) and ``label`` (1 won, 0 not) for leads whose outcome
    is known. Blank values are their own group, "(unknown)".
    """
    total, wins = frame.height, int(frame[label].sum())
    base = wins / total
    long = pl.concat(
        [
            frame.select(
                pl.lit(a).alias("attribute"),
                pl.col(a).cast(pl.String).fill_null("(unknown)").alias("value"),
                label,
            )
            for a in attributes
        ]
    )
    table = long.group_by("attribute", "value").agg(pl.len().alias("leads"), pl.col(label).sum().alias("won"))
    n, won = table["leads"].to_numpy(), table["won"].to_numpy().astype(float)
    low, high = wilson(won, n)
    rest_n, rest_won = total - n, wins - won
    pooled = wins / total
    se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / np.maximum(rest_n, 1)))
    ratio = won / n
    rest_ratio = np.divide(rest_won, rest_n, out=np.full_like(ratio, base), where=rest_n > 0)
    z = np.divide(ratio - rest_ratio, se, out=np.zeros_like(ratio), where=se > 0)
    p = 2 * norm.sf(np.abs(z))
    p = np.where(rest_n > 0, p, 1.0)
    q = false_discovery_control(p, method="bh")
    return (
        table.with_columns(
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
    for row in table.filter(pl.col("significant") & (pl.col("value") != "(unknown)")).iter_rows(named=True):
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
