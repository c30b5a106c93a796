"""What a win model learns from, counted: per value of every attribute, leads and wins.

The profile report (which attribute values convert) is these counts with intervals and tests on
top. Training already holds the labelled leads and their features, so it stores the counts with
the model; the report then reads a few hundred numbers instead of every closed lead again.
Numbers are cut into quantile bins, so a numeric attribute has a handful of values too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from leadflow.scoring.model import MISSING, feature_frame

UNKNOWN = "(unknown)"


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


def value_counts(frame: pl.DataFrame, attributes: list[str], *, label: str = "label") -> pl.DataFrame:
    """One row per (attribute, value): ``leads`` and ``won`` (the sum of ``label``, 1 won, 0 not).

    Blank values are their own group, "(unknown)", so each attribute's rows add up to every lead."""
    long = pl.concat(
        [
            frame.select(
                pl.lit(a).alias("attribute"),
                pl.col(a).cast(pl.String).fill_null(UNKNOWN).alias("value"),
                pl.col(label).cast(pl.Int64).alias("label"),
            )
            for a in attributes
        ]
    )
    return (
        long.group_by("attribute", "value")
        .agg(pl.len().cast(pl.Int64).alias("leads"), pl.col("label").sum().alias("won"))
        .sort("attribute", "value")
    )


def learned_from(labelled: pl.DataFrame) -> dict[str, Any]:
    """The value counts of labelled leads (``label`` and the model's attributes), as stored JSON:
    ``leads``, ``won``, the ``numeric`` attributes (binned) and the ``values`` table by column."""
    features, categorical, numeric = feature_frame(labelled)
    frame = binned(features.with_columns(labelled["label"]), numeric)
    frame = frame.with_columns(pl.col(c).replace(MISSING, None) for c in categorical)
    known = [a for a in categorical + numeric if frame[a].drop_nulls().len() > 0]
    counts = value_counts(frame, known)
    return {
        "leads": labelled.height,
        "won": int(labelled["label"].sum()),
        "numeric": [a for a in numeric if a in known],
        "values": counts.to_dict(as_series=False),
    }
