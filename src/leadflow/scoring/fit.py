"""Fit score: how well each lead matches the ideal-customer profile, from 0 to 100, explained.

Pure functions over Polars frames (no session, no I/O), so a million leads score in one pass:

1. each criterion of the profile is a boolean expression over a lead attribute; a match adds
   its points (negative points subtract);
2. engagement adds ``points_per_contact`` for each positive contact, each weighted by
   0.5 ** (age in days / half-life), up to ``cap``;
3. the score is the sum, clipped to 0-100. Each criterion's points are kept as the breakdown.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import polars as pl

from leadflow.settings import Behaviour, ConfigError, Criterion, Grades, Profile
from leadflow.stats import Array

ENGAGEMENT = "engagement"
BEHAVIOUR = "behaviour"


def _field(name: str) -> pl.Expr:
    if name.startswith("extra."):
        return pl.col("extra").str.json_path_match(f"$.{name.removeprefix('extra.')}")
    return pl.col(name)


def criterion_expr(criterion: Criterion) -> pl.Expr:
    """True where a lead satisfies the criterion; never null (unknown values do not match)."""
    column = _field(criterion.field)
    text = column.cast(pl.String).str.to_lowercase()
    value = criterion.value
    match criterion.op:
        case "eq":
            matched = text == str(value).lower()
        case "in" | "not_in":
            choices = [str(v).lower() for v in value] if isinstance(value, list) else [str(value).lower()]
            matched = text.is_in(choices)
            if criterion.op == "not_in":
                matched = column.is_not_null() & ~matched
        case "gte":
            matched = column.cast(pl.Float64, strict=False) >= float(value)  # type: ignore[arg-type]
        case "lte":
            matched = column.cast(pl.Float64, strict=False) <= float(value)  # type: ignore[arg-type]
        case "between":
            low, high = value  # type: ignore[misc, str-unpack]
            matched = column.cast(pl.Float64, strict=False).is_between(float(low), float(high))
        case "matches":
            matched = column.cast(pl.String).str.contains(str(value))
        case "is_true" | "is_false":
            truth = text.is_in(["true", "1", "yes"])
            matched = truth if criterion.op == "is_true" else (column.is_not_null() & ~truth)
        case "known":
            matched = column.is_not_null()
    return matched.fill_null(False)


def check_profile(profile: Profile, columns: list[str]) -> None:
    """Raise ConfigError naming a criterion whose field or pattern cannot work."""
    for criterion in profile.criteria:
        field = criterion.field
        if not field.startswith("extra.") and field not in columns:
            raise ConfigError(f"profile criterion {criterion.name!r}: no lead attribute {field!r}")
        if criterion.op == "matches":
            try:
                re.compile(str(criterion.value))
            except re.error as exc:
                raise ConfigError(f"profile criterion {criterion.name!r}: bad pattern: {exc}") from exc
        if criterion.op == "between" and not (
            isinstance(criterion.value, list) and len(criterion.value) == 2
        ):
            raise ConfigError(f"profile criterion {criterion.name!r}: between needs [low, high]")


def engagement(activities: pl.DataFrame, behaviour: Behaviour, *, now: datetime) -> pl.DataFrame:
    """Decayed count of positive contacts per lead.

    Parameters
    ----------
    activities : frame with ``lead_id``, ``at`` (datetime) and ``outcome``.

    Returns
    -------
    frame with ``lead_id`` and ``engagement`` (sum of 0.5 ** (age_days / half_life)).
    """
    age_days = (pl.lit(now) - pl.col("at")).dt.total_seconds() / 86_400
    return (
        activities.filter(pl.col("outcome").is_in(behaviour.positive_outcomes))
        .with_columns((0.5 ** (age_days.clip(lower_bound=0) / behaviour.half_life_days)).alias(ENGAGEMENT))
        .group_by("lead_id")
        .agg(pl.col(ENGAGEMENT).sum())
    )


def _points(profile: Profile) -> tuple[list[pl.Expr], pl.Expr]:
    """Each criterion's points (named as the criterion) and engagement's (named ``behaviour``)."""
    points = [
        pl.when(criterion_expr(c)).then(pl.lit(c.points)).otherwise(0.0).alias(c.name)
        for c in profile.criteria
    ]
    behaviour = profile.behaviour
    engaged = (pl.col(ENGAGEMENT).fill_null(0.0) * behaviour.points_per_contact).clip(
        upper_bound=behaviour.cap
    )
    return points, engaged.alias(BEHAVIOUR)


def _total(parts: list[pl.Expr]) -> pl.Expr:
    return pl.sum_horizontal(*parts).clip(0.0, 100.0).round(1).alias("fit_score")


def fit_breakdown(leads: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Points per criterion and for engagement, and the clipped total ``fit_score``.

    ``leads`` has the attributes the criteria name, plus ``engagement`` (0 where none).
    Returns one row per lead: ``id``, one column per criterion name, ``behaviour``, ``fit_score``.
    """
    points, engaged = _points(profile)
    names = [c.name for c in profile.criteria]
    return leads.select("id", *points, engaged).with_columns(_total([pl.col(n) for n in [*names, BEHAVIOUR]]))


def fit_score_expr(profile: Profile) -> pl.Expr:
    """The total of :func:`fit_breakdown` as one expression (``fit_score``), for scoring in bulk;
    built once per profile (a capture scores a few leads many times a second)."""
    key = profile.model_dump_json()
    if key not in _built:
        points, engaged = _points(profile)
        _built.clear()  # one profile is in force at a time
        _built[key] = _total([*points, engaged])
    return _built[key]


_built: dict[str, pl.Expr] = {}


_LETTERS = np.array(["A", "B", "C", "D"], dtype=object)


def grade(scores: Array, grades: Grades) -> list[str | None]:
    """Grade A-D of each 0-100 score by the thresholds for A, B and C; None where there is no
    score (NaN). Over an array: as cheap for a capture's few scores as for a million."""
    a, b, c = grades.fit
    s = np.asarray(scores, dtype=float)
    letters = np.select(
        [s >= a, s >= b, s >= c, ~np.isnan(s)], _LETTERS, default=np.array(None, dtype=object)
    )
    return list(letters.tolist())


def factors(breakdown: dict[str, float], profile: Profile, *, top: int = 3) -> tuple[list[str], list[str]]:
    """The strongest reasons for and against one lead: matched points, and the biggest misses."""
    scored = [(name, points) for name, points in breakdown.items() if points]
    for_ = [f"{name} (+{points:g})" for name, points in sorted(scored, key=lambda x: -x[1]) if points > 0]
    against = [f"{name} ({points:g})" for name, points in sorted(scored, key=lambda x: x[1]) if points < 0]
    missed = sorted(
        (c for c in profile.criteria if c.points > 0 and not breakdown.get(c.name)), key=lambda c: -c.points
    )
    against += [f"not: {c.name} (0 of {c.points:g})" for c in missed]
    return for_[:top], against[:top]
