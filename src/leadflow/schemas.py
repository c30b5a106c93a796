"""What the API takes and gives, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from leadflow.models import naive_utc


def _storable(value: Any) -> Any:
    """``value`` as the ledger stores it: time-zone-aware times in naive UTC, anywhere in it."""
    if isinstance(value, datetime):
        return naive_utc(value)
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


class Input(BaseModel):
    """Base of what the API takes: unknown fields refused, text trimmed, no NaN or infinity (JSON
    allows neither, Python's parser both), aware times stored as naive UTC."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _storable_values(self) -> Input:
        for name in type(self).model_fields:
            value = getattr(self, name)
            stored = _storable(value)
            if stored != value:  # setting a field marks it as given: only when it changed
                setattr(self, name, stored)
        return self


class LeadIn(Input):
    """A lead as a web form or another system posts it (design.md's canonical columns)."""

    external_id: str | None = Field(default=None, max_length=200)
    created_at: datetime | None = None
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=300)
    company: str | None = Field(default=None, max_length=300)
    domain: str | None = Field(default=None, max_length=255)
    industry: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=0, le=10_000_000)
    annual_revenue: float | None = Field(default=None, ge=0, le=1e15)
    country: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=100)
    lead_type: str | None = Field(default=None, max_length=40)
    source: str | None = Field(default=None, max_length=200)
    territory: str | None = Field(default=None, max_length=200)
    budget: float | None = Field(default=None, ge=0, le=1e15)
    authority: bool | None = None
    need: str | None = Field(default=None, max_length=300)
    timeline: str | None = Field(default=None, max_length=100)
    extra: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)

    def record(self) -> dict[str, Any]:
        """The lead as a capture record: canonical fields given, extras beside them."""
        fields = self.model_dump(exclude={"extra"}, exclude_none=True)
        clash = set(self.extra) & set(type(self).model_fields)
        if clash:
            raise ValueError(f"extra attributes may not reuse lead fields: {', '.join(sorted(clash))}")
        return {**fields, **{k: v for k, v in self.extra.items() if v is not None}}


class CapturedLead(BaseModel):
    """One captured record: the lead it became (or merged into), its score and who has it. The
    capture service returns it; the API answers with it (without ``record``)."""

    # the record's position in the capture's request, from 1; not part of the answer
    record: int | None = Field(default=None, exclude=True)
    id: int
    external_id: str | None
    new: bool
    stage: str | None  # None: merged into a lead the caller may not read
    fit_score: float | None
    grade: str | None
    win_probability: float | None
    owner: str | None  # the rep's external id
    queue: str | None  # "reserve" or "unassigned" when nobody could take it
    reason: str | None  # why this owner, or why queued


class LeadOut(BaseModel):
    """One lead as the API shows it."""

    id: int
    external_id: str | None
    created_at: datetime | None
    first_name: str | None
    last_name: str | None
    email: str | None
    company: str | None
    source: str | None
    stage: str
    owner: str | None
    fit_score: float | None
    grade: str | None
    win_probability: float | None


class LeadPage(BaseModel):
    """A page of leads, and the cursor of the next page (null on the last)."""

    leads: list[LeadOut]
    next_cursor: str | None


class ActivityIn(Input):
    """A contact with a lead."""

    kind: str = Field(max_length=20)
    outcome: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=5000)
    at: datetime | None = None
    rep: str | None = Field(default=None, max_length=200, description="Admins and managers: who made it.")


class StageIn(Input):
    """A lead's next stage, with what an outcome needs."""

    stage: str = Field(max_length=20)
    amount: float | None = Field(default=None, ge=0, le=1e15)
    product: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=300)
    follow_up_at: datetime | None = None


class LeadEdit(Input):
    """What a rep learned about a lead; only the fields sent change (null clears one)."""

    title: str | None = Field(default=None, max_length=300)
    industry: str | None = Field(default=None, max_length=100)
    company_size: int | None = Field(default=None, ge=0, le=10_000_000)
    annual_revenue: float | None = Field(default=None, ge=0, le=1e15)
    budget: float | None = Field(default=None, ge=0, le=1e15)
    authority: bool | None = None
    need: str | None = Field(default=None, max_length=300)
    timeline: str | None = Field(default=None, max_length=100)
    lead_type: str | None = Field(default=None, max_length=40)
    source: str | None = Field(default=None, max_length=200)  # a known source's name


class AssignIn(Input):
    """A manual assignment or reassignment: to whom and why."""

    rep: str = Field(min_length=1, max_length=200, description="The rep's external id or name.")
    reason: str = Field(min_length=1, max_length=500)
