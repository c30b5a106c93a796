"""Fit score: how well each lead matches the ideal-customer profile, from 0 to 100, explained.

Pure functions over a frame's columns (no session, no I/O), the same for a capture's few leads
and a million:

1. each criterion of the profile is a test of a lead attribute's value; a match adds its points
   (negative points subtract);
2. engagement adds ``points_per_contact`` for each positive contact, each weighted by
   0.5 ** (age in days / half-life), up to ``cap``;
3. the score is the sum, clipped to 0-100. Each criterion's points are kept as the breakdown.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import polars as pl

from leadflow.ledger.extras import extra_texts, parse_extras
from leadflow.scoring.values import numbers_of, texts_of
from leadflow.settings import Behaviour, ConfigError, Criterion, Grades, Profile
from leadflow.stats import Array

ENGAGEMENT = "engagement"
BEHAVIOUR = "behaviour"


def criterion_matches(criterion: Criterion, column: pl.Series) -> Array:
    """True where a lead's value satisfies the criterion; unknown values never match.

    Over the column's values, not a frame expression: a capture scores a handful of leads many
    times a second, where an expression costs ~10 µs a node whatever the rows, and a million
    leads take a pass of Python per criterion (about 0.1 s)."""
    value = criterion.value
    op = criterion.op
    if op in ("gte", "lte", "between"):
        numbers = numbers_of(column)
        with np.errstate(invalid="ignore"):
            if op == "gte":
                return numbers >= float(value)  # type: ignore[arg-type]
            if op == "lte":
                return numbers <= float(value)  # type: ignore[arg-type]
            low, high = value  # type: ignore[misc, str-unpack]
            return (numbers >= float(low)) & (numbers <= float(high))
    texts = texts_of(column.to_list())
    n = len(texts)
    if op == "known":
        return np.fromiter((t is not None for t in texts), dtype=bool, count=n)
    if op == "matches":
        pattern = re.compile(str(value))
        return np.fromiter((t is not None and pattern.search(t) is not None for t in texts), bool, n)
    lowered = [None if t is None else t.lower() for t in texts]
    if op == "eq":
        target = str(value).lower()
        return np.fromiter((t == target for t in lowered), dtype=bool, count=n)
    if op in ("in", "not_in"):
        choices = {str(v).lower() for v in value} if isinstance(value, list) else {str(value).lower()}
        if op == "in":
            return np.fromiter((t in choices for t in lowered), dtype=bool, count=n)
        return np.fromiter((t is not None and t not in choices for t in lowered), dtype=bool, count=n)
    truth = {"true", "1", "yes"}
    if op == "is_true":
        return np.fromiter((t in truth for t in lowered), dtype=bool, count=n)
    return np.fromiter((t is not None and t not in truth for t in lowered), dtype=bool, count=n)  # is_false


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


def fit_points(leads: pl.DataFrame, profile: Profile) -> tuple[dict[str, Array], Array, Array]:
    """Each criterion's points by its name, engagement's (``behaviour``) and the clipped total.

    ``leads`` has the attributes the criteria name (``extra.NAME`` from ``extra`` as JSON text),
    plus ``engagement`` where known (none counts 0)."""
    extras = (
        parse_extras(
            leads.get_column("extra").to_list() if "extra" in leads.columns else [None] * leads.height
        )
        if any(c.field.startswith("extra.") for c in profile.criteria)
        else []
    )
    points: dict[str, Array] = {}
    for criterion in profile.criteria:
        field = criterion.field
        column = (
            pl.Series(extra_texts(extras, field.removeprefix("extra.")), dtype=pl.String)
            if field.startswith("extra.")
            else leads.get_column(field)
        )
        points[criterion.name] = np.where(criterion_matches(criterion, column), criterion.points, 0.0)
    behaviour = profile.behaviour
    engaged = (
        np.nan_to_num(numbers_of(leads.get_column(ENGAGEMENT)), nan=0.0)
        if ENGAGEMENT in leads.columns
        else np.zeros(leads.height)
    )
    engaged = np.minimum(engaged * behaviour.points_per_contact, behaviour.cap)
    total = np.zeros(leads.height)
    for part in points.values():
        total = total + part
    return points, engaged, np.clip(total + engaged, 0.0, 100.0).round(1)


def fit_breakdown(leads: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Points per criterion and for engagement, and the clipped total ``fit_score``.

    ``leads`` has the attributes the criteria name, plus ``engagement`` (0 where none).
    Returns one row per lead: ``id``, one column per criterion name, ``behaviour``, ``fit_score``.
    """
    points, engaged, total = fit_points(leads, profile)
    return pl.DataFrame(
        [
            leads.get_column("id"),
            *[pl.Series(name, values, dtype=pl.Float64) for name, values in points.items()],
            pl.Series(BEHAVIOUR, engaged, dtype=pl.Float64),
            pl.Series("fit_score", total, dtype=pl.Float64),
        ]
    )


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
