"""The routing engine: pick the queue, decide who gets each lead, and record why.

One call is one transaction (the caller's). On PostgreSQL the queued leads are taken with
``FOR UPDATE SKIP LOCKED`` and the reps' rows locked in id order before capacity is counted, so
workers routing at once never issue a lead twice nor take a rep past capacity.

For each lead: its territory (set on the lead, else the first matching rule, else the fallback
team); the reps of that territory; minus the inactive, the away and the full, each excluded with
its reason; then the policy of their team picks among the rest. A lead nobody may take is
queued as unassigned with the reason; a lead whose reps are all full goes to the reserve, which
is routed first next time.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from pydantic import ValidationError
from sqlalchemy import Text, case, cast, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from leadflow.db import bulk_insert, bulk_update, driver_rows, is_sqlite, read_frame
from leadflow.models import (
    Absence,
    Assignment,
    Company,
    Lead,
    QueuedLead,
    Rep,
    RepLoad,
    RoutingRun,
    RoutingState,
    Team,
    Territory,
    rep_territories,
    utcnow,
)
from leadflow.notify.outbox import LeadEvent, queue_notifications
from leadflow.pipeline.assignments import record_issued
from leadflow.routing.allocate import logit, optimal
from leadflow.routing.estimates import CloseRates, SegmentRates, close_rates, segment_rates, team_prior
from leadflow.routing.policies import (
    UNASSIGNED,
    MeritSchedule,
    load_balance,
    merit,
    merit_shares,
    round_robin,
    weighted,
)
from leadflow.routing.territories import match_territory
from leadflow.settings import ConfigError, PolicyName, Settings, TeamRouting, TerritoryRule

ROUTABLE_STAGES = ("inquiry", "lead")
UNLIMITED = 10**9


@dataclass
class Decision:
    """Who gets one lead (None: queued) and why, with the inputs the choice used."""

    lead_id: int
    lead_external_id: str | None
    rep_id: int | None
    rep_external_id: str | None
    policy: str
    reason: str
    win_probability: float | None
    inputs: dict[str, Any]
    queue: str | None = None  # "reserve" or "unassigned" when nobody got the lead
    credit: tuple[int, str, float] | None = None  # split credit: (rep id, external id, share)


# One row per lead of a plan. Built column-wise: a batch decides a million leads at once.
PLAN_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.Int64(),
    "lead_external_id": pl.String(),
    "rep_id": pl.Int64(),  # null: queued
    "rep_external_id": pl.String(),
    "policy": pl.String(),
    "reason": pl.String(),
    "win_probability": pl.Float64(),
    "queue": pl.String(),  # "reserve" or "unassigned" when nobody got the lead
    "group": pl.String(),  # the territory or fallback team whose reps were considered
    "inputs": pl.String(),  # JSON: what the choice of this lead used beyond its group's inputs
    "from_stage": pl.String(),  # the lead's stage before routing
    "queued": pl.String(),  # the queue the lead was waiting in, if any
    "queued_attempts": pl.Int64(),
    "credit_rep_id": pl.Int64(),  # split credit: the headquarters' rep, external id and share
    "credit_rep_external_id": pl.String(),
    "credit_share": pl.Float64(),
}


@dataclass
class RoutePlan:
    """The decisions of one routing run (a row per lead), the inputs each group of leads
    shares (its team, policy, eligible and excluded reps, seed), and the policy state to keep."""

    table: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PLAN_SCHEMA))
    # by group: stored once per run (RoutingRun.context), not with each assignment
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)  # the state as read

    @property
    def decisions(self) -> list[Decision]:
        """Each decision as an object with all its inputs (for a handful of leads)."""
        return [
            Decision(
                lead_id=row["lead_id"],
                lead_external_id=row["lead_external_id"],
                rep_id=row["rep_id"],
                rep_external_id=row["rep_external_id"],
                policy=row["policy"],
                reason=row["reason"],
                win_probability=row["win_probability"],
                inputs={**self.shared.get(row["group"], {}), **json.loads(row["inputs"])},
                queue=row["queue"],
                credit=(row["credit_rep_id"], row["credit_rep_external_id"], row["credit_share"])
                if row["credit_rep_id"] is not None
                else None,
            )
            for row in self.table.iter_rows(named=True)
        ]

    def changed_state(self) -> dict[str, dict[str, Any]]:
        """The keys this run set: only those are written, so that workers routing to other reps
        at the same time never overwrite each other's pointers with what they read. A run
        replaces a key's value and never changes one in place, so a value that is not the very
        object read was set by this run (and copying the state to compare would cost more than
        routing one lead)."""
        return {k: v for k, v in self.state.items() if self.loaded.get(k) is not v}

    def count(self, queue: str | None) -> int:
        """How many leads were assigned (None), reserved or left unassigned."""
        column = pl.col("queue")
        return self.table.filter(column.is_null() if queue is None else column == queue).height


def period_start(now: datetime, period: str) -> datetime:
    """Start of the capacity period that contains ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


@dataclass
class _Reps:
    frame: pl.DataFrame  # id, external_id, name, team, active, capacity_left, used, capacity
    away: dict[int, datetime]


