"""Score leads in bulk and explain one lead's score; the fit numbers come from fit.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from leadflow.db import bulk_update, driver_rows, read_frame, read_rows
from leadflow.errors import LeadflowError
from leadflow.models import CLOSED_STAGES, Activity, Lead, ScoreModel, Source, utcnow
from leadflow.scoring.evaluate import (
    lift_by_decile,
    maturity_horizon_days,
    outcome_labels,
    reliability,
    source_baseline,
    summary,
)
from leadflow.scoring.fit import (
    check_profile,
    engagement,
    factors,
    fit_breakdown,
    fit_points,
    grade,
)
from leadflow.scoring.learned_from import learned_from
from leadflow.scoring.model import CATEGORICAL, MISSING, NUMERIC, WinModel, feature_columns, feature_frame
from leadflow.scoring.storage import UntrustedModel, dump_model, load_model
from leadflow.settings import Settings

# Lead attributes a profile criterion may name (plus extra.NAME).
ATTRIBUTES = [
    "title",
    "company",
    "industry",
    "company_size",
    "annual_revenue",
    "country",
    "region",
    "city",
    "lead_type",
    "budget",
    "authority",
    "need",
    "timeline",
    "self_sourced",
]

# the attributes a win probability learns from (scoring.model's features)
LEARNED_ATTRIBUTES = [a for a in ATTRIBUTES if a in CATEGORICAL or a in NUMERIC]

log = logging.getLogger("leadflow.scoring")


def score_frame(leads: pl.DataFrame, settings: Settings, model: Trained | None = None) -> pl.DataFrame:
    """``id``, ``fit_score``, ``grade``, ``win_probability`` and ``score_model_id`` for leads given
    as a frame (attributes, ``source``, ``extra`` as JSON text, ``engagement`` where known).
    Without a trained model the probability stays empty and the fit score stands alone."""
    check_profile(settings.profile, [*leads.columns, "source"])
    _, _, fit = fit_points(leads, settings.profile)
    scores = [
        leads.get_column("id"),
        pl.Series("fit_score", fit, dtype=pl.Float64),
        pl.Series("grade", grade(fit, settings.grades), pl.String),
    ]
    if model is None:
        return pl.DataFrame(
            [
                *scores,
                pl.Series("win_probability", [None] * leads.height, dtype=pl.Float64),
                pl.Series("score_model_id", [None] * leads.height, dtype=pl.Int64),
            ]
        )
    expected = (list(model.estimator.categorical or []), list(model.estimator.numeric or []))
    features, _, _ = feature_columns(leads, model.extra_keys, expected)
    return pl.DataFrame(
        [
            *scores,
            pl.Series("win_probability", model.estimator.predict_proba(features)[:, 1].round(4)),
            pl.Series("score_model_id", [model.id] * leads.height, dtype=pl.Int64),
        ]
    )


def _lead_frame(
    session: Session,
    lead_ids: list[int] | None,
    *,
    attributes: list[str] = ATTRIBUTES,
    where: list[ColumnElement[bool]] | None = None,
) -> pl.DataFrame:
    query = (
        select(
            Lead.id,
            *[getattr(Lead, a) for a in attributes],
            Source.name.label("source"),
            cast(Lead.extra, Text).label("extra"),
            Lead.created_at,
            Lead.stage,
            Lead.won_at,
        )
        .outerjoin(Source, Lead.source_id == Source.id)
        .order_by(Lead.id)
    )
    if lead_ids is not None:
        query = query.where(Lead.id.in_(lead_ids))
    return read_frame(session, query.where(*(where or [])))


def _engagement(
    session: Session, lead_ids: list[int] | None, settings: Settings, now: datetime
) -> pl.DataFrame:
    query = select(Activity.lead_id, Activity.at, Activity.outcome).where(
        Activity.outcome.in_(settings.profile.behaviour.positive_outcomes)
    )
    if lead_ids is not None:
        query = query.where(Activity.lead_id.in_(lead_ids))
    return engagement(read_frame(session, query), settings.profile.behaviour, now=now)


def _with_engagement(
    session: Session, leads: pl.DataFrame, settings: Settings, now: datetime, ids: list[int] | None
) -> pl.DataFrame:
    engaged = _engagement(session, ids, settings, now).rename({"lead_id": "id"})
    return leads.join(engaged, on="id", how="left", maintain_order="left")


def score_leads(
    session: Session,
    *,
    settings: Settings,
    lead_ids: list[int] | None = None,
    include_closed: bool = False,
    now: datetime | None = None,
) -> int:
    """Recompute the fit score and grade of every open lead (or all, or the given ones); how many."""
    now = now or utcnow()
    model = latest_model(session)
    total = 0
    chunks = (
        [lead_ids[i : i + 5000] for i in range(0, len(lead_ids), 5000)] if lead_ids is not None else [None]
    )
    for chunk in chunks:
        open_only = chunk is None and not include_closed
        leads = _lead_frame(session, chunk, where=[Lead.stage.not_in(CLOSED_STAGES)] if open_only else [])
        if leads.is_empty():
            continue
        scored = score_frame(_with_engagement(session, leads, settings, now, chunk), settings, model)
        columns = ["fit_score", "grade", "win_probability", "score_model_id"]
        bulk_update(session, "leads", columns, driver_rows(session, scored.select(*columns, "id")))
        total += scored.height
    return total


@dataclass(frozen=True)
class Explanation:
    """Why a lead scores as it does: fit points per criterion, the model's probability and its
    log-odds contributions per attribute, and the top factors for and against from both."""

    fit_score: float
    grade: str
    points: dict[str, float]
    win_probability: float | None
    score_model_id: int | None
    contributions: dict[str, float]
    for_: list[str]
    against: list[str]


def explain_lead(
    session: Session, *, lead_id: int, settings: Settings, now: datetime | None = None
) -> Explanation:
    """Explain one lead's fit score and, when a model is trained, its win probability."""
    now = now or utcnow()
    leads = _with_engagement(session, _lead_frame(session, [lead_id]), settings, now, [lead_id])
    check_profile(settings.profile, [*leads.columns, "source"])
    breakdown = fit_breakdown(leads, settings.profile).row(0, named=True)
    score = float(breakdown.pop("fit_score"))
    breakdown.pop("id")
    for_, against = factors(breakdown, settings.profile)
    letter = grade(np.array([score]), settings.grades)[0]
    assert letter is not None, "a fit score is a number, and every number has a grade"
    model = latest_model(session)
    probability, contributions = None, {}
    if model is not None:
        expected = (list(model.estimator.categorical or []), list(model.estimator.numeric or []))
        features, _, _ = feature_frame(leads, model.extra_keys, expected)
        probability = float(model.estimator.predict_proba(features)[0, 1])
        values = model.estimator.contributions(features)[0]
        contributions = {
            name: round(float(v), 3) for name, v in zip(model.estimator.features_, values, strict=True)
        }
        shown = features.row(0, named=True)
        ranked = sorted(contributions.items(), key=lambda kv: kv[1])
        for_ += [f"{k} = {shown[k]} (model {v:+.2f} log-odds)" for k, v in reversed(ranked[-3:]) if v > 0.05]
        against += [f"{k} = {shown[k]} (model {v:+.2f} log-odds)" for k, v in ranked[:3] if v < -0.05]
    return Explanation(
        fit_score=score,
        grade=letter,
        points=breakdown,
        win_probability=probability,
        score_model_id=model.id if model else None,
        contributions=contributions,
        for_=for_,
        against=against,
    )


