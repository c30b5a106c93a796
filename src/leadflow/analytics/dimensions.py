"""The dimensions reports group by: the plain names, importable without the database layer."""

from __future__ import annotations

from typing import Literal, get_args

Dimension = Literal["rep", "team", "territory", "source", "lead_type", "product", "month", "channel"]

DIMENSIONS: tuple[str, ...] = get_args(Dimension)
