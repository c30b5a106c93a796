"""The plan's rows from a run's arrays: assigned leads with their inputs and split credit,
leads queued within a group, and leads no group could take; and the plan's table built from
them once.

Each part is kept by column (Series and arrays), never as a frame of its own: a capture plans a
handful of leads many times a second, and a frame operation costs the same for 8 leads as for
8,000, where gathering a column costs next to nothing for 8 and stays vectorised for a million."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from leadflow.routing.plan import EMPTY, PLAN_SCHEMA, PlanRowsByColumn, RoutePlan
from leadflow.routing.roster import RepPool
from leadflow.stats import Array
from leadflow.stats.close_rates import CloseRates

# What every row of a plan takes from the queued lead itself: the plan's column and the queue's.
LEAD_FIELDS = {
    "lead_id": "id",
    "lead_external_id": "external_id",
    "from_stage": "stage",
    "queued": "queued",
    "queued_attempts": "queued_attempts",
}


# A part's column: its values as a list when the plan is small, else a Series.
Column = pl.Series | list[Any]


@dataclass
class PlanRows:
    """Some rows of a plan by column: each lead's position in the queue and its group's number
    (which order the plan), and the columns these rows set; a column they lack is null."""

    position: Array
    number: Array
    columns: dict[str, Column]


# Up to this many values a gather is done on a list: a Series gather costs 30-75 µs whatever
# its size, a list's 50 ns a value (but then the Series is built again from Python values).
LIST_GATHER_MAX = 1_000


def take(column: pl.Series, positions: Array) -> pl.Series:
    """The values of ``column`` at ``positions``, in that order, as a Series (a plan too large
    for lists: a few values are gathered by :func:`values_at`): the column itself when they are
    all of it in order."""
    if positions.size == len(column) and bool((positions == np.arange(positions.size)).all()):
        return column
    return column.gather(positions)


def values_at(column: pl.Series, positions: Array) -> list[Any]:
    """The values of ``column`` at ``positions``, in that order, as a list."""
    if positions.size > LIST_GATHER_MAX:
        return column.gather(positions).to_list()
    values = column.to_list()
    return [values[at] for at in positions.tolist()]


def gather(column: pl.Series, positions: Array) -> Column:
    """The values of ``column`` at ``positions`` as a part's column: a list for a few."""
    return values_at(column, positions) if positions.size <= LIST_GATHER_MAX else column.gather(positions)


def take_rows(frame: pl.DataFrame, positions: Any) -> pl.DataFrame:
    """The rows of ``frame`` at ``positions``, in that order."""
    return frame.select(pl.all().gather(positions))


def plan_table(leads: pl.DataFrame, parts: list[PlanRows]) -> PlanRowsByColumn:
    """The plan's rows (PLAN_SCHEMA) from its parts, in group and queue order: the lead's own
    fields gathered from the queue, each other column from the parts in turn. A few rows are
    kept as lists (a capture's plan is written from them, never a frame); many make one frame."""
    parts = [part for part in parts if part.position.size]
    if not parts:
        return EMPTY
    position = np.concatenate([part.position for part in parts])
    number = np.concatenate([part.number for part in parts])
    sort = np.lexsort((position, number))
    # one part, or parts in order already: nothing to reorder
    order = None if bool((sort == np.arange(sort.size)).all()) else sort
    at = position if order is None else position[order]
    if at.size <= LIST_GATHER_MAX:
        return _plan_lists(leads, parts, at, order)
    columns: list[pl.Series] = []
    for name, dtype in PLAN_SCHEMA.items():
        if name in LEAD_FIELDS:
            column = take(leads.get_column(LEAD_FIELDS[name]), at)
        elif any(name in part.columns for part in parts):
            # each part's values typed as the plan's (a column a part lacks is null in its rows),
            # one after the other, then reordered: Series concatenated, no frame to plan
            pieces = [_typed(part.columns.get(name), part.position.size, dtype) for part in parts]
            column = pieces[0] if len(pieces) == 1 else pl.concat(pieces)
            column = column if order is None else take(column, order)
        else:
            column = _nulls(at.size, dtype)
        columns.append((column if column.dtype == dtype else column.cast(dtype)).alias(name))
    return pl.DataFrame(columns)