def grade_counts(session: Session) -> pl.DataFrame:
    """How many open leads have each grade (and none yet), with their mean fit score."""
    rows = session.execute(
        select(Lead.grade, func.count(), func.avg(Lead.fit_score))
        .where(Lead.stage.not_in(CLOSED_STAGES))
        .group_by(Lead.grade)
        .order_by(Lead.grade)
    ).all()
    return pl.DataFrame(
        [(g or "none", n, round(float(m), 1) if m is not None else None) for g, n, m in rows],
        schema={"grade": pl.String, "leads": pl.Int64, "mean_fit": pl.Float64},
        orient="row",
    )


class NotEnoughHistory(LeadflowError):
    """Too few leads with a known outcome to learn a win probability honestly."""


@dataclass(frozen=True)
class Trained:
    """A stored model ready to predict: its row id, the estimator, and the extra attributes it uses."""

    id: int
    estimator: WinModel
    extra_keys: list[str]


@dataclass
class TrainResult:
    """What training found: holdout metrics of the model and of the source baseline, and tables."""

    model_id: int
    horizon_days: float
    window: tuple[datetime, datetime]
    n_train: int
    n_test: int
    features: list[str]
    metrics: dict[str, dict[str, float]]
    reliability: pl.DataFrame
    lift: pl.DataFrame
    holdout_ids: list[int]


MIN_LABELLED = 200


def usual_time_to_close(session: Session) -> float:
    """Days from creation within which most won leads were won (``maturity_horizon_days``): a
    cohort younger than this has shown only its quick outcomes."""
    won = read_frame(
        session,
        select(Lead.created_at, Lead.won_at).where(
            Lead.stage == "won", Lead.won_at.is_not(None), Lead.created_at.is_not(None)
        ),
    )
    days = ((won["won_at"] - won["created_at"]).dt.total_seconds() / 86_400).to_numpy()
    return maturity_horizon_days(days)


