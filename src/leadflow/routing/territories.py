"""Which territory a lead belongs to: the first rule of leadflow.toml that it matches."""

from __future__ import annotations

from typing import Any

import polars as pl

from leadflow.settings import TerritoryRule


def _lower(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.to_lowercase().str.strip_chars()


def rule_expr(rule: TerritoryRule) -> pl.Expr:
    """True where a lead meets every condition of the rule (a rule without conditions matches all)."""
    conditions: list[pl.Expr] = []
    for column, values in (
        ("country", rule.countries),
        ("region", rule.regions),
        ("state", rule.states),
        ("industry", rule.industries),
        ("company", rule.accounts),
    ):
        if values:
            conditions.append(_lower(column).is_in([v.lower().strip() for v in values]))
    if rule.postal_prefixes:
        postal = pl.col("postal_code").cast(pl.String).str.replace_all(r"\s", "").str.to_lowercase()
        conditions.append(
            pl.any_horizontal(
                postal.str.starts_with(p.lower().replace(" ", "")) for p in rule.postal_prefixes
            )
        )
    size = pl.col("company_size").cast(pl.Float64)
    if rule.size_min is not None:
        conditions.append(size >= rule.size_min)
    if rule.size_max is not None:
        conditions.append(size <= rule.size_max)
    if not conditions:
        return pl.lit(True)
    return pl.all_horizontal(conditions).fill_null(False)


def match_territory(leads: pl.DataFrame, rules: list[TerritoryRule]) -> pl.Series:
    """Each lead's territory by the first matching rule, null where none matches.

    ``leads`` has country, region, industry, company, company_size and, from extra attributes,
    state and postal_code (null where unknown).
    """
    if not rules:
        return pl.Series("territory", [None] * leads.height, dtype=pl.String)
    chain: Any = pl.when(rule_expr(rules[0])).then(pl.lit(rules[0].name))
    for rule in rules[1:]:
        chain = chain.when(rule_expr(rule)).then(pl.lit(rule.name))
    return leads.select(chain.otherwise(None).cast(pl.String).alias("territory")).to_series()
