"""A plan's columns gathered by position, and its assignments' inputs as JSON: the same whether
a capture's few are worked as lists or a batch's many by the frame."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from leadflow.routing.decisions import LIST_GATHER_MAX, Inputs, Segment, inputs_json, take, values_at


@pytest.mark.parametrize("size", [1, 8, LIST_GATHER_MAX, LIST_GATHER_MAX + 1, 5 * LIST_GATHER_MAX])
@pytest.mark.parametrize("dtype", [pl.Int64, pl.String, pl.Float64])
def test_take_and_values_at_give_the_values_at_the_positions_in_their_order(
    size: int, dtype: pl.DataType
) -> None:
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
        assert values_at(column, positions) == got.to_list()  # the same, gathered as a list


@pytest.mark.parametrize("segmented", [False, True])
def test_inputs_are_the_same_json_encoded_by_rows_or_by_the_frame(segmented: bool) -> None:
    rng = np.random.default_rng(7)
    n = 60

    def rounded() -> np.ndarray:
        values = np.round(rng.random(n), 4)
        values[:4] = [0.0, 1.0, 0.0001, 0.9999]  # the ends of 4 places
        return values

    def probabilities() -> np.ndarray:
        return np.where(rng.random(n) < 0.2, np.nan, rounded())

    value = pl.Series([None if i % 5 == 0 else f'Gr\u00fcn "{i}"' for i in range(n)], dtype=pl.String)
    fields = Inputs(
        group=[f"territory EMEA {i % 3}" for i in range(n)],
        close_rate=rounded(),
        close_rate_interval=(rounded(), rounded()),
        lead_win_probability=probabilities(),
        win_probability_with_rep=probabilities(),
        capacity_left_before=rng.integers(-3, 400, size=n),
        segment=Segment(
            by=pl.Series(["industry"] * n, dtype=pl.String),
            value=value,
            close_rate=rounded(),
            close_rate_interval=(rounded(), rounded()),
            closed_leads=pl.Series(np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 90, n)))
            .fill_nan(None)
            .cast(pl.Int64),
        )
        if segmented
        else None,
    )
    by_rows, by_frame = inputs_json(fields, by_rows=True), inputs_json(fields, by_rows=False)
    assert isinstance(by_rows, list) and isinstance(by_frame, pl.Series)
    assert by_rows == by_frame.to_list()
    first = json.loads(by_rows[6])
    assert first["capacity_left_before"] == int(fields.capacity_left_before[6])
    assert first["estimates"]["close_rate_interval"] == [
        fields.close_rate_interval[0][6],
        fields.close_rate_interval[1][6],
    ]
    if segmented:
        assert json.loads(by_rows[0])["estimates"]["segment"] is None
        assert first["estimates"]["segment"]["value"] == 'Gr\u00fcn "6"'
