"""Who may take leads: the reps of the territories concerned (rows locked on PostgreSQL, in id
order, before their capacity is counted), their capacity left this period, who is away, and
the territory rules from the database and leadflow.toml."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import polars as pl
from pydantic import ValidationError
from sqlalchemy import (
    CompoundSelect,
    DateTime,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    func,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from leadflow.db import in_values, is_sqlite, read_rows
from leadflow.models import (
    Absence,
    Rep,
    RepLoad,
    Team,
    Territory,
    rep_territories,
)
from leadflow.settings import ConfigError, Settings, TerritoryRule

UNLIMITED = 10**9  # the capacity of a rep without one


def period_start(now: datetime, period: str) -> datetime:
    """Start of the capacity period that contains ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


# Each rep of a roster as a dict of these fields; a pool adds POOL_FIELDS.
ROSTER_FIELDS = ("id", "external_id", "name", "team", "active", "capacity")
POOL_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "external_id": pl.String(),
    "name": pl.String(),
    "team": pl.String(),
    "active": pl.Boolean(),
    "capacity": pl.Int64(),
    "used": pl.Int64(),  # leads issued this period
    "capacity_left": pl.Int64(),  # within the period's capacity and today's cap
    "daily_cap": pl.Int64(),
    "today": pl.Int64(),  # leads issued today
}


@dataclass
class RepPool:
    """The reps who could take leads, a dict apiece (POOL_SCHEMA's fields), and who is away.

    A roster is a few reps to a few thousand, in a capture and a batch alike: kept as dicts, and
    a frame only for a report that asks for one."""

    rows: list[dict[str, Any]]
    away: dict[int, datetime]

    @property
    def frame(self) -> pl.DataFrame:
        """The reps as a frame (POOL_SCHEMA)."""
        return pl.DataFrame(self.rows, schema=POOL_SCHEMA)


def read_roster(
    session: Session, *, territories: set[str] | None, team: str | None
) -> tuple[list[dict[str, Any]], dict[int, set[str]]]:
    """The reps who could take these leads, and the territories each covers.

    All reps when ``territories`` is None (a batch); else those covering one of ``territories``
    and the members of ``team`` (the fallback team, when some lead has no territory with reps).
    """
    covers: dict[int, set[str]] = defaultdict(set)
    reps: dict[int, dict[str, Any]] = {}
    scoped = territories is not None
    parameters = {"names": sorted(territories), "team": team} if territories is not None else {}
    # each rep with each territory it covers (of those concerned), or none: one statement
    for *rep, covered in read_rows(session, _roster(scoped=scoped, team=team is not None), parameters):
        if rep[0] not in reps:
            reps[rep[0]] = dict(zip(ROSTER_FIELDS, rep, strict=True))
        if covered is not None:
            covers[rep[0]].add(covered)
    return list(reps.values()), covers


# The roster's statement, built once per shape: a capture reads a few reps many times a second.
@lru_cache(maxsize=4)
def _roster(*, scoped: bool, team: bool) -> Select[*tuple[Any, ...]]:
    """Each rep (id, external id, name, team, active, capacity) with each territory it covers, a
    row apiece, or one row with none. ``scoped``: only the territories named by the expanding
    parameter ``names``, and only the reps covering one of them or (``team``) of team ``team``."""
    covered = Territory.id == rep_territories.c.territory_id
    if scoped:
        covered = covered & in_values(Territory.name, "names")
    query = (
        select(Rep.id, Rep.external_id, Rep.name, Team.name, Rep.active, Rep.capacity, Territory.name)
        .outerjoin(Team, Rep.team_id == Team.id)
        .outerjoin(rep_territories, rep_territories.c.rep_id == Rep.id)
        .outerjoin(Territory, covered)
        .order_by(Rep.id)
    )
    if not scoped:
        return query
    in_reach = Territory.name.is_not(None)
    return query.where(in_reach | (Team.name == bindparam("team")) if team else in_reach)


