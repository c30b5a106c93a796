"""Find the lead an incoming row is a duplicate of: by external id, email, phone, or company domain
together with the person's name.

Domain alone does not match: in B2B many people of one company are separate leads. Keys are
normalised (keys.py), so 'Ann.Lee@ACME.com ' and 'ann.lee@acme.com' are one person.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from leadflow.models import Lead, LeadAlias

# In order of trust: the first key that matches decides the target.
MATCH_KEYS = ("external_id", "email_key", "phone_key", "domain_person")
# Each index and the row's column it is looked up by: a lead's own external id, then the external
# ids of duplicates merged into it (an alias finds the lead, but the row is still a duplicate).
LOOKUPS = (("external_id", "external_id"), ("alias", "external_id"), *((k, k) for k in MATCH_KEYS[1:]))


def domain_person_expr() -> pl.Expr:
    """The combined key of company domain and person name; null unless both are known."""
    return pl.when(pl.col("domain_key").is_not_null() & pl.col("person_key").is_not_null()).then(
        pl.concat_str("domain_key", pl.lit("|"), "person_key")
    )


class LeadIndex:
    """In-memory index of existing leads' keys, loaded once per import and kept up to date."""

    def __init__(self, frames: dict[str, pl.DataFrame]) -> None:
        self.frames = frames

    @classmethod
    def load(cls, session: Session, *, matching: pl.DataFrame | None = None) -> LeadIndex:
        """Read every lead's keys (and merged aliases) from the database; or, for a few incoming
        rows (``matching``, with the key columns), only the leads those rows could duplicate."""
        query = select(
            Lead.id,
            Lead.external_id,
            Lead.email_key,
            Lead.phone_key,
            Lead.domain_key,
            Lead.person_key,
        )
        alias_query = select(LeadAlias.external_id, LeadAlias.lead_id)
        if matching is not None:

            def values(column: str) -> list[str]:
                return matching.get_column(column).drop_nulls().unique().to_list()

            pairs = matching.select("domain_key", "person_key").drop_nulls()
            # Every domain with every name: a superset of the pairs that match() narrows, in a
            # statement of one shape whatever the batch (compiled once, cached; still indexed).
            query = query.where(
                or_(
                    Lead.external_id.in_(values("external_id")),
                    Lead.email_key.in_(values("email_key")),
                    Lead.phone_key.in_(values("phone_key")),
                    and_(
                        Lead.domain_key.in_(pairs["domain_key"].unique().to_list()),
                        Lead.person_key.in_(pairs["person_key"].unique().to_list()),
                    ),
                )
            )
            alias_query = alias_query.where(LeadAlias.external_id.in_(values("external_id")))
        rows = session.execute(query).all()
        leads = pl.DataFrame(
            rows,
            schema={
                "id": pl.Int64,
                "external_id": pl.String,
                "email_key": pl.String,
                "phone_key": pl.String,
                "domain_key": pl.String,
                "person_key": pl.String,
            },
            orient="row",
        ).with_columns(domain_person_expr().alias("domain_person"))
        aliases = pl.DataFrame(
            session.execute(alias_query).all(),
            schema={"key": pl.String, "id": pl.Int64},
            orient="row",
        )
        frames = {key: cls._pairs(leads, key) for key in MATCH_KEYS}
        frames["alias"] = aliases
        return cls(frames)

    @staticmethod
    def _pairs(frame: pl.DataFrame, key: str) -> pl.DataFrame:
        return (
            frame.select(pl.col(key).alias("key"), "id")
            .drop_nulls("key")
            .unique(subset="key", keep="first", maintain_order=True)
        )

    def match(self, frame: pl.DataFrame) -> pl.DataFrame:
        """For each row, the id of the existing lead it duplicates (``_target``, or null) and the
        key that found it (``_match``): a row found by its external id is that lead's record again."""
        found = []
        for index, column in LOOKUPS:
            found.append(
                frame.select(pl.col(column).alias("key"))
                .join(self.frames[index], on="key", how="left", maintain_order="left")
                .get_column("id")
                .alias(index)
            )
        ids = pl.DataFrame(found)
        which = pl.coalesce(pl.when(pl.col(index).is_not_null()).then(pl.lit(index)) for index, _ in LOOKUPS)
        return ids.select(pl.coalesce(pl.all()).alias("_target"), which.alias("_match"))

    def add(self, frame: pl.DataFrame) -> None:
        """Index newly inserted leads (``id`` and key columns)."""
        for key in MATCH_KEYS:
            self.frames[key] = pl.concat([self.frames[key], self._pairs(frame, key)])

    def add_aliases(self, external_ids: list[str], lead_ids: list[int]) -> None:
        """Index external ids merged into existing leads."""
        extra = pl.DataFrame({"key": external_ids, "id": lead_ids}, schema={"key": pl.String, "id": pl.Int64})
        self.frames["alias"] = pl.concat([self.frames["alias"], extra])


def first_in_batch(frame: pl.DataFrame) -> pl.Series:
    """For each row, the position of the earliest row of the batch it duplicates (itself if none).

    Chains are followed: if row 3 shares a phone with row 2 and row 2 an email with row 1, all
    three resolve to row 1.
    """
    n = frame.height
    position = pl.col("_pos")
    firsts = [
        pl.when(pl.col(key).is_not_null()).then(position.min().over(key)).otherwise(position)
        for key in MATCH_KEYS
    ]
    indexed = frame.select(*MATCH_KEYS).with_row_index("_pos").with_columns(position.cast(pl.Int64))
    root = indexed.select(pl.min_horizontal(firsts)).to_series().to_numpy().copy()
    for _ in range(n):
        parent = root[root]
        if (parent == root).all():
            break
        root = parent
    return pl.Series("_root", root, dtype=pl.Int64)