def _plan_lists(
    leads: pl.DataFrame, parts: list[PlanRows], at: Array, order: Array | None
) -> dict[str, list[Any]]:
    """A few rows of a plan by column as lists: what :func:`plan_table` builds as a frame."""
    reorder = None if order is None else order.tolist()
    columns: dict[str, list[Any]] = {}
    for name in PLAN_SCHEMA:
        if name in LEAD_FIELDS:
            columns[name] = values_at(leads.get_column(LEAD_FIELDS[name]), at)
            continue
        joined: list[Any] = []
        for part in parts:
            found = part.columns.get(name)
            if found is None:
                joined += [None] * part.position.size
            else:
                joined += found if isinstance(found, list) else found.to_list()
        columns[name] = joined if reorder is None else [joined[row] for row in reorder]
    return columns


def _typed(values: Column | None, size: int, dtype: pl.DataType) -> pl.Series:
    """A part's values of one column typed as the plan's; nulls where the part lacks it."""
    if values is None:
        return _nulls(size, dtype)
    return pl.Series(values, dtype=dtype) if isinstance(values, list) else values.cast(dtype)


def _nulls(size: int, dtype: pl.DataType) -> pl.Series:
    return pl.Series([None] * size, dtype=dtype)


@dataclass(frozen=True)
class Segment:
    """The segment each lead's close rate was read in (optimal routing by ``segment_by``); a lead
    whose ``value`` is null has none."""

    by: pl.Series
    value: pl.Series
    close_rate: Array
    close_rate_interval: tuple[Array, Array]
    closed_leads: pl.Series


@dataclass(frozen=True)
class Inputs:
    """What each assignment's choice used, by column: the fields of its ``inputs`` JSON."""

    group: list[str]
    close_rate: Array
    close_rate_interval: tuple[Array, Array]
    lead_win_probability: Array  # NaN where there is no honest one to show
    win_probability_with_rep: Array
    capacity_left_before: Array
    segment: Segment | None


