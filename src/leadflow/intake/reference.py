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
from leadflow.keys import name_key
from leadflow.models import Company, Product, Rep, Source, Team, Territory


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


def _territories(session: Session, names: list[str]) -> list[Territory]:
    found: list[Territory] = []
    for name in names:
        key = name_key(name)
        if not key:
            continue
        territory = session.scalars(select(Territory).where(Territory.key == key)).one_or_none()
        if territory is None:
            territory = Territory(name=name, key=key)
            session.add(territory)
            session.flush()
        found.append(territory)
    return found


def _team(session: Session, name: str | None, manager: str | None) -> Team | None:
    if not name:
        return None
    team = session.scalars(select(Team).where(Team.name == name)).one_or_none()
    if team is None:
        team = Team(name=name, manager=manager)
        session.add(team)
        session.flush()
    elif team.manager is None and manager:
        team.manager = manager
    return team


def write_reps(session: Session, frame: pl.DataFrame, *, file: str) -> RefBatchResult:
    """Upsert reps by external id (else name), with their team and territories."""
    result = RefBatchResult()
    reps = session.scalars(select(Rep).options(selectinload(Rep.territories))).all()
    by_ext = {r.external_id.lower(): r for r in reps}
    by_name = {r.name_key: r for r in reps}
    for row in frame.iter_rows(named=True):
        key = name_key(row["name"]) or ""
        ext = row.get("external_id") or _slug(row["name"])
        rep = by_ext.get(ext.lower()) or by_name.get(key)
        if rep is None and row.get("email"):
            rep = session.scalars(select(Rep).where(Rep.email == row["email"])).one_or_none()
        team = _team(session, row.get("team"), row.get("manager"))
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
            rep = Rep(external_id=ext, active=True, territories=[])
            _apply(rep, values)
            rep.territories = _territories(session, territory_names)
            session.add(rep)
            session.flush()
            by_ext[ext.lower()], by_name[key] = rep, rep
            result.new += 1
            continue
        changed = _apply(rep, values)
        if territory_names:
            wanted = _territories(session, territory_names)
            if {t.id for t in wanted} != {t.id for t in rep.territories}:
                rep.territories = wanted
                changed = True
        result.changed += changed
        result.unchanged += not changed
    session.flush()
    return result


def _upsert_named(
    session: Session,
    frame: pl.DataFrame,
    model: type[Source] | type[Company] | type[Product],
    values_of: Callable[[dict[str, Any]], dict[str, Any]],
) -> RefBatchResult:
    result = RefBatchResult()
    rows: list[Any] = list(session.scalars(select(model)).all())
    existing: dict[str, Any] = {row.key: row for row in rows}
    for row in frame.iter_rows(named=True):
        key = name_key(row["name"])
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
    for row in frame.filter(pl.col("parent").is_not_null()).iter_rows(named=True):
        parent = companies.get(name_key(row["parent"]) or "")
        child = companies[name_key(row["name"]) or ""]
        if parent is None:
            result.rejects.append(
                Reject(file, row["_line"], "parent", shorten(row["parent"]), "no such company")
            )
        elif child.parent_id != parent.id:
            child.parent_id = parent.id
    session.flush()
    return result
