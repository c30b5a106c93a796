"""Write a cleaned batch of leads: resolve references, deduplicate, insert the new, merge the known.

A row found by its own external id (a re-exported CRM record) updates its lead; a duplicate
found by email, phone, domain and name or a merged alias fills the lead's blanks only (and the
fields of ``imports.merge.overwrite``), its other values noted on the lead (merge.py). Changed
values go to the lead's history (LeadChange), stage and owner changes also as StageChange and
Assignment rows. A row whose values the lead already holds changes nothing, so re-running an
import is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import repeat
from typing import Any

import polars as pl
from sqlalchemy import update
from sqlalchemy.orm import Session

from leadflow.db import (
    bulk_insert,
    bulk_update,
    datetimes,
    driver_datetimes,
    driver_rows,
    driver_value,
    frame_of,
    reserve_ids,
)
from leadflow.intake.columns import SPECS, FileMapping
from leadflow.intake.dedupe import LeadIndex, first_in_batch
from leadflow.intake.lead_frame import (
    CANONICAL_ONLY,
    DATA,
    DATA_SCHEMA,
    KEYS,
    domain_key_column,
    fetch_leads,
    key_columns,
    with_domain_person,
    with_keys,
)
from leadflow.intake.lookups import (
    COMPANY_SCHEMA,
    NO_COMPANIES,
    company_lookup,
    ensure_named,
    ids_of,
    keyed_lookup,
    named,
    rep_ids,
    rep_lookup,
    rep_spellings,
)
from leadflow.intake.merge import identity_conflicts, merge_extra, note_offered
from leadflow.intake.rejects import Reject
from leadflow.intake.validate import reject_rows
from leadflow.ledger.keys import name_key_expr
from leadflow.ledger.write import (
    insert_assignments,
    insert_leads,
    insert_stage_change_rows,
    insert_stage_changes,
)
from leadflow.models import Assignment, Product, Source, Territory, utcnow
from leadflow.scoring.service import latest_model, score_frame, score_leads
from leadflow.settings import Settings

# A batch that wrote no lead: built once.
_NONE_WRITTEN = pl.DataFrame(schema={"_line": pl.Int64, "id": pl.Int64, "new": pl.Boolean})


@dataclass
class LeadBatchResult:
    """What one batch did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    # each written row's line and the lead it became or merged into, and whether that lead is new
    leads: pl.DataFrame = field(default_factory=lambda: _NONE_WRITTEN)


# What a lead takes from its account where its row gives none: each column and the account's.
_FROM_ACCOUNT = {
    "industry": "_c_industry",
    "company_size": "_c_size",
    "annual_revenue": "_c_revenue",
    "country": "_c_country",
    "domain": "_c_domain",
}


# What a lead takes from its own row where it gives none: its closing dates from the close date,
# and (where the mapping says so) an amount on a won lead only.
_FROM_ROW = {
    "won_at": pl.coalesce("won_at", pl.when(pl.col("stage") == "won").then("closed_at")),
    "lost_at": pl.coalesce("lost_at", pl.when(pl.col("stage") == "lost").then("closed_at")),
    "amount": pl.when(pl.col("stage") == "won").then("amount"),
}


@lru_cache(maxsize=64)
def _row_derivations(names: tuple[str, ...], derived: tuple[str, ...]) -> list[pl.Expr]:
    """The lookup keys of the ``names`` (_name_keys), the ``derived`` columns of _FROM_ROW and
    the dedupe keys from the row's own domain: everything a batch derives before its names are
    resolved, in one context (a context costs 0.2-0.4 ms even for a capture's few rows), built
    once for each shape. The domain key is taken again where an account gives the domain."""
    derivations = (_FROM_ROW[c].cast(DATA_SCHEMA[c]).alias(c) for c in derived)
    return [*_name_keys(names), *derivations, *key_columns(pl.col("domain"))]


@lru_cache(maxsize=64)
def _account_derivations(derived: tuple[str, ...]) -> list[pl.Expr]:
    """The ``derived`` columns taken from the rows' accounts where the rows give none and, when
    the domain is one of them, the company domain key again from it."""
    taken = {c: pl.coalesce(c, _FROM_ACCOUNT[c]).cast(DATA_SCHEMA[c]) for c in derived}
    return [
        *(value.alias(c) for c, value in taken.items()),
        *([domain_key_column(taken["domain"])] if "domain" in taken else []),
    ]


