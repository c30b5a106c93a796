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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Text, case, cast, delete, func, select
from sqlalchemy.orm import Session

from leadflow.db import bulk_insert, bulk_update, driver_rows, is_sqlite
from leadflow.models import (
    Absence,
    Assignment,
    Company,
    Lead,
    QueuedLead,
    Rep,
    RoutingState,
    Team,
    Territory,
    rep_territories,
    utcnow,
)
from leadflow.routing.allocate import logit, optimal
from leadflow.routing.estimates import close_rates
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
from leadflow.settings import PolicyName, Settings, TeamRouting

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


@dataclass
class RoutePlan:
    """The decisions of one routing run, and the policy state to keep for the next."""

    decisions: list[Decision] = field(default_factory=list)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count(self, queue: str | None) -> int:
        """How many leads were assigned (None), reserved or left unassigned."""
        return sum(1 for d in self.decisions if d.queue == queue)


def period_start(now: datetime, period: str) -> datetime:
    """Start of the capacity period that contains ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


@dataclass
class _Reps:
    frame: pl.DataFrame  # id, external_id, name, team, active, capacity_left, used, capacity
    territories: dict[int, set[str]]
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
        )
        .outerjoin(Territory, Lead.territory_id == Territory.id)
        .outerjoin(Company, Lead.company_id == Company.id)
        .outerjoin(QueuedLead, QueuedLead.lead_id == Lead.id)
        .where(Lead.owner_id.is_(None), Lead.stage.in_(ROUTABLE_STAGES), Lead.self_sourced.is_(False))
        .order_by(reserve_first, Lead.created_at, Lead.id)
    )
    if lead_ids is not None:
        query = query.where(Lead.id.in_(lead_ids))
    if limit:
        query = query.limit(limit)
    if not is_sqlite(session):
        query = query.with_for_update(skip_locked=True, of=Lead)
    rows = session.execute(query).all()
    schema = {
        "id": pl.Int64,
        "external_id": pl.String,
        "country": pl.String,
        "region": pl.String,
        "industry": pl.String,
        "company": pl.String,
        "company_size": pl.Int64,
        "extra": pl.String,
        "win_probability": pl.Float64,
        "lead_territory": pl.String,
        "stage": pl.String,
        "hq_country": pl.String,
    }
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    extra = pl.col("extra")
    return frame.with_columns(
        extra.str.json_path_match("$.state").alias("state"),
        extra.str.json_path_match("$.postal_code").alias("postal_code"),
    )


def _reps(session: Session, *, now: datetime, start: datetime) -> _Reps:
    if not is_sqlite(session):
        session.execute(select(Rep.id).order_by(Rep.id).with_for_update()).all()
    used = dict(
        session.execute(
            select(Assignment.rep_id, func.count())
            .where(Assignment.at >= start, Assignment.rep_id.is_not(None), Assignment.role == "owner")
            .group_by(Assignment.rep_id)
        ).all()
    )
    rows = session.execute(
        select(Rep.id, Rep.external_id, Rep.name, Team.name, Rep.active, Rep.capacity)
        .outerjoin(Team, Rep.team_id == Team.id)
        .order_by(Rep.id)
    ).all()
    frame = pl.DataFrame(
        [(*r[:5], r[5], used.get(r[0], 0)) for r in rows],
        schema={
            "id": pl.Int64,
            "external_id": pl.String,
            "name": pl.String,
            "team": pl.String,
            "active": pl.Boolean,
            "capacity": pl.Int64,
            "used": pl.Int64,
        },
        orient="row",
    ).with_columns(
        pl.when(pl.col("capacity").is_null())
        .then(UNLIMITED)
        .otherwise((pl.col("capacity") - pl.col("used")).clip(lower_bound=0))
        .alias("capacity_left")
    )
    territories: dict[int, set[str]] = defaultdict(set)
    for rep_id, name in session.execute(
        select(rep_territories.c.rep_id, Territory.name).join(
            Territory, Territory.id == rep_territories.c.territory_id
        )
    ).all():
        territories[rep_id].add(name)
    away = dict(
        session.execute(
            select(Absence.rep_id, func.max(Absence.ends_at))
            .where(Absence.starts_at <= now, Absence.ends_at > now)
            .group_by(Absence.rep_id)
        ).all()
    )
    return _Reps(frame, territories, away)


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


def _history(
    session: Session, start: datetime, previous: datetime, needs: set[PolicyName]
) -> tuple[dict[Any, tuple[int, int]], dict[Any, tuple[int, int]], dict[Any, int], float]:
    """Per rep: (won, closed) over all history and over the previous period; open leads; mean deal.

    Last period's results are read only when ``merit`` may run, open leads only for
    ``load_balance``: each is a pass over the ledger."""
    closed = Lead.stage.in_(("won", "lost"))
    won = func.sum(case((Lead.stage == "won", 1), else_=0))
    all_time = {
        r: (int(w), int(n))
        for r, w, n in session.execute(
            select(Lead.owner_id, won, func.count())
            .where(closed, Lead.owner_id.is_not(None))
            .group_by(Lead.owner_id)
        ).all()
    }
    closed_at = func.coalesce(Lead.won_at, Lead.lost_at)
    last = (
        {}
        if "merit" not in needs
        else {
            r: (int(w), int(n))
            for r, w, n in session.execute(
                select(Lead.owner_id, won, func.count())
                .where(closed, Lead.owner_id.is_not(None), closed_at >= previous, closed_at < start)
                .group_by(Lead.owner_id)
            ).all()
        }
    )
    open_leads = (
        {}
        if "load_balance" not in needs
        else dict(
            session.execute(
                select(Lead.owner_id, func.count())
                .where(Lead.owner_id.is_not(None), Lead.stage.not_in(("won", "lost", "disqualified")))
                .group_by(Lead.owner_id)
            ).all()
        )
    )
    deal = session.scalar(select(func.avg(Lead.amount)).where(Lead.stage == "won", Lead.amount > 0))
    return all_time, last, open_leads, float(deal or 1.0)


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
    reps = _reps(session, now=now, start=start)
    plan.state = load_state(session)  # read after the reps' lock: another worker's state is committed
    needs = {policy} if policy else {routing.default.policy, *(t.policy for t in routing.teams.values())}
    all_time, last, open_leads, deal_value = _history(session, start, previous, needs)
    matched = match_territory(leads, routing.territories)
    headquarters = leads.with_columns(
        pl.col("hq_country").alias("country"),
        *(pl.lit(None, dtype=pl.String).alias(c) for c in ("region", "state", "postal_code")),
    )
    leads = leads.with_columns(
        pl.coalesce("lead_territory", matched).alias("territory"),
        match_territory(headquarters, routing.territories).alias("hq_territory"),
    )
    rep_rows = reps.frame.to_dicts()
    lead_rows = leads.select("id", "external_id", "win_probability", "territory", "hq_territory").rows(
        named=True
    )
    by_territory: dict[str, list[int]] = defaultdict(list)
    by_team: dict[str, list[int]] = defaultdict(list)
    for index, rep in enumerate(rep_rows):
        for territory_name in reps.territories.get(rep["id"], ()):
            by_territory[territory_name].append(index)
        if rep["team"]:
            by_team[rep["team"]].append(index)
    capacity = reps.frame["capacity_left"].to_numpy().copy()
    won_all = np.array([all_time.get(r["id"], (0, 0))[0] for r in rep_rows])
    closed_all = np.array([all_time.get(r["id"], (0, 0))[1] for r in rep_rows])
    estimates = close_rates(won_all, closed_all)
    effect = logit(estimates.mean) - logit(np.array([estimates.prior.mean]))
    base_rate = float(leads["win_probability"].drop_nulls().mean() or estimates.prior.mean)  # type: ignore[arg-type]

    groups: dict[str, list[int]] = defaultdict(list)
    candidates_of: dict[str, list[int]] = {}
    for position, (territory,) in enumerate(leads.select("territory").iter_rows()):
        if territory is not None and by_territory.get(territory):
            key, members = f"territory {territory}", by_territory[territory]
        elif routing.fallback_team and by_team.get(routing.fallback_team):
            key, members = f"fallback team {routing.fallback_team}", by_team[routing.fallback_team]
        else:
            where = f"territory {territory} has no reps" if territory else "no territory rule matches"
            fallback = (
                f"; fallback team {routing.fallback_team} has no reps"
                if routing.fallback_team
                else "; no fallback team"
            )
            _queue_decision(plan, lead_rows[position], "unassigned", where + fallback, {})
            continue
        groups[key].append(position)
        candidates_of[key] = members

    for key, positions in groups.items():
        members = candidates_of[key]
        team = Counter(rep_rows[i]["team"] for i in members).most_common(1)[0][0]
        config = routing.for_team(team)
        name: PolicyName = policy if policy is not None else config.policy
        excluded = {
            rep_rows[i]["external_id"]: why
            for i in members
            if (why := _exclusion(rep_rows[i], reps.away, exclude or {}))
        }
        ok = np.array([rep_rows[i]["external_id"] not in excluded for i in members])
        group_leads = leads[positions]
        p_lead = group_leads["win_probability"].fill_null(base_rate).to_numpy()
        # Without a lead probability or any closed history there is no honest P(win) to show.
        known = group_leads["win_probability"].is_not_null().to_numpy() | (closed_all.sum() > 0)
        choice, note = _run_policy(
            name, config, ok, capacity[members], p_lead, members, rep_rows, effect, estimates.mean, last,
            open_leads, deal_value, plan.state, f"{name}:{key}", seed,
            estimates.exploring(max_width=config.exploration_width),
        )  # fmt: skip
        eligible_ids = [rep_rows[i]["external_id"] for i, good in zip(members, ok, strict=True) if good]
        chosen = np.asarray(members)[np.where(choice >= 0, choice, 0)]
        p_with_rep = 1 / (1 + np.exp(-(logit(p_lead) + effect[chosen])))
        for offset, position in enumerate(positions):
            pick = int(choice[offset])
            base_inputs: dict[str, Any] = {
                "group": key,
                "team": team,
                "policy": name,
                "eligible": eligible_ids,
                "excluded": excluded,
                "seed": seed,
            }
            if pick == UNASSIGNED:
                open_reps = [rep_rows[i] for i, good in zip(members, ok, strict=True) if good]
                if open_reps:
                    listed = ", ".join(f"{r['external_id']} ({r['capacity']} this period)" for r in open_reps)
                    reason, queue = f"every eligible rep is at capacity: {listed}", "reserve"
                else:
                    listed = "; ".join(f"{k} {v}" for k, v in excluded.items())
                    full = any("capacity" in v for v in excluded.values())
                    reason, queue = (
                        f"nobody in {key} can take it: {listed}",
                        "reserve" if full else "unassigned",
                    )
                _queue_decision(plan, lead_rows[position], queue, reason, base_inputs)
                continue
            rep = rep_rows[members[pick]]
            capacity[members[pick]] -= 1
            p_win = round(float(p_with_rep[offset]), 4) if known[offset] else None
            inputs = {
                **base_inputs,
                "estimates": {
                    "close_rate": round(float(estimates.mean[members[pick]]), 4),
                    "close_rate_interval": [
                        round(float(estimates.low[members[pick]]), 4),
                        round(float(estimates.high[members[pick]]), 4),
                    ],
                    "lead_win_probability": round(float(p_lead[offset]), 4) if known[offset] else None,
                    "win_probability_with_rep": p_win,
                },
                "capacity_left_before": int(capacity[members[pick]] + 1),
            }
            plan.decisions.append(
                Decision(
                    lead_id=lead_rows[position]["id"],
                    lead_external_id=lead_rows[position]["external_id"],
                    rep_id=int(rep["id"]),
                    rep_external_id=rep["external_id"],
                    policy=name,
                    reason=f"{name} in {key}: {note(offset, pick)}",
                    win_probability=p_win,
                    inputs=inputs,
                    credit=_credit(
                        plan,
                        lead_rows[position],
                        by_territory,
                        rep_rows,
                        reps.away,
                        routing.headquarters_share,
                    ),
                )
            )
    return plan


def _credit(
    plan: RoutePlan,
    lead: dict[str, Any],
    by_territory: dict[str, list[int]],
    rep_rows: list[dict[str, Any]],
    away: dict[int, datetime],
    share: float,
) -> tuple[int, str, float] | None:
    """The headquarters' rep and share when the company's headquarters lie in another territory.

    Reps of that territory take turns (their own rotation, kept with the policies' state);
    inactive and away reps are skipped; capacity does not apply to a share of credit.
    """
    territory, headquarters = lead["territory"], lead["hq_territory"]
    if share <= 0 or headquarters is None or headquarters == territory or not by_territory.get(headquarters):
        return None
    members = [
        i for i in by_territory[headquarters] if rep_rows[i]["active"] and rep_rows[i]["id"] not in away
    ]
    if not members:
        return None
    key = f"credit:territory {headquarters}"
    ids = [rep_rows[i]["external_id"] for i in members]
    last = plan.state.get(key, {}).get("last")
    pick = (ids.index(last) + 1) % len(ids) if last in ids else 0
    plan.state[key] = {"last": ids[pick]}
    return int(rep_rows[members[pick]]["id"]), ids[pick], share


def _queue_decision(
    plan: RoutePlan, lead: dict[str, Any], queue: str, reason: str, inputs: dict[str, Any]
) -> None:
    plan.decisions.append(
        Decision(
            lead_id=lead["id"],
            lead_external_id=lead["external_id"],
            rep_id=None,
            rep_external_id=None,
            policy=str(inputs.get("policy", "none")),
            reason=reason,
            win_probability=lead["win_probability"],
            inputs=inputs,
            queue=queue,
        )
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
    close_mean: np.ndarray[Any, Any],
    last: dict[int, tuple[int, int]],
    open_leads: dict[int, int],
    deal_value: float,
    state: dict[str, dict[str, Any]],
    state_key: str,
    seed: int,
    exploring: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], Any]:
    """Run one policy over a group of leads; the choices and a function explaining each."""
    n = p_lead.size
    eligible = np.broadcast_to(ok, (n, ok.size))
    ids = [rep_rows[i]["external_id"] for i in members]
    saved = state.get(state_key, {})
    if name == "round_robin":
        pointer = ids.index(saved["last"]) if saved.get("last") in ids else -1
        choice, pointer = round_robin(eligible, capacity, pointer=pointer)
        state[state_key] = {"last": ids[pointer] if pointer >= 0 else None}
        return choice, lambda i, j: f"next in rotation ({ids[j]})"
    if name == "weighted":
        weights = np.array([config.weights.get(x, 1.0) for x in ids])
        current = np.array([saved.get("current", {}).get(x, 0.0) for x in ids])
        choice, current = weighted(eligible, capacity, weights=weights, current=current)
        state[state_key] = {"current": {x: float(v) for x, v in zip(ids, current, strict=True)}}
        return choice, lambda i, j: f"weight {weights[j]:g} of {weights[ok].sum():g}"
    if name == "load_balance":
        loads = np.array([open_leads.get(rep_rows[i]["id"], 0) for i in members])
        choice = load_balance(eligible, capacity, open_leads=loads)
        return choice, lambda i, j: f"fewest open leads ({loads[j]} before this batch)"
    if name == "merit":
        won = np.array([last.get(rep_rows[i]["id"], (0, 0))[0] for i in members], dtype=float)
        closed = np.array([last.get(rep_rows[i]["id"], (0, 0))[1] for i in members], dtype=float)
        team_rate = won.sum() / closed.sum() if closed.sum() else 0.0
        rates = np.divide(won, closed, out=np.full(won.size, team_rate), where=closed > 0)
        schedule = MeritSchedule(spread=config.merit_spread, proportional=config.merit_proportional)
        choice = merit(eligible, capacity, close_rates=rates, schedule=schedule)
        shares = merit_shares(rates, schedule)
        return choice, lambda i, j: f"close rate last period {rates[j]:.0%}, share {shares[j]:.0%}"
    floor = np.where(exploring[members], max(config.min_share, config.exploration_share), config.min_share)
    choice, value, segment = optimal(
        ok,
        capacity,
        p_lead=p_lead,
        rep_effect=effect[members],
        deal_value=deal_value,
        min_share=floor,
        seed=seed,
    )
    return (
        choice,
        lambda i, j: (
            f"most expected value within capacity (rep close rate {close_mean[members[j]]:.0%}, "
            f"expected value {value[segment[i], j]:,.0f}"
            + (", exploring: few closed leads yet)" if exploring[members[j]] else ")")
        ),
    )


def apply_plan(session: Session, *, plan: RoutePlan, by: str, now: datetime | None = None) -> None:
    """Write a plan: assignments with their reasons, owners, first stage, queue and policy state."""
    now = now or utcnow()
    assigned = [d for d in plan.decisions if d.rep_id is not None]
    if assigned:
        rows = pl.DataFrame(
            {
                "lead_id": [d.lead_id for d in assigned],
                "rep_id": [d.rep_id for d in assigned],
                "at": [now] * len(assigned),
                "policy": [d.policy for d in assigned],
                "reason": [d.reason for d in assigned],
                "inputs": [_json(d.inputs) for d in assigned],
                "credit_share": [1.0 - (d.credit[2] if d.credit else 0.0) for d in assigned],
                "role": ["owner"] * len(assigned),
                "by": [by] * len(assigned),
            },
            schema_overrides={"at": pl.Datetime("us")},
        )
        credited = [d for d in assigned if d.credit]
        if credited:
            credit_rows = pl.DataFrame(
                {
                    "lead_id": [d.lead_id for d in credited],
                    "rep_id": [d.credit[0] for d in credited if d.credit],
                    "at": [now] * len(credited),
                    "policy": ["split credit"] * len(credited),
                    "reason": [
                        f"company headquarters in another territory: {d.credit[2]:.0%} of the credit"
                        for d in credited
                        if d.credit
                    ],
                    "inputs": [_json({"owner": d.rep_external_id}) for d in credited],
                    "credit_share": [d.credit[2] for d in credited if d.credit],
                    "role": ["credit"] * len(credited),
                    "by": [by] * len(credited),
                },
                schema_overrides={"at": pl.Datetime("us")},
            )
            rows = pl.concat([rows, credit_rows])
        bulk_insert(session, "assignments", rows.columns, driver_rows(session, rows))
        ids = [d.lead_id for d in assigned]
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            inquiries = session.scalars(
                select(Lead.id).where(Lead.id.in_(chunk), Lead.stage == "inquiry")
            ).all()
            moved = pl.DataFrame(
                {
                    "lead_id": list(inquiries),
                    "from_stage": ["inquiry"] * len(inquiries),
                    "to_stage": ["lead"] * len(inquiries),
                    "at": [now] * len(inquiries),
                    "by": [by] * len(inquiries),
                    "reason": ["routed"] * len(inquiries),
                },
                schema_overrides={"lead_id": pl.Int64, "at": pl.Datetime("us")},
            )
            bulk_insert(session, "stage_changes", moved.columns, driver_rows(session, moved))
            session.execute(delete(QueuedLead).where(QueuedLead.lead_id.in_(chunk)))
        bulk_update(
            session,
            "leads",
            ["owner_id", "assigned_at", "stage"],
            driver_rows(
                session,
                pl.DataFrame(
                    {
                        "owner_id": [d.rep_id for d in assigned],
                        "assigned_at": [now] * len(assigned),
                        "stage": ["lead"] * len(assigned),
                        "id": ids,
                    },
                    schema_overrides={"assigned_at": pl.Datetime("us")},
                ),
            ),
        )
    for decision in plan.decisions:
        if decision.queue is None:
            continue
        queued = session.get(QueuedLead, decision.lead_id)
        if queued is None:
            session.add(
                QueuedLead(lead_id=decision.lead_id, kind=decision.queue, reason=decision.reason, since=now)
            )
        else:
            queued.kind, queued.reason, queued.attempts = decision.queue, decision.reason, queued.attempts + 1
    for key, value in plan.state.items():
        row = session.get(RoutingState, key)
        if row is None:
            session.add(RoutingState(key=key, state=value, updated_at=now))
        else:
            row.state, row.updated_at = value, now
    session.flush()


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str)


def load_state(session: Session) -> dict[str, dict[str, Any]]:
    """The policies' saved state (round-robin pointers, weighted values) by key."""
    return {row.key: dict(row.state) for row in session.scalars(select(RoutingState)).all()}


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
