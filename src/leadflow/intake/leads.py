"""Write a cleaned batch of leads: resolve references, deduplicate, insert the new, merge the known.

A row that matches an existing lead (dedupe.py) is merged into it: each field the row gives and
the lead differs in is updated, and the old and new values go to the lead's history
(LeadChange), with stage and owner changes also as StageChange and Assignment rows. A row whose
values the lead already holds changes nothing, so re-running an import is a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
from sqlalchemy import Text, cast, select, update
from sqlalchemy.orm import Session

from leadflow.db import bulk_insert, bulk_update, driver_rows, reserve_ids
from leadflow.intake.columns import SPECS, FileMapping
from leadflow.intake.dedupe import LeadIndex, domain_person_expr, first_in_batch
from leadflow.intake.lookups import (
    company_lookup,
    ensure_named,
    keyed_lookup,
    rep_lookup,
    resolve_keyed,
    resolve_reps,
)
from leadflow.intake.rejects import Reject
from leadflow.intake.validate import reject_rows
from leadflow.ledger.keys import company_domain_expr, name_key_expr, phone_key_expr
from leadflow.ledger.write import insert_assignments, insert_leads, insert_stage_changes
from leadflow.models import Activity, Assignment, Lead, Product, Source, Territory, utcnow
from leadflow.scoring.service import latest_model, score_frame, score_leads
from leadflow.settings import Settings

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


@dataclass
class LeadBatchResult:
    """What one batch did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    # each written row's line and the lead it became or merged into, and whether that lead is new
    leads: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"_line": pl.Int64, "id": pl.Int64, "new": pl.Boolean})
    )


