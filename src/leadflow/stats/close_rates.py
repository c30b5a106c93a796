"""Close rates with their uncertainty: Beta-Binomial per rep, shrunk toward the team.

A rep with 2 wins out of 2 has not shown a 100% close rate; a rep with 200 of 400 has shown
about 50%. The prior is a Beta fitted to the team's reps by the method of moments (how much
close rates really differ between reps); each rep's posterior is Beta(prior + wins, prior +
losses). Few closed leads leave a rep near the team's rate with a wide interval, and a rep whose
interval is still wide gets an exploration share until it narrows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv  # the Beta quantile: scipy.stats.beta.ppf without its checks

from leadflow.stats import Array
from leadflow.stats.links import expit, logit


@dataclass(frozen=True)
class Prior:
    """Beta(alpha, beta): the team's close rate and how strongly it pulls a single rep."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def strength(self) -> float:
        """How many closed leads the prior is worth."""
        return self.alpha + self.beta


def team_prior(
    won: Array, closed: Array, *, min_strength: float = 2.0, max_strength: float = 1000.0
) -> Prior:
    """Fit Beta(alpha, beta) to the reps' close rates by the method of moments.

    The spread of observed rates minus the spread binomial noise alone would give is the real
    spread between reps; the smaller it is, the stronger the pull toward the team rate.
    """
    won, closed = np.asarray(won, dtype=float), np.asarray(closed, dtype=float)
    has = closed > 0
    if not has.any():
        return Prior(1.0, 1.0)
    mean = won[has].sum() / closed[has].sum()
    mean = min(max(mean, 1e-6), 1 - 1e-6)
    rates = won[has] / closed[has]
    weights = closed[has] / closed[has].sum()
    observed = float(np.sum(weights * (rates - mean) ** 2))
    noise = float(np.sum(weights * mean * (1 - mean) / closed[has]))
    between = observed - noise
    strength = max_strength if between <= 0 else mean * (1 - mean) / between - 1
    strength = float(np.clip(strength, min_strength, max_strength))
    return Prior(mean * strength, (1 - mean) * strength)


@dataclass(frozen=True)
class CloseRates:
    """Posterior close rate of each rep: mean and credible interval, and the prior used."""

    mean: Array
    low: Array
    high: Array
    prior: Prior
    level: float

    def exploring(self, *, max_width: float = 0.2) -> Array:
        """Reps whose interval is still wider than ``max_width``: give them an exploration share."""
        return (self.high - self.low) > max_width


def close_rates(won: Array, closed: Array, *, prior: Prior | None = None, level: float = 0.95) -> CloseRates:
    """Each rep's Beta posterior close rate given wins out of closed leads (and a prior)."""
    won, closed = np.asarray(won, dtype=float), np.asarray(closed, dtype=float)
    if (won < 0).any() or (won > closed).any():
        raise ValueError("wins must be between 0 and the number of closed leads")
    prior = prior or team_prior(won, closed)
    a = prior.alpha + won
    b = prior.beta + closed - won
    tail = (1 - level) / 2
    return CloseRates(
        mean=a / (a + b),
        low=betaincinv(a, b, tail),
        high=betaincinv(a, b, 1 - tail),
        prior=prior,
        level=level,
    )


@dataclass(frozen=True)
class SegmentRates:
    """Each rep's close rate within each segment (rows: segments, columns: reps), shrunk toward
    what the rep's overall rate and the segment's rate together predict, with intervals."""

    mean: Array
    low: Array
    high: Array
    expected: Array  # the rate with no rep x segment interaction: where few closed leads leave a cell
    segment_rate: Array
    strength: float  # how many closed leads the pull toward ``expected`` is worth

    def effect(self) -> Array:
        """Log-odds a rep adds to a lead of each segment over the segment's own rate."""
        return logit(self.mean) - logit(self.segment_rate)[:, None]


def segment_rates(
    won: Array,
    closed: Array,
    *,
    rep_rate: Array,
    min_strength: float = 2.0,
    max_strength: float = 1000.0,
    level: float = 0.95,
) -> SegmentRates:
    """Close rate per (segment, rep) from wins out of closed leads in each cell.

    With no interaction a rep's rate in a segment is their overall rate (``rep_rate``, already
    shrunk toward the team) shifted by how much the segment's rate differs from everyone's:
    ``expected``. Each cell's posterior is Beta(k * expected + wins, k * (1 - expected) +
    losses), where k is fitted by the method of moments: the more the cells' observed rates
    differ from ``expected`` beyond binomial noise, the weaker the pull. A rep who really closes
    one industry better than their average earns leads of that industry only once enough of
    them have closed.
    """
    won, closed = np.asarray(won, dtype=float), np.asarray(closed, dtype=float)
    rep_rate = np.asarray(rep_rate, dtype=float)
    if won.shape != closed.shape or won.shape[1] != rep_rate.size:
        raise ValueError("won and closed must be (segments, reps) with one rate per rep")
    if (won < 0).any() or (won > closed).any():
        raise ValueError("wins must be between 0 and the number of closed leads")
    total_won, total_closed = won.sum(), closed.sum()
    overall = total_won / total_closed if total_closed else float(np.mean(rep_rate))
    seg_closed = closed.sum(axis=1)
    # a segment's rate, too, is shrunk toward everyone's (by the team prior's weight of 10 leads)
    segment_rate = (won.sum(axis=1) + 10 * overall) / (seg_closed + 10)
    expected = expit(logit(rep_rate)[None, :] + logit(segment_rate)[:, None] - logit(np.array(overall)))
    has = closed > 0
    strength = max_strength
    if has.any():
        rates, m, n = won[has] / closed[has], expected[has], closed[has]
        weights = n / n.sum()
        between = float(np.sum(weights * (rates - m) ** 2)) - float(np.sum(weights * m * (1 - m) / n))
        if between > 0:
            strength = float(
                np.clip(float(np.sum(weights * m * (1 - m))) / between - 1, min_strength, max_strength)
            )
    a = strength * expected + won
    b = strength * (1 - expected) + closed - won
    tail = (1 - level) / 2
    return SegmentRates(
        mean=a / (a + b),
        low=betaincinv(a, b, tail),
        high=betaincinv(a, b, 1 - tail),
        expected=expected,
        segment_rate=segment_rate,
        strength=strength,
    )
