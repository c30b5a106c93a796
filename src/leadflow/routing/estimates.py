"""Close rates with their uncertainty: Beta-Binomial per rep, shrunk toward the team.

A rep with 2 wins out of 2 has not shown a 100% close rate; a rep with 200 of 400 has shown
about 50%. The prior is a Beta fitted to the team's reps by the method of moments (how much
close rates really differ between reps); each rep's posterior is Beta(prior + wins, prior +
losses). Few closed leads leave a rep near the team's rate with a wide interval, and a rep whose
interval is still wide gets an exploration share until it narrows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import beta as beta_dist

Array = np.ndarray[Any, Any]


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
        low=beta_dist.ppf(tail, a, b),
        high=beta_dist.ppf(1 - tail, a, b),
        prior=prior,
        level=level,
    )