def _queue(session: Session, lead_ids: list[int] | None, limit: int | None) -> pl.DataFrame:
    reserve_first = case((QueuedLead.kind == "reserve", 0), else_=1)
    query = (
        select(
            Lead.id,
            Lead.external_id,
            Lead.country,
            Lead.region,
            Lead.industry,
            Lead.company,
            Lead.company_size,
            cast(Lead.extra, Text).label("extra"),
            Lead.win_probability,
            Territory.name.label("lead_territory"),
            Lead.stage,
            Company.country.label("hq_country"),
            Lead.lead_type,
            cast(Lead.source_id, Text).label("source"),
            cast(Lead.product_id, Text).label("product"),
            QueuedLead.kind.label("queued"),
            QueuedLead.attempts.label("queued_attempts"),
        )
        .outerjoin(Territory, Lead.territory_id == Territory.id)
        .outerjoin(Company, Lead.company_id == Company.id)
        .outerjoin(QueuedLead, QueuedLead.lead_id == Lead.id)
        .where(
            Lead.owner_id.is_(None),
            Lead.stage.in_(ROUTABLE_STAGES),
            Lead.self_sourced.is_(False),
            ~exists().where(  # issued to a partner: not the reps' to work
                Assignment.lead_id == Lead.id,
                Assignment.partner_id.is_not(None),
                Assignment.ended_at.is_(None),
            ),
        )
        .order_by(reserve_first, Lead.created_at, Lead.id)
    )
    if lead_ids is not None:
        query = query.where(Lead.id.in_(lead_ids))
    if limit:
        query = query.limit(limit)
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True, of=Lead)
    frame = read_frame(session, query)
    extra = pl.col("extra")
    return frame.with_columns(
        extra.str.json_path_match("$.state").alias("state"),
        extra.str.json_path_match("$.postal_code").alias("postal_code"),
    )


def _roster(
    session: Session, *, territories: set[str] | None, team: str | None
) -> tuple[pl.DataFrame, dict[int, set[str]]]:
    """The reps who could take these leads, and the territories each covers.

    All reps when ``territories`` is None (a batch); else those covering one of ``territories``
    and the members of ``team`` (the fallback team, when some lead has no territory with reps).
    """
    covering = select(rep_territories.c.rep_id, Territory.name).join(
        Territory, Territory.id == rep_territories.c.territory_id
    )
    if territories is not None:
        covering = covering.where(Territory.name.in_(sorted(territories)))
    covers: dict[int, set[str]] = defaultdict(set)
    for rep_id, name in session.execute(covering).all():
        covers[rep_id].add(name)
    query = (
        select(Rep.id, Rep.external_id, Rep.name, Team.name, Rep.active, Rep.capacity)
        .outerjoin(Team, Rep.team_id == Team.id)
        .order_by(Rep.id)
    )
    if territories is not None:
        in_reach = Rep.id.in_(sorted(covers))
        query = query.where(in_reach if team is None else in_reach | (Team.name == team))
    frame = pl.DataFrame(
        session.execute(query).all(),
        schema={
            "id": pl.Int64,
            "external_id": pl.String,
            "name": pl.String,
            "team": pl.String,
            "active": pl.Boolean,
            "capacity": pl.Int64,
        },
        orient="row",
    )
    return frame, covers


def _reps(session: Session, roster: pl.DataFrame, *, everyone: bool, now: datetime, start: datetime) -> _Reps:
    """The roster's reps with the capacity each has left and who is away.

    On PostgreSQL the candidates' rows are locked in id order first, so that two workers
    counting the same rep's capacity take turns; workers routing to other reps do not wait."""
    candidates = None if everyone else roster["id"].to_list()
    if not is_sqlite(session):
        lock = select(Rep.id).order_by(Rep.id).with_for_update()
        if candidates is not None:
            lock = lock.where(Rep.id.in_(candidates))
        session.execute(lock).all()
    load = select(RepLoad.rep_id, func.sum(RepLoad.issued)).where(RepLoad.day >= start.date())
    if candidates is not None:
        load = load.where(RepLoad.rep_id.in_(candidates))
    used = {rep_id: int(n) for rep_id, n in session.execute(load.group_by(RepLoad.rep_id)).all()}
    frame = roster.with_columns(
        pl.col("id").replace_strict(used, default=0, return_dtype=pl.Int64).alias("used")
    ).with_columns(
        pl.when(pl.col("capacity").is_null())
        .then(UNLIMITED)
        .otherwise((pl.col("capacity") - pl.col("used")).clip(lower_bound=0))
        .alias("capacity_left")
    )
    absent = select(Absence.rep_id, func.max(Absence.ends_at)).where(
        Absence.starts_at <= now, Absence.ends_at > now
    )
    if candidates is not None:
        absent = absent.where(Absence.rep_id.in_(candidates))
    away = dict(session.execute(absent.group_by(Absence.rep_id)).all())
    return _Reps(frame, away)


def territory_rules(session: Session, *, settings: Settings) -> list[TerritoryRule]:
    """The territory rules in force: leadflow.toml's when it has any, else those kept on the
    territories themselves (by priority), so that a ledger carries its own map."""
    if settings.routing.territories:
        return settings.routing.territories
    rows = session.execute(
        select(Territory.name, Territory.rules)
        .where(Territory.rules.is_not(None))
        .order_by(Territory.priority, Territory.id)
    ).all()
    found = []
    for name, rules in rows:
        try:
            found.append(TerritoryRule.model_validate({**rules, "name": name}))
        except ValidationError as exc:
            raise ConfigError(f"territory {name!r}: its rules {rules} are not valid: {exc}") from exc
    return found


