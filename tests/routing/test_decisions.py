"""A plan's columns gathered by position: the same values whether a capture's few are gathered
as lists or a batch's many by the frame."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from leadflow.routing.decisions import LIST_GATHER_MAX, take


@pytest.mark.parametrize("size", [1, 8, LIST_GATHER_MAX, LIST_GATHER_MAX + 1, 5 * LIST_GATHER_MAX])
@pytest.mark.parametrize("dtype", [pl.Int64, pl.String, pl.Float64])
def test_take_gives_the_values_at_the_positions_in_their_order(size: int, dtype: pl.DataType) -> None:
    rng = np.random.default_rng(size)
    raw = rng.integers(0, 50, size=size).astype(float)
    values = [None if v % 7 == 0 else v for v in raw.tolist()]
    column = pl.Series("c", values, dtype=pl.Float64).cast(dtype)
    for positions in (
        np.arange(size),  # all of it in order
        rng.permutation(size),
        rng.integers(0, size, size=size // 2 + 1),  # some, repeated
        np.arange(size)[::-1],
    ):
        got = take(column, positions)
        assert got.name == "c" and got.dtype == column.dtype
        assert got.to_list() == [column.to_list()[p] for p in positions.tolist()]
