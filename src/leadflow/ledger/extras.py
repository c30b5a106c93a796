"""Leads' extra attributes (the JSON object of columns leadflow has no field for) as columns.

Keys differ from lead to lead (one import brought ``Rating``, a form brought ``utm_source``), so
the whole column is read to find them, not its first rows; a key holding numbers for some leads
and text for others is text. Values are scalars (intake keeps nothing else).
"""

from __future__ import annotations

import polars as pl


def decode_extras(extra: pl.Series) -> pl.DataFrame:
    """One text column per key found in any lead's extras (null where a lead lacks it); no
    columns when no lead has any."""
    decoded = extra.str.json_decode(infer_schema_length=None) if extra.null_count() < len(extra) else None
    if decoded is None or not isinstance(decoded.dtype, pl.Struct):
        return pl.DataFrame(height=len(extra))
    return decoded.struct.unnest().with_columns(pl.all().cast(pl.String))