class LeadWriter:
    """Writes batches of one lead import; holds the lookups and dedupe index across batches.

    Given ``scope`` (the few rows of a capture), it reads only the accounts those rows name and
    the leads they could duplicate, instead of every key in the ledger. Given ``arrived`` (when a
    capture's records came in), new leads without a creation date are dated by it; an import
    leaves them undated, as its file did. A merge never takes it: the known lead keeps its date."""

    def __init__(
        self,
        session: Session,
        *,
        file: str,
        mapping: FileMapping,
        settings: Settings,
        scope: pl.DataFrame | None = None,
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
        self.reps = rep_lookup(session)
        self.products = keyed_lookup(session, Product)
        self.sources = keyed_lookup(session, Source)
        self.territories = keyed_lookup(session, Territory)
        self.scoped = scope is not None
        if scope is None:
            self.companies = company_lookup(session)
            self.index = LeadIndex.load(session)
        else:
            company = pl.col("company") if "company" in scope.columns else pl.lit(None, pl.String)
            keys = scope.select(name_key_expr(company)).to_series().drop_nulls()
            self.companies = company_lookup(session, keys=keys.to_list())

    def write(self, session: Session, frame: pl.DataFrame) -> LeadBatchResult:
        """Resolve, deduplicate and write one cleaned batch (canonical columns plus ``_line``)."""
        result = LeadBatchResult()
        frame, result.rejects = self._resolve(session, frame)
        if frame.is_empty():
            return result
        if self.scoped:
            self.index = LeadIndex.load(session, matching=frame)
        frame = pl.concat([frame, self.index.match(frame)], how="horizontal")
        fresh = frame.filter(pl.col("_target").is_null())
        known = frame.filter(pl.col("_target").is_not_null())
        if not fresh.is_empty():
            fresh = fresh.with_columns(
                first_in_batch(fresh), pl.int_range(pl.len(), dtype=pl.Int64).alias("_pos")
            )
            is_first = pl.col("_root") == pl.col("_pos")
            firsts = fresh.filter(is_first)
            ids = self._insert(session, firsts)
            result.new = len(ids)
            result.leads = pl.DataFrame(
                {"_line": firsts["_line"], "id": ids, "new": [True] * len(ids)},
                schema=result.leads.schema,
            )
            id_of_root = pl.DataFrame(
                {"_root": firsts["_pos"], "_id": ids}, schema_overrides={"_id": pl.Int64}
            )
            root_ids = firsts.select(pl.col("_pos").alias("_root"), pl.col("external_id").alias("_root_ext"))
            rest = (
                fresh.filter(~is_first)
                .join(id_of_root, on="_root")
                .join(root_ids, on="_root")
                .with_columns(
                    pl.col("_id").alias("_target"),
                    # the same record again in one file is an update of it; else a duplicate
                    pl.when(pl.col("external_id") == pl.col("_root_ext"))
                    .then(pl.lit("external_id"))
                    .otherwise(pl.lit("batch"))
                    .alias("_match"),
                )
                .drop("_root", "_pos", "_id", "_root_ext")
            )
            known = pl.concat([known, rest])
        if not known.is_empty():
            known, conflicts = self._identity_conflicts(session, known)
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

    def _resolve(self, session: Session, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        """Map names to ids, derive stage, dates and keys; set aside rows naming unknown things."""
        frame = frame.with_columns(
            pl.lit(None, dtype=DATA_SCHEMA.get(name) or CANONICAL_ONLY[name]).alias(name)
            for name in [*SPECS["leads"].names, "extra"]
            if name not in frame.columns
        )
        rejects: list[Reject] = []

        def set_aside(mask: pl.Series, column: str, reason: str) -> pl.DataFrame:
            if not mask.any():  # the usual case: nothing to set aside, no frame operations
                return frame
            rejects.extend(reject_rows(frame, mask, file=self.file, column=column, reason=reason))
            return frame.filter(~mask)

        frame = resolve_reps(frame, "owner", self.reps, "owner_id")
        frame = set_aside(
            frame["owner"].is_not_null() & frame["owner_id"].is_null(),
            "owner",
            "no such rep (by external id, name or email); import the reps first",
        )
        frame = resolve_keyed(frame, "product", self.products, "product_id")
        frame = set_aside(
            frame["product"].is_not_null() & frame["product_id"].is_null(),
            "product",
            "no such product; import the products first",
        )
        frame = frame.with_columns(name_key_expr(pl.col("company")).alias("_company_key")).join(
            self.companies, on="_company_key", how="left", maintain_order="left"
        )
        if self.mapping.require_known_company:
            frame = set_aside(
                frame["company"].is_not_null() & frame["company_id"].is_null(),
                "company",
                "no such account; import the accounts first",
            )
        for model, column, lookup in (
            (Source, "source", self.sources),
            (Territory, "territory", self.territories),
        ):
            names = frame.get_column(column).drop_nulls().unique(maintain_order=True).to_list()
            ensure_named(session, model, names, lookup)
            frame = resolve_keyed(frame, column, lookup, f"{column}_id")

        stage = pl.col("stage")
        # Row by row, so in one context; the rows set aside below are dropped after it.
        derived = [
            pl.coalesce("won_at", pl.when(stage == "won").then("closed_at")).alias("won_at"),
            pl.coalesce("lost_at", pl.when(stage == "lost").then("closed_at")).alias("lost_at"),
            (pl.col("lead_type") == "self-sourced").alias("self_sourced"),
            pl.coalesce("industry", "_c_industry").alias("industry"),
            pl.coalesce("company_size", "_c_size").alias("company_size"),
            pl.coalesce("annual_revenue", "_c_revenue").alias("annual_revenue"),
            pl.coalesce("country", "_c_country").alias("country"),
            pl.coalesce("domain", "_c_domain").alias("domain"),
        ]
        if self.mapping.amount_only_when_won:
            derived.append(pl.when(stage == "won").then("amount").alias("amount"))
        frame = frame.with_columns(derived)
        frame = set_aside(
            frame["closed_at"].is_not_null() & ~frame["stage"].is_in(["won", "lost"]).fill_null(False),
            "closed_at",
            "a close date on a lead whose stage is not won or lost",
        )
        frame = set_aside(
            frame["self_sourced"].fill_null(False) & frame["owner_id"].is_null(),
            "owner",
            "a self-sourced lead needs the rep who found it as owner",
        )
        frame = with_keys(frame)
        frame = frame.select(
            "_line", *[pl.col(c).cast(t) for c, t in DATA_SCHEMA.items()], *KEYS, "domain_person", "source"
        )
        return frame, rejects

    def _insert(self, session: Session, rows: pl.DataFrame) -> list[int]:
        """Insert new leads with their first stage and, when owned, their assignment."""
        now = utcnow()
        ids = reserve_ids(session, "leads", rows.height)
        by = pl.format(f"import {self.file}:{{}}", pl.col("_line"))
        stage = pl.col("stage")
        rows = rows.with_columns(
            pl.Series("id", ids, dtype=pl.Int64),
            pl.coalesce(
                "stage",
                pl.when(pl.col("won_at").is_not_null()).then(pl.lit("won")),
                pl.when(pl.col("lost_at").is_not_null()).then(pl.lit("lost")),
                pl.when(pl.col("owner_id").is_not_null()).then(pl.lit("lead")),
                pl.lit("inquiry"),
            ).alias("stage"),
            pl.col("self_sourced").fill_null(False),
            pl.col("created_at").fill_null(self.arrived) if self.arrived else pl.col("created_at"),
        )
        rows = rows.join(score_frame(rows, self.settings, self.model), on="id", maintain_order="left")
        # was_opportunity as the stage change below will set it, so its trigger finds nothing to write
        scores = ["fit_score", "grade", "win_probability", "score_model_id"]
        insert_leads(
            session, rows=rows, columns=["id", *DATA, *KEYS, *scores], was_opportunity=stage == "opportunity"
        )
        stages = rows.select(
            pl.col("id").alias("lead_id"),
            pl.lit(None, dtype=pl.String).alias("from_stage"),
            stage.alias("to_stage"),
            pl.coalesce(
                pl.when(stage == "won").then("won_at"),
                pl.when(stage == "lost").then("lost_at"),
                "created_at",
                pl.lit(now),
            ).alias("at"),
            by.alias("by"),
        )
        insert_stage_changes(session, rows=stages)
        owned = rows.filter(pl.col("owner_id").is_not_null())
        self._assign(session, owned, now)
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

    def _identity_conflicts(self, session: Session, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
        """Set aside rows found by an external id whose lead is another person: a different email
        and phone, none shared. CRMs reuse ids; merging would overwrite one person with another."""
        by_id = rows.filter(pl.col("_match") == "external_id")
        if by_id.is_empty():
            return rows, []
        existing = _fetch(session, by_id.get_column("_target").unique().to_list()).select(
            pl.col("id").alias("_target"),
            pl.col("email").alias("_old_email"),
            phone_key_expr(pl.col("phone")).alias("_old_phone"),
        )
        checked = rows.join(existing, on="_target", how="left", maintain_order="left")
        pairs = [("email_key", "_old_email"), ("phone_key", "_old_phone")]
        same = pl.any_horizontal(pl.col(new).eq(pl.col(old)).fill_null(False) for new, old in pairs)
        differs = pl.any_horizontal(pl.col(new).ne(pl.col(old)).fill_null(False) for new, old in pairs)
        conflict = checked.select((pl.col("_match") == "external_id") & differs & ~same).to_series()
        if not conflict.any():
            return rows, []
        reason = "this external id is another lead's, with a different email and phone; not merged"
        rejects = reject_rows(rows, conflict, file=self.file, column="external_id", reason=reason)
        return rows.filter(~conflict), rejects

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
        existing = _fetch(session, grouped.get_column("_target").to_list())
        joined = grouped.join(existing, left_on="_target", right_on="id", suffix="_old")
        merged_extra = [
            _merge_extra(old, new, keep_old=keep_old)
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
            self._note_offered(session, joined, now, applied=overwrite)
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

    def _note_offered(
        self, session: Session, joined: pl.DataFrame, now: datetime, *, applied: set[str]
    ) -> None:
        """A note on each known lead for the values a capture offered that differ from what the
        lead already has (kept, not applied): who sent what, for the owner to judge."""
        skipped = {"external_id", "extra", "created_at", *applied}
        fields = [c for c in DATA if c not in skipped and f"{c}_old" in joined.columns]
        offered = [
            pl.when(
                pl.col(c).is_not_null() & pl.col(f"{c}_old").is_not_null() & pl.col(c).ne(pl.col(f"{c}_old"))
            ).then(
                pl.format(
                    f"{c} {{}} (kept {{}})", pl.col(c).cast(pl.String), pl.col(f"{c}_old").cast(pl.String)
                )
            )
            for c in fields
        ]
        notes = joined.select(
            pl.col("_target").alias("lead_id"),
            pl.concat_str(offered, separator="; ", ignore_nulls=True).alias("text"),
        ).filter(pl.col("text").str.len_chars() > 0)
        if notes.is_empty():
            return
        rows = notes.select(
            "lead_id",
            pl.lit(now).alias("at"),
            pl.lit("note").alias("kind"),
            (pl.lit(f"{self.file} offered, not applied: ") + pl.col("text")).alias("note"),
        )
        # the same offer again (a file imported twice) is already noted
        noted = session.execute(
            select(Activity.lead_id, Activity.note).where(
                Activity.kind == "note", Activity.lead_id.in_(rows["lead_id"].unique().to_list())
            )
        ).all()
        seen = pl.DataFrame(noted, schema={"lead_id": pl.Int64, "note": pl.String}, orient="row")
        rows = rows.join(seen, on=["lead_id", "note"], how="anti")
        if not rows.is_empty():
            bulk_insert(session, "activities", rows.columns, driver_rows(session, rows))

    def _record_aliases(
        self, session: Session, rows: pl.DataFrame, leads: pl.DataFrame, now: datetime
    ) -> None:
        """Keep the external ids of merged duplicates, so a re-import finds them by id."""
        frames = self.index.frames
        known = pl.concat([frames["external_id"], frames["alias"]]).rename(
            {"key": "external_id", "id": "_known"}
        )
        fresh = (
            rows.join(leads.rename({"external_id": "_lead_ext"}), on="_target")
            .filter(pl.col("external_id") != pl.col("_lead_ext").fill_null(""))
            .join(known, on="external_id", how="anti")
            .unique(subset="external_id", keep="first", maintain_order=True)
        )
        if fresh.is_empty():
            return
        out = fresh.select(
            "external_id",
            pl.col("_target").alias("lead_id"),
            pl.lit(now).alias("at"),
            pl.format(f"merged by import {self.file}:{{}}", pl.col("_line")).alias("by"),
        )
        bulk_insert(session, "lead_aliases", out.columns, driver_rows(session, out))
        if not self.scoped:
            self.index.add_aliases(out["external_id"].to_list(), out["lead_id"].to_list())


def with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the dedupe keys derived from a lead's email, phone, domain and name."""
    person = pl.concat_str(pl.col("first_name").fill_null(""), pl.lit(" "), pl.col("last_name").fill_null(""))
    return frame.with_columns(
        pl.col("email").alias("email_key"),
        phone_key_expr(pl.col("phone")).alias("phone_key"),
        company_domain_expr(pl.col("domain"), pl.col("email")).alias("domain_key"),
        name_key_expr(person).alias("person_key"),
    ).with_columns(domain_person_expr().alias("domain_person"))


def _merge_extra(old: str | None, new: list[str] | None, *, keep_old: bool = False) -> str | None:
    if not new:
        return old
    merged: dict[str, object] = json.loads(old) if old else {}
    known = dict(merged)
    for item in new:
        merged.update(json.loads(item))
    if keep_old:
        merged.update(known)
    return json.dumps(merged)


def _fetch(session: Session, ids: list[int]) -> pl.DataFrame:
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
