"""Confidence intervals for a share won out of n."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from leadflow.stats import Array

Z95 = float(norm.ppf(0.975))


def wilson(won: Array, n: Array, z: float = Z95) -> tuple[Array, Array]:
    """Wilson score interval for won / n, element-wise; NaN where n is 0 (no interval).

    Parameters
    ----------
    won, n : arrays of shape (k,)
        Successes and trials per group.

    Returns
    -------
    low, high : arrays of shape (k,)
    """
    n = n.astype(float)
    p = np.divide(won, n, out=np.zeros_like(n), where=n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    # within [0, 1]: at p = 0 or 1 the bound is the point itself, which rounding can push past it
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
