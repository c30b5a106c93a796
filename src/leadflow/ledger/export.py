"""Every CSV leadflow writes (lists, reports, exports, routing plans, reject reports) is opened in
spreadsheets, which run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula: ``=HYPERLINK(...)`` in a company name would go live. As OWASP
recommends, such text cells are written with a leading apostrophe, which spreadsheets show as
text; leadflow's own imports remove that apostrophe again (ledger.keys.text_expr), so an export
imports back unchanged. Numbers are written as numbers: ``-5`` in a numeric column is data.
"""

from __future__ import annotations

import re

import polars as pl

FORMULA_SIGNS = "=+-@"  # what a formula starts with ...
FORMULA_CHARS = FORMULA_SIGNS + "\t\r"  # ... also after a tab or carriage return
FORMULA_START = f"^[{re.escape(FORMULA_CHARS)}]"


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each text cell that a spreadsheet would run as a formula prefixed by ``'``."""
    text = [c for c, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def neutral_cell(value: str) -> str:
    """One cell as :func:`neutralised` writes it."""
    return "'" + value if value[:1] and value[0] in FORMULA_CHARS else value


def csv_text(frame: pl.DataFrame) -> str:
    """The frame as CSV text, formulas neutralised, date-times as ISO 8601."""
    return neutralised(frame).write_csv(datetime_format="%Y-%m-%dT%H:%M:%S")
