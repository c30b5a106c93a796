"""Who sells what, learned: against a known truth of rep x industry effects, with intervals that
cover it, shrinkage chosen on time, and nothing learned where there is nothing to learn."""

from __future__ import annotations

import numpy as np

from leadflow.routing.affinity import RepAffinity
from leadflow.stats.links import expit

INDUSTRIES = np.array(["software", "retail", "finance", "health"], dtype=object)


def world(
    effects: np.ndarray, n: int = 40_000, seed: int = 0
) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    industry = rng.integers(0, INDUSTRIES.size, n)
    region = rng.choice(np.array(["north", "south"], dtype=object), n)  # an attribute that does not matter
    rep = rng.integers(0, effects.shape[0], n)
    offset = rng.normal(-1.5, 0.8, n)
    won = rng.random(n) < expit(offset + effects[rep, industry])
    return {"industry": INDUSTRIES[industry], "region": region}, rep, won, offset


def test_recovers_rep_by_industry_effects_with_covering_intervals() -> None:
    truth = np.random.default_rng(1).normal(0, 0.5, (6, INDUSTRIES.size))
    attributes, rep, won, offset = world(truth)
    model = RepAffinity(recent_share=0).fit(attributes, rep, won, n_reps=6, offset=offset)
    values, estimate, low, high = model.segment_effects("industry")
    expected = truth[:, [list(INDUSTRIES).index(v) for v in values]]
    assert np.corrcoef(estimate.ravel(), expected.ravel())[0, 1] > 0.9
    assert np.mean((low <= expected) & (expected <= high)) >= 0.85  # 95% intervals, 24 cells
    effect = model.rep_effect(
        {"industry": np.array(["finance", "unheard of"]), "region": np.array(["north", None])}
    )
    assert effect.shape == (2, 6)
    # a value never seen gets each rep's overall effect; the best rep for finance is the truth's
    assert np.argmax(effect[0]) == np.argmax(truth[:, list(INDUSTRIES).index("finance")])


def test_nothing_to_learn_shrinks_to_nothing() -> None:
    attributes, rep, won, offset = world(np.zeros((6, INDUSTRIES.size)), n=20_000, seed=2)
    model = RepAffinity(recent_share=0).fit(attributes, rep, won, n_reps=6, offset=offset)
    assert model.strength_ >= 30  # the holdout prefers strong shrinkage
    assert np.abs(model.rep_effect(attributes)).max() < 0.15


def test_a_rep_who_slumped_lately_is_seen_as_they_are_now() -> None:
    rng = np.random.default_rng(3)
    n = 30_000
    rep = rng.integers(0, 4, n)
    order = np.arange(n)
    slump = (rep == 2) & (order >= 0.8 * n)  # rep 2 fell off in the latest fifth
    won = rng.random(n) < expit(-1.2 - 1.2 * slump)
    attributes = {"industry": INDUSTRIES[rng.integers(0, 4, n)]}
    now = (
        RepAffinity()
        .fit(attributes, rep, won, n_reps=4, order=order)
        .rep_effect({"industry": INDUSTRIES[:1]})
    )
    blind = RepAffinity(recent_share=0).fit(attributes, rep, won, n_reps=4, order=order)
    assert np.argmin(now[0]) == 2 and now[0, 2] < blind.rep_effect({"industry": INDUSTRIES[:1]})[0, 2] - 0.3
