"""`leadflow score`: rescore leads, and with --train learn the win probability first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from leadflow.cli.common import console, render, reported, state

if TYPE_CHECKING:
    from leadflow.scoring.service import TrainResult


def register(app: typer.Typer) -> None:
    """The score command."""
    app.command()(score)


def score(
    train: Annotated[
        bool, typer.Option("--train", help="First learn the win probability from closed leads.")
    ] = False,
    all_leads: Annotated[
        bool, typer.Option("--all", help="Also rescore won, lost and disqualified leads.")
    ] = False,
) -> None:
    """Rescore open leads in bulk: fit to the profile, grade, and the learned win probability.

    With --train, first learn P(win) from leads whose outcome is known and print how well it
    does on the newest of them against the simplest baseline (win rate by source).
    New leads are scored as they are captured; run this after changing the profile.
    Example: leadflow score --train
    """
    from leadflow.db import session_scope, write_cache
    from leadflow.scoring.service import NotEnoughHistory, grade_counts, score_leads, train_model

    settings = state.settings()
    engine = state.engine()
    with write_cache(engine), session_scope(engine, write=True) as session:
        if train:
            try:
                result = train_model(session)
            except NotEnoughHistory as exc:
                console.print(f"[yellow]no model trained:[/yellow] {exc}", highlight=False)
            else:
                print_training(result)
        with reported():
            count = score_leads(session, settings=settings, include_closed=all_leads)
        grades = grade_counts(session)
    console.print(f"scored {count:,} leads")
    render(grades, "table", title="open leads by grade")


def print_training(result: TrainResult) -> None:
    """The trained model's window and its holdout metrics against the baseline."""
    start, end = result.window
    console.print(
        f"model {result.model_id}: trained on {result.n_train:,} leads created "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d} "
        f"(older than {result.horizon_days:.0f} days, the usual time to close), tested on the newest "
        f"{result.n_test:,}",
        highlight=False,
    )
    rows = [
        (name, m["auc"], m["brier"], m["calibration_error"], m["base_rate"])
        for name, m in (
            ("model", result.metrics["model"]),
            ("baseline: win rate by source", result.metrics["baseline"]),
        )
    ]
    render(
        pl.DataFrame(
            rows, schema=["holdout", "roc_auc", "brier", "calibration_error", "base_rate"], orient="row"
        ).with_columns(pl.col(pl.Float64).round(4)),
        "table",
        title="holdout metrics",
    )
    render(result.reliability.with_columns(pl.col(pl.Float64).round(3)), "table", title="reliability")
    render(result.lift.with_columns(pl.col(pl.Float64).round(3)), "table", title="lift by decile")
