"""The routing engine: pick the queue, decide who gets each lead, and record why.

One call is one transaction (the caller's). On PostgreSQL the queued leads are taken with
``FOR UPDATE SKIP LOCKED`` and the reps' rows locked in id order before capacity is counted, so
workers routing at once never issue a lead twice nor take a rep past capacity.

For each lead: its territory (set on the lead, else the first matching rule, else the fallback
team); the reps of that territory; minus the inactive, the away and the full, each excluded with
its reason; then the policy of their team picks among the rest. A lead nobody may take is
queued as unassigned with the reason; a lead whose reps are all full goes to the reserve, which
is routed first next time."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.orm import Session

from leadflow.models import (
    utcnow,
)
from leadflow.notify.outbox import LeadEvent, queue_notifications
from leadflow.routing.allocate import effect_groups
from leadflow.routing.apply import apply_plan, load_state
from leadflow.routing.choose import Evidence, run_policy, segment_effects
from leadflow.routing.decisions import assigned_rows, plan_table, queued_rows, take_rows, unrouted_rows
from leadflow.routing.history import load_affinity, load_history, open_lead_counts
from leadflow.routing.plan import RoutePlan
from leadflow.routing.policies import (
    UNASSIGNED,
)
from leadflow.routing.queue import take_queue
from leadflow.routing.roster import (
    exclusion_reason,
    one_pool,
    period_start,
    present,
    read_roster,
    rep_pool,
    territory_rules,
)
from leadflow.routing.territories import match_territories
from leadflow.settings import PolicyName, Settings
from leadflow.stats import Array
from leadflow.stats.close_rates import close_rates, team_prior
from leadflow.stats.links import expit, logit


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
    team: str | None = None,
) -> RoutePlan:
    """Decide who gets each queued lead (or each of ``lead_ids``), writing nothing.

    ``exclude`` names reps (by id) who may not get these leads, with the reason to record;
    ``team`` plans only the leads whose reps are that team's (a manager's run), leaving the rest
    of the queue as it is."""
    now = now or utcnow()
    routing = settings.routing
    start = period_start(now, routing.period)
    previous = period_start(start - timedelta(days=1), routing.period)
    leads = take_queue(session, lead_ids, limit, stages=routing.routable_stages, order=routing.order)
    plan = RoutePlan()
    if leads.is_empty():
        return plan
    rules = territory_rules(session, settings=settings)
    pooled = one_pool(session, settings=settings, rules=rules)
    matched, headquarters = match_territories(leads, rules)
    own = leads.get_column("lead_territory").to_list()
    territory = [m if t is None else t for t, m in zip(own, matched.to_list(), strict=True)]
    leads = leads.hstack([pl.Series("territory", territory, dtype=pl.String), headquarters])
    batch = lead_ids is None
    territories = (
        None
        if batch or pooled
        else (set(leads["territory"].to_list()) | set(leads["hq_territory"].to_list())) - {None}
    )
    roster, covers = read_roster(session, territories=territories, team=routing.fallback_team)
    reps = rep_pool(session, roster, everyone=batch, now=now, start=start, settings=settings)
    plan.state = load_state(session)  # read after the reps' lock: another worker's state is committed
    plan.loaded = dict(plan.state)
    configs = [routing.default, *routing.teams.values()]
    needs = {policy} if policy else {c.policy for c in configs}
    history = load_history(
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
    # optimal without a segment named: who sells what, learned over every attribute routing reads
    learns = "optimal" in needs and any(
        not c.segment_by for c in configs if (policy or c.policy) == "optimal"
    )
    affinity = (
        load_affinity(  # it moves slowly: refitted when older than the estimates may be
            session,
            state=plan.state,
            now=now,
            max_age=timedelta(minutes=routing.estimates_max_age_minutes),
            refresh=False,
        )
        if learns
        else None
    )
    open_leads = (
        open_lead_counts(session, None if batch else [rep["id"] for rep in roster])
        if "load_balance" in needs
        else {}
    )
    rep_rows = reps.rows
    by_territory: dict[str, list[int]] = defaultdict(list)
    by_team: dict[str, list[int]] = defaultdict(list)
    for index, rep in enumerate(rep_rows):
        for territory_name in covers.get(rep["id"], ()):
            by_territory[territory_name].append(index)
        if rep["team"]:
            by_team[rep["team"]].append(index)
    capacity = np.array([rep["capacity_left"] for rep in rep_rows], dtype=np.int64)
    # each rep's close rate is shrunk toward the whole team's, whoever may take these leads
    tallies = np.array(list(history.all_time.values()), dtype=float).reshape(-1, 2)
    rep_ids = [rep["id"] for rep in rep_rows]
    estimates = close_rates(
        np.array([history.all_time.get(r, (0, 0))[0] for r in rep_ids]),
        np.array([history.all_time.get(r, (0, 0))[1] for r in rep_ids]),
        prior=team_prior(tallies[:, 0], tallies[:, 1]),
    )
    closed_all = tallies[:, 1]
    effect = logit(estimates.mean) - logit(np.array([estimates.prior.mean]))
    evidence = Evidence(
        rep_rows=rep_rows, close_mean=estimates.mean, last=last, open_leads=open_leads, deal_value=deal_value
    )
    lead_p = leads["win_probability"].to_numpy()  # NaN where a lead has none
    has_p = ~np.isnan(lead_p)
    base_rate = (float(lead_p[has_p].mean()) if has_p.any() else 0.0) or estimates.prior.mean

    # Each territory's group of reps: its own while one of them is at work, else the fallback
    # team's, else (no rules, no fallback) every rep; a territory whose reps are all away and no
    # fallback keeps its own group, so the lead is queued with each rep's reason.
    fallback = routing.fallback_team if routing.fallback_team and by_team.get(routing.fallback_team) else None
    at_work = {i for i, rep in enumerate(rep_rows) if present(rep, reps.away, exclude or {})}
    members_of: dict[str, list[int]] = {}
    group_of: dict[str | None, str | None] = {}  # each territory's group of reps (None: nobody's)
    for territory in dict.fromkeys(leads.get_column("territory").to_list()):
        own = by_territory.get(territory, []) if territory is not None else []
        if own and (at_work & set(own) or not fallback or not at_work & set(by_team[fallback])):
            key, members = f"territory {territory}", own
        elif fallback:
            key, members = f"fallback team {fallback}", by_team[fallback]
        elif pooled and rep_rows:
            key, members = "every rep (no territory rules)", list(range(len(rep_rows)))
        else:
            group_of[territory] = None
            continue
        members_of[key] = members
        group_of[territory] = key
    # each group's leads by position, in order of its first lead; the leads no group covers
    grouped: dict[str, list[int]] = {}
    nowhere_positions: list[int] = []
    for position, territory in enumerate(leads.get_column("territory").to_list()):
        found = group_of[territory]
        if found is None:
            nowhere_positions.append(position)
        else:
            grouped.setdefault(found, []).append(position)
    nowhere = (
        f"; fallback team {routing.fallback_team} has no reps"
        if routing.fallback_team
        else "; no fallback team"
    )
    # Each group's choices are gathered as arrays, and the plan's table is built once from them:
    # frame operations cost the same for 16 leads as for 16,000, so none are done per group.
    groups: list[tuple[str, str]] = []  # (key, policy) by group number
    left_over: list[tuple[int, Array, str, str]] = []  # (group, positions, queue, reason)
    picked: dict[str, list[Array]] = defaultdict(list)
    notes: list[Array] = []
    segmented = False

    p_lead_all = np.where(has_p, lead_p, base_rate)
    # Without a lead probability or any closed history there is no honest P(win) to show.
    known_all = has_p | (closed_all.sum() > 0)
    for key, group_positions in grouped.items():
        positions = np.asarray(group_positions, dtype=np.int64)
        members = members_of[key]
        team_of_group = Counter(rep_rows[i]["team"] for i in members).most_common(1)[0][0]
        if team is not None and team_of_group != team:
            continue  # another team's leads: a run for one team leaves them as they are
        config = routing.for_team(team_of_group)
        name: PolicyName = policy if policy is not None else config.policy
        excluded = {
            rep_rows[i]["external_id"]: why
            for i in members
            if (why := exclusion_reason(rep_rows[i], reps.away, exclude or {}))
        }
        ok = np.array([rep_rows[i]["external_id"] not in excluded for i in members])
        p_lead, known = p_lead_all[positions], known_all[positions]
        by_segment = (
            segment_effects(
                history,
                config.segment_by,
                take_rows(leads, positions),
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
        if name == "optimal" and by_segment is None and affinity is not None:
            learned, kind = affinity.effect(take_rows(leads, positions), [rep_rows[i]["id"] for i in members])
            group_effect, group_of_kind = effect_groups(learned, seed=seed)
            lead_group = group_of_kind[kind]
        choice, note = run_policy(
            name,
            config,
            evidence=evidence,
            members=members,
            ok=ok,
            capacity=capacity[members],
            p_lead=p_lead,
            effect=group_effect,
            lead_group=lead_group,
            exploring=estimates.exploring(max_width=config.exploration_width),
            state=plan.state,
            state_key=f"{name}:{key}",
            seed=seed,
        )
        plan.shared[key] = {
            "team": team_of_group,
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
                listed = ", ".join(room_of(r) for r in open_reps)
                reason, queue = f"every eligible rep is at capacity: {listed}", "reserve"
            else:
                listed = "; ".join(f"{k} {v}" for k, v in excluded.items())
                full = any("capacity" in v for v in excluded.values())
                reason, queue = f"nobody in {key} can take it: {listed}", "reserve" if full else "unassigned"
            left_over.append((number, positions[left_out], queue, reason))
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
        picked["left_before"].append(capacity[chosen] - rank)
        capacity[members] -= per_rep
        row_of = np.zeros(len(positions), dtype=np.int64) if lead_group is None else lead_group
        picked["p_win"].append(expit(logit(p_lead[offsets]) + group_effect[row_of[offsets], picks]))
        picked["position"].append(positions[offsets])
        picked["rep"].append(chosen)
        picked["group"].append(np.full(offsets.size, number))
        picked["p_lead"].append(p_lead[offsets])
        picked["shown"].append(known[offsets])
        notes.append(note(offsets, picks))
        if by_segment is not None:
            segmented = True
            rows = row_of[offsets]
            picked["segment_by"].append(np.full(offsets.size, config.segment_by, dtype=object))
            picked["segment_value"].append(np.array(by_segment.values, dtype=object)[rows])
            for field, values in (
                ("segment_rate", by_segment.rates.mean),
                ("segment_low", by_segment.rates.low),
                ("segment_high", by_segment.rates.high),
                ("segment_closed", by_segment.closed),
            ):
                picked[field].append(values[rows, picks].astype(float))
        else:
            picked["segment_by"].append(np.full(offsets.size, None, dtype=object))
            picked["segment_value"].append(np.full(offsets.size, None, dtype=object))
            for field in ("segment_rate", "segment_low", "segment_high", "segment_closed"):
                picked[field].append(np.full(offsets.size, np.nan))

    parts = [queued_rows(leads, left_over, groups)]
    if nowhere_positions and team is None:
        parts.append(unrouted_rows(leads, np.asarray(nowhere_positions, dtype=np.int64), nowhere=nowhere))
    if picked:
        parts.append(
            assigned_rows(
                plan,
                leads,
                reps=reps,
                rep_rows=rep_rows,
                estimates=estimates,
                groups=groups,
                by_territory=by_territory,
                share=routing.headquarters_share,
                picked={k: np.concatenate(v) for k, v in picked.items()},
                notes=np.concatenate(notes),
                segmented=segmented,
            )
        )
    plan.rows = plan_table(leads, parts)  # none when a team's run found none of its leads
    return plan


def room_of(rep: dict[str, Any]) -> str:
    """A full rep's limit: their daily cap when that is what binds, else their period's capacity."""
    if rep.get("daily_cap") is not None and rep["daily_cap"] - rep["today"] <= rep["capacity_left"]:
        return f"{rep['external_id']} (daily cap {rep['daily_cap']})"
    return f"{rep['external_id']} ({rep['capacity']} this period)"


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
    team: str | None = None,
    cause: str | None = None,
) -> RoutePlan:
    """Route the queue (or the given leads): plan, and unless ``dry_run``, write the plan.
    ``cause`` says why these leads are routed again (an SLA miss); it leads each reason."""
    plan = plan_routes(
        session,
        settings=settings,
        lead_ids=lead_ids,
        policy=policy,
        limit=limit,
        now=now,
        seed=seed,
        exclude=exclude,
        team=team,
    )
    if cause:
        plan.lead_reasons(cause)
    if not dry_run:
        apply_plan(session, plan=plan, by=by, now=now)
    if not dry_run and settings.notify.enabled:  # no event objects for a batch nobody hears of
        columns = (plan.column(c) for c in ("lead_id", "rep_id", "policy", "reason"))
        events = [
            LeadEvent("lead.assigned", lead, rep, {"policy": policy, "reason": reason})
            for lead, rep, policy, reason in zip(*columns, strict=True)
            if rep is not None
        ]
        queue_notifications(session, settings=settings, events=events, now=now)
    return plan
