"""How good a win-probability model is: discrimination, calibration, lift, against a baseline.

Pure functions over arrays. ``outcome_labels`` decides which leads have a known outcome;
the rest compare a model's probabilities ``p`` with outcomes ``y`` (1 won, 0 not).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
from sklearn.metrics import brier_score_loss, roc_auc_score

from leadflow.stats import Array


def maturity_horizon_days(days_to_win: Array, *, quantile: float = 0.9, floor: float = 14.0) -> float:
    """The usual time to close: the ``quantile`` of days from creation to a win (at least ``floor``)."""
    days = days_to_win[np.isfinite(days_to_win)]
    return max(floor, float(np.quantile(days, quantile))) if days.size else floor


def outcome_labels(leads: pl.DataFrame, *, as_of: datetime, horizon_days: float) -> pl.Series:
    """1 won, 0 lost or disqualified, null where the outcome is not known or not yet fair to use.

    Open leads are never counted as lost, however old: in CRM exports the fields of a deal are
    often completed only when it closes (every open Maven opportunity lacks its account), so
    "still open" would teach the model that missing fields mean losing. A closed lead younger
    than the usual time to close is left out too: only the quick outcomes of a young cohort are
    known, and quick outcomes are mostly losses.
    """
    mature = pl.col("created_at") <= pl.lit(as_of) - pl.duration(days=horizon_days)
    closed = pl.col("stage").is_in(["won", "lost", "disqualified"])
    won = pl.col("stage") == "won"
    return leads.select(pl.when(mature & closed).then(won.cast(pl.Int8)).alias("label")).to_series()


def reliability(y: Array, p: Array, *, bins: int = 10) -> pl.DataFrame:
    """Predicted against observed win rate in equal-width probability bins, with counts."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    frame = pl.DataFrame({"bin": index, "p": p, "y": y})
    return (
        frame.group_by("bin")
        .agg(
            pl.len().alias("leads"),
            pl.col("p").mean().alias("predicted"),
            pl.col("y").mean().alias("observed"),
        )
        .sort("bin")
        .with_columns(
            pl.format("{}-{}%", (pl.col("bin") * 100 // bins), ((pl.col("bin") + 1) * 100 // bins)).alias(
                "range"
            )
        )
        .select("range", "leads", "predicted", "observed")
    )


def calibration_error(y: Array, p: Array, *, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean gap between predicted and observed."""
    table = reliability(y, p, bins=bins)
    weights = table["leads"].to_numpy() / len(y)
    return float(np.sum(weights * np.abs(table["predicted"].to_numpy() - table["observed"].to_numpy())))


def lift_by_decile(y: Array, p: Array) -> pl.DataFrame:
    """Win rate of each tenth of leads ranked by probability, and its lift over the base rate."""
    order = np.argsort(-p, kind="stable")
    decile = np.empty(len(p), dtype=int)
    decile[order] = np.arange(len(p)) * 10 // max(len(p), 1) + 1
    base = float(np.mean(y)) if len(y) else 0.0
    return (
        pl.DataFrame({"decile": decile, "y": y, "p": p})
        .group_by("decile")
        .agg(
            pl.len().alias("leads"),
            pl.col("p").mean().alias("predicted"),
            pl.col("y").mean().alias("won_rate"),
        )
        .sort("decile")
        .with_columns((pl.col("won_rate") / base if base else pl.lit(None)).alias("lift"))
    )


def summary(y: Array, p: Array) -> dict[str, float]:
    """ROC AUC, Brier score, calibration error, and the base rate."""
    both = len(np.unique(y)) == 2
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "calibration_error": calibration_error(y, p),
        "base_rate": float(np.mean(y)),
        "n": len(y),
    }


def source_baseline(train_source: Array, train_y: Array, test_source: Array) -> Array:
    """The simplest model: each test lead gets its source's win rate in training (overall if new)."""
    rates = (
        pl.DataFrame({"s": train_source, "y": train_y}).group_by("s").agg(pl.col("y").mean().alias("rate"))
    )
    base = float(np.mean(train_y))
    return (
        pl.DataFrame({"s": test_source})
        .join(rates, on="s", how="left", maintain_order="left")["rate"]
        .fill_null(base)
        .to_numpy()
    )
