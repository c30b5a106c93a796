"""Resolve the names an import file uses (rep, product, account, source, territory) to row ids.

A rep may be named by external id, name or email, in any case or spacing; the rest by a
normalised name key, so 'GTXPro' finds 'GTX Pro'. Each lookup is a small frame joined to the batch.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadflow.keys import name_key, name_key_expr
from leadflow.models import Company, Product, Rep, Source, Territory


def rep_lookup(session: Session) -> pl.DataFrame:
    """Every spelling that names a rep (lower-case external id, name key, email) with its id."""
    rows = session.execute(select(Rep.id, Rep.external_id, Rep.name_key, Rep.email)).all()
    refs: dict[str, int] = {}
    for rep_id, external_id, key, email in rows:
        for ref in (email, key, external_id.lower()):
            if ref:
                refs[ref] = rep_id
    return pl.DataFrame(
        {"ref": list(refs), "rep_id": list(refs.values())},
        schema={"ref": pl.String, "rep_id": pl.Int64},
    )


def resolve_reps(frame: pl.DataFrame, column: str, lookup: pl.DataFrame, target: str) -> pl.DataFrame:
    """Add ``target`` (rep id) for the rep named in ``column``; null where unknown or blank."""
    by_text = lookup.rename({"ref": "_ref_a", "rep_id": "_rep_a"})
    by_key = lookup.rename({"ref": "_ref_b", "rep_id": "_rep_b"})
    return (
        frame.with_columns(
            pl.col(column).str.to_lowercase().str.strip_chars().alias("_ref_a"),
            name_key_expr(pl.col(column)).alias("_ref_b"),
        )
        .join(by_text, on="_ref_a", how="left")
        .join(by_key, on="_ref_b", how="left")
        .with_columns(pl.coalesce("_rep_a", "_rep_b").alias(target))
        .drop("_ref_a", "_ref_b", "_rep_a", "_rep_b")
    )


def keyed_lookup(session: Session, model: type[Product] | type[Source] | type[Territory]) -> dict[str, int]:
    """Name key to id for products, sources or territories."""
    return {key: id_ for id_, key in session.execute(select(model.id, model.key)).all()}


def company_lookup(session: Session, *, keys: list[str] | None = None) -> pl.DataFrame:
    """Companies by name key (all, or those of ``keys``), with what a lead inherits from its account."""
    query = select(
        Company.key,
        Company.id,
        Company.domain,
        Company.industry,
        Company.employees,
        Company.annual_revenue,
        Company.country,
    )
    if keys is not None:
        query = query.where(Company.key.in_(keys))
    rows = session.execute(query).all()
    return pl.DataFrame(
        rows,
        schema={
            "_company_key": pl.String,
            "company_id": pl.Int64,
            "_c_domain": pl.String,
            "_c_industry": pl.String,
            "_c_size": pl.Int64,
            "_c_revenue": pl.Float64,
            "_c_country": pl.String,
        },
        orient="row",
    )


def resolve_keyed(frame: pl.DataFrame, column: str, lookup: dict[str, int], target: str) -> pl.DataFrame:
    """Add ``target`` (id) for the name in ``column`` by its normalised key; null where unknown."""
    if column not in frame.columns:
        return frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(target))
    table = pl.DataFrame(
        {"_k": list(lookup), target: list(lookup.values())},
        schema={"_k": pl.String, target: pl.Int64},
    )
    return (
        frame.with_columns(name_key_expr(pl.col(column)).alias("_k"))
        .join(table, on="_k", how="left")
        .drop("_k")
    )


def ensure_named(
    session: Session,
    model: type[Source] | type[Territory],
    names: list[str],
    lookup: dict[str, int],
) -> int:
    """Create the sources or territories a file names that do not exist yet; return how many."""
    created = 0
    for name in names:
        key = name_key(name)
        if key and key not in lookup:
            row = model(name=name, key=key)
            session.add(row)
            session.flush()
            lookup[key] = row.id
            created += 1
    return created
