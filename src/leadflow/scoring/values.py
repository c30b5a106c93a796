"""How a lead's values read as text and as numbers, the one reading shared by the profile's
criteria (fit.py) and the win model's features (model.py): a cast to text shows a flag as
true or false; a value that is not a number reads as NaN."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from leadflow.stats import Array


def texts_of(values: list[Any]) -> list[str | None]:
    """Each value as the text a criterion compares, as a cast to text shows it (true/false)."""
    return [
        None if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v) for v in values
    ]


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)  # a bool counts 1 or 0, as a cast to a number does
    except (TypeError, ValueError):
        return math.nan


def numbers_of(column: pl.Series) -> Array:
    """A column as floats, NaN where unknown or not a number."""
    if column.dtype.is_numeric():
        return np.asarray(column.to_numpy(), dtype=float)  # nulls come out as NaN
    return np.array([_number(v) for v in column.to_list()], dtype=float)
