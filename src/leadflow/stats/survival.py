"""Time to close with competing outcomes: the Aalen-Johansen estimator over counted times.

A lead that is still open has not failed to close: it is censored (we know only that it has
not closed yet). A lost lead can never be won: loss is a competing outcome, not censoring
(Kaplan-Meier on wins alone would overstate how many ever close). The cumulative incidence of
a win by time t is the sum over event times s <= t of S(s-) * won(s) / at_risk(s), where S is
the probability of no outcome at all yet. At tied times, outcomes come before censoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadflow.stats import Array


@dataclass(frozen=True)
class Incidence:
    """Cumulative incidence of winning and losing at each distinct time, with who was at risk."""

    time: Array
    won: Array
    lost: Array
    at_risk: Array
    follow_up: float  # the longest time anyone was observed (infinite if no lead is still open)

    def at(self, horizons: Array) -> tuple[Array, Array]:
        """The incidence of winning and losing at each horizon (NaN beyond the follow-up)."""
        horizons = np.asarray(horizons, dtype=float)
        index = np.searchsorted(self.time, horizons, side="right") - 1
        won = np.where(index >= 0, self.won[np.maximum(index, 0)], 0.0)
        lost = np.where(index >= 0, self.lost[np.maximum(index, 0)], 0.0)
        beyond = horizons > self.follow_up
        return np.where(beyond, np.nan, won), np.where(beyond, np.nan, lost)


def aalen_johansen(time: Array, won: Array, lost: Array, censored: Array) -> Incidence:
    """Cumulative incidence of won and lost from counts at each time (times need not be sorted
    or distinct; counts may be fractional weights)."""
    time = np.asarray(time, dtype=float)
    counts = np.column_stack([np.asarray(a, dtype=float) for a in (won, lost, censored)])
    if time.size == 0 or counts.sum() == 0:
        empty = np.zeros(0)
        return Incidence(empty, empty, empty, empty, 0.0)
    distinct, inverse = np.unique(time, return_inverse=True)
    totals = np.zeros((distinct.size, 3))
    np.add.at(totals, inverse.reshape(-1), counts)
    d_won, d_lost = totals[:, 0], totals[:, 1]
    removed = totals.sum(axis=1)
    at_risk = removed.sum() - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    events = d_won + d_lost
    hazard = np.divide(events, at_risk, out=np.zeros_like(events), where=at_risk > 0)
    survival = np.cumprod(1 - hazard)
    before = np.concatenate([[1.0], survival[:-1]])
    cif_won = np.cumsum(before * np.divide(d_won, at_risk, out=np.zeros_like(d_won), where=at_risk > 0))
    cif_lost = np.cumsum(before * np.divide(d_lost, at_risk, out=np.zeros_like(d_lost), where=at_risk > 0))
    # with nobody censored every lead's outcome is known: the curves are final at any horizon
    follow_up = float(distinct[-1]) if totals[:, 2].sum() > 0 else float("inf")
    return Incidence(distinct, cif_won, cif_lost, at_risk, follow_up)
