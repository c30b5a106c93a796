"""The plan's rows from a run's arrays: assigned leads with their inputs and split credit,
leads queued within a group, and leads no group could take."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from leadflow.routing.plan import RoutePlan
from leadflow.routing.roster import RepPool
from leadflow.stats import Array
from leadflow.stats.close_rates import CloseRates


def _lead_fields() -> list[pl.Expr]:
    """What every row of a plan takes from the queued lead itself."""
    return [
        pl.col("id").alias("lead_id"),
        pl.col("external_id").alias("lead_external_id"),
        pl.col("stage").alias("from_stage"),
        pl.col("queued"),
        pl.col("queued_attempts"),
    ]


def take_rows(frame: pl.DataFrame, positions: Any) -> pl.DataFrame:
    """The rows of ``frame`` at ``positions``, in that order."""
    return frame.select(pl.all().gather(positions))


def _interval(low: Array, high: Array) -> pl.Expr:
    """Credible intervals as [low, high] pairs, to 4 places."""
    return pl.concat_list(pl.lit(pl.Series(np.round(low, 4))), pl.lit(pl.Series(np.round(high, 4))))


def _rounded(values: Array, shown: Array) -> pl.Series:
    """Probabilities to 4 places, null where there is no honest one to show."""
    return pl.Series(np.where(shown, np.round(values, 4), np.nan), nan_to_null=True)


def assigned_rows(
    plan: RoutePlan,
    leads: pl.DataFrame,
    *,
    reps: RepPool,
    rep_rows: list[dict[str, Any]],
    estimates: CloseRates,
    group_table: pl.DataFrame,
    by_territory: dict[str, list[int]],
    share: float,
    picked: dict[str, Array],
    notes: Array,
    segmented: bool,
) -> pl.DataFrame:
    """The plan's rows for the leads given to a rep, with what each choice used (JSON)."""
    rep, shown = picked["rep"], picked["shown"]
    p_win = _rounded(picked["p_win"], shown)
    estimate_fields: list[pl.Expr | pl.Series] = [
        pl.Series("close_rate", np.round(estimates.mean[rep], 4)),
        _interval(estimates.low[rep], estimates.high[rep]).alias("close_rate_interval"),
        _rounded(picked["p_lead"], shown).alias("lead_win_probability"),
        p_win.alias("win_probability_with_rep"),
    ]
    if segmented:
        value = pl.Series(picked["segment_value"].tolist(), dtype=pl.String)
        segment = pl.struct(
            pl.lit(pl.Series(picked["segment_by"].tolist(), dtype=pl.String)).alias("by"),
            pl.lit(value).alias("value"),
            pl.lit(pl.Series(np.round(picked["segment_rate"], 4))).alias("close_rate"),
            _interval(picked["segment_low"], picked["segment_high"]).alias("close_rate_interval"),
            pl.lit(pl.Series(picked["segment_closed"]).fill_nan(None).cast(pl.Int64)).alias("closed_leads"),
        )
        estimate_fields.append(pl.when(pl.lit(value).is_not_null()).then(segment).alias("segment"))
    taken = take_rows(leads, picked["position"])
    # the group's name and policy by its number, and the reason, from lists: no join, no second pass
    names, policies = group_table.get_column("group").to_list(), group_table.get_column("policy").to_list()
    numbers = picked["group"].tolist()
    group = [names[n] for n in numbers]
    policy = [policies[n] for n in numbers]
    reasons = [f"{p} in {g}: {note}" for p, g, note in zip(policy, group, notes.tolist(), strict=True)]
    frame = taken.select(
        pl.Series("_number", picked["group"], dtype=pl.Int64),
        pl.Series("_position", picked["position"]),
        *_lead_fields(),
        reps.frame["id"].gather(rep).alias("rep_id"),
        reps.frame["external_id"].gather(rep).alias("rep_external_id"),
        pl.Series("policy", policy, dtype=pl.String),
        pl.Series("reason", reasons, dtype=pl.String),
        p_win.alias("win_probability"),
        pl.lit(None, dtype=pl.String).alias("queue"),
        pl.Series("group", group, dtype=pl.String),
        pl.struct(
            pl.lit(pl.Series("group", group, dtype=pl.String)),
            pl.struct(*estimate_fields).alias("estimates"),
            pl.lit(pl.Series("capacity_left_before", picked["left_before"].astype(np.int64))),
        )
        .struct.json_encode()
        .alias("inputs"),
        *_credits(plan, taken, by_territory, rep_rows, reps.away, share),
    )
    return frame