def _typed_with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """A resolved batch's columns (DATA_SCHEMA), typed, with the dedupe keys, the account's
    values taken where the rows give none. Only a batch naming a known account with values takes
    a context for them; the rest are taken as they are."""
    derived = tuple(column for column, account in _FROM_ACCOUNT.items() if named(frame, account))
    computed = frame.select(_account_derivations(derived)) if derived else frame
    self_sourced = frame.get_column("lead_type") == "self-sourced"

    def typed(column: str, dtype: pl.DataType) -> pl.Series:
        if column == "self_sourced":
            values = self_sourced
        else:
            values = (computed if column in derived else frame).get_column(column)
        values = values if values.dtype == dtype else values.cast(dtype)
        return values if values.name == column else values.alias(column)

    return frame_of(
        [
            frame.get_column("_line"),
            *(typed(column, dtype) for column, dtype in DATA_SCHEMA.items()),
            *(frame.get_column(key) for key in KEYS if key != "domain_key"),
            (computed if "domain" in derived else frame).get_column("domain_key"),
            frame.get_column("source"),
        ]
    )


# The type of each column a batch of leads may lack.
_LEAD_TYPES = {
    name: DATA_SCHEMA.get(name) or CANONICAL_ONLY[name] for name in [*SPECS["leads"].names, "extra"]
}


def _null_columns(names: tuple[str, ...], height: int) -> list[pl.Series]:
    """Typed null columns for the columns a batch lacks, rather than literals planned in a context
    (7 µs each)."""
    return [pl.Series(name, [None] * height, dtype=_LEAD_TYPES[name]) for name in names]


# A capture's are the same batch after batch (a form never names an owner): kept for each of its
# sizes; an import's larger batches are not.
_kept_nulls = lru_cache(maxsize=64)(_null_columns)
_KEPT_NULLS_MAX = 256


def _nulls(names: tuple[str, ...], height: int) -> list[pl.Series]:
    return (_kept_nulls if height <= _KEPT_NULLS_MAX else _null_columns)(names, height)


# What a lead takes from its account, by column.
_ACCOUNT = {name: dtype for name, dtype in COMPANY_SCHEMA.items() if name != "_company_key"}
# The row of nulls a row naming no account known takes (_ACCOUNT).
_NO_ACCOUNT = pl.DataFrame([pl.Series(name, [None], dtype=dtype) for name, dtype in _ACCOUNT.items()])
# The columns that name a row elsewhere: a rep, a product, an account, a source, a territory.
NAMES = ("owner", "product", "company", "source", "territory")


@lru_cache(maxsize=32)
def _name_keys(columns: tuple[str, ...]) -> list[pl.Expr]:
    """The lookup keys of the names in ``columns``, for one context: a rep's as written and by
    name key, an account's, a product's, a source's and a territory's by name key (ledger.keys)."""
    return [
        *(rep_spellings("owner") if "owner" in columns else []),
        *(name_key_expr(pl.col(c)).alias(f"_key_{c}") for c in columns if c != "owner"),
    ]


def new_stage(stage: str | None, won_at: Any, lost_at: Any, owner_id: int | None) -> str:
    """A new lead's stage where its row gives none: from its dates, else its owner."""
    if stage is not None:
        return stage
    if won_at is not None:
        return "won"
    if lost_at is not None:
        return "lost"
    return "lead" if owner_id is not None else "inquiry"


def first_stage_at(stage: str | None, won_at: Any, lost_at: Any, created_at: Any) -> Any:
    """When a new lead reached its first stage: its won or lost date for a closed lead, else its
    creation date; None where it has none (then the moment it is written)."""
    if stage == "won" and won_at is not None:
        return won_at
    if stage == "lost" and lost_at is not None:
        return lost_at
    return created_at


# What each named column of a lead refers to (an owner is a rep: rep_lookup).
NAMED: dict[str, type[Product] | type[Source] | type[Territory]] = {
    "product": Product,
    "source": Source,
    "territory": Territory,
}