def labelled_leads(session: Session, *, now: datetime | None = None) -> tuple[pl.DataFrame, float, datetime]:
    """Leads whose outcome is known and fair to learn from (``label`` 1 won, 0 not), oldest first,
    with the usual time to close in days and the date they are judged at."""
    # The ledger's own present: its latest event. For an imported export that is the export's date,
    # not today's, so deals still open when it was taken are not mistaken for lost ones.
    latest = session.scalar(select(func.max(func.coalesce(Lead.won_at, Lead.lost_at, Lead.created_at))))
    now = now or min(utcnow(), latest or utcnow())
    horizon = usual_time_to_close(session)
    # Only leads that can carry a label, with only what the model learns from: a day's margin on
    # the maturity line, which outcome_labels then draws exactly.
    leads = _lead_frame(
        session,
        None,
        attributes=LEARNED_ATTRIBUTES,
        where=[
            Lead.stage.in_(CLOSED_STAGES),
            Lead.created_at <= now - timedelta(days=horizon - 1),
        ],
    )
    labelled = (
        leads.with_columns(outcome_labels(leads, as_of=now, horizon_days=horizon))
        .drop_nulls("label")
        .sort("created_at", "id")
    )
    return labelled, horizon, now


def train_model(
    session: Session,
    *,
    now: datetime | None = None,
    test_share: float = 0.25,
    min_labelled: int = MIN_LABELLED,
) -> TrainResult:
    """Learn P(win) from leads whose outcome is known; evaluate on the newest ones; store it.

    The holdout is the newest ``test_share`` of those leads (train on older, test on newer). The
    stored model is then refitted on all of them; its metrics are the holdout's.
    """
    labelled, horizon, now = labelled_leads(session, now=now)
    wins = int(labelled["label"].sum()) if labelled.height else 0
    if labelled.height < min_labelled or wins == 0 or wins == labelled.height:
        raise NotEnoughHistory(
            f"{labelled.height} leads older than the usual time to close ({horizon:.0f} days) have a known "
            f"outcome, {wins} of them won; a win probability needs at least {min_labelled} with wins and "
            "losses. Leads keep their fit score until then."
        )
    cut = int(labelled.height * (1 - test_share))
    train, test = labelled[:cut], labelled[cut:]
    x_train, categorical, numeric = feature_frame(train)
    extra_keys = [c.removeprefix("extra.") for c in categorical if c.startswith("extra.")]
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    holdout = WinModel(categorical=categorical, numeric=numeric).fit(x_train, y_train)
    p_test = holdout.predict_proba(feature_frame(test, extra_keys, (categorical, numeric))[0])[:, 1]
    p_base = source_baseline(
        train["source"].fill_null(MISSING).to_numpy(), y_train, test["source"].fill_null(MISSING).to_numpy()
    )
    metrics = {"model": summary(y_test, p_test), "baseline": summary(y_test, p_base)}
    final = WinModel(categorical=categorical, numeric=numeric).fit(
        feature_frame(labelled, extra_keys, (categorical, numeric))[0], labelled["label"].to_numpy()
    )
    window = (labelled["created_at"].min(), labelled["created_at"].max())
    row = ScoreModel(
        trained_at=now,
        kind="logistic",
        features={"categorical": categorical, "numeric": numeric, "extra_keys": extra_keys},
        window_start=window[0],
        window_end=window[1],
        horizon_days=horizon,
        n_train=train.height,
        n_test=test.height,
        metrics=metrics,
        blob=dump_model(final),
        learned_from=learned_from(labelled),
    )
    session.add(row)
    session.flush()
    return TrainResult(
        model_id=row.id,
        horizon_days=horizon,
        window=window,  # type: ignore[arg-type]
        n_train=train.height,
        n_test=test.height,
        features=categorical + numeric,
        metrics=metrics,
        reliability=reliability(y_test, p_test),
        lift=lift_by_decile(y_test, p_test),
        holdout_ids=test["id"].to_list(),
    )


# Trained models by (database, model id): a model row never changes once written, so a process
# loads each one once instead of on every capture.
_loaded: dict[tuple[str, int, datetime], Trained] = {}


_NEWEST = select(ScoreModel.id, ScoreModel.trained_at).order_by(ScoreModel.id.desc()).limit(1)


def latest_model(session: Session) -> Trained | None:
    """The newest trained model, or None before the first training."""
    found = read_rows(session, _NEWEST)
    if not found:
        return None
    newest = found[0]
    key = (str(session.get_bind().engine.url), int(newest[0]), newest[1])
    if key not in _loaded:
        row = session.get(ScoreModel, newest[0])
        assert row is not None
        try:
            estimator = load_model(row.blob)
        except UntrustedModel as exc:
            log.warning("model %s not loaded: %s", row.id, exc)
            return None
        _loaded[key] = Trained(
            id=row.id, estimator=estimator, extra_keys=list(row.features.get("extra_keys", []))
        )
    return _loaded[key]
