"""What routing learns from closed leads: per rep (won, closed) over all history, over the previous
period and per segment value, and the mean won deal; cached in the routing state for a while,
since a trickle of single leads must not recount the closed history each time."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Text, case, cast, func, select
from sqlalchemy.orm import Session

from leadflow.models import (
    Lead,
)
from leadflow.routing.affinity import Design, RepAffinity
from leadflow.stats.links import logit

ESTIMATES_KEY = "estimates"
AFFINITY_KEY = "affinity"
# The lead attributes who-sells-what is learned over: those routing reads of every queued lead.
AFFINITY_ATTRIBUTES = ("industry", "source", "lead_type", "country")
AFFINITY_MIN_CLOSED = 300  # fewer closed leads teach nothing about reps by kind of lead
AFFINITY_MAX_LEADS = 50_000  # the newest closed leads it learns from (a fit stays in seconds)
SEGMENT_COLUMNS = {
    "industry": Lead.industry,
    "source": Lead.source_id,
    "product": Lead.product_id,
    "lead_type": Lead.lead_type,
    "country": Lead.country,
    "region": Lead.region,
}
Tally = dict[Any, tuple[int, int]]


@dataclass
class History:
    """What routing learns from closed leads: per rep (won, closed) over all history, over the
    previous period, and per segment value; and the mean won deal."""

    all_time: Tally
    last: Tally
    segments: dict[str, Tally]  # segment -> (rep id, value) -> (won, closed)
    deal_value: float

    def encode(self, *, period: datetime, now: datetime) -> dict[str, Any]:
        def rows(tally: Tally) -> list[list[Any]]:
            return [[*(k if isinstance(k, tuple) else (k,)), w, n] for k, (w, n) in tally.items()]

        return {
            "period": period.isoformat(),
            "computed_at": now.isoformat(),
            "all_time": rows(self.all_time),
            "last": rows(self.last),
            "segments": {name: rows(t) for name, t in self.segments.items()},
            "deal_value": self.deal_value,
        }

    @classmethod
    def decode(cls, saved: dict[str, Any]) -> History:
        return cls(
            all_time={r: (w, n) for r, w, n in saved["all_time"]},
            last={r: (w, n) for r, w, n in saved["last"]},
            segments={
                name: {(r, v): (w, n) for r, v, w, n in rows} for name, rows in saved["segments"].items()
            },
            deal_value=saved["deal_value"],
        )


def _closed_history(session: Session, *, start: datetime, previous: datetime, segments: set[str]) -> History:
    """Count the closed leads of every rep: one grouped pass per tally."""
    closed = Lead.stage.in_(("won", "lost"))
    won = func.sum(case((Lead.stage == "won", 1), else_=0))
    owned = Lead.owner_id.is_not(None)

    def tally(*where: Any, by: Any = None) -> Tally:
        keys = (Lead.owner_id,) if by is None else (Lead.owner_id, by)
        query = select(*keys, won, func.count()).where(closed, owned, *where).group_by(*keys)
        rows: list[Any] = list(session.execute(query).all())
        if by is None:
            return {r[0]: (int(r[1]), int(r[2])) for r in rows}
        return {(r[0], str(r[1])): (int(r[2]), int(r[3])) for r in rows if r[1] is not None}

    closed_at = func.coalesce(Lead.won_at, Lead.lost_at)
    deal = session.scalar(select(func.avg(Lead.amount)).where(Lead.stage == "won", Lead.amount > 0))
    return History(
        all_time=tally(),
        last=tally(closed_at >= previous, closed_at < start),
        segments={name: tally(by=SEGMENT_COLUMNS[name]) for name in sorted(segments)},
        deal_value=float(deal or 1.0),
    )


def load_history(
    session: Session,
    *,
    state: dict[str, dict[str, Any]],
    start: datetime,
    previous: datetime,
    segments: set[str],
    now: datetime,
    max_age: timedelta,
    refresh: bool,
) -> History:
    """The closed-lead tallies: recounted when ``refresh``, stale, from another period or missing
    a segment, else the copy kept in the routing state (a single lead routed in real time should
    not recount a million closed leads)."""
    saved = state.get(ESTIMATES_KEY)
    if (
        saved
        and not refresh
        and saved.get("period") == start.isoformat()
        and segments <= set(saved["segments"])
    ):
        age = now - datetime.fromisoformat(saved["computed_at"])
        if timedelta(0) <= age <= max_age:
            if _kept_history[0] is not saved:  # the state's values are shared until they change
                _kept_history[:] = [saved, History.decode(saved)]
            return _kept_history[1]
    history = _closed_history(session, start=start, previous=previous, segments=segments)
    state[ESTIMATES_KEY] = history.encode(period=start, now=now)
    return history


# The tallies last decoded, with the saved state they were decoded from: a capture reads the same
# estimates batch after batch (routing/apply.py keeps each state value until its text changes),
# and no run changes a History in place.
_kept_history: list[Any] = [None, None]


@dataclass
class Affinity:
    """Who sells what, learned (routing/affinity.py), and the rep id of each of its rows."""

    model: RepAffinity
    rep_ids: list[int]

    def effect(self, leads: pl.DataFrame, rep_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Each of these reps' learned effect on the log-odds of each kind of lead among these
        (a rep it never saw close a lead: 0, the team's): the (kinds, reps) effects, and each
        lead's kind. Kinds, not leads: a million leads are a few thousand kinds."""
        framed = leads.select(pl.col(a).cast(pl.String) for a in AFFINITY_ATTRIBUTES)
        kinds = framed.unique(maintain_order=True)
        kind_of = framed.join(
            kinds.with_row_index("_kind"), on=list(AFFINITY_ATTRIBUTES), how="left", nulls_equal=True,
            maintain_order="left",
        )["_kind"].to_numpy()  # fmt: skip
        attributes = {a: kinds[a].to_numpy() for a in AFFINITY_ATTRIBUTES}
        learned = self.model.rep_effect(attributes, n=kinds.height)
        index = {r: i for i, r in enumerate(self.rep_ids)}
        columns = np.array([index.get(r, -1) for r in rep_ids], dtype=np.int64)
        effect = np.where(columns >= 0, learned[:, np.maximum(columns, 0)], 0.0)
        return effect, kind_of.astype(np.int64)

    def encode(self, *, now: datetime) -> dict[str, Any]:
        design = self.model.design_
        return {
            "computed_at": now.isoformat(),
            "rep_ids": self.rep_ids,
            "values": design.values,
            "drift": design.drift,
            "strength": self.model.strength_,
            # the coefficients as float32 bytes: the routing state is read on every routing run
            "coef": base64.b64encode(np.asarray(self.model.coef_, dtype="<f4").tobytes()).decode("ascii"),
        }

    @classmethod
    def decode(cls, saved: dict[str, Any]) -> Affinity:
        cached = _decoded.get(saved["computed_at"])
        if cached is not None and cached[0] == saved["coef"]:
            return cached[1]
        model = RepAffinity()
        model.design_ = Design(saved["values"], len(saved["rep_ids"]), drift=saved["drift"])
        model.strength_ = saved["strength"]
        model.coef_ = np.frombuffer(base64.b64decode(saved["coef"]), dtype="<f4").astype(float)
        found = cls(model, saved["rep_ids"])
        _decoded.clear()  # one model in force at a time
        _decoded[saved["computed_at"]] = (saved["coef"], found)
        return found


