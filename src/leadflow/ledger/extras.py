"""Leads' extra attributes (the JSON object of columns leadflow has no field for) as columns.

Keys differ from lead to lead (one import brought ``Rating``, a form brought ``utm_source``), so
the whole column is read to find them, not its first rows; a key holding numbers for some leads
and text for others is text. Values are scalars (intake keeps nothing else).
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl


def decode_extras(extra: pl.Series) -> pl.DataFrame:
    """One text column per key found in any lead's extras (null where a lead lacks it); no
    columns when no lead has any."""
    decoded = extra.str.json_decode(infer_schema_length=None) if extra.null_count() < len(extra) else None
    if decoded is None or not isinstance(decoded.dtype, pl.Struct):
        return pl.DataFrame(height=len(extra))
    return decoded.struct.unnest().with_columns(pl.all().cast(pl.String))


def parse_extras(texts: list[str | None]) -> list[dict[str, Any]]:
    """Each lead's extra attributes as a dict (empty where it has none)."""
    decoded = [json.loads(t) if t else {} for t in texts]
    return [d if isinstance(d, dict) else {} for d in decoded]


def extra_texts(extras: list[dict[str, Any]], name: str) -> list[str | None]:
    """One extra attribute of each lead as text, a number's or a flag's as JSON writes it (the
    reading of a JSON path match): ``extras`` from :func:`parse_extras`."""
    values = [e.get(name) for e in extras]
    return [v if v is None or isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values]
