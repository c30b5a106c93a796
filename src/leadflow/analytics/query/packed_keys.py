"""Several small integer group keys written as one, for SQLite's sorter, and taken apart again.

SQLite has no hash aggregation: a GROUP BY sorts every row, and a row of several key columns
costs more to sort than one integer (the funnel's pass, measured in docs/performance-log.md).

A ``Packing`` writes its keys as one mixed-radix number: each ``Bounded`` key (integers in
``[low, low + size)``, or null) is a digit, and at most one key of any size (``high``, never
null) goes above them all. ``unpack`` gives the keys back as Polars expressions. PostgreSQL
aggregates by hashing, so reports pack only on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Integer, func, literal, type_coerce

# A packed key stays an exact SQLite integer: below 2**62 in magnitude.
LIMIT = 2**62


@dataclass(frozen=True)
class Bounded:
    """A key whose values lie in ``[low, low + size)``, or are null."""

    name: str
    expr: Any  # an integer SQL expression
    low: int
    size: int

    @property
    def radix(self) -> int:
        return self.size + 1  # code 0 is null


@dataclass(frozen=True)
class Packing:
    """``bounded`` keys as digits, and a ``high`` key, whose magnitude is below ``high_bound``,
    above them."""

    bounded: list[Bounded] = field(default_factory=list)
    high: tuple[str, Any] | None = None
    high_bound: int = 1

    @property
    def radix(self) -> int:
        radix = 1
        for key in self.bounded:
            radix *= key.radix
        return radix

    @property
    def exact(self) -> bool:
        """Whether every packed number stays an exact SQLite integer."""
        return self.radix * self.high_bound < LIMIT

    def joined(self, key: Bounded) -> Packing:
        """This packing with ``key`` as its next digit."""
        return Packing(bounded=[*self.bounded, key], high=self.high, high_bound=self.high_bound)

    def sql(self) -> Any:
        """The packed key as one SQL integer expression."""
        packed: Any = literal(0)
        step = 1
        for key in self.bounded:
            code = func.coalesce(type_coerce(key.expr, Integer) - (key.low - 1), 0)  # booleans as 0 and 1
            packed = packed + (code * step if step > 1 else code)
            step *= key.radix
        if self.high is not None:
            packed = packed + self.high[1] * step
        return packed

    def unpack(self, column: str) -> list[pl.Expr]:
        """The keys, named as given, from the packed ``column``."""
        packed = pl.col(column).cast(pl.Int64)
        keys = []
        step = 1
        for key in self.bounded:
            code = (packed // step) % key.radix
            keys.append(pl.when(code > 0).then(code - 1 + key.low).alias(key.name))
            step *= key.radix
        if self.high is not None:
            keys.append((packed // step).alias(self.high[0]))
        return keys