@lru_cache(maxsize=2)
def _load_and_away(*, scoped: bool) -> CompoundSelect[*tuple[Any, ...]]:
    """Each rep's leads issued since a day (``start``), then each rep away at ``now`` and until
    when, of the reps ``ids`` when ``scoped``: one statement, read after the reps' lock."""
    load = select(
        RepLoad.rep_id, func.sum(RepLoad.issued).label("issued"), cast(null(), DateTime).label("until")
    ).where(RepLoad.day >= bindparam("start"))
    absent = select(Absence.rep_id, cast(null(), Integer), func.max(Absence.ends_at)).where(
        Absence.starts_at <= bindparam("now"), Absence.ends_at > bindparam("now")
    )
    if scoped:
        load = load.where(in_values(RepLoad.rep_id, "ids"))
        absent = absent.where(in_values(Absence.rep_id, "ids"))
    return union_all(load.group_by(RepLoad.rep_id), absent.group_by(Absence.rep_id))


def rep_pool(
    session: Session,
    roster: list[dict[str, Any]],
    *,
    everyone: bool,
    now: datetime,
    start: datetime,
    settings: Settings | None = None,
    lock: bool = True,
) -> RepPool:
    """The roster's reps with the capacity each has left and who is away.

    Capacity counts the leads issued to a rep this period (a lead reassigned away still
    counts: the rep spent time on it), within the rep's or team's daily cap, if any
    (``routing.daily_caps``, ``daily_cap``). On PostgreSQL the candidates' rows are locked in
    id order first, so that two workers counting the same rep's capacity take turns; workers
    routing to other reps do not wait."""
    candidates = None if everyone else [rep["id"] for rep in roster]
    if lock and not is_sqlite(session):
        locking = select(Rep.id).order_by(Rep.id).with_for_update()
        if candidates is not None:
            locking = locking.where(Rep.id.in_(candidates))
        session.execute(locking).all()
    scoped = {"ids": candidates} if candidates is not None else {}
    used: dict[int, int] = {}
    away: dict[int, datetime] = {}
    parameters = {"start": start.date(), "now": now, **scoped}
    for rep_id, leads, until in read_rows(session, _load_and_away(scoped=candidates is not None), parameters):
        if until is None:
            used[rep_id] = int(leads)
        else:
            away[rep_id] = until
    caps = daily_caps(roster, settings) if settings is not None else {}
    issued: dict[int, int] = {}
    if caps:
        today = select(RepLoad.rep_id, func.sum(RepLoad.issued)).where(
            RepLoad.day == now.date(), RepLoad.rep_id.in_(sorted(caps))
        )
        issued = {rep_id: int(n) for rep_id, n in session.execute(today.group_by(RepLoad.rep_id)).all()}
    rows = []
    for rep in roster:
        rep_id, capacity = rep["id"], rep["capacity"]
        spent = used.get(rep_id, 0)
        left = UNLIMITED if capacity is None else max(capacity - spent, 0)
        cap = caps.get(rep_id)
        if cap is not None:
            left = min(left, max(cap - issued.get(rep_id, 0), 0))
        rows.append(
            {**rep, "used": spent, "capacity_left": left, "daily_cap": cap, "today": issued.get(rep_id, 0)}
        )
    return RepPool(rows, away)


def capacity_now(session: Session, *, settings: Settings, now: datetime) -> tuple[pl.DataFrame, str]:
    """Each rep's use of their capacity this period (id, this period as used/capacity, left,
    daily cap, away until) and a sentence saying what counts, for `reps list`."""
    start = period_start(now, settings.routing.period)
    roster, _ = read_roster(session, territories=None, team=None)
    pool = rep_pool(session, roster, everyone=True, now=now, start=start, settings=settings, lock=False)
    frame = pool.frame.select(
        "id",
        pl.format("{}/{}", "used", pl.col("capacity").cast(pl.String).fill_null("no limit")).alias(
            "this period"
        ),
        pl.when(pl.col("capacity_left") >= UNLIMITED).then(None).otherwise("capacity_left").alias("left"),
        "daily_cap",
        pl.col("id")
        .replace_strict(pool.away, default=None, return_dtype=pl.Datetime("us"))
        .alias("away until"),
    )
    counts = (
        f"capacity counts the leads issued since {start:%Y-%m-%d} (this {settings.routing.period}), "
        "including those later reassigned or closed: a rep spent time on each"
    )
    return frame, counts


