"""Who sells what: P(win | lead, rep) with each rep's effect on each kind of lead, learned.

A lead's log-odds of being won are its own (``offset``: logit of the scoring model's P(win), what
the lead brings whoever works it), plus how each kind of lead fares in general, plus the rep's
overall effect, plus the rep's effect on leads of each value of each attribute (industry, source,
lead type, country, ...), nobody having said which attribute matters:

    logit P(win) = offset + a[attribute value] + b[rep] + d[rep, attribute value]

The effects are shrunk hierarchically, as Gaussian priors in a penalised logistic regression: a
rep's effect in a segment (``b + d``) toward their overall effect (``d`` toward 0), and their
overall effect toward the team's (``b`` toward 0; the offset is the team's). How hard is chosen
on time: fitted on the older leads, scored on the newer ones (log loss), the strength that
predicts the future best wins, and the model is refitted on everything with it. Each estimate
has a 95% interval from the curvature at the optimum (a Laplace approximation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn.base import BaseEstimator

from leadflow.stats import Array
from leadflow.stats.links import expit

STRENGTHS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)  # prior precision of d (b and a: a third of it)
EXACT_LIMIT = 3000  # coefficients up to which the intervals come from the whole inverse Hessian


@dataclass(frozen=True)
class Design:
    """Where each coefficient sits: a[value] per attribute, b[rep], d[rep, value] per attribute."""

    values: dict[str, list[str]]
    n_reps: int
    drift: bool = False  # a block of each rep's recent effect (b_recent) after the d blocks

    @property
    def attributes(self) -> list[str]:
        return list(self.values)

    def offsets(self) -> tuple[dict[str, int], int, dict[str, int], int]:
        """Start of each attribute's a block, start of b, start of each d block, and the width."""
        at, main = 0, {}
        for name, values in self.values.items():
            main[name] = at
            at += len(values)
        rep_start = at
        at += self.n_reps
        inter = {}
        for name, values in self.values.items():
            inter[name] = at
            at += self.n_reps * len(values)
        return main, rep_start, inter, at + (self.n_reps if self.drift else 0)

    @property
    def recent_start(self) -> int:
        """Where the reps' recent effects start (the last block)."""
        return self.offsets()[3] - self.n_reps

    def codes(self, attributes: Mapping[str, Array]) -> dict[str, Array]:
        """Each lead's value index per attribute (-1: unknown or unseen in training)."""
        found = {}
        for name, values in self.values.items():
            index = {v: i for i, v in enumerate(values)}
            column = np.asarray(attributes[name], dtype=object)
            found[name] = np.array([index.get(v, -1) for v in column.tolist()], dtype=np.int64)
        return found

    def matrix(
        self, attributes: Mapping[str, Array], rep: Array, recent: Array | None = None
    ) -> sparse.csr_array:
        """The design matrix of these leads worked by these reps (one row per lead); ``recent``
        marks the leads of the latest stretch, where a rep's recent effect applies."""
        rep = np.asarray(rep, dtype=np.int64)
        n = rep.size
        main, rep_start, inter, width = self.offsets()
        rows, cols = [np.arange(n)], [rep_start + rep]
        if self.drift and recent is not None:
            late = np.flatnonzero(np.asarray(recent, dtype=bool))
            rows.append(late)
            cols.append(self.recent_start + rep[late])
        for name, code in self.codes(attributes).items():
            known = np.flatnonzero(code >= 0)
            rows += [known, known]
            cell = inter[name] + rep[known] * len(self.values[name]) + code[known]
            cols += [main[name] + code[known], cell]
        r, c = np.concatenate(rows), np.concatenate(cols)
        return sparse.csr_array((np.ones(r.size), (r, c)), shape=(n, width))

    def precision(self, strength: float) -> Array:
        """The prior precision of every coefficient: d at ``strength``, a and b at a third of it."""
        _, _, inter, width = self.offsets()
        prior = np.full(width, strength / 3)
        first_inter = min(inter.values()) if inter else width
        prior[first_inter:] = strength
        return prior