# The model decoded last, by when it was fitted: a trickle of single leads decodes it once.
_decoded: dict[str, tuple[str, Affinity]] = {}


def learn_affinity(session: Session) -> Affinity | None:
    """Fit who sells what on the newest closed leads (None with too few to learn from)."""
    closed = (
        select(
            Lead.owner_id,
            Lead.stage == "won",
            Lead.industry,
            cast(Lead.source_id, Text),
            Lead.lead_type,
            Lead.country,
            Lead.win_probability,
            Lead.created_at,
        )
        .where(Lead.stage.in_(("won", "lost")), Lead.owner_id.is_not(None))
        .order_by(Lead.created_at.desc().nulls_last(), Lead.id.desc())
        .limit(AFFINITY_MAX_LEADS)
    )
    rows = session.execute(closed).all()
    if len(rows) < AFFINITY_MIN_CLOSED:
        return None
    columns = list(zip(*rows, strict=True))
    owners = np.array(columns[0], dtype=np.int64)
    won = np.array(columns[1], dtype=bool)
    rep_ids = sorted(set(owners.tolist()))
    index = {r: i for i, r in enumerate(rep_ids)}
    p = np.array([np.nan if v is None else v for v in columns[6]], dtype=float)
    p = np.where(np.isnan(p), won.mean(), p)
    attributes = {name: np.array(columns[2 + i], dtype=object) for i, name in enumerate(AFFINITY_ATTRIBUTES)}
    order = np.arange(len(rows))[::-1]  # the query gave the newest first
    model = RepAffinity().fit(
        attributes,
        np.array([index[o] for o in owners.tolist()]),
        won,
        n_reps=len(rep_ids),
        offset=logit(p),
        order=order,
    )
    return Affinity(model, rep_ids)


def load_affinity(
    session: Session, *, state: dict[str, dict[str, Any]], now: datetime, max_age: timedelta, refresh: bool
) -> Affinity | None:
    """Who sells what: refitted when ``refresh`` or stale, else the copy kept in the routing state."""
    saved = state.get(AFFINITY_KEY)
    if saved and not refresh:
        age = now - datetime.fromisoformat(saved["computed_at"])
        if timedelta(0) <= age <= max_age:
            return Affinity.decode(saved) if saved.get("coef") else None
    found = learn_affinity(session)
    state[AFFINITY_KEY] = found.encode(now=now) if found else {"computed_at": now.isoformat()}
    return found


def open_lead_counts(session: Session, candidates: list[int] | None) -> dict[int, int]:
    """Open leads per rep (of the candidates): what ``load_balance`` balances."""
    query = select(Lead.owner_id, func.count()).where(
        Lead.owner_id.is_not(None), Lead.stage.not_in(("won", "lost", "disqualified"))
    )
    if candidates is not None:
        query = query.where(Lead.owner_id.in_(candidates))
    return {r: int(n) for r, n in session.execute(query.group_by(Lead.owner_id)).all() if r is not None}