def inputs_json(fields: Inputs, *, by_rows: bool) -> Column:
    """Each assignment's inputs as compact JSON text: ``{"group", "estimates": {"close_rate",
    "close_rate_interval", "lead_win_probability", "win_probability_with_rep"[, "segment"]},
    "capacity_left_before"}``.

    ``by_rows`` (a capture's few): dicts encoded one by one, where Polars' encoder plans a context
    (0.25 ms whatever the size) and kept as a list; else one context for every row, a Series.
    Both write the same text for these fields, rounded to 4 places (a test holds them to it)."""
    if not by_rows:
        estimate_fields: list[pl.Expr | pl.Series] = [
            pl.Series("close_rate", fields.close_rate),
            _interval(*fields.close_rate_interval).alias("close_rate_interval"),
            pl.Series("lead_win_probability", fields.lead_win_probability, nan_to_null=True),
            pl.Series("win_probability_with_rep", fields.win_probability_with_rep, nan_to_null=True),
        ]
        if (segment := fields.segment) is not None:
            struct = pl.struct(
                pl.lit(segment.by).alias("by"),
                pl.lit(segment.value).alias("value"),
                pl.lit(pl.Series(segment.close_rate)).alias("close_rate"),
                _interval(*segment.close_rate_interval).alias("close_rate_interval"),
                pl.lit(segment.closed_leads).alias("closed_leads"),
            )
            estimate_fields.append(pl.when(pl.lit(segment.value).is_not_null()).then(struct).alias("segment"))
        return pl.select(
            pl.struct(
                pl.lit(pl.Series("group", fields.group, dtype=pl.String)),
                pl.struct(*estimate_fields).alias("estimates"),
                pl.lit(pl.Series("capacity_left_before", fields.capacity_left_before)),
            ).struct.json_encode()
        ).to_series()
    estimates = [
        {
            "close_rate": rate,
            "close_rate_interval": [low, high],
            "lead_win_probability": lead_p,
            "win_probability_with_rep": with_rep,
        }
        for rate, low, high, lead_p, with_rep in zip(
            fields.close_rate.tolist(),
            *(bound.tolist() for bound in fields.close_rate_interval),
            _or_none(fields.lead_win_probability),
            _or_none(fields.win_probability_with_rep),
            strict=True,
        )
    ]
    if (segment := fields.segment) is not None:
        for estimate, by, value, rate, low, high, closed in zip(
            estimates,
            segment.by.to_list(),
            segment.value.to_list(),
            segment.close_rate.tolist(),
            *(bound.tolist() for bound in segment.close_rate_interval),
            segment.closed_leads.to_list(),
            strict=True,
        ):
            estimate["segment"] = (
                None
                if value is None
                else {
                    "by": by,
                    "value": value,
                    "close_rate": rate,
                    "close_rate_interval": [low, high],
                    "closed_leads": closed,
                }
            )
    return [
        json.dumps(
            {"group": group, "estimates": estimate, "capacity_left_before": left},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        for group, estimate, left in zip(
            fields.group, estimates, fields.capacity_left_before.tolist(), strict=True
        )
    ]


def _interval(low: Array, high: Array) -> pl.Expr:
    """Credible intervals as [low, high] pairs, to 4 places."""
    return pl.concat_list(pl.lit(pl.Series(np.round(low, 4))), pl.lit(pl.Series(np.round(high, 4))))


def _rounded(values: Array, shown: Array) -> Array:
    """Probabilities to 4 places, NaN where there is no honest one to show."""
    return np.where(shown, np.round(values, 4), np.nan)


def _or_none(values: Array) -> list[float | None]:
    """Values as a list, None where NaN."""
    return [None if math.isnan(v) else v for v in values.tolist()]


def assigned_rows(
    plan: RoutePlan,
    leads: pl.DataFrame,
    *,
    reps: RepPool,
    rep_rows: list[dict[str, Any]],
    estimates: CloseRates,
    groups: list[tuple[str, str]],
    by_territory: dict[str, list[int]],
    share: float,
    picked: dict[str, Array],
    notes: Array,
    segmented: bool,
) -> PlanRows:
    """The plan's rows for the leads given to a rep, with what each choice used (JSON)."""
    rep, shown, position = picked["rep"], picked["shown"], picked["position"]
    p_win = _rounded(picked["p_win"], shown)
    # the group's name and policy by its number, and the reason, from lists: no join, no second pass
    numbers = picked["group"].tolist()
    names = [groups[n][0] for n in numbers]
    policy = [groups[n][1] for n in numbers]
    reasons = [f"{p} in {g}: {note}" for p, g, note in zip(policy, names, notes.tolist(), strict=True)]
    fields = Inputs(
        group=names,
        close_rate=np.round(estimates.mean[rep], 4),
        close_rate_interval=(np.round(estimates.low[rep], 4), np.round(estimates.high[rep], 4)),
        lead_win_probability=_rounded(picked["p_lead"], shown),
        win_probability_with_rep=p_win,
        capacity_left_before=picked["left_before"].astype(np.int64),
        segment=(
            Segment(
                by=pl.Series(picked["segment_by"].tolist(), dtype=pl.String),
                value=pl.Series(picked["segment_value"].tolist(), dtype=pl.String),
                close_rate=np.round(picked["segment_rate"], 4),
                close_rate_interval=(np.round(picked["segment_low"], 4), np.round(picked["segment_high"], 4)),
                closed_leads=pl.Series(picked["segment_closed"]).fill_nan(None).cast(pl.Int64),
            )
            if segmented
            else None
        ),
    )
    few = position.size <= LIST_GATHER_MAX
    return PlanRows(
        position=position,
        number=picked["group"],
        columns={
            "rep_id": _of_reps(rep_rows, "id", rep, pl.Int64()),
            "rep_external_id": _of_reps(rep_rows, "external_id", rep, pl.String()),
            "policy": policy,
            "reason": reasons,
            "win_probability": _or_none(p_win) if few else pl.Series(p_win, nan_to_null=True),
            "group": names,
            "inputs": inputs_json(fields, by_rows=few),
            **_credits(plan, leads, position, by_territory, rep_rows, reps.away, share),
        },
    )


def _of_reps(rep_rows: list[dict[str, Any]], field: str, rep: Array, dtype: pl.DataType) -> Column:
    """Each chosen rep's ``field`` (``rep``: positions in the pool), as a part's column."""
    if rep.size <= LIST_GATHER_MAX:
        return [rep_rows[at][field] for at in rep.tolist()]
    return pl.Series([row[field] for row in rep_rows], dtype=dtype).gather(rep)


def _credits(
    plan: RoutePlan,
    leads: pl.DataFrame,
    position: Array,
    by_territory: dict[str, list[int]],
    rep_rows: list[dict[str, Any]],
    away: dict[int, datetime],
    share: float,
) -> dict[str, Column]:
    """For each lead at ``position``, the headquarters' rep and share when the company's
    headquarters lie in another territory (else nulls).

    Reps of that territory take turns (their own rotation, kept with the policies' state);
    inactive and away reps are skipped; capacity does not apply to a share of credit.
    """
    rep_id: list[int | None] = [None] * position.size
    external: list[str | None] = [None] * position.size
    if share > 0:
        places: dict[str, list[int]] = {}  # each other territory, in order of its first lead
        own = values_at(leads.get_column("territory"), position)
        for row, place in enumerate(values_at(leads.get_column("hq_territory"), position)):
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
    return {
        "credit_rep_id": rep_id,
        "credit_rep_external_id": external,
        "credit_share": [None if r is None else share for r in rep_id],
    }


def queued_rows(
    leads: pl.DataFrame, left_over: list[tuple[int, Array, str, str]], groups: list[tuple[str, str]]
) -> PlanRows:
    """The plan's rows for leads of a group that no rep of it could take, with the reason."""
    if not left_over:
        return PlanRows(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), {})
    numbers = np.concatenate([np.full(p.size, n, dtype=np.int64) for n, p, _, _ in left_over])
    positions = np.concatenate([p for _, p, _, _ in left_over])
    # what a group's leads share, repeated for each of them: no join
    columns: dict[str, list[str]] = {"policy": [], "reason": [], "queue": [], "group": [], "inputs": []}
    for number, at, queue, reason in left_over:
        name, policy = groups[number]
        shared = {
            "policy": policy,
            "reason": reason,
            "queue": queue,
            "group": name,
            "inputs": json.dumps({"group": name}, separators=(",", ":"), ensure_ascii=False),
        }
        for column, value in shared.items():
            columns[column] += [value] * at.size
    return PlanRows(
        position=positions,
        number=numbers,
        columns={**columns, "win_probability": gather(leads.get_column("win_probability"), positions)},
    )


def unrouted_rows(leads: pl.DataFrame, positions: Array, *, nowhere: str) -> PlanRows:
    """The plan's rows for leads no group of reps covers: the unassigned queue, with the reason
    (their territory, or that none matched, then ``nowhere``: what of the fallback team)."""
    territories = values_at(leads.get_column("territory"), positions)
    reasons = [
        ("no territory rule matches" if t is None else f"territory {t} has no reps") + nowhere
        for t in territories
    ]
    size = positions.size
    return PlanRows(
        position=positions,
        number=np.full(size, -1, dtype=np.int64),
        columns={
            "policy": ["none"] * size,
            "reason": reasons,
            "win_probability": gather(leads.get_column("win_probability"), positions),
            "queue": ["unassigned"] * size,
            "inputs": ["{}"] * size,
        },
    )
