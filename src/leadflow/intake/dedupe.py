"""Find the lead an incoming row is a duplicate of: by external id, email, phone, or company domain
together with the person's name.

Domain alone does not match: in B2B many people of one company are separate leads. Keys are
normalised (keys.py), so 'Ann.Lee@ACME.com ' and 'ann.lee@acme.com' are one person.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import (
    CompoundSelect,
    String,
    and_,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from leadflow.db import in_values, read_rows
from leadflow.models import Lead, LeadAlias

# In order of trust: the first key that matches decides the target.
MATCH_KEYS = ("external_id", "email_key", "phone_key", "domain_person")
# Each index and the row's column it is looked up by: a lead's own external id, then the external
# ids of duplicates merged into it (an alias finds the lead, but the row is still a duplicate).
LOOKUPS = (("external_id", "external_id"), ("alias", "external_id"), *((k, k) for k in MATCH_KEYS[1:]))


def domain_person_keys(domains: list[str | None], persons: list[str | None]) -> list[str | None]:
    """The combined key of company domain and person name, for each pair; None unless both are
    known. Worked on lists: the rows of a capture and the leads of the ledger alike."""
    return [
        f"{d}|{p}" if d is not None and p is not None else None for d, p in zip(domains, persons, strict=True)
    ]


def _firsts(keys: list[str | None], ids: list[int]) -> dict[str, int]:
    """Each key's first lead (in the order given), blank keys left out."""
    return {key: id_ for key, id_ in zip(reversed(keys), reversed(ids), strict=True) if key is not None}


@lru_cache(maxsize=2)
def _key_query(*, scoped: bool) -> CompoundSelect[*tuple[Any, ...]]:
    """The leads' keys, then the merged aliases (``alias`` true: the external id and its lead),
    in one statement: all, or (``scoped``) those a few rows could match, by the expanding
    parameters external_ids, emails, phones, domains and persons. Every domain with every name
    is a superset of the pairs that match() narrows; one shape, built once."""
    query = select(
        Lead.id,
        Lead.external_id,
        Lead.email_key,
        Lead.phone_key,
        Lead.domain_key,
        Lead.person_key,
        literal(False).label("alias"),
    )
    none = null().cast(String)
    alias_query = select(LeadAlias.lead_id, LeadAlias.external_id, none, none, none, none, literal(True))
    if scoped:
        query = query.where(
            or_(
                in_values(Lead.external_id, "external_ids"),
                in_values(Lead.email_key, "emails"),
                in_values(Lead.phone_key, "phones"),
                and_(in_values(Lead.domain_key, "domains"), in_values(Lead.person_key, "persons")),
            )
        )
        alias_query = alias_query.where(in_values(LeadAlias.external_id, "external_ids"))
    return union_all(query, alias_query)


class LeadIndex:
    """The existing leads' keys, each mapped to its first lead: loaded once per import and kept up
    to date (or, for a capture, only the keys of the leads its rows could duplicate).

    Plain dicts: a row is matched by a lookup per key, which costs the same for the few rows of a
    capture as for each row of a million-row import, where frame joins cost ~0.1 ms apiece."""

    def __init__(self, keys: dict[str, dict[str, int]]) -> None:
        self.keys = keys  # by index name (LOOKUPS): key to lead id

    @classmethod
    def load(cls, session: Session, *, matching: pl.DataFrame | None = None) -> LeadIndex:
        """Read every lead's keys (and merged aliases) from the database; or, for a few incoming
        rows (``matching``, with the key columns), only the leads those rows could duplicate."""
        parameters: dict[str, list[str]] = {}
        if matching is not None:

            def values(column: str) -> list[str]:
                return sorted(v for v in set(matching.get_column(column).to_list()) if v is not None)

            domains, persons = (
                matching.get_column("domain_key").to_list(),
                matching.get_column("person_key").to_list(),
            )
            paired = [
                (d, p) for d, p in zip(domains, persons, strict=True) if d is not None and p is not None
            ]
            parameters = {
                "external_ids": values("external_id"),
                "emails": values("email_key"),
                "phones": values("phone_key"),
                "domains": sorted({d for d, _ in paired}),
                "persons": sorted({p for _, p in paired}),
            }
        found = read_rows(session, _key_query(scoped=matching is not None), parameters)
        rows = [row[:6] for row in found if not row[6]]
        aliases = [(row[1], row[0]) for row in found if row[6]]
        ids, external, email, phone, domain, person = (
            (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 6
        )
        keys = {
            "external_id": _firsts(external, ids),
            "email_key": _firsts(email, ids),
            "phone_key": _firsts(phone, ids),
            "domain_person": _firsts(domain_person_keys(domain, person), ids),
            "alias": _firsts([a for a, _ in aliases], [i for _, i in aliases]),
        }
        return cls(keys)

    def match(self, frame: pl.DataFrame) -> tuple[list[int | None], list[str | None]]:
        """For each row, the id of the existing lead it duplicates (or None) and the index that
        found it: a row found by its external id is that lead's record again."""
        target: list[int | None] = [None] * frame.height
        found_by: list[str | None] = [None] * frame.height
        left: list[int] | range = range(frame.height)
        for index, column in LOOKUPS:  # in order of trust: the first key that matches decides
            known, values = self.keys[index], frame.get_column(column).to_list()
            unmatched = []
            for row in left:
                lead = known.get(values[row]) if values[row] is not None else None
                if lead is None:
                    unmatched.append(row)
                else:
                    target[row], found_by[row] = lead, index
            left = unmatched
        return target, found_by

    def find(self, external_id: str) -> int | None:
        """The lead known by this external id, its own or a merged duplicate's."""
        own = self.keys["external_id"].get(external_id)
        return own if own is not None else self.keys["alias"].get(external_id)

    def by_external_id(self) -> pl.DataFrame:
        """Each external id that finds a lead (``key``) and the lead (``id``): the leads' own,
        then their merged duplicates'."""
        own, merged = self.keys["external_id"], self.keys["alias"]
        return pl.DataFrame(
            {"key": [*own, *merged], "id": [*own.values(), *merged.values()]},
            schema={"key": pl.String, "id": pl.Int64},
        )

    def add(self, frame: pl.DataFrame) -> None:
        """Index newly inserted leads (``id`` and key columns); a key already known keeps its lead."""
        ids = frame.get_column("id").to_list()
        for key in MATCH_KEYS:
            known = self.keys[key]
            for value, lead in zip(frame.get_column(key).to_list(), ids, strict=True):
                if value is not None and value not in known:
                    known[value] = lead

    def add_aliases(self, external_ids: list[str], lead_ids: list[int]) -> None:
        """Index external ids merged into existing leads."""
        merged = self.keys["alias"]
        for external_id, lead in zip(external_ids, lead_ids, strict=True):
            merged.setdefault(external_id, lead)


def first_in_batch(frame: pl.DataFrame) -> np.ndarray:
    """For each row, the position of the earliest row of the batch it duplicates (itself if none).

    Chains are followed: if row 3 shares a phone with row 2 and row 2 an email with row 1, all
    three resolve to row 1.
    """
    n = frame.height
    earliest = list(range(n))  # the first row sharing any key with each row
    for key in MATCH_KEYS:
        first: dict[str, int] = {}
        for row, value in enumerate(frame.get_column(key).to_list()):
            if value is not None:
                found = first.setdefault(value, row)
                if found < earliest[row]:
                    earliest[row] = found
    root = np.asarray(earliest, dtype=np.int64)
    for _ in range(n):
        parent = root[root]
        if (parent == root).all():
            break
        root = parent
    return root