def _exclusion(rep: dict[str, Any], away: dict[int, datetime], exclude: dict[int, str]) -> str | None:
    if rep["id"] in exclude:
        return exclude[rep["id"]]
    if not rep["active"]:
        return "inactive (left or archived)"
    if rep["id"] in away:
        return f"away until {away[rep['id']]:%Y-%m-%d %H:%M}"
    if rep["capacity_left"] <= 0:
        return f"at capacity ({rep['used']} of {rep['capacity']} this period)"
    return None


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
class _History:
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
    def decode(cls, saved: dict[str, Any]) -> _History:
        return cls(
            all_time={r: (w, n) for r, w, n in saved["all_time"]},
            last={r: (w, n) for r, w, n in saved["last"]},
            segments={
                name: {(r, v): (w, n) for r, v, w, n in rows} for name, rows in saved["segments"].items()
            },
            deal_value=saved["deal_value"],
        )


def _closed_history(session: Session, *, start: datetime, previous: datetime, segments: set[str]) -> _History:
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
    return _History(
        all_time=tally(),
        last=tally(closed_at >= previous, closed_at < start),
        segments={name: tally(by=SEGMENT_COLUMNS[name]) for name in sorted(segments)},
        deal_value=float(deal or 1.0),
    )


def _history(
    session: Session,
    *,
    state: dict[str, dict[str, Any]],
    start: datetime,
    previous: datetime,
    segments: set[str],
    now: datetime,
    max_age: timedelta,
    refresh: bool,
) -> _History:
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
            return _History.decode(saved)
    history = _closed_history(session, start=start, previous=previous, segments=segments)
    state[ESTIMATES_KEY] = history.encode(period=start, now=now)
    return history


def _open_leads(session: Session, candidates: list[int] | None) -> dict[int, int]:
    """Open leads per rep (of the candidates): what ``load_balance`` balances."""
    query = select(Lead.owner_id, func.count()).where(
        Lead.owner_id.is_not(None), Lead.stage.not_in(("won", "lost", "disqualified"))
    )
    if candidates is not None:
        query = query.where(Lead.owner_id.in_(candidates))
    return {r: int(n) for r, n in session.execute(query.group_by(Lead.owner_id)).all() if r is not None}


