"""A company fitted to this ledger's own history, to try routing policies on before one goes live.

The synthetic company of ``leadflow demo`` has a known truth; an imported ledger does not. Here
the truth is estimated from what the ledger holds, and the forward simulation plays it out:

- each lead's chance of closing on its own: its win probability from the scoring model (made
  without knowing the rep), else the ledger's close rate;
- each rep's effect on that chance: the shift in log-odds that best explains their closed leads
  given those leads' own chances, pulled toward zero by a normal prior (a rep with few closed
  leads is taken to be average), so a rep is not credited for the leads they happened to get;
- each rep's first-touch speed (diligence) from their median hours to first touch and their load,
  in the same model the demo draws from, and the share of leads never worked;
- capacity as configured, else the most leads the rep was issued in a month;
- the stream: the distributed leads of the ledger's last month, in their territories.

The intervals of the simulation cover the draws of outcomes from these estimates, not the
estimates' own uncertainty: the figures say what the ledger's history implies, no more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadflow.analytics.query.filters import home_territories, latest_date, month_of
from leadflow.db import read_frame
from leadflow.models import Lead, Rep, RepLoad, Territory
from leadflow.simulate.backward import TooLittleHistory
from leadflow.simulate.company import Company, CompanySpec
from leadflow.simulate.truth import load_factor, touch_effect_of
from leadflow.stats import Array
from leadflow.stats.links import expit, logit

STREAM_DAYS = 31  # the last month, as forward.stream_of takes it
MIN_CLOSED = 50  # closed leads below which no rep effect or base rate means anything
MEDIAN_DELAY_AT_FULL_LOAD = 3.0  # hours: the demo's first-touch model, delay = 3 x load / diligence


def rep_effects(
    lead_logit: Array, won: Array, owner: Array, n_reps: int, *, prior_sd: float = 0.5, iterations: int = 25
) -> Array:
    """Each rep's shift in log-odds over their closed leads' own chances (maximum a posteriori
    under a normal prior with ``prior_sd``), by Newton's method, all reps at once."""
    effect = np.zeros(n_reps)
    precision = 1.0 / prior_sd**2
    for _ in range(iterations):
        p = expit(lead_logit + effect[owner])
        gradient = np.bincount(owner, weights=won - p, minlength=n_reps) - precision * effect
        curvature = np.bincount(owner, weights=p * (1 - p), minlength=n_reps) + precision
        step = gradient / curvature
        effect += step
        if np.max(np.abs(step)) < 1e-9:
            break
    return effect


def fit_company(session: Session, *, as_of: datetime | None = None) -> Company:
    """The distributed leads of the ledger's last month (to ``as_of``, its latest date by
    default), and reps whose skill, speed and capacity are estimated from the history before them
    (see the module's docstring)."""
    as_of = as_of or latest_date(session)
    end = datetime.combine(as_of.date() + timedelta(days=1), datetime.min.time())
    start = end - timedelta(days=STREAM_DAYS)  # the stream as forward.stream_of takes it
    reps = read_frame(
        session,
        select(Rep.id, Rep.external_id, Rep.name, Rep.capacity).where(Rep.active.is_(True)).order_by(Rep.id),
    )
    home = home_territories(session)
    reps = reps.with_columns(
        pl.col("id").replace_strict(home, default=None, return_dtype=pl.String).alias("territory")
    ).filter(pl.col("territory").is_not_null())
    if reps.is_empty():
        raise TooLittleHistory("no active rep covers a territory: there is nobody to route to")
    index = {rep_id: i for i, rep_id in enumerate(reps["id"].to_list())}
    leads = read_frame(
        session,
        select(
            Lead.owner_id,
            Territory.name.label("lead_territory"),
            Lead.created_at,
            Lead.assigned_at,
            Lead.first_touch_at,
            Lead.stage,
            Lead.self_sourced,
            Lead.amount,
            Lead.win_probability,
        )
        .outerjoin(Territory, Territory.id == Lead.territory_id)
        .where(Lead.created_at.is_not(None), Lead.created_at <= as_of)
        # the stream in creation order, whatever order the database happens to read it in: the
        # simulation draws for each lead in turn, so the same ledger fits the same company
        .order_by(Lead.created_at, Lead.id),
    )
    covered = set(reps["territory"].to_list())
    leads = leads.with_columns(
        pl.col("owner_id").replace_strict(index, default=None, return_dtype=pl.Int64).alias("owner"),
        pl.when(pl.col("lead_territory").is_in(covered))
        .then("lead_territory")
        .otherwise(pl.col("owner_id").replace_strict(home, default=None, return_dtype=pl.String))
        .alias("territory"),
    )
    history = leads.filter(pl.col("created_at") < start)
    closed = history.filter(pl.col("stage").is_in(["won", "lost"]) & pl.col("owner").is_not_null())
    if closed.height < MIN_CLOSED:
        raise TooLittleHistory(
            f"{closed.height} leads owned by an active rep closed before {start:%Y-%m-%d}; a fitted "
            f"company needs at least {MIN_CLOSED}"
        )
    base_rate = float((closed["stage"] == "won").mean())  # type: ignore[arg-type]
    # a lead's own chance: its win probability, else the ledger's close rate (never 0 or 1)
    own_chance = pl.col("win_probability").fill_null(base_rate).clip(1e-4, 1 - 1e-4)
    skill = rep_effects(
        logit(closed.select(own_chance).to_series().to_numpy()),
        (closed["stage"] == "won").to_numpy().astype(float),
        closed["owner"].to_numpy(),
        reps.height,
    )
    capacity = _capacity(session, reps, start)
    diligence, never_worked, touch_effect = _speed(history, reps.height, capacity)
    stream = leads.filter(
        (pl.col("created_at") >= start) & ~pl.col("self_sourced") & pl.col("territory").is_in(covered)
    )
    if stream.is_empty():
        raise TooLittleHistory(
            f"no distributed lead in a covered territory was created in the {STREAM_DAYS} days "
            f"to {as_of:%Y-%m-%d}"
        )
    mean_amount = closed.filter(pl.col("stage") == "won")["amount"].mean()
    ledger = pl.concat([history, stream]).with_columns(pl.col("amount").fill_null(mean_amount))
    chance = ledger.select(own_chance).to_series().to_numpy()
    # A lead's win probability is an average over how leads were worked (some never, most late);
    # the simulation works each lead itself, so that average is taken out of the lead's own odds.
    own = logit(np.clip(chance / max(1.0 - never_worked, 1e-3), 1e-4, 1 - 1e-4)) - touch_effect
    fitted_reps = reps.select(
        "external_id",
        "name",
        "territory",
        pl.Series("capacity", capacity),
        pl.Series("skill", skill),
        pl.Series("diligence", diligence),
        pl.lit(False).alias("laggard"),
    )
    spec = CompanySpec(
        n_leads=ledger.height,
        n_reps=reps.height,
        end=end.date(),
        days=STREAM_DAYS,
        n_laggards=0,
        never_worked_share=never_worked,
    )
    return Company(
        spec=spec,
        reps=fitted_reps,
        leads=ledger.select("owner", "territory", "created_at", "stage", "self_sourced", "amount"),
        activities=pl.DataFrame(),
        stages=pl.DataFrame(),
        truth={"lead_logit": own, "p_lead": chance},
    )


