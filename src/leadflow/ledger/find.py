"""Find one lead or rep by the ways people name them: id, external id, name or email."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from leadflow.errors import NotFound
from leadflow.ledger.keys import name_key
from leadflow.models import MAX_ID, Lead, LeadAlias, Product, Rep, Team


def find_lead(session: Session, *, ref: str | int) -> Lead:
    """The lead with this id or external id (or a merged duplicate's external id)."""
    text = str(ref).strip()
    lead = session.scalars(select(Lead).where(Lead.external_id == text)).one_or_none()
    if lead is None:
        alias = session.get(LeadAlias, text)
        if alias is not None:
            lead = session.get(Lead, alias.lead_id)
    number = text.lstrip("#")
    if lead is None and number.isdigit() and int(number) <= MAX_ID:
        lead = session.get(Lead, int(number))
    if lead is None:
        raise NotFound(f"no lead {text!r} (by id or external id)")
    return lead


def find_rep(session: Session, *, ref: str | int) -> Rep:
    """The rep with this external id, email or name (any case and spacing), or numeric id."""
    text = str(ref).strip()
    found = session.scalars(
        select(Rep).where(
            or_(
                func.lower(Rep.external_id) == text.lower(),
                Rep.email == text.lower(),
                Rep.name_key == (name_key(text) or ""),
            )
        )
    ).all()
    if not found and text.isdigit() and int(text) <= MAX_ID:
        rep = session.get(Rep, int(text))
        found = [rep] if rep else []
    if len(found) != 1:
        reason = "no rep" if not found else f"{len(found)} reps match"
        raise NotFound(f"{reason} {text!r} (by external id, email or name)")
    return found[0]


def find_product(session: Session, *, ref: str) -> Product:
    """The product with this name, compared by normalised key ('GTXPro' finds 'GTX Pro')."""
    product = session.scalars(select(Product).where(Product.key == (name_key(ref) or ""))).one_or_none()
    if product is None:
        raise NotFound(f"no product {ref!r}")
    return product


def by_name(session: Session, model: Any, ref: str) -> Any | None:
    """The row of ``model`` (a team, territory or source) with this name in any case and
    spacing, or None."""
    wanted = " ".join(ref.split()).lower()
    return session.scalars(select(model).where(func.lower(model.name) == wanted)).first()


def find_team(session: Session, *, ref: str) -> Team:
    """The team with this name, in any case and spacing."""
    team: Team | None = by_name(session, Team, ref)
    if team is None:
        raise NotFound(f"no team {ref!r}")
    return team