def plan_routes(
    session: Session,
    *,
    settings: Settings,
    lead_ids: list[int] | None = None,
    policy: PolicyName | None = None,
    limit: int | None = None,
    now: datetime | None = None,
    seed: int = 0,
    exclude: dict[int, str] | None = None,
) -> RoutePlan:
    """Decide who gets each queued lead (or each of ``lead_ids``), writing nothing.

    ``exclude`` names reps (by id) who may not get these leads, with the reason to record."""
    now = now or utcnow()
    routing = settings.routing
    start = period_start(now, routing.period)
    previous = period_start(start - timedelta(days=1), routing.period)
    leads = _queue(session, lead_ids, limit)
    plan = RoutePlan()
    if leads.is_empty():
        return plan
    rules = territory_rules(session, settings=settings)
    matched = match_territory(leads, rules)
    headquarters = leads.with_columns(
        pl.col("hq_country").alias("country"),
        *(pl.lit(None, dtype=pl.String).alias(c) for c in ("region", "state", "postal_code")),
    )
    leads = leads.with_columns(
        pl.coalesce("lead_territory", matched).alias("territory"),
        match_territory(headquarters, rules).alias("hq_territory"),
    )
    batch = lead_ids is None
    territories = (
        None if batch else set(leads["territory"].drop_nulls()) | set(leads["hq_territory"].drop_nulls())
    )
    roster, covers = _roster(session, territories=territories, team=routing.fallback_team)
    reps = _reps(session, roster, everyone=batch, now=now, start=start)
    plan.state = load_state(session)  # read after the reps' lock: another worker's state is committed
    plan.loaded = dict(plan.state)
    configs = [routing.default, *routing.teams.values()]
    needs = {policy} if policy else {c.policy for c in configs}
    history = _history(
        session,
        state=plan.state,
        start=start,
        previous=previous,
        segments={c.segment_by for c in configs if c.segment_by and "optimal" in needs},
        now=now,
        max_age=timedelta(minutes=routing.estimates_max_age_minutes),
        refresh=batch,
    )
    last, deal_value = history.last, history.deal_value
    open_leads = (
        _open_leads(session, None if batch else roster["id"].to_list()) if "load_balance" in needs else {}
    )
    rep_rows = reps.frame.to_dicts()
    by_territory: dict[str, list[int]] = defaultdict(list)
    by_team: dict[str, list[int]] = defaultdict(list)
    for index, rep in enumerate(rep_rows):
        for territory_name in covers.get(rep["id"], ()):
            by_territory[territory_name].append(index)
        if rep["team"]:
            by_team[rep["team"]].append(index)
    capacity = reps.frame["capacity_left"].to_numpy().copy()
    # each rep's close rate is shrunk toward the whole team's, whoever may take these leads
    tallies = np.array(list(history.all_time.values()), dtype=float).reshape(-1, 2)
    rep_ids = reps.frame["id"].to_list()
    estimates = close_rates(
        np.array([history.all_time.get(r, (0, 0))[0] for r in rep_ids]),
        np.array([history.all_time.get(r, (0, 0))[1] for r in rep_ids]),
        prior=team_prior(tallies[:, 0], tallies[:, 1]),
    )
    closed_all = tallies[:, 1]
    effect = logit(estimates.mean) - logit(np.array([estimates.prior.mean]))
    base_rate = float(leads["win_probability"].drop_nulls().mean() or estimates.prior.mean)  # type: ignore[arg-type]

    # each territory's group of reps: its own, else the fallback team's, else none (unassigned)
    fallback = routing.fallback_team if routing.fallback_team and by_team.get(routing.fallback_team) else None
    members_of: dict[str, list[int]] = {}
    territories_seen = leads["territory"].unique(maintain_order=True).to_list()
    keys: list[str | None] = []
    for territory in territories_seen:
        if territory is not None and by_territory.get(territory):
            key, members = f"territory {territory}", by_territory[territory]
        elif fallback:
            key, members = f"fallback team {fallback}", by_team[fallback]
        else:
            keys.append(None)
            continue
        members_of[key] = members
        keys.append(key)
    keyed = (
        leads.select("territory")
        .with_row_index("position")
        .join(
            pl.DataFrame(
                {"territory": territories_seen, "group": keys},
                schema={"territory": pl.String, "group": pl.String},
            ),
            on="territory",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
    )
    unrouted = keyed.filter(pl.col("group").is_null())["position"]
    nowhere = (
        f"; fallback team {routing.fallback_team} has no reps"
        if routing.fallback_team
        else "; no fallback team"
    )
    unrouted_reason = pl.when(pl.col("territory").is_null()).then(
        pl.lit("no territory rule matches")
    ).otherwise(pl.format("territory {} has no reps", pl.col("territory"))) + pl.lit(nowhere)
    # Each group's choices are gathered as arrays, and the plan's table is built once from them:
    # frame operations cost the same for 16 leads as for 16,000, so none are done per group.
    groups: list[tuple[str, str]] = []  # (key, policy) by group number
    left: list[tuple[int, np.ndarray[Any, Any], str, str]] = []  # (group, positions, queue, reason)
    took: dict[str, list[np.ndarray[Any, Any]]] = defaultdict(list)
    notes: list[np.ndarray[Any, Any]] = []
    segmented = False

    grouped = (
        keyed.filter(pl.col("group").is_not_null()).group_by("group", maintain_order=True).agg("position")
    )
    p_lead_all = leads["win_probability"].fill_null(base_rate).to_numpy()
    # Without a lead probability or any closed history there is no honest P(win) to show.
    known_all = leads["win_probability"].is_not_null().to_numpy() | (closed_all.sum() > 0)
    for key, group_positions in grouped.iter_rows():
        positions = np.asarray(group_positions, dtype=np.int64)
        members = members_of[key]
        team = Counter(rep_rows[i]["team"] for i in members).most_common(1)[0][0]
        config = routing.for_team(team)
        name: PolicyName = policy if policy is not None else config.policy
        excluded = {
            rep_rows[i]["external_id"]: why
            for i in members
            if (why := _exclusion(rep_rows[i], reps.away, exclude or {}))
        }
        ok = np.array([rep_rows[i]["external_id"] not in excluded for i in members])
        p_lead, known = p_lead_all[positions], known_all[positions]
        by_segment = (
            _segment_effects(
                history,
                config.segment_by,
                _rows(leads, positions),
                [rep_rows[i]["id"] for i in members],
                estimates.mean[members],
                effect[members],
            )
            if name == "optimal" and config.segment_by
            else None
        )
        group_effect, lead_group = (
            (by_segment.effect, by_segment.lead_group) if by_segment else (effect[members][None, :], None)
        )
        choice, note = _run_policy(
            name, config, ok, capacity[members], p_lead, members, rep_rows, group_effect, lead_group,
            estimates.mean, last, open_leads, deal_value, plan.state, f"{name}:{key}", seed,
            estimates.exploring(max_width=config.exploration_width),
        )  # fmt: skip
        plan.shared[key] = {
            "team": team,
            "policy": name,
            "eligible": [rep_rows[i]["external_id"] for i, good in zip(members, ok, strict=True) if good],
            "excluded": excluded,
            "seed": seed,
        }
        number = len(groups)
        groups.append((key, name))
        left_out = choice == UNASSIGNED
        if left_out.any():
            open_reps = [rep_rows[i] for i, good in zip(members, ok, strict=True) if good]
            if open_reps:
                listed = ", ".join(f"{r['external_id']} ({r['capacity']} this period)" for r in open_reps)
                reason, queue = f"every eligible rep is at capacity: {listed}", "reserve"
            else:
                listed = "; ".join(f"{k} {v}" for k, v in excluded.items())
                full = any("capacity" in v for v in excluded.values())
                reason, queue = f"nobody in {key} can take it: {listed}", "reserve" if full else "unassigned"
            left.append((number, positions[left_out], queue, reason))
        if left_out.all():
            continue
        offsets = np.flatnonzero(~left_out)
        picks = choice[offsets]
        chosen = np.asarray(members)[picks]
        # capacity each rep had left when given each of its leads, in lead order
        per_rep = np.bincount(picks, minlength=len(members))
        order = np.argsort(picks, kind="stable")
        rank = np.empty(picks.size, dtype=np.int64)
        rank[order] = np.arange(picks.size) - np.repeat(np.cumsum(per_rep) - per_rep, per_rep)
        took["left_before"].append(capacity[chosen] - rank)
        capacity[members] -= per_rep
        row_of = np.zeros(len(positions), dtype=np.int64) if lead_group is None else lead_group
        took["p_win"].append(
            1 / (1 + np.exp(-(logit(p_lead[offsets]) + group_effect[row_of[offsets], picks])))
        )
        took["position"].append(positions[offsets])
        took["rep"].append(chosen)
        took["group"].append(np.full(offsets.size, number))
        took["p_lead"].append(p_lead[offsets])
        took["shown"].append(known[offsets])
        notes.append(note(offsets, picks))
        if by_segment is not None:
            segmented = True
            rows = row_of[offsets]
            took["segment_by"].append(np.full(offsets.size, config.segment_by, dtype=object))
            took["segment_value"].append(np.array(by_segment.values, dtype=object)[rows])
            for field, values in (
                ("segment_rate", by_segment.rates.mean),
                ("segment_low", by_segment.rates.low),
                ("segment_high", by_segment.rates.high),
                ("segment_closed", by_segment.closed),
            ):
                took[field].append(values[rows, picks].astype(float))
        else:
            took["segment_by"].append(np.full(offsets.size, None, dtype=object))
            took["segment_value"].append(np.full(offsets.size, None, dtype=object))
            for field in ("segment_rate", "segment_low", "segment_high", "segment_closed"):
                took[field].append(np.full(offsets.size, np.nan))

    named = pl.DataFrame(
        {"number": range(len(groups)), "group": [k for k, _ in groups], "policy": [p for _, p in groups]},
        schema={"number": pl.Int64, "group": pl.String, "policy": pl.String},
    )
    parts = [_queued_in_groups(leads, left, named)]
    if not unrouted.is_empty():
        nowhere_positions = unrouted.to_numpy()
        parts.append(_unrouted(_rows(leads, nowhere_positions), nowhere_positions, reason=unrouted_reason))
    if took:
        arrays = {k: np.concatenate(v) for k, v in took.items()}
        parts.append(
            _assigned(
                plan,
                leads,
                reps,
                rep_rows,
                estimates,
                named,
                by_territory,
                routing.headquarters_share,
                arrays,
                np.concatenate(notes),
                segmented,
            )
        )
    plan.table = (
        pl.concat([plan.table, *parts], how="diagonal_relaxed")
        .sort("_number", "_position")
        .select(list(PLAN_SCHEMA))
    )
    return plan


def _lead_fields() -> list[pl.Expr]:
    """What every row of a plan takes from the queued lead itself."""
    return [
        pl.col("id").alias("lead_id"),
        pl.col("external_id").alias("lead_external_id"),
        pl.col("stage").alias("from_stage"),
        pl.col("queued"),
        pl.col("queued_attempts"),
    ]


def _rows(frame: pl.DataFrame, positions: Any) -> pl.DataFrame:
    """The rows of ``frame`` at ``positions``, in that order."""
    return frame.select(pl.all().gather(positions))


def _interval(low: np.ndarray[Any, Any], high: np.ndarray[Any, Any]) -> pl.Expr:
    """Credible intervals as [low, high] pairs, to 4 places."""
    return pl.concat_list(pl.lit(pl.Series(np.round(low, 4))), pl.lit(pl.Series(np.round(high, 4))))


def _rounded(values: np.ndarray[Any, Any], shown: np.ndarray[Any, Any]) -> pl.Series:
    """Probabilities to 4 places, null where there is no honest one to show."""
    return pl.Series(np.where(shown, np.round(values, 4), np.nan)).fill_nan(None)


def _assigned(
    plan: RoutePlan,
    leads: pl.DataFrame,
    reps: _Reps,
    rep_rows: list[dict[str, Any]],
    estimates: CloseRates,
    named: pl.DataFrame,
    by_territory: dict[str, list[int]],
    share: float,
    took: dict[str, np.ndarray[Any, Any]],
    notes: np.ndarray[Any, Any],
    segmented: bool,
) -> pl.DataFrame:
    """The plan's rows for the leads given to a rep, with what each choice used (JSON)."""
    rep, shown = took["rep"], took["shown"]
    p_win = _rounded(took["p_win"], shown)
    estimate_fields: list[pl.Expr | pl.Series] = [
        pl.Series("close_rate", np.round(estimates.mean[rep], 4)),
        _interval(estimates.low[rep], estimates.high[rep]).alias("close_rate_interval"),
        _rounded(took["p_lead"], shown).alias("lead_win_probability"),
        p_win.alias("win_probability_with_rep"),
    ]
    if segmented:
        value = pl.Series(took["segment_value"].tolist(), dtype=pl.String)
        segment = pl.struct(
            pl.lit(pl.Series(took["segment_by"].tolist(), dtype=pl.String)).alias("by"),
            pl.lit(value).alias("value"),
            pl.lit(pl.Series(np.round(took["segment_rate"], 4))).alias("close_rate"),
            _interval(took["segment_low"], took["segment_high"]).alias("close_rate_interval"),
            pl.lit(pl.Series(took["segment_closed"]).fill_nan(None).cast(pl.Int64)).alias("closed_leads"),
        )
        estimate_fields.append(pl.when(pl.lit(value).is_not_null()).then(segment).alias("segment"))
    taken = _rows(leads, took["position"])
    frame = taken.select(
        pl.Series("_number", took["group"]),
        pl.Series("_position", took["position"]),
        *_lead_fields(),
        reps.frame["id"].gather(rep).alias("rep_id"),
        reps.frame["external_id"].gather(rep).alias("rep_external_id"),
        pl.Series("note", notes, dtype=pl.String),
        p_win.alias("win_probability"),
        pl.Series("capacity_left_before", took["left_before"].astype(np.int64)),
    ).join(named.rename({"number": "_number"}), on="_number", how="left", maintain_order="left")
    return frame.with_columns(
        pl.format("{} in {}: {}", "policy", "group", "note").alias("reason"),
        pl.lit(None, dtype=pl.String).alias("queue"),
        pl.struct(
            "group",
            pl.struct(*estimate_fields).alias("estimates"),
            "capacity_left_before",
        )
        .struct.json_encode()
        .alias("inputs"),
    ).hstack(_credits(plan, taken, by_territory, rep_rows, reps.away, share))


def _credits(
    plan: RoutePlan,
    leads: pl.DataFrame,
    by_territory: dict[str, list[int]],
    rep_rows: list[dict[str, Any]],
    away: dict[int, datetime],
    share: float,
) -> pl.DataFrame:
    """For each lead, the headquarters' rep and share when the company's headquarters lie in
    another territory (else nulls).

    Reps of that territory take turns (their own rotation, kept with the policies' state);
    inactive and away reps are skipped; capacity does not apply to a share of credit.
    """
    rep_id = np.full(leads.height, -1, dtype=np.int64)
    external = np.full(leads.height, None, dtype=object)
    if share > 0:
        headquarters, territory = leads["hq_territory"], leads["territory"]
        elsewhere = (
            headquarters.is_not_null() & (territory.is_null() | (headquarters != territory))
        ).fill_null(False)
        for place in headquarters.filter(elsewhere).unique(maintain_order=True).to_list():
            members = [
                i
                for i in by_territory.get(place, [])
                if rep_rows[i]["active"] and rep_rows[i]["id"] not in away
            ]
            if not members:
                continue
            at = np.flatnonzero((elsewhere & (headquarters == place)).fill_null(False).to_numpy())
            key = f"credit:territory {place}"
            ids = [rep_rows[i]["external_id"] for i in members]
            last = plan.state.get(key, {}).get("last")
            turns = ((ids.index(last) + 1 if last in ids else 0) + np.arange(at.size)) % len(ids)
            plan.state[key] = {"last": ids[turns[-1]]}
            rep_id[at] = np.array([rep_rows[i]["id"] for i in members])[turns]
            external[at] = np.array(ids, dtype=object)[turns]
    credited = rep_id >= 0
    return pl.DataFrame(
        {
            "credit_rep_id": pl.Series(rep_id).set(pl.Series(~credited), None),
            "credit_rep_external_id": pl.Series(external.tolist(), dtype=pl.String),
            "credit_share": pl.Series(np.where(credited, share, np.nan)).fill_nan(None),
        }
    )


def _queued_in_groups(
    leads: pl.DataFrame, left: list[tuple[int, np.ndarray[Any, Any], str, str]], named: pl.DataFrame
) -> pl.DataFrame:
    """The plan's rows for leads of a group that no rep of it could take, with the reason."""
    if not left:
        return pl.DataFrame()
    numbers = np.concatenate([np.full(p.size, n) for n, p, _, _ in left])
    positions = np.concatenate([p for _, p, _, _ in left])
    reasons = pl.DataFrame(
        {
            "_number": [n for n, *_ in left],
            "queue": [q for *_, q, _ in left],
            "reason": [r for *_, r in left],
        },
        schema={"_number": pl.Int64, "queue": pl.String, "reason": pl.String},
    )
    frame = _rows(leads, positions).with_columns(
        pl.Series("_number", numbers, dtype=pl.Int64), pl.Series("_position", positions)
    )
    return (
        frame.join(reasons, on="_number", how="left", maintain_order="left")
        .join(named.rename({"number": "_number"}), on="_number", how="left", maintain_order="left")
        .select(
            "_number",
            "_position",
            *_lead_fields(),
            "policy",
            "reason",
            "win_probability",
            "queue",
            "group",
            pl.struct("group").struct.json_encode().alias("inputs"),
        )
    )


def _unrouted(leads: pl.DataFrame, positions: np.ndarray[Any, Any], *, reason: pl.Expr) -> pl.DataFrame:
    """The plan's rows for leads no group of reps covers: the unassigned queue, with the reason."""
    return leads.select(
        pl.lit(-1, dtype=pl.Int64).alias("_number"),
        pl.Series("_position", positions, dtype=pl.Int64),
        *_lead_fields(),
        pl.lit("none").alias("policy"),
        reason.alias("reason"),
        "win_probability",
        pl.lit("unassigned").alias("queue"),
        pl.lit("{}").alias("inputs"),
    )


@dataclass
class _SegmentEffects:
    """Each rep's effect per value of a lead attribute (rows: values; a last row, value None,
    for leads without one: the rep's overall effect) and each lead's row."""

    values: list[str | None]
    effect: np.ndarray[Any, Any]
    lead_group: np.ndarray[Any, Any]
    rates: SegmentRates
    closed: np.ndarray[Any, Any]


def _segment_effects(
    history: _History,
    segment_by: str,
    leads: pl.DataFrame,
    rep_ids: list[int],
    rep_rate: np.ndarray[Any, Any],
    overall_effect: np.ndarray[Any, Any],
) -> _SegmentEffects:
    """The reps' effects on these leads given each lead's value of ``segment_by``."""
    tally = history.segments.get(segment_by, {})
    column = leads[segment_by]
    values = sorted(set(column.drop_nulls()))
    counts = np.array([[tally.get((r, v), (0, 0)) for r in rep_ids] for v in values], dtype=float).reshape(
        len(values), len(rep_ids), 2
    )
    won, closed = counts[..., 0], counts[..., 1]
    rates = segment_rates(won, closed, rep_rate=rep_rate)
    index = {v: i for i, v in enumerate(values)}
    return _SegmentEffects(
        values=[*values, None],
        effect=np.vstack([rates.effect(), overall_effect[None, :]]),
        lead_group=np.array([index.get(v, len(values)) for v in column.to_list()], dtype=np.int64),
        rates=rates,
        closed=closed,
    )


def _run_policy(
    name: PolicyName,
    config: TeamRouting,
    ok: np.ndarray[Any, Any],
    capacity: np.ndarray[Any, Any],
    p_lead: np.ndarray[Any, Any],
    members: list[int],
    rep_rows: list[dict[str, Any]],
    effect: np.ndarray[Any, Any],
    lead_group: np.ndarray[Any, Any] | None,
    close_mean: np.ndarray[Any, Any],
    last: dict[int, tuple[int, int]],
    open_leads: dict[int, int],
    deal_value: float,
    state: dict[str, dict[str, Any]],
    state_key: str,
    seed: int,
    exploring: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], Any]:
    """Run one policy over a group of leads: the choices, and a function that explains the
    choice of each lead (given the leads' offsets and their picks) as an array of text."""
    n = p_lead.size
    eligible = np.broadcast_to(ok, (n, ok.size))
    ids = [rep_rows[i]["external_id"] for i in members]
    saved = state.get(state_key, {})
    if name == "round_robin":
        pointer = ids.index(saved["last"]) if saved.get("last") in ids else -1
        choice, pointer = round_robin(eligible, capacity, pointer=pointer)
        state[state_key] = {"last": ids[pointer] if pointer >= 0 else None}
        return choice, _per_rep([f"next in rotation ({x})" for x in ids])
    if name == "weighted":
        weights = np.array([config.weights.get(x, 1.0) for x in ids])
        current = np.array([saved.get("current", {}).get(x, 0.0) for x in ids])
        choice, current = weighted(eligible, capacity, weights=weights, current=current)
        state[state_key] = {"current": {x: float(v) for x, v in zip(ids, current, strict=True)}}
        return choice, _per_rep([f"weight {w:g} of {weights[ok].sum():g}" for w in weights])
    if name == "load_balance":
        loads = np.array([open_leads.get(rep_rows[i]["id"], 0) for i in members])
        choice = load_balance(eligible, capacity, open_leads=loads)
        return choice, _per_rep([f"fewest open leads ({n} before this batch)" for n in loads])
    if name == "merit":
        won = np.array([last.get(rep_rows[i]["id"], (0, 0))[0] for i in members], dtype=float)
        closed = np.array([last.get(rep_rows[i]["id"], (0, 0))[1] for i in members], dtype=float)
        team_rate = won.sum() / closed.sum() if closed.sum() else 0.0
        rates = np.divide(won, closed, out=np.full(won.size, team_rate), where=closed > 0)
        schedule = MeritSchedule(spread=config.merit_spread, proportional=config.merit_proportional)
        choice = merit(eligible, capacity, close_rates=rates, schedule=schedule)
        shares = merit_shares(rates, schedule)
        return choice, _per_rep(
            [f"close rate last period {r:.0%}, share {s:.0%}" for r, s in zip(rates, shares, strict=True)]
        )
    floor = np.where(exploring[members], max(config.min_share, config.exploration_share), config.min_share)
    choice, value, segment = optimal(
        ok,
        capacity,
        p_lead=p_lead,
        rep_effect=effect,
        lead_group=lead_group,
        deal_value=deal_value,
        min_share=floor,
        seed=seed,
    )
    opening = [f"most expected value within capacity (rep close rate {close_mean[i]:.0%}, " for i in members]
    closing = [", exploring: few closed leads yet)" if exploring[i] else ")" for i in members]

    def explain(offsets: np.ndarray[Any, Any], picks: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # the values are per (segment, rep): each distinct pair is written out once
        pairs, index = np.unique(segment[offsets] * len(members) + picks, return_inverse=True)
        rows, reps = np.divmod(pairs, len(members))
        texts = np.array(
            [
                f"{opening[j]}expected value {value[r, j]:,.0f}{closing[j]}"
                for r, j in zip(rows.tolist(), reps.tolist(), strict=True)
            ],
            dtype=object,
        )
        return texts[index.reshape(-1)]

    return choice, explain


def _per_rep(
    texts: list[str],
) -> Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """A note that depends only on the rep picked."""
    table = np.array(texts, dtype=object)
    return lambda _offsets, picks: table[picks]


def apply_plan(session: Session, *, plan: RoutePlan, by: str, now: datetime | None = None) -> None:
    """Write a plan: assignments with their reasons, owners, first stage, queue and policy state."""
    now = now or utcnow()
    at = pl.lit(now, dtype=pl.Datetime("us")).alias("at")
    # in lead order: the leads' rows and index entries are then written in one pass, not one per group
    assigned = plan.table.filter(pl.col("rep_id").is_not_null()).sort("lead_id")
    if not assigned.is_empty():
        # what a group's leads share is written once, with the run; each assignment keeps its own
        groups = assigned["group"].unique(maintain_order=True).to_list()
        run = RoutingRun(at=now, by=by, context={g: plan.shared[g] for g in groups})
        session.add(run)
        session.flush()
        owners = assigned.select(
            "lead_id",
            "rep_id",
            at,
            "policy",
            "reason",
            "inputs",
            pl.lit(run.id).alias("run_id"),
            (1.0 - pl.col("credit_share").fill_null(0.0)).alias("credit_share"),
            pl.lit("owner").alias("role"),
            pl.lit(by).alias("by"),
        )
        credits = assigned.filter(pl.col("credit_rep_id").is_not_null()).select(
            "lead_id",
            pl.col("credit_rep_id").alias("rep_id"),
            at,
            pl.lit("split credit").alias("policy"),
            pl.format(
                "company headquarters in another territory: {}% of the credit",
                (pl.col("credit_share") * 100).round(0).cast(pl.Int64),
            ).alias("reason"),
            pl.struct(pl.col("rep_external_id").alias("owner")).struct.json_encode().alias("inputs"),
            pl.lit(run.id).alias("run_id"),
            "credit_share",
            pl.lit("credit").alias("role"),
            pl.lit(by).alias("by"),
        )
        rows = pl.concat([owners, credits])
        bulk_insert(session, "assignments", rows.columns, driver_rows(session, rows))
        record_issued(session, issued=owners.select("rep_id", "at"))
        moved = assigned.filter(pl.col("from_stage") == "inquiry").select(
            "lead_id",
            pl.col("from_stage"),
            pl.lit("lead").alias("to_stage"),
            at,
            pl.lit(by).alias("by"),
            pl.lit("routed").alias("reason"),
        )
        bulk_insert(session, "stage_changes", moved.columns, driver_rows(session, moved))
        waited = assigned.filter(pl.col("queued").is_not_null())["lead_id"].to_list()
        for start in range(0, len(waited), 5000):
            session.execute(delete(QueuedLead).where(QueuedLead.lead_id.in_(waited[start : start + 5000])))
        owned = assigned.select("rep_id", at.alias("assigned_at"), pl.lit("lead").alias("stage"), "lead_id")
        bulk_update(session, "leads", ["owner_id", "assigned_at", "stage"], driver_rows(session, owned))
    queued = plan.table.filter(pl.col("queue").is_not_null())
    if not queued.is_empty():
        fresh = queued.filter(pl.col("queued").is_null()).select(
            "lead_id", pl.col("queue").alias("kind"), "reason", at.alias("since"), pl.lit(1).alias("attempts")
        )
        bulk_insert(session, QueuedLead.__tablename__, fresh.columns, driver_rows(session, fresh))
        again = queued.filter(pl.col("queued").is_not_null()).select(
            pl.col("queue").alias("kind"), "reason", pl.col("queued_attempts") + 1, "lead_id"
        )
        bulk_update(
            session, QueuedLead.__tablename__, ["kind", "reason", "attempts"], driver_rows(session, again),
            key="lead_id",
        )  # fmt: skip
    changed = plan.changed_state()
    if changed:
        # an upsert: workers routing to different reps do not wait for each other, and may both
        # be the first to save a key (the estimates)
        insert = sqlite_insert if is_sqlite(session) else postgresql_insert
        statement = insert(RoutingState).values(
            [{"key": key, "state": value, "updated_at": now} for key, value in changed.items()]
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RoutingState.key],
                set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
            )
        )


