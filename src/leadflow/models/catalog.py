"""What leads refer to beyond the organisation: sources and their cost, companies, products,
partners and their reports, and trained scoring models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.models.base import Base


class Source(Base):
    """Where leads come from and what they cost: per lead, or spend per month."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str | None] = mapped_column(String(100))
    cost_per_lead: Mapped[float | None] = mapped_column(Float)
    monthly_spend: Mapped[float | None] = mapped_column(Float)


class Company(Base):
    """An account: the organisation a lead belongs to."""

    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    employees: Mapped[int | None]
    annual_revenue: Mapped[float | None] = mapped_column(Float)
    country: Mapped[str | None] = mapped_column(String(100))
    year_established: Mapped[int | None]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))


class Product(Base):
    """Something the company sells, with its list price."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    series: Mapped[str | None] = mapped_column(String(100))
    price: Mapped[float | None] = mapped_column(Float)


class Partner(Base):
    """A distributor that is issued leads and reports results only in aggregate."""

    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)


class PartnerReport(Base):
    """A partner's aggregate results for one period."""

    __tablename__ = "partner_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    leads_worked: Mapped[int]
    won: Mapped[int]
    revenue: Mapped[float] = mapped_column(Float)


class ScoreModel(Base):
    """One trained win-probability model: when, on which window, with which features and metrics."""

    __tablename__ = "score_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    features: Mapped[dict[str, Any]]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    horizon_days: Mapped[float] = mapped_column(Float)
    n_train: Mapped[int]
    n_test: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    # The fitted estimator as skops data (scoring.storage), never a pickle.
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    # Per value of every attribute, the leads it learned from and their wins (scoring.learned_from);
    # None for models trained before leadflow kept them.
    learned_from: Mapped[dict[str, Any] | None]
