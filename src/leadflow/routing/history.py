"""What routing learns from closed leads: per rep (won, closed) over all history, over the previous
period and per segment value, and the mean won deal; cached in the routing state for a while,
since a trickle of single leads must not recount the closed history each time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadflow.models import (
    Lead,
)

ESTIMATES_KEY = "estimates"
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
            return History.decode(saved)
    history = _closed_history(session, start=start, previous=previous, segments=segments)
    state[ESTIMATES_KEY] = history.encode(period=start, now=now)
    return history


def open_lead_counts(session: Session, candidates: list[int] | None) -> dict[int, int]:
    """Open leads per rep (of the candidates): what ``load_balance`` balances."""
    query = select(Lead.owner_id, func.count()).where(
        Lead.owner_id.is_not(None), Lead.stage.not_in(("won", "lost", "disqualified"))
    )
    if candidates is not None:
        query = query.where(Lead.owner_id.in_(candidates))
    return {r: int(n) for r, n in session.execute(query.group_by(Lead.owner_id)).all() if r is not None}