def load_state(session: Session) -> dict[str, dict[str, Any]]:
    """The policies' saved state (round-robin pointers, weighted values) by key."""
    rows = session.execute(select(RoutingState.key, RoutingState.state)).all()
    return {key: dict(state) for key, state in rows}


def route_leads(
    session: Session,
    *,
    settings: Settings,
    lead_ids: list[int] | None = None,
    policy: PolicyName | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    seed: int = 0,
    by: str = "router",
    exclude: dict[int, str] | None = None,
) -> RoutePlan:
    """Route the queue (or the given leads): plan, and unless ``dry_run``, write the plan."""
    plan = plan_routes(
        session,
        settings=settings,
        lead_ids=lead_ids,
        policy=policy,
        limit=limit,
        now=now,
        seed=seed,
        exclude=exclude,
    )
    if not dry_run:
        apply_plan(session, plan=plan, by=by, now=now)
    if not dry_run and settings.notify.enabled:  # no event objects for a batch nobody hears of
        events = [
            LeadEvent("lead.assigned", d.lead_id, d.rep_id, {"policy": d.policy, "reason": d.reason})
            for d in plan.decisions
            if d.rep_id is not None
        ]
        queue_notifications(session, settings=settings, events=events, now=now)
    return plan


def routing_queue(session: Session) -> pl.DataFrame:
    """The reserve and the unassigned leads with their reasons, oldest first."""
    rows = session.execute(
        select(
            Lead.id,
            Lead.external_id,
            QueuedLead.kind,
            QueuedLead.reason,
            QueuedLead.since,
            QueuedLead.attempts,
        )
        .join(Lead, Lead.id == QueuedLead.lead_id)
        .where(Lead.owner_id.is_(None))
        .order_by(QueuedLead.kind, QueuedLead.since, Lead.id)
    ).all()
    return pl.DataFrame(
        rows,
        schema=["id", "external_id", "queue", "reason", "since", "attempts"],
        orient="row",
        infer_schema_length=None,
    )
