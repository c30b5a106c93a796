"""Write reference data (reps, sources, companies, products): small tables, upserted by key.

A row updates the record it names (by external id or normalised name) where a value differs and
creates it otherwise; a file imported twice changes nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from leadflow.intake.rejects import Reject, shorten
from leadflow.ledger.keys import name_key, name_key_expr
from leadflow.models import Company, Product, Rep, Source, Team, Territory, utcnow
from leadflow.pipeline.absences import set_away


@dataclass
class RefBatchResult:
    """What one batch of reference rows did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    """Set the given non-null values on ``obj``; whether any differed."""
    changed = False
    for attr, value in values.items():
        if value is not None and getattr(obj, attr) != value:
            setattr(obj, attr, value)
            changed = True
    return changed


class _Directory:
    """Teams and territories by key, loaded once per batch and extended as rows name new ones."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.teams = {t.name: t for t in session.scalars(select(Team)).all()}
        self.territories = {t.key: t for t in session.scalars(select(Territory)).all()}

    def territories_named(self, names: list[str]) -> list[Territory]:
        found: list[Territory] = []
        for name in names:
            key = name_key(name)
            if not key:
                continue
            if key not in self.territories:
                self.territories[key] = Territory(name=name, key=key)
                self.session.add(self.territories[key])
            found.append(self.territories[key])
        return found

    def team(self, name: str | None, manager: str | None) -> Team | None:
        if not name:
            return None
        team = self.teams.get(name)
        if team is None:
            team = self.teams[name] = Team(name=name, manager=manager)
            self.session.add(team)
            self.session.flush()
        elif team.manager is None and manager:
            team.manager = manager
        return team


def _with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(name_key_expr(pl.col("name")).alias("_key"))


def write_reps(session: Session, frame: pl.DataFrame, *, file: str) -> RefBatchResult:
    """Upsert reps by external id (else name, else email), with their team and territories."""
    result = RefBatchResult()
    reps = session.scalars(select(Rep).options(selectinload(Rep.territories))).all()
    by_ext = {r.external_id.lower(): r for r in reps}
    by_name = {r.name_key: r for r in reps}
    by_email = {r.email: r for r in reps if r.email}
    directory = _Directory(session)
    for row in _with_keys(frame).iter_rows(named=True):
        key = row["_key"] or ""
        ext = row.get("external_id") or _slug(row["name"])
        rep = by_ext.get(ext.lower()) or by_name.get(key) or by_email.get(row.get("email") or "")
        team = directory.team(row.get("team"), row.get("manager"))
        territory_names = [t.strip() for t in re.split(r"[;|]", row.get("territory") or "") if t.strip()]
        values = {
            "name": row["name"],
            "name_key": key,
            "email": row.get("email"),
            "team_id": team.id if team else None,
            "manager": row.get("manager"),
            "capacity": row.get("capacity"),
            "active": row.get("active"),
        }
        if rep is None:
            rep = Rep(external_id=ext, active=True, territories=directory.territories_named(territory_names))
            _apply(rep, values)
            session.add(rep)
            by_ext[ext.lower()], by_name[key] = rep, rep
            if rep.email:
                by_email[rep.email] = rep
            result.new += 1
            continue
        changed = _apply(rep, values)
        if territory_names:
            wanted = directory.territories_named(territory_names)
            if {id(t) for t in wanted} != {id(t) for t in rep.territories}:
                rep.territories = wanted
                changed = True
        result.changed += changed
        result.unchanged += not changed
    session.flush()
    result.rejects.extend(_record_absences(session, frame, by_ext, by_name, file=file))
    return result


def _record_absences(
    session: Session, frame: pl.DataFrame, by_ext: dict[str, Rep], by_name: dict[str, Rep], *, file: str
) -> list[Reject]:
    """The out-of-office windows of the reps file (away_from, away_until); a window that ends
    before it starts is reported, the rep imported without it."""
    if "away_until" not in frame.columns:
        return []
    rejects = []
    now = utcnow()
    for row in _with_keys(frame.filter(pl.col("away_until").is_not_null())).iter_rows(named=True):
        rep = by_ext.get((row.get("external_id") or _slug(row["name"])).lower()) or by_name.get(
            row["_key"] or ""
        )
        starts = row.get("away_from") or now
        if rep is None:
            continue
        if row["away_until"] <= starts:
            rejects.append(
                Reject(
                    file,
                    row["_line"],
                    "away_until",
                    str(row["away_until"]),
                    "before the absence starts",
                    "warning",
                )
            )
            continue
        set_away(session, rep=rep, starts_at=starts, ends_at=row["away_until"], reason=row.get("away_reason"))
    return rejects


def _upsert_named(
    session: Session,
    frame: pl.DataFrame,
    model: type[Source] | type[Company] | type[Product],
    values_of: Callable[[dict[str, Any]], dict[str, Any]],
) -> RefBatchResult:
    result = RefBatchResult()
    rows: list[Any] = list(session.scalars(select(model)).all())
    existing: dict[str, Any] = {row.key: row for row in rows}
    for row in _with_keys(frame).iter_rows(named=True):
        key = row["_key"]
        if key is None:
            continue
        values = values_of(row)
        obj = existing.get(key)
        if obj is None:
            obj = model(name=row["name"], key=key)
            _apply(obj, values)
            session.add(obj)
            existing[key] = obj
            result.new += 1
        else:
            changed = _apply(obj, values)
            result.changed += changed
            result.unchanged += not changed
    session.flush()
    return result


def write_sources(session: Session, frame: pl.DataFrame, *, file: str) -> RefBatchResult:
    """Upsert sources by name, with channel and cost (per lead, or spend per month)."""
    return _upsert_named(
        session,
        frame,
        Source,
        lambda r: {
            "channel": r.get("channel"),
            "cost_per_lead": r.get("cost_per_lead"),
            "monthly_spend": r.get("spend"),
        },
    )


def write_products(session: Session, frame: pl.DataFrame, *, file: str) -> RefBatchResult:
    """Upsert products by normalised name, with series and price."""
    return _upsert_named(
        session, frame, Product, lambda r: {"series": r.get("series"), "price": r.get("price")}
    )


def write_companies(session: Session, frame: pl.DataFrame, *, file: str) -> RefBatchResult:
    """Upsert companies (accounts) by normalised name; link subsidiaries to their parent."""
    fields = ("domain", "industry", "employees", "annual_revenue", "country", "year_established")
    result = _upsert_named(session, frame, Company, lambda r: {f: r.get(f) for f in fields})
    if "parent" not in frame.columns:
        return result
    companies = {c.key: c for c in session.scalars(select(Company)).all()}
    linked = _with_keys(frame).with_columns(name_key_expr(pl.col("parent")).alias("_parent_key"))
    for row in linked.filter(pl.col("parent").is_not_null()).iter_rows(named=True):
        parent = companies.get(row["_parent_key"] or "")
        child = companies[row["_key"]]
        if parent is None:
            result.rejects.append(
                Reject(
                    file,
                    row["_line"],
                    "parent",
                    shorten(row["parent"]),
                    "no such company; imported without its parent",
                )
            )
        elif child.parent_id != parent.id:
            child.parent_id = parent.id
    session.flush()
    return result
