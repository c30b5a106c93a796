"""What happens to the generated leads: their activities (calls, emails, meetings) and the path
of stages each one takes."""

from __future__ import annotations

import numpy as np
import polars as pl

from leadflow.stats import Array


def lead_activities(
    rng: np.random.Generator,
    leads: pl.DataFrame,
    worked: Array,
    won: Array,
    lost: Array,
    closed: Array,
    end64: np.datetime64,
) -> pl.DataFrame:
    """Contacts per worked lead: the first at its first touch, the rest until it closes."""
    count = np.where(worked, 1 + rng.poisson(np.where(won, 4.0, 1.5)), 0)
    lead_index = np.repeat(np.arange(leads.height), count)
    first_touch = leads["first_touch_at"].to_numpy().astype("datetime64[s]")
    until = np.minimum(np.where(won | lost, closed, end64), end64)
    span = np.maximum((until - first_touch).astype("timedelta64[s]").astype(np.int64), 3600)
    offset_in_lead = np.arange(lead_index.size) - np.repeat(np.cumsum(count) - count, count)
    fraction = np.where(offset_in_lead == 0, 0.0, rng.random(lead_index.size))
    at = np.minimum(first_touch[lead_index] + (fraction * span[lead_index]).astype("timedelta64[s]"), end64)
    kind = np.where(
        offset_in_lead == 0,
        "call",
        rng.choice(["call", "email", "meeting"], size=lead_index.size, p=[0.5, 0.35, 0.15]),
    )
    outcome = np.where(
        kind == "meeting",
        "completed",
        np.where(
            kind == "email",
            rng.choice(["replied", "no answer"], size=lead_index.size),
            rng.choice(
                ["connected", "no answer", "voicemail", "meeting set"],
                size=lead_index.size,
                p=[0.35, 0.3, 0.25, 0.1],
            ),
        ),
    )
    return pl.DataFrame(
        {
            "lead": lead_index,
            "rep": leads["owner"].to_numpy()[lead_index],
            "at": at.astype("datetime64[us]"),
            "kind": kind,
            "outcome": outcome,
        }
    )


def stage_paths(leads: pl.DataFrame, worked: Array, *, cleared_after_days: int = 3) -> pl.DataFrame:
    """Stage changes from inquiry to each lead's final stage, at plausible times; an unworked
    lead put in nurture moves there ``cleared_after_days`` after it came in."""
    frame = leads.select(
        pl.int_range(0, pl.len()).alias("lead"),
        "stage",
        "created_at",
        "assigned_at",
        "first_touch_at",
        "won_at",
        "lost_at",
    ).with_columns(pl.Series("worked", worked))
    final_at = pl.coalesce("won_at", "lost_at")
    depth = (
        pl.when(pl.col("stage").is_in(["won"]))
        .then(3)
        .when(pl.col("stage") == "lost")
        .then(pl.when(pl.col("worked")).then(2).otherwise(1))
        .when(pl.col("stage") == "opportunity")
        .then(3)
        .when(pl.col("stage") == "qualified")
        .then(2)
        .otherwise(1)
    )
    frame = frame.with_columns(depth.alias("depth"))
    touch = pl.coalesce("first_touch_at", "assigned_at")
    parts = [
        frame.select(
            "lead",
            pl.lit(None, dtype=pl.String).alias("from_stage"),
            pl.lit("inquiry").alias("to_stage"),
            pl.col("created_at").alias("at"),
        ),
        frame.select(
            "lead",
            pl.lit("inquiry").alias("from_stage"),
            pl.lit("lead").alias("to_stage"),
            pl.col("assigned_at").alias("at"),
        ),
        frame.filter(pl.col("depth") >= 2).select(
            "lead",
            pl.lit("lead").alias("from_stage"),
            pl.lit("qualified").alias("to_stage"),
            (touch + pl.duration(days=2)).alias("at"),
        ),
        frame.filter(pl.col("depth") >= 3).select(
            "lead",
            pl.lit("qualified").alias("from_stage"),
            pl.lit("opportunity").alias("to_stage"),
            (touch + pl.duration(days=9)).alias("at"),
        ),
        frame.filter(pl.col("stage") == "nurture").select(
            "lead",
            pl.lit("lead").alias("from_stage"),
            pl.lit("nurture").alias("to_stage"),
            (pl.col("created_at") + pl.duration(days=cleared_after_days)).alias("at"),
        ),
        frame.filter(pl.col("stage").is_in(["won", "lost"])).select(
            "lead",
            pl.col("depth")
            .replace_strict({1: "lead", 2: "qualified", 3: "opportunity"}, return_dtype=pl.String)
            .alias("from_stage"),
            pl.col("stage").alias("to_stage"),
            final_at.alias("at"),
        ),
    ]
    stages = pl.concat(parts)
    # A close can come sooner than the generic step times: never let a step follow the close.
    return (
        stages.join(frame.select("lead", final_at.alias("_end")), on="lead")
        .with_columns(
            pl.when(pl.col("_end").is_not_null() & (pl.col("at") > pl.col("_end")))
            .then("_end")
            .otherwise("at")
            .alias("at")
        )
        .drop("_end")
        .sort("lead", "at")
    )