class RepAffinity(BaseEstimator):
    """Each rep's effect on the log-odds of winning each kind of lead, shrunk and with intervals.

    Parameters
    ----------
    strengths : prior precisions of a rep's segment effect to try (higher: more shrinkage).
    holdout : the newest share of the leads on which the strengths are compared.
    min_count : values of an attribute seen fewer times are pooled as unknown.
    recent_share : the newest share of the leads on which a rep may have drifted from their
        usual self (a slump, a new skill): their recent effect, shrunk toward none, applies to
        leads routed now. 0: no drift.
    """

    def __init__(
        self,
        strengths: tuple[float, ...] = STRENGTHS,
        holdout: float = 0.25,
        min_count: int = 30,
        recent_share: float = 0.25,
    ) -> None:
        self.strengths = strengths
        self.holdout = holdout
        self.min_count = min_count
        self.recent_share = recent_share

    def fit(
        self,
        attributes: Mapping[str, Array],
        rep: Array,
        won: Array,
        *,
        n_reps: int,
        offset: Array | None = None,
        order: Array | None = None,
    ) -> RepAffinity:
        """Learn from closed leads: their attribute values, rep (0..n_reps-1), outcome, offset
        (logit of their lead-only P(win); 0 if None) and time (``order``, e.g. creation date, for
        the holdout; their given order if None)."""
        rep = np.asarray(rep, dtype=np.int64)
        won = np.asarray(won, dtype=float)
        n = rep.size
        offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
        values = {}
        for name, column in attributes.items():
            seen, counts = np.unique(np.asarray(column, dtype=object).astype(str), return_counts=True)
            kept = [v for v, c in zip(seen.tolist(), counts.tolist(), strict=True) if c >= self.min_count]
            values[name] = [str(v) for v in kept if v not in ("None", "nan", "")]
        self.design_ = Design(values, n_reps, drift=self.recent_share > 0)
        cleaned = {k: np.asarray(v, dtype=object).astype(str) for k, v in attributes.items()}
        time = np.arange(n) if order is None else np.argsort(np.argsort(np.asarray(order), kind="stable"))
        cut = int(n * (1 - self.holdout))
        train, test = time < cut, time >= cut
        # the holdout's fits see the training stretch's own latest leads as recent
        recent_in_train = time >= cut * (1 - self.recent_share)
        x_train = self.design_.matrix(cleaned, rep, recent_in_train)[train]
        x_test = self.design_.matrix(cleaned, rep, test)[test]
        losses: list[float] = []
        coef: Array | None = None
        for strength in self.strengths:  # each fit starts from the last: the path is smooth
            if train.sum() == 0 or test.sum() == 0:
                losses.append(np.nan)
                continue
            prior = self.design_.precision(strength)
            coef = _fit(x_train, won[train], offset[train], prior, start=coef)
            p = np.clip(expit(offset[test] + x_test @ coef), 1e-9, 1 - 1e-9)
            losses.append(float(-np.mean(won[test] * np.log(p) + (1 - won[test]) * np.log(1 - p))))
        self.holdout_loss_ = np.array(losses)
        best = int(np.nanargmin(self.holdout_loss_)) if np.isfinite(self.holdout_loss_).any() else -1
        self.strength_ = float(self.strengths[best])
        prior = self.design_.precision(self.strength_)
        x = self.design_.matrix(cleaned, rep, time >= n * (1 - self.recent_share))
        self.coef_ = _fit(x, won, offset, prior)
        self.se_ = _standard_errors(x, offset, self.coef_, prior)
        return self

    def rep_effect(self, attributes: Mapping[str, Array], n: int | None = None) -> Array:
        """(n, n_reps): each rep's effect (b + d) on each of these leads' log-odds, over the
        general effect of the lead's values (which does not change who should get it); ``n``
        leads when no attribute is given."""
        design = self.design_
        codes = design.codes({k: np.asarray(v, dtype=object).astype(str) for k, v in attributes.items()})
        _, rep_start, inter, _ = design.offsets()
        n = next(iter(codes.values())).size if codes else (n or 0)
        overall = self.coef_[rep_start : rep_start + design.n_reps]
        if design.drift:  # leads routed now are the newest: each rep as they have been lately
            overall = overall + self.coef_[design.recent_start : design.recent_start + design.n_reps]
        effect = np.broadcast_to(overall, (n, design.n_reps)).copy()
        for name, code in codes.items():
            k = len(design.values[name])
            block = self.coef_[inter[name] : inter[name] + design.n_reps * k].reshape(design.n_reps, k)
            known = code >= 0
            effect[known] += block[:, code[known]].T
        return effect

    def segment_effects(self, attribute: str) -> tuple[list[str], Array, Array, Array]:
        """One attribute's values and each rep's effect (b + d) on them with a 95% interval:
        (values, estimate, low, high), each (n_reps, values)."""
        design = self.design_
        _, rep_start, inter, _ = design.offsets()
        k = len(design.values[attribute])
        cells = inter[attribute] + np.arange(design.n_reps * k).reshape(design.n_reps, k)
        overall = rep_start + np.arange(design.n_reps)[:, None]
        estimate = self.coef_[overall] + self.coef_[cells]
        # b and d are nearly independent a posteriori; their variances add
        half = 1.96 * np.sqrt(self.se_[overall] ** 2 + self.se_[cells] ** 2)
        return design.values[attribute], estimate, estimate - half, estimate + half


def _fit(x: sparse.csr_array, y: Array, offset: Array, prior: Array, start: Array | None = None) -> Array:
    """The penalised maximum-likelihood coefficients (L-BFGS on the exact gradient), from
    ``start`` (the fit at a neighbouring strength, which is close) or zeros."""
    xt = x.T.tocsr()  # once, not on every gradient

    def loss(coef: Array) -> tuple[float, Array]:
        eta = offset + x @ coef
        p = expit(eta)
        # log(1 + e^eta) - y * eta, written stably
        nll = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
        grad = xt @ (p - y) + prior * coef
        return nll + 0.5 * float(prior @ coef**2), grad

    begin = np.zeros(x.shape[1]) if start is None else start
    # to a millionth of the loss: routing needs effects to a hundredth (the groups are rounded so)
    result = minimize(loss, begin, jac=True, method="L-BFGS-B", options={"maxiter": 500, "ftol": 1e-6})
    return np.asarray(result.x)


def _standard_errors(x: sparse.csr_array, offset: Array, coef: Array, prior: Array) -> Array:
    """Standard errors from the inverse of the penalised Hessian X' W X + diag(prior); past
    ``EXACT_LIMIT`` coefficients (a thousand reps), from its diagonal alone, which ignores how
    the estimates lean on each other (a little narrower than the exact ones)."""
    p = expit(offset + x @ coef)
    weights = sparse.diags_array(p * (1 - p))
    hessian = x.T @ weights @ x
    if x.shape[1] > EXACT_LIMIT:
        return 1 / np.sqrt(hessian.diagonal() + prior)
    dense = hessian.toarray() + np.diag(prior)
    return np.sqrt(np.clip(np.diag(np.linalg.pinv(dense, hermitian=True)), 0, None))
