"""Learned win probability: a calibrated logistic model over what is known about a lead at capture.

``WinModel`` is a scikit-learn estimator. Categorical attributes (of any cardinality) are one-hot
encoded with rare values pooled; numeric ones are log-scaled, imputed with a missing-value flag,
and expanded in splines so that "mid-sized companies buy most" can be learned. Logistic
regression keeps probabilities calibrated and each attribute's contribution readable.

Only attributes known before the outcome are features: ``FORBIDDEN`` lists the fields that are
written when (or after) a lead is won or lost, and the owner, whom the model must not know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.interpolate import BSpline
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, SplineTransformer

from leadflow.ledger.extras import decode_extras
from leadflow.scoring.values import numbers_of, texts_of
from leadflow.stats import Array

CATEGORICAL = [
    "industry",
    "country",
    "region",
    "source",
    "lead_type",
    "need",
    "timeline",
    "title",
    "authority",
]
NUMERIC = ["company_size", "annual_revenue", "budget"]
FORBIDDEN = frozenset(
    {
        "stage",
        "won_at",
        "lost_at",
        "amount",
        "lost_reason",
        "product",
        "product_id",
        "owner",
        "owner_id",
        "assigned_at",
        "first_touch_at",
        "follow_up_at",
        "fit_score",
        "win_probability",
        "grade",
    }
)
# Extra attributes whose names say they were written at or after the outcome are skipped too.
OUTCOME_WORDS = re.compile(r"won|lost|los[st]|clos|stage|amount|outcome|result|reason|revenue_won|deal_value")
MISSING = "(missing)"
# A probability is never shown as certain: 0.1% to 99.9%.
FLOOR, CEILING = 0.001, 0.999


def feature_frame(
    leads: pl.DataFrame,
    extra_keys: list[str] | None = None,
    expected: tuple[list[str], list[str]] | None = None,
) -> tuple[pl.DataFrame, list[str], list[str]]:
    """The model's input as a frame (see :func:`feature_columns`), as training needs it."""
    columns, categorical, numeric = feature_columns(leads, extra_keys, expected)
    frame = pl.DataFrame(
        [
            *[pl.Series(name, columns[name], dtype=pl.String) for name in categorical],
            *[pl.Series(name, columns[name], dtype=pl.Float64, nan_to_null=True) for name in numeric],
        ],
        height=leads.height,
    )
    return frame, categorical, numeric