class LeadWriter:
    """Writes batches of one lead import; holds the lookups and dedupe index across batches.

    ``scoped`` (a capture's few rows): each batch reads only the accounts its rows name and the
    leads they could duplicate, instead of every key in the ledger once. Given ``arrived`` (when a
    capture's records came in), new leads without a creation date are dated by it; an import
    leaves them undated, as its file did. A merge never takes it: the known lead keeps its date."""

    def __init__(
        self,
        session: Session,
        *,
        file: str,
        mapping: FileMapping,
        settings: Settings,
        scoped: bool = False,
        arrived: datetime | None = None,
        fill_blanks: bool = False,
    ) -> None:
        self.file = file
        self.arrived = arrived
        # a capture merging into a known lead fills its blanks only and keeps what it offered
        # beyond them as a note: a web form must not overwrite what the team knows of a lead
        self.fill_blanks = fill_blanks
        self.mapping = mapping
        self.settings = settings
        self.model = latest_model(session)
        self._named: dict[str, dict[str, int]] = {}
        self.scoped = scoped
        # every account once for an import; a capture's batch reads those it names (_resolve)
        self._know_accounts(NO_COMPANIES if scoped else company_lookup(session))
        if not scoped:
            self.index = LeadIndex.load(session)

    def _know_accounts(self, companies: pl.DataFrame) -> None:
        """Keep each account's row by its key, and what a lead takes from it (_ACCOUNT), with one
        row of nulls after them for the rows that name no account known."""
        self._account_at = {
            key: row for row, key in enumerate(companies.get_column("_company_key").to_list())
        }
        self._accounts = (
            _NO_ACCOUNT if companies.is_empty() else pl.concat([companies[list(_ACCOUNT)], _NO_ACCOUNT])
        )

    def write(self, session: Session, frame: pl.DataFrame) -> LeadBatchResult:
        """Resolve, deduplicate and write one cleaned batch (canonical columns plus ``_line``)."""
        result = LeadBatchResult()
        frame, result.rejects = self._resolve(session, frame)
        if frame.is_empty():
            return result
        if self.scoped:
            self.index = LeadIndex.load(session, matching=frame)
        targets, found_by = self.index.match(frame)
        # positions of the rows that duplicate a known lead, with it and the key that found it
        known_at = [row for row, target in enumerate(targets) if target is not None]
        known_target = [targets[row] for row in known_at]
        known_by = [found_by[row] for row in known_at]
        fresh_at = [row for row, target in enumerate(targets) if target is None]
        if fresh_at:
            fresh = frame if len(fresh_at) == frame.height else frame[fresh_at]
            root = first_in_batch(fresh).tolist()
            first_at = [row for row, r in enumerate(root) if r == row]
            firsts = fresh if len(first_at) == fresh.height else fresh[first_at]
            ids = self._insert(session, firsts)
            result.new = len(ids)
            result.leads = pl.DataFrame(
                [
                    firsts.get_column("_line"),
                    pl.Series("id", ids, dtype=pl.Int64),
                    pl.Series("new", [True] * len(ids), dtype=pl.Boolean),
                ]
            )
            id_of_root = dict(zip(first_at, ids, strict=True))
            external = fresh.get_column("external_id").to_list()
            for row, r in enumerate(root):
                if r != row:  # a later row of the batch with a lead of its own in the batch
                    known_at.append(fresh_at[row])
                    known_target.append(id_of_root[r])
                    # the same record again in one file is an update of it; else a duplicate
                    same = external[row] is not None and external[row] == external[r]
                    known_by.append("external_id" if same else "batch")
        known = (
            frame[known_at].with_columns(
                pl.Series("_target", known_target, dtype=pl.Int64),
                pl.Series("_match", known_by, dtype=pl.String),
            )
            if known_at
            else frame.clear()
        )
        if not known.is_empty():
            known, conflicts = identity_conflicts(session, known, file=self.file)
            result.rejects.extend(conflicts)
            # the file's record of a lead updates it; a duplicate from elsewhere fills its blanks
            updates = pl.col("_match") == "external_id"
            if self.fill_blanks:
                updates = pl.lit(False)
            for rows, keep_old in ((known.filter(updates), False), (known.filter(~updates), True)):
                if not rows.is_empty():
                    changed, unchanged = self._merge(session, rows, keep_old=keep_old)
                    result.changed += changed
                    result.unchanged += unchanged
            written = known.select("_line", pl.col("_target").alias("id"), pl.lit(False).alias("new"))
            result.leads = pl.concat([result.leads, written.cast(result.leads.schema)])
        return result

    def _lookup(self, session: Session, column: str, frame: pl.DataFrame) -> dict[str, int]:
        """Name to id for the reps, products, sources or territories ``column`` names, read on the
        first batch that names one and kept for the import's next batches."""
        if column not in self._named:
            if not named(frame, column):
                return {}  # nothing named: nothing to read
            self._named[column] = (
                rep_lookup(session) if column == "owner" else keyed_lookup(session, NAMED[column])
            )
        return self._named[column]

    def _resolve(self, session: Session, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        """Map names to ids, derive stage, dates and keys; set aside rows naming unknown things.

        Every name's lookup key is computed in one context; the ids are then dict lookups over
        the keys, as cheap a row for a capture's few as for a million."""
        named_here = tuple(c for c in NAMES if named(frame, c))
        # the missing columns as nulls; then the names' keys (private columns, _key_*, that the
        # typed frame at the end leaves out), what the rows derive alone and the dedupe keys
        present = set(frame.columns)
        missing = tuple(name for name in _LEAD_TYPES if name not in present)
        frame = frame.hstack(_nulls(missing, frame.height)) if missing else frame
        from_row = (
            *(("won_at", "lost_at") if named(frame, "closed_at") else ()),
            *(("amount",) if self.mapping.amount_only_when_won and named(frame, "amount") else ()),
        )
        frame = frame.with_columns(_row_derivations(named_here, from_row))
        rejects: list[Reject] = []

        def set_aside(bad: list[bool], column: str, reason: str) -> pl.DataFrame:
            if not any(bad):  # the usual case: nothing to set aside, no frame operations
                return frame
            mask = pl.Series(bad, dtype=pl.Boolean)
            rejects.extend(reject_rows(frame, mask, file=self.file, column=column, reason=reason))
            return frame.filter(~mask)

        def values(column: str) -> list[Any]:
            return frame.get_column(column).to_list()

        def keys(column: str) -> list[str | None]:
            if column not in named_here:
                return [None] * frame.height
            return frame.get_column(f"_key_{column}").to_list()

        for column, unknown in (
            ("owner", "no such rep (by external id, name or email); import the reps first"),
            ("product", "no such product; import the products first"),
        ):
            if not named(frame, column):
                frame = frame.hstack([pl.Series(f"{column}_id", [None] * frame.height, dtype=pl.Int64)])
                continue
            lookup = self._lookup(session, column, frame)
            ids = (
                rep_ids(frame.get_column("_written_owner").to_list(), keys(column), lookup)
                if column == "owner"
                else ids_of(keys(column), lookup)
            )
            frame = frame.hstack([pl.Series(f"{column}_id", ids, dtype=pl.Int64)])
            unknown_at = [v is not None and i is None for v, i in zip(values(column), ids, strict=True)]
            frame = set_aside(unknown_at, column, unknown)
        if self.scoped:  # the accounts this batch names, if any
            named_accounts = [key for key in dict.fromkeys(keys("company")) if key is not None]
            self._know_accounts(
                company_lookup(session, keys=named_accounts) if named_accounts else NO_COMPANIES
            )
        frame = frame.hstack(self._account_columns(keys("company")))
        if self.mapping.require_known_company:
            unknown_at = [
                c is not None and i is None
                for c, i in zip(values("company"), values("company_id"), strict=True)
            ]
            frame = set_aside(
                unknown_at,
                "company",
                "no such account; import the accounts first",
            )
        for column in ("source", "territory"):
            lookup = self._lookup(session, column, frame)
            if named(frame, column):  # a batch naming none has nothing to create
                ensure_named(session, NAMED[column], frame.get_column(column).to_list(), keys(column), lookup)
            ids = ids_of(keys(column), lookup) if lookup else [None] * frame.height
            frame = frame.hstack([pl.Series(f"{column}_id", ids, dtype=pl.Int64)])
        if named(frame, "closed_at"):
            open_at = [
                c is not None and s not in ("won", "lost")
                for c, s in zip(values("closed_at"), values("stage"), strict=True)
            ]
            frame = set_aside(
                open_at,
                "closed_at",
                "a close date on a lead whose stage is not won or lost",
            )
        if named(frame, "lead_type"):
            ownerless = [
                t == "self-sourced" and o is None
                for t, o in zip(values("lead_type"), values("owner_id"), strict=True)
            ]
            frame = set_aside(
                ownerless,
                "owner",
                "a self-sourced lead needs the rep who found it as owner",
            )
        return with_domain_person(_typed_with_keys(frame)), rejects

    def _account_columns(self, keys: list[str | None]) -> list[pl.Series]:
        """What each row takes from the account its company names (by name ``keys``), null where
        it names none known: the accounts' rows gathered by a dict lookup of each key."""
        at, unknown = self._account_at, len(self._account_at)  # the row of nulls
        rows = pl.Series([unknown if key is None else at.get(key, unknown) for key in keys], dtype=pl.UInt32)
        return self._accounts[rows].get_columns()

    def _insert(self, session: Session, rows: pl.DataFrame) -> list[int]:
        """Insert new leads with their first stage and, when owned, their assignment."""
        now = utcnow()
        ids = reserve_ids(session, "leads", rows.height)
        given = (rows.get_column(c).to_list() for c in ("stage", "won_at", "lost_at", "owner_id"))
        created = rows.get_column("created_at")
        if self.arrived is not None and created.null_count():
            created = datetimes("created_at", [self.arrived if c is None else c for c in created.to_list()])
        # column by column from lists: a frame context costs 0.3 ms for a capture's few rows
        replaced = {"stage", "self_sourced", "created_at"}
        rows = frame_of(
            [
                *(
                    c
                    for name, c in zip(rows.columns, rows.get_columns(), strict=True)
                    if name not in replaced
                ),
                pl.Series("id", ids, dtype=pl.Int64),
                pl.Series("stage", [new_stage(*row) for row in zip(*given, strict=True)], dtype=pl.String),
                pl.Series("self_sourced", [v is True for v in rows.get_column("self_sourced").to_list()]),
                created,
            ]
        )
        rows = rows.hstack(score_frame(rows, self.settings, self.model).get_columns()[1:])  # all but the id
        # was_opportunity as the stage change below will set it, so its trigger finds nothing to write
        scores = ["fit_score", "grade", "win_probability", "score_model_id"]
        insert_leads(
            session,
            rows=rows,
            columns=["id", *DATA, *KEYS, *scores],
            was_opportunity=rows.get_column("stage") == "opportunity",
        )
        stages, *dates = (rows.get_column(c).to_list() for c in ("stage", "won_at", "lost_at", "created_at"))
        at = [
            now if (when := first_stage_at(*row)) is None else when
            for row in zip(stages, *dates, strict=True)
        ]
        by = [f"import {self.file}:{line}" for line in rows.get_column("_line").to_list()]
        insert_stage_change_rows(
            session,
            columns=["lead_id", "from_stage", "to_stage", "at", "by"],
            rows=list(zip(ids, repeat(None), stages, driver_datetimes(session, at), by, strict=False)),
        )
        if named(rows, "owner_id"):
            self._assign(session, rows.filter(pl.col("owner_id").is_not_null()), now)
        if not self.scoped:  # a scoped writer reads its index afresh for each batch
            self.index.add(rows.select("id", *KEYS, "external_id", "domain_person"))
        return ids

    def _assign(self, session: Session, owned: pl.DataFrame, now: datetime) -> None:
        if owned.is_empty():
            return
        assignments = owned.select(
            pl.col("id").alias("lead_id"),
            pl.col("owner_id").alias("rep_id"),
            pl.coalesce("assigned_at", "created_at", pl.lit(now)).alias("at"),
            pl.when(pl.col("self_sourced"))
            .then(pl.lit("self-sourced"))
            .otherwise(pl.lit("import"))
            .alias("policy"),
            pl.format(f"owner in {self.file} line {{}}", pl.col("_line")).alias("reason"),
            pl.lit(1.0).alias("credit_share"),
            pl.format(f"import {self.file}:{{}}", pl.col("_line")).alias("by"),
        )
        insert_assignments(session, rows=assignments)

    def _merge(self, session: Session, incoming: pl.DataFrame, *, keep_old: bool) -> tuple[int, int]:
        """Merge rows into the leads they duplicate; return (leads changed, leads unchanged).

        ``keep_old``: the lead keeps its values and takes only what it lacks (and the fields of
        ``imports.merge.overwrite``); else the rows' values replace its own. Either way it keeps
        its first date and its external id."""
        now = utcnow()
        aliases = incoming.select("_target", "external_id", "_line").drop_nulls("external_id")
        grouped = incoming.group_by("_target", maintain_order=True).agg(
            pl.col("_line").last(),
            *[pl.col(c).drop_nulls().last() for c in DATA if c != "extra"],
            pl.col("extra").drop_nulls(),
        )
        existing = fetch_leads(session, grouped.get_column("_target").to_list())
        joined = grouped.join(existing, left_on="_target", right_on="id", suffix="_old")
        merged_extra = [
            merge_extra(old, new, keep_old=keep_old)
            for old, new in joined.select("extra_old", "extra").iter_rows()
        ]
        overwrite = set(self.settings.imports.merge.overwrite) if not self.fill_blanks else set()

        def kept(c: str) -> pl.Expr:
            old_first = keep_old and c not in overwrite
            return pl.coalesce(f"{c}_old", c) if old_first else pl.coalesce(c, f"{c}_old")

        fixed = ("external_id", "extra", "created_at")
        merged = joined.with_columns(
            pl.coalesce("external_id_old", "external_id").alias("external_id"),
            pl.min_horizontal("created_at_old", "created_at").alias("created_at"),
            *[kept(c).alias(c) for c in DATA if c not in fixed],
            pl.Series("extra", merged_extra, dtype=pl.String),
        )
        if keep_old:
            note_offered(session, joined, now, file=self.file, applied=overwrite)
        change_flags = [pl.col(c).ne_missing(pl.col(f"{c}_old")).alias(f"_chg_{c}") for c in DATA]
        merged = merged.with_columns(change_flags).with_columns(
            pl.any_horizontal(*[f"_chg_{c}" for c in DATA]).alias("_changed")
        )
        changed = merged.filter("_changed")
        self._record_aliases(session, aliases, merged.select("_target", "external_id"), now)
        if changed.is_empty():
            return 0, merged.height
        changed = with_keys(changed.with_columns(pl.col("_target").alias("id")))
        columns = [*DATA, *KEYS]
        bulk_update(session, "leads", columns, driver_rows(session, changed.select(*columns, "id")))
        by = pl.format(f"import {self.file}:{{}}", pl.col("_line"))
        history = pl.concat(
            [
                changed.filter(f"_chg_{c}").select(
                    pl.col("id").alias("lead_id"),
                    pl.lit(now).alias("at"),
                    pl.lit(c).alias("field"),
                    pl.col(f"{c}_old").cast(pl.String).alias("old_value"),
                    pl.col(c).cast(pl.String).alias("new_value"),
                    by.alias("by"),
                )
                for c in DATA
            ]
        )
        bulk_insert(session, "lead_changes", history.columns, driver_rows(session, history))
        moved = changed.filter("_chg_stage").select(
            pl.col("id").alias("lead_id"),
            pl.col("stage_old").alias("from_stage"),
            pl.col("stage").alias("to_stage"),
            pl.lit(now).alias("at"),
            by.alias("by"),
        )
        insert_stage_changes(session, rows=moved)
        reowned = changed.filter(pl.col("_chg_owner_id") & pl.col("owner_id").is_not_null())
        if not reowned.is_empty():
            session.execute(
                update(Assignment)
                .where(Assignment.lead_id.in_(reowned.get_column("id").to_list()))
                .where(Assignment.ended_at.is_(None))
                .values(ended_at=now)
            )
            self._assign(session, reowned.with_columns(pl.lit(None).alias("assigned_at")), now)
        score_leads(session, settings=self.settings, lead_ids=changed.get_column("id").to_list())
        return changed.height, merged.height - changed.height

    def _record_aliases(
        self, session: Session, rows: pl.DataFrame, leads: pl.DataFrame, now: datetime
    ) -> None:
        """Keep the external ids of merged duplicates, so a re-import finds them by id."""
        lead_ext = dict(
            zip(leads.get_column("_target").to_list(), leads.get_column("external_id").to_list(), strict=True)
        )
        at = driver_value(session, now)
        out: dict[str, tuple[str, int, Any, str]] = {}
        for target, external_id, line in rows.select("_target", "external_id", "_line").iter_rows():
            if target not in lead_ext or external_id == (lead_ext[target] or ""):
                continue  # the lead's own id
            if external_id in out or self.index.find(external_id) is not None:
                continue  # known already
            out[external_id] = (external_id, target, at, f"merged by import {self.file}:{line}")
        if not out:
            return
        bulk_insert(session, "lead_aliases", ["external_id", "lead_id", "at", "by"], list(out.values()))
        if not self.scoped:
            self.index.add_aliases(list(out), [row[1] for row in out.values()])