def _capacity(session: Session, reps: pl.DataFrame, start: datetime) -> Array:
    """Configured capacity, else the most leads the rep was issued in one month before ``start``."""
    month = month_of(session, RepLoad.day)
    monthly = session.execute(
        select(RepLoad.rep_id, month, func.sum(RepLoad.issued))
        .where(RepLoad.day < start.date())
        .group_by(RepLoad.rep_id, month)
    ).all()
    busiest: dict[int, int] = {}
    for rep_id, _, issued in monthly:
        busiest[rep_id] = max(busiest.get(rep_id, 0), int(issued))
    configured = reps["capacity"].to_list()
    return np.array(
        [
            c if c else max(busiest.get(r, 0), 1)
            for r, c in zip(reps["id"].to_list(), configured, strict=True)
        ],
        dtype=np.int64,
    )


def _speed(history: pl.DataFrame, n_reps: int, capacity: Array) -> tuple[Array, float, float]:
    """Each rep's diligence from their median hours to first touch at their load, the share of
    distributed leads never worked (of those assigned over a week before the history ends), and
    the mean effect of first-touch delay on the log-odds of a win."""
    assigned = history.filter(
        pl.col("owner").is_not_null() & ~pl.col("self_sourced") & pl.col("assigned_at").is_not_null()
    )
    if assigned.is_empty():
        return np.ones(n_reps), 0.0, 0.0
    first, last = cast(datetime, assigned["assigned_at"].min()), cast(datetime, assigned["assigned_at"].max())
    months = max((last - first).total_seconds() / 86_400 / 30.4, 1.0)
    per_month = np.bincount(assigned["owner"].to_numpy(), minlength=n_reps) / months
    overload = load_factor(per_month, capacity)
    hours_to_touch = (assigned["first_touch_at"] - assigned["assigned_at"]).dt.total_seconds() / 3600
    hours = (
        assigned.with_columns(hours_to_touch.alias("hours"))
        .drop_nulls("hours")
        .group_by("owner")
        .agg(pl.col("hours").median())
    )
    median = np.full(n_reps, np.nan)
    median[hours["owner"].to_numpy()] = hours["hours"].to_numpy()
    diligence = np.where(
        np.isfinite(median) & (median > 0), MEDIAN_DELAY_AT_FULL_LOAD * overload / median, 1.0
    )
    settled = assigned.filter(pl.col("assigned_at") < last - timedelta(days=7))
    never = float(settled["first_touch_at"].is_null().mean()) if settled.height else 0.0  # type: ignore[arg-type]
    delays = hours_to_touch.drop_nulls().to_numpy()
    return diligence, never, float(touch_effect_of(delays).mean()) if delays.size else 0.0
