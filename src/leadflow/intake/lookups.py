"""Resolve the names an import file uses (rep, product, account, source, territory) to row ids.

A rep may be named by external id, name or email, in any case or spacing; the rest by a
normalised name key, so 'GTXPro' finds 'GTX Pro'. Each lookup is a mapping the batch's column is
looked up in.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import polars as pl
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from leadflow.db import in_values, read_rows
from leadflow.ledger.keys import name_key_expr
from leadflow.models import Company, Product, Rep, Source, Territory


def rep_lookup(session: Session) -> dict[str, int]:
    """Every spelling that names a rep (lower-case external id, name key, email) with its id."""
    rows = session.execute(select(Rep.id, Rep.external_id, Rep.name_key, Rep.email)).all()
    refs: dict[str, int] = {}
    for rep_id, external_id, key, email in rows:
        for ref in (email, key, external_id.lower()):
            if ref:
                refs[ref] = rep_id
    return refs


def rep_spellings(column: str) -> list[pl.Expr]:
    """The two spellings a rep named in ``column`` is looked up by, for one context: as written
    (lower case, trimmed: an external id or an email) as ``_written_<column>``, and its name key
    as ``_key_<column>``."""
    return [
        pl.col(column).str.to_lowercase().str.strip_chars().alias(f"_written_{column}"),
        name_key_expr(pl.col(column)).alias(f"_key_{column}"),
    ]


def rep_ids(written: list[str | None], keys: list[str | None], lookup: dict[str, int]) -> list[int | None]:
    """The rep each name refers to: by its spelling as written, else by its name key; None where
    blank or unknown. A dict lookup a name: as cheap a name for 8 rows as for a million."""
    found = ids_of(written, lookup)
    return [f if f is not None else k for f, k in zip(found, ids_of(keys, lookup), strict=True)]


def ids_of(keys: list[str | None], lookup: dict[str, int]) -> list[int | None]:
    """The id each key names; None where the key is blank or unknown."""
    return [None if key is None else lookup.get(key) for key in keys]


def resolve_reps(frame: pl.DataFrame, column: str, lookup: dict[str, int], target: str) -> pl.DataFrame:
    """Add ``target`` (rep id) for the rep named in ``column``; null where unknown or blank."""
    if not named(frame, column):
        return frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(target))
    written, keys = frame.select(rep_spellings(column)).get_columns()
    return frame.with_columns(
        pl.Series(target, rep_ids(written.to_list(), keys.to_list(), lookup), dtype=pl.Int64)
    )


def named(frame: pl.DataFrame, column: str) -> bool:
    """Whether any row has a value in ``column``. Where none has (a capture never names an owner
    or product), there is nothing to look up or check, and no frame work is done for it."""
    found = frame.get_column(column, default=None)  # not `in frame.columns`: that lists every name
    return found is not None and found.null_count() < frame.height


def keyed_lookup(session: Session, model: type[Product] | type[Source] | type[Territory]) -> dict[str, int]:
    """Name key to id for products, sources or territories."""
    return {key: id_ for id_, key in read_rows(session, _keyed(model))}


@lru_cache(maxsize=4)
def _keyed(model: type[Product] | type[Source] | type[Territory]) -> Select[*tuple[Any, ...]]:
    return select(model.id, model.key)


def company_lookup(session: Session, *, keys: list[str] | None = None) -> pl.DataFrame:
    """Companies by name key (all, or those of ``keys``), with what a lead inherits from its account."""
    query = _companies(scoped=keys is not None)
    rows = read_rows(session, query, {"keys": keys} if keys is not None else {})
    return pl.DataFrame(rows, schema=COMPANY_SCHEMA, orient="row") if rows else NO_COMPANIES


# What a lead takes from its account, as company_lookup's frame has it.
COMPANY_SCHEMA: dict[str, pl.DataType] = {
    "_company_key": pl.String(),
    "company_id": pl.Int64(),
    "_c_domain": pl.String(),
    "_c_industry": pl.String(),
    "_c_size": pl.Int64(),
    "_c_revenue": pl.Float64(),
    "_c_country": pl.String(),
}
# No account known: a frame built once (a capture's accounts are new, as a rule).
NO_COMPANIES = pl.DataFrame(schema=COMPANY_SCHEMA)


@lru_cache(maxsize=2)
def _companies(*, scoped: bool) -> Select[*tuple[Any, ...]]:
    query = select(
        Company.key,
        Company.id,
        Company.domain,
        Company.industry,
        Company.employees,
        Company.annual_revenue,
        Company.country,
    )
    return query.where(in_values(Company.key, "keys")) if scoped else query


def ensure_named(
    session: Session,
    model: type[Product] | type[Source] | type[Territory],
    names: list[str | None],
    keys: list[str | None],
    lookup: dict[str, int],
) -> int:
    """Create the sources or territories a file names (``names``, with their name ``keys``) that
    do not exist yet, each under the first spelling met; return how many."""
    created = 0
    for name, key in zip(names, keys, strict=True):
        if name is not None and key and key not in lookup:
            row = model(name=name, key=key)
            session.add(row)
            session.flush()
            lookup[key] = row.id
            created += 1
    return created
