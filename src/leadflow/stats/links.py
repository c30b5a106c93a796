"""The logit link and its inverse, from scipy.special, with the one clip that keeps log-odds finite."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.special import logit as _logit

from leadflow.stats import Array

EPSILON = 1e-6
"""Probabilities are clipped to [EPSILON, 1 - EPSILON] before the logit, so a certain 0 or 1 has
finite log-odds (about ±13.8)."""


def logit(p: Array) -> Array:
    """Log-odds of probabilities ``p`` (any shape), clipped to stay finite."""
    return np.asarray(_logit(np.clip(np.asarray(p, dtype=float), EPSILON, 1 - EPSILON)))


__all__ = ["EPSILON", "expit", "logit"]