def _credits(
    plan: RoutePlan,
    leads: pl.DataFrame,
    by_territory: dict[str, list[int]],
    rep_rows: list[dict[str, Any]],
    away: dict[int, datetime],
    share: float,
) -> list[pl.Series]:
    """For each lead, the headquarters' rep and share when the company's headquarters lie in
    another territory (else nulls).

    Reps of that territory take turns (their own rotation, kept with the policies' state);
    inactive and away reps are skipped; capacity does not apply to a share of credit.
    """
    rep_id: list[int | None] = [None] * leads.height
    external: list[str | None] = [None] * leads.height
    if share > 0:
        places: dict[str, list[int]] = {}  # each other territory, in order of its first lead
        own = leads.get_column("territory").to_list()
        for row, place in enumerate(leads.get_column("hq_territory").to_list()):
            if place is not None and place != own[row]:
                places.setdefault(place, []).append(row)
        for place, rows in places.items():
            members = [
                i
                for i in by_territory.get(place, [])
                if rep_rows[i]["active"] and rep_rows[i]["id"] not in away
            ]
            if not members:
                continue
            key = f"credit:territory {place}"
            ids = [rep_rows[i]["external_id"] for i in members]
            last = plan.state.get(key, {}).get("last")
            first = ids.index(last) + 1 if last in ids else 0
            for turn, row in enumerate(rows, start=first):
                rep_id[row] = rep_rows[members[turn % len(ids)]]["id"]
                external[row] = ids[turn % len(ids)]
            plan.state[key] = {"last": ids[(first + len(rows) - 1) % len(ids)]}
    return [
        pl.Series("credit_rep_id", rep_id, dtype=pl.Int64),
        pl.Series("credit_rep_external_id", external, dtype=pl.String),
        pl.Series("credit_share", [None if r is None else share for r in rep_id], dtype=pl.Float64),
    ]


def queued_rows(
    leads: pl.DataFrame, left_over: list[tuple[int, Array, str, str]], group_table: pl.DataFrame
) -> pl.DataFrame:
    """The plan's rows for leads of a group that no rep of it could take, with the reason."""
    if not left_over:
        return pl.DataFrame()
    names, policies = group_table.get_column("group").to_list(), group_table.get_column("policy").to_list()
    numbers = np.concatenate([np.full(p.size, n) for n, p, _, _ in left_over])
    positions = np.concatenate([p for _, p, _, _ in left_over])
    # what a group's leads share, repeated for each of them: no join
    columns: dict[str, list[str]] = {"policy": [], "reason": [], "queue": [], "group": [], "inputs": []}
    for number, at, queue, reason in left_over:
        shared = {
            "policy": policies[number],
            "reason": reason,
            "queue": queue,
            "group": names[number],
            "inputs": json.dumps({"group": names[number]}, separators=(",", ":"), ensure_ascii=False),
        }
        for name, value in shared.items():
            columns[name] += [value] * at.size
    return take_rows(leads, positions).select(
        pl.Series("_number", numbers, dtype=pl.Int64),
        pl.Series("_position", positions, dtype=pl.Int64),
        *_lead_fields(),
        *(pl.Series(name, values, dtype=pl.String) for name, values in columns.items() if name != "inputs"),
        "win_probability",
        pl.Series("inputs", columns["inputs"], dtype=pl.String),
    )


def unrouted_rows(leads: pl.DataFrame, positions: Array, *, reason: pl.Expr) -> pl.DataFrame:
    """The plan's rows for leads no group of reps covers: the unassigned queue, with the reason."""
    return leads.select(
        pl.lit(-1, dtype=pl.Int64).alias("_number"),
        pl.Series("_position", positions, dtype=pl.Int64),
        *_lead_fields(),
        pl.lit("none").alias("policy"),
        reason.alias("reason"),
        "win_probability",
        pl.lit("unassigned").alias("queue"),
        pl.lit("{}").alias("inputs"),
    )
