"""Ratios with honest uncertainty, over counts already aggregated (no database, no I/O).

Every report shows the counts beside the ratio; these functions add the ratio's 95% interval,
test whether reps differ beyond chance, compare what a rep won with what their leads promised,
and flag a rep whose recent ratio fell credibly below their own past or the team's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import chi2, false_discovery_control, norm

from leadflow.stats import Array
from leadflow.stats.intervals import Z95, wilson


def with_ratio(frame: pl.DataFrame, *, won: str = "won", closed: str = "closed") -> pl.DataFrame:
    """Add ``conversion`` = won / closed and its Wilson 95% interval (null where nothing closed)."""
    w = frame[won].cast(pl.Float64).to_numpy()
    n = frame[closed].cast(pl.Float64).to_numpy()
    low, high = wilson(w, n)
    has = n > 0
    return frame.with_columns(
        pl.Series("conversion", np.where(has, w / np.where(has, n, 1), np.nan)).fill_nan(None),
        pl.Series("conversion_low", np.where(has, low, np.nan)).fill_nan(None),
        pl.Series("conversion_high", np.where(has, high, np.nan)).fill_nan(None),
    )


@dataclass(frozen=True)
class Heterogeneity:
    """Whether close rates differ across groups more than chance, and how much of the observed
    spread is binomial noise."""

    statistic: float
    dof: int
    p_value: float
    observed_sd: float  # spread of the groups' ratios (weighted by closed leads)
    noise_sd: float  # the spread binomial noise alone would give with these counts
    real_sd: float  # the spread left once the noise is taken out (0 if noise explains all)

    @property
    def noise_share(self) -> float:
        """Share of the observed variance that chance alone explains (capped at 1)."""
        return 1.0 if self.observed_sd == 0 else min(1.0, (self.noise_sd / self.observed_sd) ** 2)


def heterogeneity(won: Array, closed: Array) -> Heterogeneity:
    """Chi-square test of one common close rate across groups (Pearson, 2 x k), and the split
    of the spread between real differences and noise (method of moments)."""
    won, closed = np.asarray(won, dtype=float), np.asarray(closed, dtype=float)
    has = closed > 0
    won, closed = won[has], closed[has]
    k = won.size
    if k < 2 or closed.sum() == 0:
        return Heterogeneity(0.0, 0, 1.0, 0.0, 0.0, 0.0)
    p = won.sum() / closed.sum()
    if p in (0.0, 1.0):
        return Heterogeneity(0.0, k - 1, 1.0, 0.0, 0.0, 0.0)
    expected_won, expected_lost = closed * p, closed * (1 - p)
    lost = closed - won
    statistic = float(
        np.sum((won - expected_won) ** 2 / expected_won + (lost - expected_lost) ** 2 / expected_lost)
    )
    weights = closed / closed.sum()
    observed = float(np.sum(weights * (won / closed - p) ** 2))
    noise = float(np.sum(weights * p * (1 - p) / closed))
    return Heterogeneity(
        statistic=statistic,
        dof=k - 1,
        p_value=float(chi2.sf(statistic, k - 1)),
        observed_sd=observed**0.5,
        noise_sd=noise**0.5,
        real_sd=max(observed - noise, 0.0) ** 0.5,
    )


def expected_wins(won: Array, expected: Array, variance: Array) -> pl.DataFrame:
    """Actual against expected wins per rep, given the sum (``expected``) and the sum of p(1-p)
    (``variance``) of their closed leads' win probabilities: the difference, its 95% interval
    (normal approximation to the Poisson-binomial), and the ratio actual / expected."""
    won, expected, variance = (np.asarray(a, dtype=float) for a in (won, expected, variance))
    half = Z95 * np.sqrt(variance)
    z = np.divide(won - expected, np.sqrt(variance), out=np.zeros_like(won), where=variance > 0)
    return pl.DataFrame(
        {
            "expected_won": expected,
            "won_minus_expected": won - expected,
            "difference_low": won - expected - half,
            "difference_high": won - expected + half,
            "actual_over_expected": np.divide(
                won, expected, out=np.full_like(won, np.nan), where=expected > 0
            ),
            "z": z,
        }
    ).fill_nan(None)


def lagging(
    recent_won: Array,
    recent_closed: Array,
    past_won: Array,
    past_closed: Array,
    *,
    false_discovery: float = 0.05,
) -> pl.DataFrame:
    """Flag reps whose close rate fell credibly more than the rest of the team's did.

    A rep's change (recent against past) is compared with everyone else's change over the same
    windows, so what moves the whole team (a season, a market, recent leads not having closed
    yet) does not flag anyone and a steadily weak rep is not "lagging". Changes are compared on
    the log-odds scale, where what moves everyone moves a 5% closer and a 30% closer alike (in
    points, a team-wide dip of a quarter would hide a 5% closer's halving). One-sided z-test of
    the difference of differences (empirical logits, half a count added to each cell);
    Benjamini-Hochberg across reps, so that in a team of 30 chance alone rarely flags anyone.
    ``change`` and ``team_change`` are reported in points of close rate, for reading."""
    rw, rn, pw, pn = (np.asarray(a, dtype=float) for a in (recent_won, recent_closed, past_won, past_closed))
    others_rw, others_rn = rw.sum() - rw, rn.sum() - rn
    others_pw, others_pn = pw.sum() - pw, pn.sum() - pn

    def rate(w: Array, n: Array) -> Array:
        return np.divide(w, n, out=np.zeros_like(w), where=n > 0)

    def log_odds(w: Array, n: Array) -> tuple[Array, Array]:
        won, lost = w + 0.5, np.maximum(n - w, 0) + 0.5
        return np.log(won / lost), 1 / won + 1 / lost

    (r, vr), (p, vp) = log_odds(rw, rn), log_odds(pw, pn)
    (tr, vtr), (tp, vtp) = log_odds(others_rw, others_rn), log_odds(others_pw, others_pn)
    change = rate(rw, rn) - rate(pw, pn)
    team_change = rate(others_rw, others_rn) - rate(others_pw, others_pn)
    se = np.sqrt(vr + vp + vtr + vtp)
    testable = (rn > 0) & (pn > 0) & (others_rn > 0) & (others_pn > 0)
    z = np.divide((r - p) - (tr - tp), se, out=np.zeros_like(se), where=testable)
    p_value = np.where(testable, norm.cdf(z), 1.0)
    q = false_discovery_control(p_value) if p_value.size else p_value
    return pl.DataFrame(
        {
            "change": np.where(testable, change, np.nan),
            "team_change": np.where(testable, team_change, np.nan),
            "q_lagging": q,
            "lagging": q < false_discovery,
        }
    ).fill_nan(None)