def daily_caps(roster: list[dict[str, Any]], settings: Settings) -> dict[int, int]:
    """Each rep's daily cap, by id: their own (routing.daily_caps), else their team's."""
    routing = settings.routing
    found = {}
    for rep in roster:
        cap = routing.daily_caps.get(rep["external_id"]) or routing.for_team(rep["team"]).daily_cap
        if cap:
            found[rep["id"]] = cap
    return found


def one_pool(session: Session, *, settings: Settings, rules: list[TerritoryRule] | None = None) -> bool:
    """Whether routing has no territories to go by: no territory rules, no fallback team, and no
    rep covering a territory. Then every active rep is one pool (a new team's first day)."""
    if settings.routing.fallback_team:
        return False
    if rules if rules is not None else territory_rules(session, settings=settings):
        return False
    return not read_rows(session, _ANY_COVER)


_ANY_COVER = select(rep_territories.c.rep_id).limit(1)


def pool_remark(session: Session, *, settings: Settings) -> str | None:
    """Said in `route` and `queue` when every active rep is one pool, so that nobody wonders why
    territories play no part."""
    if not one_pool(session, settings=settings):
        return None
    return "no territory rules, no fallback team and no rep with a territory: every active rep is one pool"


def territory_rules(session: Session, *, settings: Settings) -> list[TerritoryRule]:
    """The territory rules in force: leadflow.toml's when it has any, else those kept on the
    territories themselves (by priority), so that a ledger carries its own map."""
    if settings.routing.territories:
        return settings.routing.territories
    rows = tuple((name, text) for name, text in read_rows(session, _RULES))
    if rows not in _validated:
        found = []
        for name, text in rows:
            rules = json.loads(text)
            try:
                found.append(TerritoryRule.model_validate({**rules, "name": name}))
            except ValidationError as exc:
                raise ConfigError(f"territory {name!r}: its rules {rules} are not valid: {exc}") from exc
        if len(_validated) > 16:
            _validated.clear()
        _validated[rows] = found
    return _validated[rows]


_RULES = (
    select(Territory.name, cast(Territory.rules, Text))
    .where(Territory.rules.is_not(None))
    .order_by(Territory.priority, Territory.id)
)
# The rules kept on the territories, validated, by the text they were read as: each capture
# reads them, and validating them again cost more than the read.
_validated: dict[tuple[tuple[str, str], ...], list[TerritoryRule]] = {}


def exclusion_reason(rep: dict[str, Any], away: dict[int, datetime], exclude: dict[int, str]) -> str | None:
    if rep["id"] in exclude:
        return exclude[rep["id"]]
    if not rep["active"]:
        return "inactive (left or archived)"
    if rep["id"] in away:
        return f"away until {away[rep['id']]:%Y-%m-%d %H:%M}"
    if rep["capacity_left"] <= 0:
        if rep.get("daily_cap") is not None and rep["today"] >= rep["daily_cap"]:
            return f"at the daily cap ({rep['today']} of {rep['daily_cap']} today)"
        return f"at capacity ({rep['used']} of {rep['capacity']} this period)"
    return None


def present(rep: dict[str, Any], away: dict[int, datetime], exclude: dict[int, str]) -> bool:
    """Whether the rep can work leads at all now: active, not away, not excluded (full or not)."""
    return bool(rep["active"]) and rep["id"] not in away and rep["id"] not in exclude
