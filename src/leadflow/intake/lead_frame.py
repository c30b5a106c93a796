"""The frame an import writes: the lead columns and their types, the dedupe keys derived from
them, and the current values of known leads in the same shape, for a merge to compare."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from leadflow.intake.dedupe import domain_person_keys
from leadflow.ledger.keys import company_domain_expr, name_key_expr, phone_key_expr
from leadflow.models import Lead

# The lead columns an import writes, with their types in a frame.
DATA_SCHEMA: dict[str, pl.DataType] = {
    "external_id": pl.String(),
    "created_at": pl.Datetime("us"),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "title": pl.String(),
    "company": pl.String(),
    "domain": pl.String(),
    "industry": pl.String(),
    "company_size": pl.Int64(),
    "annual_revenue": pl.Float64(),
    "country": pl.String(),
    "region": pl.String(),
    "city": pl.String(),
    "lead_type": pl.String(),
    "budget": pl.Float64(),
    "authority": pl.Boolean(),
    "need": pl.String(),
    "timeline": pl.String(),
    "extra": pl.String(),
    "company_id": pl.Int64(),
    "source_id": pl.Int64(),
    "territory_id": pl.Int64(),
    "owner_id": pl.Int64(),
    "product_id": pl.Int64(),
    "self_sourced": pl.Boolean(),
    "stage": pl.String(),
    "assigned_at": pl.Datetime("us"),
    "first_touch_at": pl.Datetime("us"),
    "won_at": pl.Datetime("us"),
    "lost_at": pl.Datetime("us"),
    "amount": pl.Float64(),
    "lost_reason": pl.String(),
}
DATA = list(DATA_SCHEMA)
KEYS = ["email_key", "phone_key", "domain_key", "person_key"]
# Canonical columns that name something else; they resolve to the *_id columns above.
CANONICAL_ONLY: dict[str, pl.DataType] = {
    "owner": pl.String(),
    "product": pl.String(),
    "source": pl.String(),
    "territory": pl.String(),
    "closed_at": pl.Datetime("us"),
}


def key_columns(domain: pl.Expr) -> list[pl.Expr]:
    """The dedupe keys derived from a lead's email, phone, ``domain`` and name, for one context;
    the domain and person together (``domain_person``) is derived from them after it
    (with_domain_person), since a context would compute each of its two keys again."""
    person = pl.concat_str(pl.col("first_name").fill_null(""), pl.lit(" "), pl.col("last_name").fill_null(""))
    return [
        pl.col("email").alias("email_key"),
        phone_key_expr(pl.col("phone")).alias("phone_key"),
        domain_key_column(domain),
        name_key_expr(person).alias("person_key"),
    ]


def domain_key_column(domain: pl.Expr) -> pl.Expr:
    """The company domain key (``domain_key``) of a lead whose domain is ``domain``: as given,
    else its email's unless that is a free-mail one."""
    return company_domain_expr(domain, pl.col("email")).alias("domain_key")


def with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the dedupe keys derived from a lead's email, phone, domain and name."""
    return with_domain_person(frame.with_columns(key_columns(pl.col("domain"))))


def with_domain_person(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the combined key of company domain and person name (``domain_person``) to a frame
    with the keys."""
    keys = domain_person_keys(
        frame.get_column("domain_key").to_list(), frame.get_column("person_key").to_list()
    )
    return frame.hstack([pl.Series("domain_person", keys, dtype=pl.String)])


def fetch_leads(session: Session, ids: list[int]) -> pl.DataFrame:
    """Current values of the given leads, typed as in an import frame."""
    columns = [getattr(Lead, c) for c in DATA if c != "extra"]
    frames = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = session.execute(
            select(Lead.id, *columns, cast(Lead.extra, Text)).where(Lead.id.in_(chunk))
        ).all()
        schema = {"id": pl.Int64(), **{c: t for c, t in DATA_SCHEMA.items() if c != "extra"}}
        schema["extra"] = pl.String()
        frames.append(pl.DataFrame(rows, schema=schema, orient="row"))
    return pl.concat(frames)