def feature_columns(
    leads: pl.DataFrame,
    extra_keys: list[str] | None = None,
    expected: tuple[list[str], list[str]] | None = None,
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The model's input: allowed attributes, plus scalar extra attributes as ``extra.NAME``;
    each categorical column as lowercase text (``MISSING`` where unknown), each numeric one as
    floats (NaN where unknown).

    Returns the columns by name and the categorical and numeric names. ``extra_keys`` fixes which
    extra attributes to use (those seen in training); None takes every key present.
    ``expected`` (categorical, numeric) gives a trained model's columns when predicting.
    Over each column's values, not frame expressions: a capture scores a handful of leads many
    times a second, where an expression costs ~10 µs whatever the rows.
    """
    unnested = decode_extras(leads["extra"]) if "extra" in leads.columns else pl.DataFrame()
    keys = extra_keys if extra_keys is not None else [k for k in unnested.columns if usable_extra(k)]
    extras = [f"extra.{k}" for k in keys]
    if expected is not None:
        # Predicting: exactly the columns the model was trained on, absent ones unknown.
        categorical, numeric = expected
    else:
        present = set(leads.columns)
        categorical = [c for c in CATEGORICAL if c in present] + extras
        numeric = [c for c in NUMERIC if c in present]
    leaked = FORBIDDEN.intersection(categorical + numeric)
    if leaked:
        raise AssertionError(f"outcome fields must never be features: {sorted(leaked)}")

    def values(name: str) -> pl.Series | None:
        if name.startswith("extra."):
            found = unnested.get_column(name.removeprefix("extra."), default=None)
            if found is not None:
                return found
        return leads.get_column(name, default=None)

    columns: dict[str, Any] = {}
    for name in categorical:
        column = values(name)
        texts = [None] * leads.height if column is None else texts_of(column.to_list())
        columns[name] = [MISSING if t is None else t.lower() for t in texts]
    for name in numeric:
        column = values(name)
        columns[name] = np.full(leads.height, np.nan) if column is None else numbers_of(column)
    return columns, categorical, numeric


def usable_extra(name: str) -> bool:
    """Whether an extra attribute may be a feature: not named like an outcome field."""
    key = name.strip().lower()
    return key not in FORBIDDEN and not OUTCOME_WORDS.search(key)


@dataclass(frozen=True)
class ContributionTables:
    """A fitted ``WinModel``'s coefficients by attribute: per categorical column, each known
    value's weight and the weight of any other value; the numbers' spline and missing-flag weights."""

    intercept: float
    categorical: list[tuple[str, dict[str, float], float]]
    numeric: list[str]
    spline_weights: Array
    missing_weights: Array


def _category_columns(encoder: OneHotEncoder) -> list[tuple[list[str], bool]]:
    """The fitted one-hot encoder's design columns per attribute: the values with a column of
    their own, in column order, and whether one last column pools the rare values."""
    columns = []
    for categories, rare in zip(encoder.categories_, encoder.infrequent_categories_, strict=True):
        pooled = set() if rare is None else set(rare.tolist())
        columns.append(([c for c in categories.tolist() if c not in pooled], rare is not None))
    return columns


def _rows(X: pl.DataFrame | Mapping[str, Any]) -> int:
    """How many leads a model's input has: a frame's height, else its columns' length."""
    if isinstance(X, pl.DataFrame):
        return X.height
    return len(next(iter(X.values()), ()))


def _log_scale(values: Any) -> Any:
    return np.log1p(np.clip(np.asarray(values, dtype=float), 0, None))


class WinModel(ClassifierMixin, BaseEstimator):
    """Calibrated logistic win-probability model with per-attribute contributions.

    Parameters
    ----------
    categorical, numeric : column names of the input frame.
    min_frequency : a categorical value seen fewer times is pooled with the other rare ones.
    C : inverse regularisation strength of the logistic regression.
    """

    def __init__(
        self,
        categorical: list[str] | None = None,
        numeric: list[str] | None = None,
        min_frequency: int = 20,
        C: float = 1.0,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.min_frequency = min_frequency
        self.C = C

    def _prep(self) -> ColumnTransformer:
        categorical = list(self.categorical or [])
        numeric = list(self.numeric or [])
        parts: list[tuple[str, Any, list[str]]] = [
            (
                "cat",
                OneHotEncoder(
                    min_frequency=self.min_frequency,
                    handle_unknown="infrequent_if_exist",
                    sparse_output=False,
                ),
                categorical,
            )
        ]
        if numeric:
            parts.append(
                (
                    "num",
                    Pipeline(
                        [
                            ("log", FunctionTransformer(_log_scale)),
                            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                            ("spline", SplineTransformer(n_knots=5, degree=3)),
                        ]
                    ),
                    numeric,
                )
            )
            parts.append(("missing", MissingIndicator(features="all"), numeric))
        return ColumnTransformer(parts, sparse_threshold=0.0)

    def fit(self, X: pl.DataFrame, y: Array) -> WinModel:
        """Learn from leads ``X`` (a frame from :func:`feature_frame`) and outcomes ``y`` (1 won)."""
        y = np.asarray(y, dtype=int)
        self.prep_ = self._prep().fit(X)
        design = self.prep_.transform(X)
        self.classifier_ = LogisticRegression(C=self.C, max_iter=5000).fit(design, y)
        self.classes_ = self.classifier_.classes_
        self.mean_design_ = design.mean(axis=0)
        self.groups_ = self._groups(design.shape[1])
        self.features_ = list(self.categorical or []) + list(self.numeric or [])
        self.tables_ = self._contribution_tables()
        return self

    def _groups(self, width: int) -> Array:
        """For each design column, the index of the input attribute it comes from."""
        groups: list[int] = []
        categorical = list(self.categorical or [])
        numeric = list(self.numeric or [])
        encoder = self.prep_.named_transformers_["cat"]
        for i, (frequent, pooled) in enumerate(_category_columns(encoder)):
            groups += [i] * (len(frequent) + pooled)
        if numeric:
            splines = self.prep_.named_transformers_["num"].named_steps["spline"].n_features_out_ // len(
                numeric
            )
            for j in range(len(numeric)):
                groups += [len(categorical) + j] * splines
            groups += [len(categorical) + j for j in range(len(numeric))]
        if len(groups) != width:
            raise AssertionError(f"design has {width} columns, grouped {len(groups)}")
        return np.asarray(groups)

    def predict_proba(self, X: pl.DataFrame | Mapping[str, Any]) -> Array:
        """Probabilities of [lost, won] for each lead (``X`` a frame or the columns of
        :func:`feature_columns`), never exactly 0 or 1."""
        p = np.clip(expit(self.log_odds(X)), FLOOR, CEILING)
        return np.column_stack([1 - p, p])

    def log_odds(self, X: pl.DataFrame | Mapping[str, Any]) -> Array:
        """The fitted model's log-odds for each lead, as the regression would give them from the
        transformed design, but summed from each attribute's contribution: the weight of each
        categorical value looked up, the splines and missing flags of the numbers evaluated.

        Building the design matrix through scikit-learn costs milliseconds even for a capture's
        handful of leads (its checks and one-hot encoding, column by column); the lookups cost a
        fraction (docs/performance-log.md)."""
        if not hasattr(self, "tables_"):  # a model trained before the tables were kept with it
            self.tables_ = self._contribution_tables()
        tables: ContributionTables = self.tables_
        logit = np.full(_rows(X), tables.intercept)
        for column, weights, other in tables.categorical:
            # a dict lookup a value: as fast per lead for 8 leads as for a million (about 0.1 s a
            # million a column), where a frame expression costs ~50 µs whatever its length
            seen = X[column]
            logit += np.fromiter((weights.get(v, other) for v in seen), dtype=float, count=len(seen))
        if tables.numeric:
            values = np.column_stack([np.asarray(X[c], dtype=float) for c in tables.numeric])
            num = self.prep_.named_transformers_["num"]
            logged = _log_scale(values)
            # the imputer's medians, as its transform would fill them in
            imputed = np.where(np.isnan(logged), num.named_steps["impute"].statistics_, logged)
            for number, (curve, low, high) in enumerate(self._curves()):
                logit += curve(np.clip(imputed[:, number], low, high))
            logit += np.isnan(values) @ tables.missing_weights
        return logit

    def _curves(self) -> list[tuple[BSpline, float, float]]:
        """Each number's log-odds as one curve of it, with the range it was fitted over.

        The splines' design columns times their weights are one spline whose coefficients are
        those weights: evaluated directly, a capture's handful of leads skips the transformer's
        checks (a millisecond a batch), and a million leads one matrix product. Beyond the
        range the transformer holds each basis at its edge value ("constant"), which is the
        curve at the edge."""
        if not hasattr(self, "curves_"):  # made on first use, as for a model kept before them
            spline = self.prep_.named_transformers_["num"].named_steps["spline"]
            weights = self.tables_.spline_weights.reshape(len(spline.bsplines_), -1)
            # as the transformer built its bases: a number seen with one value has one knot
            self.curves_ = [
                (
                    BSpline.construct_fast(basis.t, w, basis.k, extrapolate=basis.extrapolate),
                    float(basis.t[spline.degree]),
                    float(basis.t[-spline.degree - 1]),
                )
                for basis, w in zip(spline.bsplines_, weights, strict=True)
            ]
        curves: list[tuple[BSpline, float, float]] = self.curves_
        return curves

    def _contribution_tables(self) -> ContributionTables:
        """Each design column's coefficient, regrouped by attribute (see ``log_odds``)."""
        coef = self.classifier_.coef_[0]
        slices = self.prep_.output_indices_
        categorical: list[tuple[str, dict[str, float], float]] = []
        if self.categorical:
            encoder = self.prep_.named_transformers_["cat"]
            start = slices["cat"].start
            for column, (frequent, pooled) in zip(self.categorical, _category_columns(encoder), strict=True):
                weights = {c: float(coef[start + i]) for i, c in enumerate(frequent)}
                # infrequent and unseen values share the pooled column, when the attribute has one
                other = float(coef[start + len(frequent)]) if pooled else 0.0
                categorical.append((column, weights, other))
                start += len(frequent) + pooled
        numeric = list(self.numeric or [])
        return ContributionTables(
            intercept=float(self.classifier_.intercept_[0]),
            categorical=categorical,
            numeric=numeric,
            spline_weights=coef[slices["num"]] if numeric else np.zeros(0),
            missing_weights=coef[slices["missing"]] if numeric else np.zeros(0),
        )

    def contributions(self, X: pl.DataFrame) -> Array:
        """Log-odds each attribute adds for each lead, against the average lead (n x attributes)."""
        design = self.prep_.transform(X)
        parts = (design - self.mean_design_) * self.classifier_.coef_[0]
        out = np.zeros((design.shape[0], len(self.features_)))
        np.add.at(out.T, self.groups_, parts.T)
        return out
